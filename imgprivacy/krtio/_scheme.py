"""The k-RTIO scheme: perturb and recover one photo or many, and the overlay it adds."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._validation import check_alpha, check_block, check_id, check_ids, check_image, check_images, check_int
from ._overlays import OverlayCache, PreparedOverlays, prepare_overlays, start_scaling
from ._plan import plan


# --------------------------------------------------------------------------- scheme
def overlay_for(
    key: bytes,
    image_id: str | bytes,
    *,
    overlays: Sequence[np.ndarray] | PreparedOverlays,
    shape: tuple[int, ...],
    k: int = 3,
    block: int | tuple[int, int] = 8,
    combined: bool = True,
) -> np.ndarray:
    """The overlay k-RTIO adds to one photo, for teaching and attacks.

    Parameters
    ----------
    key : bytes
        16-byte key.
    image_id : str or bytes
        The photo's id.
    overlays : sequence of ndarray or PreparedOverlays
        The overlay set ``S``.
    shape : tuple
        Shape of the photo, (H, W) or (H, W, C).
    k : int, default 3
        Overlays combined.
    block : int or (int, int), default 8
        Block side(s) in pixels.
    combined : bool, default True
        Return the mean of the ``k`` shuffled overlays (what is mixed in);
        if False, the stack of the ``k`` shuffled overlays.

    Returns
    -------
    ndarray of shape (H, W[, c]) or (k, H, W[, c])
        float32 in [0, 1]; ``c`` is 1 (kept as (H, W) for 2-D shapes) or 3.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> overlay_for(bytes(16), "a", overlays=S, shape=(8, 8), k=2, block=4).shape
    (8, 8)
    """
    image_id = check_id(image_id)
    bpair = check_block(block)
    prep = prepare_overlays(overlays, tuple(shape), block=bpair)
    k = check_int(k, "k", minimum=1, maximum=prep.m)
    the_plan = plan(key, image_id, k=k, m=prep.m, b=prep.b)
    if combined:
        out = np.clip(prep.weighted_sum(the_plan, 1.0 / k), 0.0, 1.0)
    else:
        out = np.stack([prep.shuffled(s, p) for s, p in zip(the_plan.selection, the_plan.permutations)])
    return out[..., 0] if len(shape) == 2 else out


def mix_weights(alpha: float, k: int) -> tuple[np.float32, np.float32]:
    """The float32 weights k-RTIO mixes with: ``alpha`` and ``w ~ (1 - alpha) / k``.

    ``w`` is nudged down by at most a few ulps so that ``alpha * x + w * sum``
    provably stays <= 1 in float32 (rounding is monotonic), which lets
    :func:`perturb` skip a clipping pass.

    Parameters
    ----------
    alpha : float
        Weight of the photo, in (0, 1].
    k : int
        Overlays combined, ``k >= 1``.

    Returns
    -------
    (numpy.float32, numpy.float32)
        ``alpha`` and the weight of each shuffled overlay.

    Examples
    --------
    >>> a, w = mix_weights(0.45, 3)
    >>> bool(a + w * 3 <= 1), bool(abs(w - 0.55 / 3) < 1e-7)
    (True, True)
    """
    alpha = check_alpha(alpha)
    k = check_int(k, "k", minimum=1)
    a = np.float32(alpha)
    w = np.float32((1.0 - alpha) / k)
    kk = np.float32(k)
    while np.float32(a + np.float32(w * kk)) > np.float32(1.0):
        w = np.nextafter(w, np.float32(0.0))
    return a, w


def _params(alpha, k, block, m):
    alpha = check_alpha(alpha)
    k = check_int(k, "k", minimum=1, maximum=m)
    a, w = mix_weights(alpha, k)
    return a, w, k


def _mix(image, key, image_id, overlays, k, alpha, block, *, forward):
    name = "image" if forward else "perturbed"
    img = check_image(image, name, check_range=False)  # the range is checked by start_scaling
    image_id = check_id(image_id)
    bpair = check_block(block)
    prep = prepare_overlays(overlays, img.shape, block=bpair)
    a, w, k = _params(alpha, k, block, prep.m)
    c = prep.channels
    colour = img[..., None] if img.ndim == 2 else img[..., :c]
    started = start_scaling(colour, a, forward, check=(img, name))
    try:  # the key schedule overlaps the range check and the scaling on large photos
        the_plan = plan(key, image_id, k=k, m=prep.m, b=prep.b)
    finally:
        mixed = started()
    prep.mix_into(mixed, the_plan, a, w, forward=forward)
    if img.ndim == 2:
        return mixed[..., 0]
    if img.shape[2] == c:
        return mixed
    out = img.copy()
    out[..., :c] = mixed
    return out


def perturb(
    image: np.ndarray,
    key: bytes,
    *,
    image_id: str | bytes,
    overlays: Sequence[np.ndarray] | PreparedOverlays,
    k: int = 3,
    alpha: float = 0.45,
    block: int | tuple[int, int] = 8,
) -> np.ndarray:
    """Protect one photo with k-RTIO: ``alpha * I + (1 - alpha) / k * sum(overlays)``.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; C is 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA).
        Alpha channels are left untouched.
    key : bytes
        16-byte secret key.
    image_id : str or bytes
        A unique id for this photo (e.g. its file name); two photos with the
        same id get the same overlay.
    overlays : sequence of ndarray or PreparedOverlays
        The overlay set ``S`` of ``m`` images.
    k : int, default 3
        Overlays combined, ``1 <= k <= m``.
    alpha : float, default 0.45
        Weight of the photo, in (0, 1]; the paper's sweet spot is 0.45.
    block : int or (int, int), default 8
        Block side(s) in pixels; any image size works.

    Returns
    -------
    ndarray, float32, same shape as ``image``

    Raises
    ------
    ValueError, TypeError
        For out-of-range parameters or a malformed image.

    References
    ----------
    Section 5.2 ("Perturbation Addition") and Fig. 4 and 7 of the paper.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> x = rng.random((8, 8, 3), dtype=np.float32)
    >>> y = perturb(x, bytes(16), image_id="a", overlays=S, k=2, block=4)
    >>> bool(np.abs(recover(y, bytes(16), image_id="a", overlays=S, k=2, block=4) - x).max() < 1e-5)
    True
    """
    return _mix(image, key, image_id, overlays, k, alpha, block, forward=True)


def recover(
    perturbed: np.ndarray,
    key: bytes,
    *,
    image_id: str | bytes,
    overlays: Sequence[np.ndarray] | PreparedOverlays,
    k: int = 3,
    alpha: float = 0.45,
    block: int | tuple[int, int] = 8,
) -> np.ndarray:
    """Undo :func:`perturb`: ``(perturbed - (1 - alpha) / k * sum(overlays)) / alpha``.

    The result is clipped to [0, 1].  With a wrong key, id, overlay set or
    parameter the subtraction uses the wrong overlay and the photo stays
    hidden.  Storage error in ``perturbed`` is amplified by ``1 / alpha``.

    Parameters are those of :func:`perturb`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> S = [rng.random((8, 8), dtype=np.float32) for _ in range(3)]
    >>> x = rng.random((8, 8), dtype=np.float32)
    >>> y = perturb(x, bytes(16), image_id="b", overlays=S, k=1, block=2)
    >>> bool(np.allclose(recover(y, bytes(16), image_id="b", overlays=S, k=1, block=2), x, atol=1e-5))
    True
    """
    return _mix(perturbed, key, image_id, overlays, k, alpha, block, forward=False)


def _batch(images, key, image_ids, overlays, k, alpha, block, progress, forward):
    from tqdm.auto import tqdm

    name = "images" if forward else "perturbed"
    stack = isinstance(images, np.ndarray)
    items = check_images(images, name)
    ids = check_ids(image_ids, len(items))
    bpair = check_block(block)
    cache = OverlayCache(overlays)
    out = []
    for img, i in zip(tqdm(items, desc="k-RTIO " + ("perturb" if forward else "recover"), disable=not progress), ids):
        out.append(_mix(img, key, i, cache.get(img.shape, block=bpair), k, alpha, bpair, forward=forward))
    return np.stack(out) if stack else out


def perturb_batch(
    images: np.ndarray | Sequence[np.ndarray],
    key: bytes,
    *,
    image_ids: Sequence[str | bytes],
    overlays: Sequence[np.ndarray] | PreparedOverlays,
    k: int = 3,
    alpha: float = 0.45,
    block: int | tuple[int, int] = 8,
    progress: bool = True,
) -> np.ndarray | list[np.ndarray]:
    """Protect many photos; the overlay set is fitted and split once per image shape.

    Parameters
    ----------
    images : ndarray of shape (N, H, W[, C]) or list of images
        Photos (float in [0, 1]); a list may mix shapes.
    image_ids : sequence of str or bytes
        One unique id per photo (a repeated id would reuse one overlay).
    progress : bool, default True
        Show a progress bar.

    Other parameters are those of :func:`perturb`.

    Returns
    -------
    ndarray or list of ndarray
        A stack if ``images`` was a stack, else a list.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> X = rng.random((3, 8, 8), dtype=np.float32)
    >>> Y = perturb_batch(X, bytes(16), image_ids=["a", "b", "c"], overlays=S, block=4, progress=False)
    >>> Y.shape
    (3, 8, 8)
    """
    return _batch(images, key, image_ids, overlays, k, alpha, block, progress, True)


def recover_batch(
    perturbed: np.ndarray | Sequence[np.ndarray],
    key: bytes,
    *,
    image_ids: Sequence[str | bytes],
    overlays: Sequence[np.ndarray] | PreparedOverlays,
    k: int = 3,
    alpha: float = 0.45,
    block: int | tuple[int, int] = 8,
    progress: bool = True,
) -> np.ndarray | list[np.ndarray]:
    """Recover many photos protected by :func:`perturb_batch` (same parameters).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> X = rng.random((2, 8, 8, 3), dtype=np.float32)
    >>> Y = perturb_batch(X, bytes(16), image_ids=["a", "b"], overlays=S, block=4, progress=False)
    >>> R = recover_batch(Y, bytes(16), image_ids=["a", "b"], overlays=S, block=4, progress=False)
    >>> bool(np.abs(R - X).max() < 1e-5)
    True
    """
    return _batch(perturbed, key, image_ids, overlays, k, alpha, block, progress, False)
