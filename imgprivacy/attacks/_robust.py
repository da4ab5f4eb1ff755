"""Robust retraining's data (section 6.3, "Robust CNNs", Fig. 16): the provider's k-RTIO training faces.

The provider knows the user's public overlay set ``S`` but not her key.  It
makes k-RTIO versions of its own training faces with keys of its own
(:func:`krtio_augment`) and retrains its recogniser on clean plus perturbed
faces (:class:`imgprivacy.targets.RobustCNN`, which owns the retraining, and
:func:`imgprivacy.targets.robust_retrain`), hoping to recognise the user's
k-RTIO photos anyway.  numpy only: nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .. import krtio as _krtio
from .._prf import check_key
from .._validation import _short, check_alpha, check_block, check_int, check_stack

__all__ = ["DEFAULT_ALPHAS", "DEFAULT_BLOCKS", "AugmentedFace", "krtio_augment"]

#: Defaults of :func:`krtio_augment` and :class:`imgprivacy.targets.RobustCNN`.
DEFAULT_ALPHAS = (0.4, 0.45, 0.5)
DEFAULT_BLOCKS = (4, 8, 16)


@dataclass(frozen=True)
class AugmentedFace:
    """How one perturbed face of :func:`krtio_augment` was made (``return_params=True``).

    ``perturb(images[source], key, image_id=image_id, overlays=S, k=k,
    alpha=alpha, block=block)`` gives it again.  ``key`` is a throwaway
    provider key, left out of ``repr``.
    """

    source: int
    key: bytes = field(repr=False)
    image_id: str
    alpha: float
    block: tuple[int, int]


def _check_grid(values: Any, name: str, check) -> tuple:
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a non-empty list or tuple, got {_short(values)}")
    if len(values) == 0:
        raise ValueError(f"{name} must hold at least one value, got an empty {type(values).__name__}")
    return tuple(check(v, f"{name}[{i}]") for i, v in enumerate(values))


def krtio_augment(
    images,
    labels,
    *,
    overlays=None,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    blocks: Sequence[int | tuple[int, int]] = DEFAULT_BLOCKS,
    k: int = 3,
    copies: int = 1,
    seed: int = 0,
    exclude_keys: Sequence[bytes] = (),
    progress: bool = False,
    return_params: bool = False,
):
    """The provider's training set for robust retraining: clean faces plus k-RTIO versions made with its own keys.

    Each of the ``copies`` k-RTIO versions of each face is made with a fresh
    random 16-byte provider key and an ``alpha`` and ``block`` drawn
    uniformly at random from ``alphas`` and ``blocks``, independently for
    every perturbed face; all draws come from ``np.random.default_rng(seed)``.
    The provider knows the overlay set ``S`` (the user's) but not the user's
    key, so its overlays are other shuffles and selections of ``S``.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images
        ``N >= 1`` clean faces of one shape, float in [0, 1], grey or RGB.
    labels : array-like of shape (N,)
        One label per face.
    overlays : sequence of ndarray or PreparedOverlays, optional
        The overlay set ``S``; default :func:`imgprivacy.data.overlay_set`.
    alphas : sequence of float, default (0.4, 0.45, 0.5)
        Mixing weights to draw from, each in (0, 1].
    blocks : sequence of int or (int, int), default (4, 8, 16)
        Block sizes in pixels to draw from.
    k : int, default 3
        Overlays combined per face, ``1 <= k <= len(S)``.
    copies : int, default 1
        k-RTIO versions of each face (at least 1).
    seed : int, default 0
        Seeds the keys and the draws of ``alpha`` and ``block``.
    exclude_keys : sequence of bytes, default ()
        Keys never used (a drawn key among them is drawn again): pass the
        user's key in an experiment to be sure the training set never holds
        her own overlays.
    progress : bool, default False
        tqdm progress bar over the perturbed faces.
    return_params : bool, default False
        Also return how each perturbed face was made.

    Returns
    -------
    images : ndarray of shape ((copies + 1) * N, H, W[, C]), float32
        The clean faces (unchanged, first ``N``), then copy 0 of every face
        in input order, then copy 1, ...
    labels : ndarray of shape ((copies + 1) * N,)
        ``labels`` repeated ``copies + 1`` times, in the same order.
    params : list of AugmentedFace, only with ``return_params=True``
        One per perturbed face (``images[N:]``), in order.

    Raises
    ------
    TypeError, ValueError
        For malformed images or labels, or a parameter out of range (the
        message names it).

    References
    ----------
    Section 6.3 ("Robust CNNs") and Fig. 16 of the paper: the robust CNN
    is trained on benign and k-RTIO images perturbed with the user's
    overlay set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> X = rng.random((3, 8, 8), dtype=np.float32)
    >>> Xa, ya = krtio_augment(X, [7, 8, 9], overlays=S, blocks=(2, 4), k=2, copies=2)
    >>> Xa.shape, ya.tolist()
    ((9, 8, 8), [7, 8, 9, 7, 8, 9, 7, 8, 9])
    >>> bool(np.array_equal(Xa[:3], X))
    True
    """
    if isinstance(images, (np.ndarray, list, tuple)) and len(images) == 0:
        raise ValueError("images must hold at least 1 face, got none")
    x = check_stack(images, "images")
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValueError(f"labels must have one entry per image, shape ({len(x)},), got shape {labels.shape}")
    S = _krtio.resolve_overlays(overlays)
    alphas = _check_grid(alphas, "alphas", check_alpha)
    blocks = _check_grid(blocks, "blocks", check_block)
    k = check_int(k, "k", minimum=1, maximum=len(S))
    copies = check_int(copies, "copies", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if isinstance(exclude_keys, (str, bytes)) or not isinstance(exclude_keys, (Sequence, set, frozenset)):
        raise TypeError(f"exclude_keys must be a list of 16-byte keys, got {type(exclude_keys).__name__}")
    excluded = {check_key(key) for key in exclude_keys}
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {_short(progress)}")
    if not isinstance(return_params, bool):
        raise TypeError(f"return_params must be True or False, got {_short(return_params)}")

    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    which_alpha = rng.integers(0, len(alphas), size=(copies, len(x)))
    which_block = rng.integers(0, len(blocks), size=(copies, len(x)))
    prepared = {b: _krtio.prepare_overlays(S, x.shape[1:], block=blocks[b]) for b in sorted(set(which_block.ravel().tolist()))}
    out = np.empty(((copies + 1) * len(x),) + x.shape[1:], dtype=np.float32)
    out[: len(x)] = x
    params: list[AugmentedFace] = []
    with tqdm(total=copies * len(x), desc="k-RTIO augment", disable=not progress) as bar:
        for c in range(copies):
            for i, face in enumerate(x):
                key = rng.bytes(16)
                while key in excluded:
                    key = rng.bytes(16)
                alpha, b = alphas[which_alpha[c, i]], which_block[c, i]
                image_id = f"robust/{c}/{i}"
                out[(c + 1) * len(x) + i] = _krtio.perturb(
                    face, key, image_id=image_id, overlays=prepared[b], k=k, alpha=alpha, block=blocks[b]
                )
                if return_params:
                    params.append(AugmentedFace(i, key, image_id, alpha, blocks[b]))
                bar.update()
    out_labels = np.concatenate([labels] * (copies + 1))
    return (out, out_labels, params) if return_params else (out, out_labels)
