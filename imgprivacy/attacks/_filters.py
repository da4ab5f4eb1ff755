"""Filters a provider can run on a photo before recognising it (section 6.3, Fig. 17).

The paper tries blurring, a median filter, greyscale and a Gaussian filter
against k-RTIO ("Noise Reduction Techniques") and finds that none helps
DeepFace much.  JPEG re-compression and bit-depth reduction ("feature
squeezing") are added here: both are what a photo service does anyway.

Every filter is a plain function on one canonical image with one keyword
parameter, ``strength``, whose unit depends on the filter (see
:data:`FILTERS`); ``strength=0`` returns an exact copy.  :func:`apply_filter`
applies one by name to a stack or a list of images.
"""

from __future__ import annotations

import io
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._validation import _short, check_image, check_images, check_int

__all__ = ["FILTERS", "FilterSpec", "apply_filter", "blur", "gaussian_blur", "greyscale", "jpeg", "median_filter",
           "reduce_bit_depth"]

# ITU-R BT.601 luma, as Pillow's "L" conversion
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _check_real(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise TypeError(f"{name} must be a real number in [{low:g}, {high:g}], got {_short(value)}")
    value = float(value)
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low:g}, {high:g}], got {value:g}")
    return value


def _per_channel(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    if image.ndim == 2:
        return fn(image)
    return np.stack([fn(image[..., c]) for c in range(image.shape[2])], axis=-1)


def _finish(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0.0, 1.0).astype(np.float32, copy=False)


def blur(image: np.ndarray, *, strength: int) -> np.ndarray:
    """Box blur: each pixel becomes the mean of the ``(2 * strength + 1)``-pixel square around it.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; colour channels are filtered separately.
    strength : int
        Radius of the square in pixels, ``0 <= strength <= 15``; 0 returns a copy.

    Returns
    -------
    ndarray, float32, the shape of ``image``

    References
    ----------
    Section 6.3 ("Noise Reduction Techniques") and Fig. 17: "Blurring".

    Examples
    --------
    >>> x = np.zeros((5, 5), np.float32); x[2, 2] = 0.9
    >>> round(float(blur(x, strength=1)[2, 2]), 6)  # 0.9 spread over 9 pixels
    0.1
    >>> bool(np.array_equal(blur(x, strength=0), x))
    True
    """
    image = check_image(image, "image", channels=(1, 3))
    r = check_int(strength, "strength", minimum=0, maximum=15)
    if r == 0:
        return image.copy()
    from scipy import ndimage  # lazy: scipy.ndimage costs 0.3 s at import
    out = _per_channel(image.astype(np.float64), lambda ch: ndimage.uniform_filter(ch, size=2 * r + 1, mode="reflect"))
    return _finish(out)


def median_filter(image: np.ndarray, *, strength: int) -> np.ndarray:
    """Median filter over the ``(2 * strength + 1)``-pixel square around each pixel.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; colour channels are filtered separately.
    strength : int
        Radius in pixels, ``0 <= strength <= 15``; 0 returns a copy.

    Returns
    -------
    ndarray, float32, the shape of ``image``

    References
    ----------
    Section 6.3 and Fig. 17: "Median Filter".

    Examples
    --------
    >>> x = np.full((5, 5), 0.5, np.float32); x[2, 2] = 1.0  # one bright speck
    >>> float(median_filter(x, strength=1)[2, 2])
    0.5
    """
    image = check_image(image, "image", channels=(1, 3))
    r = check_int(strength, "strength", minimum=0, maximum=15)
    if r == 0:
        return image.copy()
    from scipy import ndimage  # lazy: scipy.ndimage costs 0.3 s at import
    return _finish(_per_channel(image, lambda ch: ndimage.median_filter(ch, size=2 * r + 1, mode="reflect")))


def gaussian_blur(image: np.ndarray, *, strength: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``strength`` pixels.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; colour channels are filtered separately.
    strength : float
        Standard deviation in pixels, ``0 <= strength <= 10``; 0 returns a copy.

    Returns
    -------
    ndarray, float32, the shape of ``image``

    References
    ----------
    Section 6.3 and Fig. 17: "Gaussian Filter".

    Examples
    --------
    >>> x = np.zeros((9, 9), np.float32); x[4, 4] = 1.0
    >>> y = gaussian_blur(x, strength=1.0)
    >>> round(float(y.sum()), 3), bool(y[4, 4] < 0.2)
    (1.0, True)
    """
    image = check_image(image, "image", channels=(1, 3))
    sigma = _check_real(strength, "strength", 0.0, 10.0)
    if sigma == 0.0:
        return image.copy()
    from scipy import ndimage  # lazy: scipy.ndimage costs 0.3 s at import
    out = _per_channel(image.astype(np.float64), lambda ch: ndimage.gaussian_filter(ch, sigma=sigma, mode="reflect"))
    return _finish(out)


def greyscale(image: np.ndarray, *, strength: float = 1.0) -> np.ndarray:
    """Blend a colour photo towards its luma (BT.601): ``(1 - strength) * x + strength * luma(x)``.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1].  A grey image (H, W) or (H, W, 1) has no colour to
        remove and is returned unchanged (a copy): on the grey Olivetti faces
        this filter can do nothing.
    strength : float, default 1.0
        Fraction of the way to grey, ``0 <= strength <= 1``; 0 returns a copy.

    Returns
    -------
    ndarray, float32, the shape of ``image`` (colour photos keep 3 channels)

    References
    ----------
    Section 6.3 and Fig. 17: "Grayscale Filter".

    Examples
    --------
    >>> x = np.zeros((1, 1, 3), np.float32); x[..., 0] = 1.0  # pure red
    >>> [round(float(v), 3) for v in greyscale(x, strength=1.0)[0, 0]]
    [0.299, 0.299, 0.299]
    >>> [round(float(v), 4) for v in greyscale(x, strength=0.5)[0, 0]]
    [0.6495, 0.1495, 0.1495]
    """
    image = check_image(image, "image", channels=(1, 3))
    amount = _check_real(strength, "strength", 0.0, 1.0)
    if amount == 0.0 or image.ndim == 2 or image.shape[2] == 1:
        return image.copy()
    luma = (image.astype(np.float64) @ _LUMA.astype(np.float64))[..., None]
    return _finish((1.0 - amount) * image + amount * luma)


def jpeg(image: np.ndarray, *, strength: int) -> np.ndarray:
    """Re-compress as a baseline JPEG of quality ``100 - strength`` (Pillow, 4:2:0 chroma for colour).

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; rounded to 8 bits first, as a JPEG file is.
    strength : int
        ``0 <= strength <= 99``: 0 returns a copy (no re-compression), 25 is
        quality 75 (Pillow's default), 90 is quality 10.

    Returns
    -------
    ndarray, float32, the shape of ``image``

    Examples
    --------
    >>> x = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    >>> y = jpeg(x, strength=50)
    >>> y.shape, bool(0.0 < np.abs(y - x).mean() < 0.5)
    ((16, 16), True)
    """
    from PIL import Image

    from ..data import to_float, to_uint

    image = check_image(image, "image", channels=(1, 3))
    s = check_int(strength, "strength", minimum=0, maximum=99)
    if s == 0:
        return image.copy()
    pixels = to_uint(image[..., 0] if image.ndim == 3 and image.shape[2] == 1 else image, depth=8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=100 - s)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        out = to_float(np.asarray(decoded))
    return out.reshape(image.shape)


def reduce_bit_depth(image: np.ndarray, *, strength: int) -> np.ndarray:
    """Quantise to ``8 - strength`` bits per channel ("feature squeezing").

    Each value becomes ``round(x * (2**bits - 1)) / (2**bits - 1)``.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1].
    strength : int
        Bits removed from 8, ``0 <= strength <= 7``: 0 returns a copy, 7
        leaves 1 bit (black and white).

    Returns
    -------
    ndarray, float32, the shape of ``image``

    References
    ----------
    Xu, Evans and Qi, "Feature Squeezing", NDSS 2018 (not in the paper).

    Examples
    --------
    >>> reduce_bit_depth(np.array([[0.1, 0.4, 0.6, 0.9]], np.float32), strength=7).tolist()
    [[0.0, 0.0, 1.0, 1.0]]
    """
    image = check_image(image, "image", channels=(1, 3))
    s = check_int(strength, "strength", minimum=0, maximum=7)
    if s == 0:
        return image.copy()
    levels = float(2 ** (8 - s) - 1)
    return _finish(np.round(image.astype(np.float64) * levels) / levels)


@dataclass(frozen=True)
class FilterSpec:
    """One filter of :data:`FILTERS`: the function, what its ``strength`` means, and a default sweep.

    Attributes
    ----------
    name : str
        Short name, the key in :data:`FILTERS`.
    function : callable
        ``function(image, *, strength)``.
    unit : str
        What ``strength`` measures, for axis labels.
    strengths : tuple
        Strengths swept by :func:`imgprivacy.evaluate.sweep` and the
        reproduction (0 first: the unfiltered control).
    maximum : int or float
        The largest accepted strength.
    integer : bool
        Whether ``strength`` must be an integer.
    in_paper : bool
        Whether the paper's Fig. 17 tries this filter.
    """

    name: str
    function: Callable[..., np.ndarray]
    unit: str
    strengths: tuple
    maximum: float
    integer: bool
    in_paper: bool


#: Every filter by short name, in the order of the paper's Fig. 17, then the two additions.
FILTERS: dict[str, FilterSpec] = {
    spec.name: spec
    for spec in (
        FilterSpec("blur", blur, "box radius (px)", (0, 1, 2, 3), 15, True, True),
        FilterSpec("median", median_filter, "median radius (px)", (0, 1, 2, 3), 15, True, True),
        FilterSpec("greyscale", greyscale, "fraction to grey", (0.0, 0.5, 1.0), 1.0, False, True),
        FilterSpec("gaussian", gaussian_blur, "Gaussian sigma (px)", (0.0, 0.5, 1.0, 2.0), 10.0, False, True),
        FilterSpec("jpeg", jpeg, "100 - JPEG quality", (0, 25, 50, 75, 90), 99, True, False),
        FilterSpec("bit-depth", reduce_bit_depth, "bits removed of 8", (0, 2, 4, 5, 6), 7, True, False),
    )
}


def apply_filter(images, name: str, *, strength) -> np.ndarray | list[np.ndarray]:
    """Apply filter ``name`` of :data:`FILTERS` to every image of a stack or a list.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images
        float in [0, 1].
    name : str
        A key of :data:`FILTERS` (``"none"`` is accepted too: a copy).
    strength : int or float
        The filter's strength (see its function); 0 returns a copy.

    Returns
    -------
    ndarray or list of ndarray
        A stack for a stack, a list for a list.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((3, 8, 8), dtype=np.float32)
    >>> apply_filter(X, "median", strength=1).shape
    (3, 8, 8)
    >>> bool(np.array_equal(apply_filter(X, "jpeg", strength=0), X))
    True
    >>> apply_filter(X, "sharpen", strength=1)
    Traceback (most recent call last):
    ...
    ValueError: name must be 'none' or one of 'blur', 'median', 'greyscale', 'gaussian', 'jpeg', 'bit-depth', got 'sharpen'
    """
    if name != "none" and name not in FILTERS:
        accepted = ", ".join(repr(n) for n in FILTERS)
        raise ValueError(f"name must be 'none' or one of {accepted}, got {_short(name)}")
    items = check_images(images, "images", channels=(1, 3))
    if name == "none":
        if strength != 0:
            raise ValueError(f"strength must be 0 for the filter 'none', got {_short(strength)}")
        out = [im.copy() for im in items]
    else:
        out = [FILTERS[name].function(im, strength=strength) for im in items]
    return np.stack(out) if isinstance(images, np.ndarray) else out
