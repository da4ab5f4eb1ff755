"""Eigenfaces: PCA + SVM, the provider's simplest recogniser."""

from __future__ import annotations

import numpy as np

from .._validation import check_images, check_int

__all__ = ["Eigenfaces"]


def _standardise(images) -> np.ndarray:
    items = check_images(images, "images")
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"images must all have the same shape, got {sorted(shapes)}")
    x = np.stack(items).reshape(len(items), -1).astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    std = x.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return x / std


class Eigenfaces:
    """Eigenfaces (Turk and Pentland, 1991): PCA of the faces, then an RBF SVM.

    Each image is first standardised (its own mean subtracted and divided by
    its standard deviation), the usual illumination normalisation: the
    recogniser ignores brightness and contrast, so an attack's output, whose
    scale is arbitrary, is judged on its content.

    Parameters
    ----------
    n_components : int, default 60
        Eigenfaces kept (at most the number of training images).
    C : float, default 10.0
        SVM regularisation.
    random_state : int, default 0
        Seed of the randomised PCA solver.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted PCA (whitened) + SVC pipeline.
    image_shape_ : tuple
        Shape of the training images.
    classes_ : ndarray
        Labels seen in training.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.random((3, 8, 8))
    >>> X = np.clip(np.repeat(centres, 5, axis=0) + rng.normal(0, 0.05, (15, 8, 8)), 0, 1)
    >>> y = np.repeat([0, 1, 2], 5)
    >>> Eigenfaces(n_components=5).fit(X, y).score(X, y)
    1.0
    """

    name = "eigenfaces"

    def __init__(self, n_components: int = 60, *, C: float = 10.0, random_state: int = 0):
        self.n_components = n_components
        self.C = C
        self.random_state = random_state

    def __repr__(self) -> str:
        defaults = {"n_components": 60, "C": 10.0, "random_state": 0}
        changed = [f"{k}={getattr(self, k)!r}" for k, v in defaults.items() if getattr(self, k) != v]
        return f"Eigenfaces({', '.join(changed)})"

    def fit(self, images, labels) -> "Eigenfaces":
        """Learn the eigenfaces and the classifier from clean faces."""
        from sklearn.decomposition import PCA
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import SVC

        x = _standardise(images)
        labels = np.asarray(labels)
        if labels.shape != (len(x),):
            raise ValueError(f"labels must have one entry per image, got shape {labels.shape} for {len(x)} images")
        if len(np.unique(labels)) < 2:
            raise ValueError("labels must name at least 2 people")
        n = check_int(self.n_components, "n_components", minimum=1, maximum=min(x.shape))
        self.pipeline_ = make_pipeline(
            PCA(n_components=n, whiten=True, random_state=self.random_state),
            SVC(C=self.C, gamma="scale"),
        ).fit(x, labels)
        self.image_shape_ = np.asarray(images[0]).shape
        self.classes_ = np.unique(labels)
        return self

    def _check_fitted(self, images):
        if not hasattr(self, "pipeline_"):
            raise RuntimeError("this Eigenfaces is not fitted yet: call fit(images, labels) first")
        shape = np.asarray(images[0]).shape if len(images) else None
        if shape != self.image_shape_:
            raise ValueError(f"images must have the training shape {self.image_shape_}, got {shape}")

    def predict(self, images) -> np.ndarray:
        """The predicted person for each image (standardised 256 at a time: the float64 copies bound memory)."""
        self._check_fitted(images)
        return np.concatenate([self.pipeline_.predict(_standardise(images[i : i + 256]))
                               for i in range(0, len(images), 256)])

    def score(self, images, labels) -> float:
        """Recognition rate on ``images`` (see :func:`imgprivacy.metrics.recognition_rate`)."""
        from ..metrics import recognition_rate

        return recognition_rate(self, images, labels)
