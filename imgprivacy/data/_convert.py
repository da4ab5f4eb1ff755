"""The only doors between 8/16-bit integer samples and canonical float images."""

from __future__ import annotations

import numpy as np

from .._validation import check_depth, check_range_01


def to_float(image: np.ndarray) -> np.ndarray:
    """Convert an image (or a stack) to canonical float32 in [0, 1].

    Parameters
    ----------
    image : ndarray of any shape
        ``uint8`` (divided by 255), ``uint16`` (divided by 65535), ``bool``
        (0 or 1) or floating point already in [0, 1] (cast to float32).

    Returns
    -------
    ndarray, float32, same shape
        Always a new array.

    Raises
    ------
    TypeError
        For any other dtype (signed integers, uint32, ...): their range is
        not known, so it is not guessed.
    ValueError
        For a floating-point input outside [0, 1] or not finite.

    Examples
    --------
    >>> to_float(np.array([0, 51, 255], dtype=np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    >>> to_float(np.array([True, False])).dtype
    dtype('float32')
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    dtype = image.dtype
    if dtype in (np.uint8, np.uint16):  # divided in place: one float32 copy, the same bits
        out = image.astype(np.float32)
        out /= np.float32(255 if dtype == np.uint8 else 65535)
        return out
    if dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        check_range_01(image, "image")
        return image.astype(np.float32, copy=True)
    raise TypeError(
        f"image must have dtype uint8, uint16, bool or float in [0, 1], got dtype {dtype}; "
        "rescale other integer data to uint8 or uint16 yourself (its range cannot be guessed)"
    )


_STRIP = 1 << 16  # samples per float64 strip of to_uint (512 KiB: stays in cache)


def to_uint(image: np.ndarray, *, depth: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to ``uint8`` or ``uint16``.

    Parameters
    ----------
    image : ndarray of any shape
        Floating point, values in [0, 1].
    depth : {8, 16}, default 8
        Bits per sample: ``uint8`` (scale 255) or ``uint16`` (scale 65535).

    Returns
    -------
    ndarray, uint8 or uint16, same shape
        ``np.rint(image * scale)`` computed in float64 (round half to even).
        ``to_uint(to_float(v), depth=d) == v`` for every ``d``-bit value.

    Raises
    ------
    TypeError
        For a non-floating input (convert with :func:`to_float` first).
    ValueError
        For values outside [0, 1] or a depth other than 8 or 16.

    Examples
    --------
    >>> to_uint(np.array([0.0, 0.5, 1.0], dtype=np.float32)).tolist()
    [0, 128, 255]
    >>> to_uint(np.array([0.5]), depth=16).tolist()
    [32768]
    """
    depth = check_depth(depth)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(
            f"image must be a floating-point image in [0, 1], got dtype {image.dtype}; "
            "integer images are already quantised (use to_float to convert them)"
        )
    check_range_01(image, "image")
    scale = 255.0 if depth == 8 else 65535.0
    flat = np.ascontiguousarray(image).reshape(-1)
    out = np.empty(flat.shape, np.uint8 if depth == 8 else np.uint16)
    x = np.empty(min(flat.size, _STRIP), np.float64)  # one small float64 strip, reused: the same bits, no page faults
    for start in range(0, flat.size, _STRIP):
        part = x[: min(_STRIP, flat.size - start)]
        part[...] = flat[start:start + part.size]
        part *= scale  # in float64: exact for a float32 times 255 or 65535
        np.rint(part, out=part)
        out[start:start + part.size] = part
    return out.reshape(image.shape)
