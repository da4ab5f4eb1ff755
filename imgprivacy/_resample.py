"""The fixed resampling used to fit overlays to an image (part of format 1).

An overlay of shape (h, w, C) is resized to (H, W, C) one axis at a time,
rows first, then columns, in float64, and the result is cast to float32:

* an axis that shrinks (H < h) uses **area averaging**: output pixel ``i``
  is the mean of the input over ``[i*h/H, (i+1)*h/H)``, fractional pixels
  weighted by their covered length (like OpenCV's ``INTER_AREA``);
* an axis that grows (H > h) uses **linear interpolation** with half-pixel
  centres (``src = (i + 0.5) * h / H - 0.5``, clamped to the edge pixels);
* an axis of equal size is copied.

Only elementwise float64 arithmetic and a sequential cumulative sum are
used, so the result does not depend on BLAS or the SIMD width: a protected
photo recovers on any machine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["resize"]

_STRIP_BYTES = 1 << 22  # float64 bytes of one strip of columns resized at a time (the result does not depend on it)


def _resize_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = x.shape[axis]
    if size == n:
        return x
    x = np.moveaxis(x, axis, 0)
    if size > n:  # linear, half-pixel centres
        src = (np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5
        src = np.clip(src, 0.0, n - 1)
        i0 = np.floor(src).astype(np.intp)
        i1 = np.minimum(i0 + 1, n - 1)
        w = (src - i0).reshape((-1,) + (1,) * (x.ndim - 1))
        out = x[i0] * (1.0 - w) + x[i1] * w
    else:  # area averaging
        cum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)], axis=0)
        edges = np.arange(size + 1, dtype=np.float64) * (n / size)
        edges[-1] = n
        whole = np.floor(edges).astype(np.intp)
        frac = (edges - whole).reshape((-1,) + (1,) * (x.ndim - 1))
        nxt = x[np.minimum(whole, n - 1)]
        integral = cum[whole] + frac * nxt
        out = (integral[1:] - integral[:-1]) * (size / n)
    return np.moveaxis(out, 0, axis)


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` (H, W) or (H, W, C) to ``shape`` with the format-1 rule.

    Examples
    --------
    >>> img = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    >>> np.round(resize(img, (2, 2)).astype(float), 3).tolist()
    [[0.167, 0.3], [0.7, 0.833]]
    >>> resize(img, (4, 4)).dtype == np.float32
    True
    """
    out_h, out_w = int(shape[0]), int(shape[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    image = np.asarray(image)
    # rows first, in strips of columns of about 4 MB in float64: each column is resized on its own by elementwise
    # operations, so the strips give the same bits as the whole image, without its float64 copies (a 1411 x 1411
    # RGB overlay needed 137 MB of temporaries, a strip needs 4)
    step = max(1, _STRIP_BYTES // (8 * image.shape[0] * (image.shape[2] if image.ndim == 3 else 1)))
    strips = [_resize_axis(np.asarray(image[:, j : j + step], dtype=np.float64), out_h, 0)
              for j in range(0, image.shape[1], step)]
    x = strips[0] if len(strips) == 1 else np.concatenate(strips, axis=1)
    x = _resize_axis(x, out_w, 1)
    return np.clip(x, 0.0, 1.0).astype(np.float32)
