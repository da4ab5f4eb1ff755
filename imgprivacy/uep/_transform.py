"""Eq. 4 and its inverse in numpy: :func:`apply`, :func:`remove`, :func:`recovery_bound` (no torch)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import _short, check_beta, check_delta, check_depth, check_image, check_int

__all__ = ["apply", "recovery_bound", "remove"]

_MAX_EXPONENT = 700.0  # exp(700) is finite in float64


def _resize_delta(delta: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (h, w[, C]) float64 array to ``shape`` (half-pixel centres, edges replicated).

    When an axis shrinks, a Gaussian low-pass (scikit-image's anti-aliasing,
    sigma = (factor - 1) / 2) is applied first.
    """
    if tuple(delta.shape[:2]) == tuple(shape):
        return delta
    from skimage.transform import resize

    shrink = shape[0] < delta.shape[0] or shape[1] < delta.shape[1]
    out_shape = tuple(shape) + delta.shape[2:]
    return resize(delta, out_shape, order=1, mode="edge", anti_aliasing=shrink, preserve_range=True).astype(np.float64)


def _shift(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Eq. 4 with ``beta * delta = t``, as ``x / (x + (1 - x) exp(-2 t))``, in float64."""
    e = np.exp(np.clip(-2.0 * t, -_MAX_EXPONENT, _MAX_EXPONENT))
    return x / (x + (1.0 - x) * e)


def _check_box(box: Any, shape: tuple[int, int], name: str) -> tuple[int, int, int, int]:
    if not (isinstance(box, (tuple, list)) and len(box) == 4):
        raise TypeError(f"{name} must be (top, left, bottom, right) in pixels (half-open, as the detectors return), got {_short(box)}")
    t, l, b, r = (check_int(v, name) for v in box)
    h, w = shape
    if not (0 <= t < b <= h and 0 <= l < r <= w):
        raise ValueError(
            f"{name} must satisfy 0 <= top < bottom <= {h} and 0 <= left < right <= {w} for an image of {h}x{w} pixels, "
            f"got {(t, l, b, r)}"
        )
    return t, l, b, r


def _transform_one(image: np.ndarray, delta: np.ndarray, sign: float, beta: float, box, name: str) -> np.ndarray:
    h, w = image.shape[:2]
    t, l, b, r = (0, 0, h, w) if box is None else _check_box(box, (h, w), "box")
    if delta.ndim == 3 and delta.shape[2] == 3 and (image.ndim == 2 or image.shape[2] != 3):
        raise ValueError(
            f"delta is RGB (shape {delta.shape}) but {name} is not (shape {image.shape}); "
            "learn a grey delta for grey images, or convert the image to RGB"
        )
    d = _resize_delta(delta, (b - t, r - l))
    region = image[t:b, l:r].astype(np.float64)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[..., 0]
    if region.ndim == 3 and d.ndim == 2:  # a grey delta perturbs every channel alike
        d = d[..., None]
    out = image.astype(np.float32, copy=True)
    out[t:b, l:r] = np.clip(_shift(region, sign * beta * d), 0.0, 1.0).astype(np.float32)
    return out


def _boxes_for(box, n: int):
    """``box`` for every image: one box for all, or a sequence of one box (or None) per image."""
    if box is None:
        return [None] * n
    if isinstance(box, (tuple, list)) and len(box) and isinstance(box[0], (tuple, list, type(None))):
        if len(box) != n:
            raise ValueError(
                f"box must be one (top, left, bottom, right) for every image, or one box per image; "
                f"got {len(box)} boxes for {n} images"
            )
        return list(box)
    return [box] * n


def _transform(images: Any, delta: Any, *, beta: Any, box: Any, sign: float, name: str):
    delta = check_delta(delta)
    beta = check_beta(beta)
    if isinstance(images, np.ndarray):
        single = images.ndim == 2 or (
            images.ndim == 3 and images.shape[2] in (1, 3) and images.shape[1:] != delta.shape[:2]
        )
        if single:
            one = check_image(images, name, channels=(1, 3))
            return _transform_one(one, delta, sign, beta, _boxes_for(box, 1)[0], name)
        if images.ndim in (3, 4):
            if images.ndim == 4 and images.shape[3] not in (1, 3):
                raise ValueError(f"{name} must have 1 (grey) or 3 (RGB) channels, got shape {images.shape}")
            items = [check_image(im, f"{name}[{i}]", channels=(1, 3)) for i, im in enumerate(images)]
            boxes = _boxes_for(box, len(items))
            out = [_transform_one(im, delta, sign, beta, bx, f"{name}[{i}]") for i, (im, bx) in enumerate(zip(items, boxes))]
            return np.stack(out) if out else images.astype(np.float32, copy=True)
        raise ValueError(f"{name} must be an image (H, W[, C]) or a stack (N, H, W[, C]), got shape {images.shape}")
    if isinstance(images, (list, tuple)):
        items = [check_image(im, f"{name}[{i}]", channels=(1, 3)) for i, im in enumerate(images)]
        boxes = _boxes_for(box, len(items))
        return [_transform_one(im, delta, sign, beta, bx, f"{name}[{i}]") for i, (im, bx) in enumerate(zip(items, boxes))]
    raise TypeError(f"{name} must be a numpy image, a stack or a list of images, got {type(images).__name__}")


def apply(images, delta, *, beta: float = 1.0, box=None):
    """Perturb images with a UEP: Eq. 4, ``x' = (tanh(arctanh(2x - 1) + beta * delta) + 1) / 2``.

    Parameters
    ----------
    images : ndarray of shape (H, W), (H, W, C), (N, H, W) or (N, H, W, C), or list of images
        float in [0, 1]; grey or RGB (C = 1 or 3); a list may mix sizes.  A
        3-D array is a stack of grey images when its last two axes are
        ``delta``'s height and width or its last axis is not 1 or 3, and
        otherwise one image (H, W, C); pass a list or a 4-D stack where
        that would be ambiguous.
    delta : ndarray of shape (h, w) or (h, w, C), or UEPResult
        The perturbation (``UEPResult.delta``).  Resized to the image (or to
        the box) when the sizes differ: bilinear interpolation with
        half-pixel centres and replicated edges (scikit-image ``resize``,
        ``order=1``), with a Gaussian anti-aliasing low-pass first when an
        axis shrinks.  A grey ``delta`` perturbs every channel of an RGB
        image alike; an RGB ``delta`` needs RGB images.
    beta : float, default 1.0
        Weight of ``delta`` (the paper's beta, >= 0): larger fools more
        recognisers and is more visible; ``delta`` is learned at 1.
    box : (top, left, bottom, right) or sequence of boxes, optional
        Perturb only this region (half-open pixel box, as
        :mod:`imgprivacy.targets` detectors return faces in a photo), with
        ``delta`` resized to the box; one box for every image or one per
        image (``None`` entries perturb a whole image).

    Returns
    -------
    ndarray or list
        float32 in [0, 1], the shape of ``images`` (a list for a list).  The
        input is not modified.

    Raises
    ------
    TypeError, ValueError
        For a malformed image, delta, beta or box.

    Notes
    -----
    Eq. 4 is evaluated in float64 in its equivalent logistic form
    ``x' = x / (x + (1 - x) exp(-2 beta delta))`` (since
    ``(tanh(u) + 1) / 2 = sigmoid(2u)`` and ``2 arctanh(2x - 1) = logit(x)``).
    It involves no ``arctanh`` of 0 or 1, so pixels need no clipping here
    (epsilon = 0): 0 and 1 stay 0 and 1, the limits of Eq. 4, and any pixel
    in (0, 1) stays in (0, 1).  (:func:`learn` clips to ``[EPS, 1 - EPS]``,
    ``EPS = 1e-6``, because it evaluates ``logit`` in float32.)

    Image quality, measured on the 100 faces of the user's 10 subjects with
    the UEP learned by :func:`learn`'s defaults (``benchmarks/bench_uep.py``):
    mean SSIM against the clean face 0.73, 0.49, 0.35, 0.26, 0.21 at
    beta = 1, 2, 3, 4, 5 (transfer: see the module docstring).

    References
    ----------
    Section 5.1 ("Perturbation Addition"), Eq. 4 of the paper.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((8, 8), dtype=np.float32)
    >>> delta = rng.normal(0, 0.5, (4, 4)).astype(np.float32)
    >>> y = apply(x, delta, beta=2.0)
    >>> y.shape, y.dtype.name, bool(0 <= y.min() and y.max() <= 1)
    ((8, 8), 'float32', True)
    >>> bool(np.abs(remove(y, delta, beta=2.0) - x).max() < 1e-5)
    True
    >>> edge = apply(np.array([[0.0, 0.5, 1.0]], np.float32), np.ones((1, 3), np.float32))
    >>> np.round(edge.astype(np.float64), 4).tolist()
    [[0.0, 0.8808, 1.0]]
    """
    return _transform(images, delta, beta=beta, box=box, sign=1.0, name="images")


def remove(perturbed, delta, *, beta: float = 1.0, box=None):
    """Undo :func:`apply`: ``x = (tanh(arctanh(2x' - 1) - beta * delta) + 1) / 2``.

    Parameters are those of :func:`apply` (``perturbed`` in place of
    ``images``); ``delta``, ``beta`` and ``box`` must be those used to perturb.

    Returns
    -------
    ndarray or list
        float32 in [0, 1], the shape of ``perturbed``.

    Notes
    -----
    Evaluated as ``x = x' / (x' + (1 - x') exp(2 beta delta))`` in float64:
    on float32 images the round trip is exact to about 1e-6 wherever the
    perturbed pixel is not within float32 resolution of 1 (see Examples of
    :func:`apply`).

    **Storage.**  A perturbed photo stored in 8 bits is rounded by up to
    ``1 / 510``.  The removal map has slope
    ``exp(2 beta delta) / (x' + (1 - x') exp(2 beta delta)) ** 2``, at most
    ``exp(2 beta |delta|)``, so each recovered pixel is within
    ``exp(2 beta |delta|) / 510`` of the original (:func:`recovery_bound`).
    The bound is reached only where the perturbed pixel is near saturation
    (x' near 0 or 1 while x was not): there, one 8-bit step spans a wide
    range of tanh-space values.  Mid-tone pixels recover to about the
    rounding error itself.  Measured on the 100 faces of the user's 10
    subjects with the UEP learned by :func:`learn`'s defaults
    (``||delta|| = 9.9``, max ``|delta|`` 1.04; ``benchmarks/bench_uep.py``,
    8-bit PNG through :func:`imgprivacy.data.storage_roundtrip`):

    ====  =============  =============  ===============
    beta  recovered      smallest SSIM  largest pixel
          PSNR (dB)      of a face      error
    ====  =============  =============  ===============
    0     58.9           0.9996         0.002
    1     58.6           0.9995         0.010
    2     56.8           0.9993         0.062
    3     45.2           0.992          0.50
    4     33.2           0.964          0.82
    5     28.0           0.922          0.88
    ====  =============  =============  ===============

    Every pixel stayed within :func:`recovery_bound`.  From beta = 3 on, a
    few saturated pixels per face are lost (stored 16-bit, they would not be).

    Examples
    --------
    >>> x = np.full((4, 4), 0.5, np.float32)
    >>> d = np.full((4, 4), 3.0, np.float32)
    >>> y = apply(x, d, beta=1.0)
    >>> float(y[0, 0]) > 0.997                     # near saturation
    True
    >>> stored = np.round(y * 255) / 255           # 8-bit storage
    >>> err = float(np.abs(remove(stored.astype(np.float32), d) - x).max())
    >>> err <= float(recovery_bound(d, beta=1.0).max())
    True
    """
    return _transform(perturbed, delta, beta=beta, box=box, sign=-1.0, name="perturbed")


def recovery_bound(delta, *, beta: float = 1.0, depth: int = 8, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Worst-case error of :func:`remove` per pixel after storing the perturbed image with ``depth`` bits.

    ``exp(2 beta |delta|) / (2 (2**depth - 1))``: the rounding error of the
    storage, ``1 / (2 (2**depth - 1))``, times the largest slope of the
    removal map (see :func:`remove`).  Proven, not measured; add about
    1e-6 for float32 arithmetic.

    Parameters
    ----------
    delta : ndarray of shape (h, w) or (h, w, C), or UEPResult
    beta : float, default 1.0
    depth : {8, 16}, default 8
    shape : (H, W), optional
        Image size ``delta`` is resized to (as :func:`apply` does).

    Returns
    -------
    ndarray, float64, the shape of (the resized) ``delta``

    Examples
    --------
    >>> recovery_bound(np.zeros((2, 2)), beta=2.0).round(5).tolist()
    [[0.00196, 0.00196], [0.00196, 0.00196]]
    >>> float(recovery_bound(np.full((2, 2), 0.5), beta=2.0)[0, 0] * 510).__round__(3)  # e**2
    7.389
    """
    delta = check_delta(delta)
    beta = check_beta(beta)
    depth = check_depth(depth)
    if shape is not None:
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
            raise TypeError(f"shape must be (H, W) or None, got {_short(shape)}")
        delta = _resize_delta(delta, (check_int(shape[0], "shape", minimum=1), check_int(shape[1], "shape", minimum=1)))
    return np.exp(np.minimum(2.0 * beta * np.abs(delta), _MAX_EXPONENT)) / (2.0 * (2**depth - 1))
