"""RobustCNN: the provider's CNN retrained on clean plus k-RTIO faces (section 6.3, Fig. 16), and :func:`robust_retrain`.

The estimator owns its retraining, as in scikit-learn: :func:`robust_retrain`
is ``RobustCNN(...).fit(...)`` in one call.  The training faces come from
:func:`imgprivacy.attacks.krtio_augment` (numpy only).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..attacks import DEFAULT_ALPHAS, DEFAULT_BLOCKS, krtio_augment
from ._provider_cnn import ProviderCNN

__all__ = ["RobustCNN", "robust_retrain"]


def _overlay_set_fingerprint(overlays) -> str:
    """:func:`imgprivacy.data.overlay_fingerprint` of ``overlays`` (``None``: the default set)."""
    from ..krtio import resolve_overlays

    images = resolve_overlays(overlays)
    fingerprint = getattr(images, "fingerprint", None)  # an OverlaySet carries its own
    if isinstance(fingerprint, str):
        return fingerprint
    from ..data import overlay_fingerprint

    return overlay_fingerprint(list(images))


def _tuple(values: Any) -> Any:
    """Lists (as read back from JSON) to tuples, nested; anything else unchanged (checked by fit)."""
    if isinstance(values, (list, tuple)):
        return tuple(_tuple(v) for v in values)
    return values


class RobustCNN(ProviderCNN):
    """The provider's recogniser retrained on clean and k-RTIO faces: robust retraining.

    In section 6.3 ("Robust CNNs", Fig. 16) of the paper the provider knows
    the user's overlay set ``S`` -- but not her key -- and retrains its CNN
    on benign images plus k-RTIO images it perturbs with keys of its own.
    ``fit`` builds that training set with
    :func:`imgprivacy.attacks.krtio_augment` (the clean faces plus
    ``copies`` k-RTIO versions of each, ``alpha`` and ``block`` drawn per
    face from ``alphas`` and ``blocks``, fresh keys from ``seed``) and then
    trains exactly as :class:`ProviderCNN` does: same architecture
    (``"provider_resnet"``), :func:`imgprivacy.models.train`, any device.
    The convention for the Olivetti faces (used by :meth:`cached`) is the
    provider's split: 40 subjects, 7 training and 3 held-out faces each,
    seed 0, and the default overlay set.

    Parameters
    ----------
    overlays : sequence of ndarray, optional
        The overlay set ``S``; default :func:`imgprivacy.data.overlay_set`.
    epochs, batch_size, lr, seed, augment
        As for :class:`ProviderCNN`; ``seed`` also seeds the provider's
        k-RTIO keys and draws.  An epoch is a pass over the augmented set
        (``copies + 1`` times the faces).
    alphas : sequence of float, default (0.4, 0.45, 0.5)
    blocks : sequence of int or (int, int), default (4, 8, 16)
    k : int, default 3
    copies : int, default 1
        See :func:`imgprivacy.attacks.krtio_augment`.

    Attributes
    ----------
    overlay_fingerprint_ : str
        :func:`imgprivacy.data.overlay_fingerprint` of the overlay set it
        was trained with (saved in checkpoints).
    n_training_images_ : int
        Size of the augmented training set.
    model_, classes_, image_shape_, history_, split_, dataset_, accuracy_
        As for :class:`ProviderCNN`; :meth:`cached`'s ``accuracy_`` is its
        held-out accuracy on clean faces.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.random((3, 16, 16))
    >>> X = np.clip(np.repeat(centres, 6, axis=0) + rng.normal(0, 0.05, (18, 16, 16)), 0, 1)
    >>> y = np.repeat([3, 5, 7], 6)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> clf = RobustCNN(overlays=S, epochs=10, augment=False, blocks=(4,), k=2)
    >>> clf.fit(X, y, progress=False, device="cpu").n_training_images_
    36
    >>> clf.score(X, y)
    1.0
    """

    name = "robust-cnn"
    _defaults = {**ProviderCNN._defaults, "alphas": DEFAULT_ALPHAS, "blocks": DEFAULT_BLOCKS, "k": 3, "copies": 1}
    _cached_name = "robust"

    def __init__(self, *, overlays=None, epochs: int = 40, batch_size: int = 16, lr: float = 3e-3, seed: int = 0,
                 augment: bool = True, alphas=DEFAULT_ALPHAS, blocks=DEFAULT_BLOCKS, k: int = 3, copies: int = 1):
        super().__init__(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, augment=augment)
        self.overlays = overlays
        self.alphas = _tuple(alphas)
        self.blocks = _tuple(blocks)
        self.k = k
        self.copies = copies
        self.overlay_fingerprint_ = None
        self.n_training_images_ = None

    def fit(self, images, labels, *, epochs: int | None = None, progress: bool = True, device=None, val=None) -> RobustCNN:
        """Train on the clean faces plus ``copies`` k-RTIO versions of each (made with the provider's keys).

        Parameters
        ----------
        images : ndarray of shape (N, H, W[, C]), float in [0, 1]
            Clean faces.
        labels : array-like of int, shape (N,)
        epochs, progress, device, val
            As for :meth:`ProviderCNN.fit` (``val`` is scored as given: pass
            perturbed faces to follow the robustness while training).

        Returns
        -------
        self
        """
        from ..krtio import resolve_overlays

        overlays = resolve_overlays(self.overlays)
        x, y = krtio_augment(
            images, labels, overlays=overlays, alphas=self.alphas, blocks=self.blocks, k=self.k, copies=self.copies,
            seed=self.seed, progress=progress,
        )
        super().fit(x, y, epochs=epochs, progress=progress, device=device, val=val)
        self.overlay_fingerprint_ = _overlay_set_fingerprint(overlays)
        self.n_training_images_ = len(x)
        return self

    # ------------------------------------------------------------------ checkpoints
    def _extra_metadata(self) -> dict[str, Any]:
        return {"overlay_fingerprint": self.overlay_fingerprint_, "n_training_images": self.n_training_images_}

    def _restore_metadata(self, meta: dict[str, Any]) -> None:
        self.overlay_fingerprint_ = meta.get("overlay_fingerprint")
        self.n_training_images_ = meta.get("n_training_images")

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike, *, overlays=None, device="cpu") -> RobustCNN:
        """Load a RobustCNN saved with :meth:`save`: network, augmentation settings, overlay-set fingerprint.

        The overlay images are not stored, only their fingerprint
        (``overlay_fingerprint_``).  Pass ``overlays`` to attach the set
        (and check it is the one it was trained with).

        Raises
        ------
        FileNotFoundError
            If the file is missing.
        ValueError
            If it is corrupt, is not a RobustCNN checkpoint, or ``overlays``
            is not the overlay set it was trained with.
        """
        out = super().from_checkpoint(path, device=device)
        if overlays is not None:
            _check_overlays(out, _overlay_set_fingerprint(overlays), "the overlays given")
            out.overlays = overlays
        return out

    @classmethod
    def cached(cls, *, faces=None, device="cpu", dataset: str | None = None) -> RobustCNN:
        """The robust CNN trained once on Olivetti (the provider's split) and the default overlay set, shipped in ``data/checkpoints``.

        Made like :meth:`ProviderCNN.cached`: ``RobustCNN(seed=0)`` fitted on
        the 280 training faces of ``ProviderCNN.cached().split_`` (and 280
        k-RTIO versions of them) on the CPU.  Checks that the face loader
        (or ``faces``) still gives the same faces and that the default
        overlay set is the one it was trained with.

        Raises
        ------
        FileNotFoundError
            If the checkpoint (or the Olivetti faces) are missing.
        ValueError
            If the faces or the default overlay set differ from those it was
            trained with.

        Examples
        --------
        >>> robust = RobustCNN.cached()
        >>> len(robust.classes_), len(robust.split_.test), robust.n_training_images_
        (40, 120, 560)
        >>> robust.alphas, robust.blocks, robust.k, robust.copies
        ((0.4, 0.45, 0.5), (4, 8, 16), 3, 1)
        """
        from ..data import overlay_set

        out = super().cached(faces=faces, device=device, dataset=dataset)
        _check_overlays(out, overlay_set().fingerprint, "the default overlay set imgprivacy.data.overlay_set()")
        return out

    def __repr__(self) -> str:
        text = super().__repr__()
        if self.overlays is None:
            return text
        inner = text[len(type(self).__name__) + 1 : -1]
        shown = repr(self.overlays) if hasattr(self.overlays, "fingerprint") else f"<{len(self.overlays)} images>"
        return f"{type(self).__name__}(overlays={shown}{', ' + inner if inner else ''})"


def _check_overlays(model: RobustCNN, fingerprint: str, what: str) -> None:
    if model.overlay_fingerprint_ != fingerprint:
        recorded = (model.overlay_fingerprint_ or "none recorded")[:16]
        raise ValueError(
            f"{what} (fingerprint {fingerprint[:16]}...) is not the overlay set this RobustCNN was trained with "
            f"(fingerprint {recorded}...); retrain it with this set or pass the original one"
        )


def robust_retrain(
    images,
    labels,
    *,
    overlays=None,
    progress: bool = True,
    device=None,
    val=None,
    **options,
) -> RobustCNN:
    """Train the provider's robust CNN: ``RobustCNN(overlays=overlays, **options).fit(images, labels)``.

    Parameters
    ----------
    images : ndarray of shape (N, H, W[, C])
        Clean training faces, float in [0, 1].
    labels : array-like of int, shape (N,)
        Subject labels.
    overlays : sequence of ndarray, optional
        The overlay set ``S``; default :func:`imgprivacy.data.overlay_set`.
    progress, device, val
        Passed to :meth:`RobustCNN.fit`.
    **options
        Constructor options of :class:`RobustCNN` (``epochs``, ``seed``,
        ``alphas``, ``blocks``, ``k``, ``copies``, ...).

    Returns
    -------
    RobustCNN
        Fitted.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((8, 16, 16), dtype=np.float32)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(3)]
    >>> clf = robust_retrain(X, np.repeat([0, 1], 4), overlays=S, epochs=1, blocks=(4,), k=2, progress=False, device="cpu")
    >>> clf.n_training_images_
    16
    """
    return RobustCNN(overlays=overlays, **options).fit(images, labels, progress=progress, device=device, val=val)
