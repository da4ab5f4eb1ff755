"""ProviderCNN: the provider's own face recogniser, a CNN the user never sees."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_int
from .. import models as _models

__all__ = ["ProviderCNN"]


class ProviderCNN:
    """The provider's recogniser: a small ResNet trained on every subject it knows.

    In the paper's threat model (section 3) the provider trains its own
    classifier on the photos it holds, all identities included, and the user
    can neither see nor query it.  Here it is a residual network
    (``"provider_resnet"`` of :func:`imgprivacy.models.build_model`: a
    stride-2 stem and three residual blocks, global pooling) -- an
    architecture none of the user's three local CNNs share -- trained with
    :func:`imgprivacy.models.train`.  The convention for the Olivetti faces
    (used by :meth:`cached`): all 40 subjects, 7 images each for training
    and 3 held out, drawn by :func:`imgprivacy.models.split_per_subject`
    with seed 0, so the faces held out from the user's ensemble are held out
    here too.

    Parameters
    ----------
    epochs : int, default 40
    batch_size : int, default 16
    lr : float, default 3e-3
        Peak learning rate (one-cycle schedule).
    seed : int, default 0
        Seeds the initial weights and the training.
    augment : bool, default True

    Attributes
    ----------
    model_ : imgprivacy.models.FaceCNN
        The trained network (eval mode).
    classes_ : ndarray
        The subject labels, in class order.
    image_shape_ : tuple
        Shape of one training image.
    history_ : imgprivacy.models.TrainHistory or None
    split_ : imgprivacy.models.Split or None
        Training/held-out images, when known (recorded by :meth:`save` if
        given, restored by :meth:`from_checkpoint` and :meth:`cached`).
    dataset_ : str or None
        Name of the face set, from a checkpoint.
    accuracy_ : float or None
        Held-out accuracy recorded in a checkpoint (0.992 for :meth:`cached`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.random((3, 16, 16))
    >>> X = np.clip(np.repeat(centres, 6, axis=0) + rng.normal(0, 0.05, (18, 16, 16)), 0, 1)
    >>> y = np.repeat([3, 5, 7], 6)
    >>> clf = ProviderCNN(epochs=15, augment=False).fit(X, y, progress=False, device="cpu")
    >>> clf.score(X, y)
    1.0
    >>> sorted(set(clf.predict(X).tolist()))
    [3, 5, 7]
    """

    #: Short name in :data:`imgprivacy.targets.NAMES`.
    name = "provider-cnn"
    #: Architecture of :func:`imgprivacy.models.build_model` (none of the user's local CNNs).
    arch = "provider_resnet"
    #: Constructor settings and their defaults, saved in checkpoints and shown by ``repr`` when changed.
    _defaults = {"epochs": 40, "batch_size": 16, "lr": 3e-3, "seed": 0, "augment": True}
    #: Key of :data:`imgprivacy.models.CACHED_FILES` loaded by :meth:`cached`.
    _cached_name = "provider"

    def __init__(self, *, epochs: int = 40, batch_size: int = 16, lr: float = 3e-3, seed: int = 0, augment: bool = True):
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.augment = augment
        self.split_ = None
        self.history_ = None
        self.dataset_ = None
        self.accuracy_ = None

    # ------------------------------------------------------------------ fitting
    def fit(self, images, labels, *, epochs: int | None = None, progress: bool = True, device=None, val=None) -> ProviderCNN:
        """Train on clean faces.

        Parameters
        ----------
        images : ndarray of shape (N, H, W[, C]), float in [0, 1]
        labels : array-like of int, shape (N,)
            Subject labels (any integers; at least 2 distinct).
        epochs : int, optional
            Overrides the constructor's ``epochs``.
        progress : bool, default True
            tqdm progress bar.
        device : torch.device or str, optional
            Default :func:`imgprivacy.models.pick_device`.
        val : (images, labels), optional
            Held-out faces (subject labels) scored after every epoch.

        Returns
        -------
        self
        """
        x = _models.to_tensor(images)
        labels = np.asarray(labels)
        if labels.shape != (len(x),):
            raise ValueError(f"labels must have one entry per image, shape ({len(x)},), got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integer subject labels, got dtype {labels.dtype}")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError("labels must name at least 2 people")
        epochs = check_int(self.epochs if epochs is None else epochs, "epochs", minimum=1)
        seed = check_int(self.seed, "seed", minimum=0)
        model = _models.build_model(self.arch, in_channels=int(x.shape[1]), n_classes=len(classes), seed=seed)
        index = np.searchsorted(classes, labels)
        val_pair = None
        if val is not None:
            if not (isinstance(val, (tuple, list)) and len(val) == 2):
                raise TypeError(f"val must be a pair (images, labels) or None, got {type(val).__name__}")
            val_labels = np.asarray(val[1])
            unknown = sorted(set(val_labels.tolist()) - set(classes.tolist()))
            if unknown:
                raise ValueError(f"val labels must be subjects seen in training, got unknown {unknown[:5]}")
            val_pair = (val[0], np.searchsorted(classes, val_labels))
        self.history_ = _models.train(
            model, images, index, epochs=epochs, batch_size=check_int(self.batch_size, "batch_size", minimum=1),
            lr=self.lr, augment=self.augment, device=device, seed=seed, progress=progress, val=val_pair,
        )
        self.model_ = model
        self.classes_ = classes
        self.image_shape_ = tuple(np.asarray(images).shape[1:])
        self.split_ = None
        self.dataset_ = None
        self.accuracy_ = None
        return self

    # ------------------------------------------------------------------ inference
    def _check_fitted(self, images) -> None:
        if not hasattr(self, "model_"):
            kind = type(self).__name__
            raise RuntimeError(f"this {kind} is not fitted yet: call fit(images, labels) or {kind}.cached()")
        shape = tuple(np.asarray(images).shape[1:]) if len(images) else None
        if shape != self.image_shape_:
            raise ValueError(f"images must have the training shape {self.image_shape_} per image, got {shape}")

    def predict(self, images) -> np.ndarray:
        """The predicted subject label of each image (on the network's own device)."""
        self._check_fitted(images)
        return self.classes_[_models.predict(self.model_, images)]

    def score(self, images, labels) -> float:
        """Recognition rate on ``images`` (see :func:`imgprivacy.metrics.recognition_rate`)."""
        from ..metrics import recognition_rate

        return recognition_rate(self, images, labels)

    # ------------------------------------------------------------------ checkpoints
    def save(self, path: str | os.PathLike, *, split=None, dataset: str | None = None, accuracy: float | None = None,
             overwrite: bool = False) -> Path:
        """Save the trained network, its settings and (optionally) its data split.

        See :func:`imgprivacy.models.save_checkpoint` (atomic, refuses to
        overwrite unless ``overwrite=True``).
        """
        if not hasattr(self, "model_"):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(images, labels) before save")
        split = split if split is not None else self.split_
        if split is not None and not isinstance(split, _models.Split):
            raise TypeError(f"split must be an imgprivacy.models.Split or None, got {type(split).__name__}")
        metadata: dict[str, Any] = {
            "target": type(self).__name__,
            "classes": [int(c) for c in self.classes_],
            "image_shape": list(self.image_shape_),
            "settings": {k: getattr(self, k) for k in self._defaults},
            "dataset": dataset,
            "split": None if split is None else split.to_dict(),
            "accuracy": accuracy,
            "history": None if self.history_ is None else self.history_.to_dict(),
        }
        metadata.update(self._extra_metadata())
        return _models.save_checkpoint(path, self.model_, metadata=metadata, overwrite=overwrite)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, device="cpu") -> ProviderCNN:
        """Load a ProviderCNN saved with :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If the file is missing.
        ValueError
            If it is corrupt or is not a ProviderCNN checkpoint.
        """
        ckpt = _models.load_checkpoint(path, device=device)
        meta = ckpt.metadata
        if meta.get("target") != cls.__name__ or ckpt.kind != "model":
            held = meta.get("target") or f"{ckpt.kind} {list(ckpt.models)}"
            raise ValueError(f"checkpoint {ckpt.path} does not hold a {cls.__name__} (it holds a {held})")
        settings = meta.get("settings", {})
        out = cls(**{k: settings[k] for k in cls._defaults if k in settings})
        out.model_ = ckpt.model
        out.classes_ = np.asarray(meta["classes"], dtype=np.int64)
        out.image_shape_ = tuple(meta["image_shape"])
        out.split_ = ckpt.split
        out.history_ = None if meta.get("history") is None else _models.TrainHistory.from_dict(meta["history"])
        out.dataset_ = meta.get("dataset")
        out.accuracy_ = meta.get("accuracy")
        out._restore_metadata(meta)
        return out

    # hooks for subclasses (RobustCNN): extra checkpoint metadata, written by save and read back by from_checkpoint
    def _extra_metadata(self) -> dict[str, Any]:
        return {}

    def _restore_metadata(self, meta: dict[str, Any]) -> None:
        pass

    @classmethod
    def cached(cls, *, faces=None, device="cpu", dataset: str | None = None) -> ProviderCNN:
        """The provider CNN trained once on Olivetti (40 subjects, 7 images each) and shipped in ``data/checkpoints``.

        Checks that the face loader (or ``faces``) still gives the images it
        was trained and tested on.  ``dataset="orl"`` (or ``faces`` of the
        ORL set) loads the one trained the same way on the ORL faces; the
        default is ``faces.dataset`` when one is shipped
        (:data:`imgprivacy.models.SHIPPED_FACES`), else ``"olivetti"``.

        Examples
        --------
        >>> provider = ProviderCNN.cached()
        >>> len(provider.classes_), len(provider.split_.test)  # 40 people, 3 held-out faces each
        (40, 120)
        >>> round(provider.accuracy_, 3)
        0.992
        """
        out = cls.from_checkpoint(_models.cached_path(cls._cached_name, _models.shipped_dataset(faces, dataset)),
                                  device=device)
        faces = _models.training_faces(out.dataset_, faces)
        if out.split_ is not None:
            out.split_.check(faces.images, faces.labels)
        return out

    def __repr__(self) -> str:
        changed = [f"{k}={getattr(self, k)!r}" for k, v in self._defaults.items() if getattr(self, k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"
