"""The fixed resampling used to fit overlays to an image (part of format 1).

An overlay of shape (h, w, C) is resized to (H, W, C) one axis at a time,
rows first, then columns, in float64, and the result is cast to float32:

* an axis that shrinks (H < h) uses **area averaging**: output pixel ``i``
  is the mean of the input over ``[i*h/H, (i+1)*h/H)``, fractional pixels
  weighted by their covered length (like OpenCV's ``INTER_AREA``);
* an axis that grows (H > h) uses **linear interpolation** with half-pixel
  centres (``src = (i + 0.5) * h / H - 0.5``, clamped to the edge pixels);
* an axis of equal size is copied.

:func:`resize_reference` is that rule written as the specification reads,
whole axes at a time (slow: full-size float64 temporaries).
:class:`Resampler` computes the same bits strip by strip (see its Notes),
and :func:`resize` uses it.  Only elementwise float64 arithmetic and a
sequential cumulative sum are used, so the result does not depend on BLAS
or the SIMD width: a protected photo recovers on any machine.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Resampler", "clip01", "resize", "resize_reference"]

_STRIP_BYTES = 1 << 19  # float64 bytes of one strip buffer (about L2-sized; the result does not depend on it)


# --------------------------------------------------------------------------- the specification
def _linear_weights(n: int, size: int):
    """Source indices and weights of a growing axis, exactly as the specification computes them."""
    src = (np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5
    src = np.clip(src, 0.0, n - 1)
    i0 = np.floor(src).astype(np.intp)
    i1 = np.minimum(i0 + 1, n - 1)
    w = src - i0
    return i0, i1, 1.0 - w, w


def _area_edges(n: int, size: int):
    """Cell edges of a shrinking axis: whole part, fraction, the pixel the fraction covers, the scale."""
    edges = np.arange(size + 1, dtype=np.float64) * (n / size)
    edges[-1] = n
    whole = np.floor(edges).astype(np.intp)
    return whole, edges - whole, np.minimum(whole, n - 1), size / n


def _resize_axis(x: np.ndarray, size: int, axis: int) -> np.ndarray:
    n = x.shape[axis]
    if size == n:
        return x
    x = np.moveaxis(x, axis, 0)
    shape = (-1,) + (1,) * (x.ndim - 1)
    if size > n:  # linear, half-pixel centres
        i0, i1, w0, w1 = _linear_weights(n, size)
        out = x[i0] * w0.reshape(shape) + x[i1] * w1.reshape(shape)
    else:  # area averaging
        cum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)], axis=0)
        whole, frac, nxt, scale = _area_edges(n, size)
        integral = cum[whole] + frac.reshape(shape) * x[nxt]
        out = (integral[1:] - integral[:-1]) * scale
    return np.moveaxis(out, 0, axis)


def resize_reference(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The format-1 resampling as the specification reads it (whole axes, float64).

    Slow and memory-hungry; :func:`resize` (same parameters) gives the same
    bits.  Kept as the definition the fast path is tested against.

    Examples
    --------
    >>> img = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    >>> np.round(resize_reference(img, (2, 2)).astype(float), 3).tolist()
    [[0.167, 0.3], [0.7, 0.833]]
    """
    out_h, out_w = _check_shape(shape)
    x = _resize_axis(np.asarray(image, dtype=np.float64), out_h, 0)
    x = _resize_axis(x, out_w, 1)
    return np.clip(x, 0.0, 1.0).astype(np.float32)


def _check_shape(shape) -> tuple[int, int]:
    out_h, out_w = int(shape[0]), int(shape[1])
    if out_h < 1 or out_w < 1:
        raise ValueError(f"shape must be positive, got {shape}")
    return out_h, out_w


# --------------------------------------------------------------------------- the strip-wise engine
class Resampler:
    """The format-1 resampling of one image, computed strip by strip of output rows.

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, C)
        Float image in [0, 1] (float32 overlays; any float dtype works).
    shape : (int, int)
        Output (H, W).

    Notes
    -----
    Every output value is made by the very same IEEE-754 float64 operations,
    on the same operands and in the same order, as in
    :func:`resize_reference`, so the two agree bit for bit (the proven bound
    is 0; ``tests/test_resample.py`` checks it on random grow, shrink, mixed
    and odd shapes):

    * the indices and weights come from the same functions;
    * a growing axis is ``x[i0] * (1 - w) + x[i1] * w``: two roundings of a
      product and one of a sum per value, whichever rows or columns are
      computed together (a float32 input is widened exactly to float64 by
      numpy's type promotion, as ``astype(float64)`` does);
    * a shrinking axis needs the running sum ``cum[j] = cum[j-1] + x[j-1]``,
      which ``np.cumsum`` (``add.accumulate``) evaluates strictly in that
      order; over rows it is carried from one strip to the next, the strip
      starting its accumulation from the carried row, so every ``cum[j]`` is
      the same sequence of additions as the whole-axis sum;
    * clipping to [0, 1] commutes with the (monotonic, round-to-nearest)
      cast to float32, so it is done after the cast, in float32; it is
      skipped when no axis shrinks, where it provably changes nothing for
      an image in [0, 1]: ``w`` is in [0, 1), ``1 - w`` rounds so that
      ``fl(fl(1 - w) + w) <= 1``, and rounding is monotonic, so
      ``fl(fl(a * (1 - w)) + fl(b * w))`` lies in [0, 1] for ``a, b`` in
      [0, 1], after either pass.

    No reduction, matrix product or fused multiply-add is used, so neither
    the BLAS, the SIMD width nor the thread count can change a bit.  The
    work is done in strips of about ``_STRIP_BYTES`` per float64 buffer, so
    the temporaries stay in cache instead of being full-size; column gathers
    use flat indices into rows of ``w * C`` samples (numpy copies 8-byte
    items fastest).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = rng.random((5, 7, 3), dtype=np.float32)
    >>> out = np.empty((9, 4, 3), dtype=np.float32)
    >>> for y0, y1, part in Resampler(img, (9, 4)).strips(2):
    ...     out[y0:y1] = part
    >>> bool(np.array_equal(out, resize_reference(img, (9, 4))))
    True
    """

    def __init__(self, image: np.ndarray, shape: tuple[int, int]):
        image = np.asarray(image)
        self.out_h, self.out_w = _check_shape(shape)
        self.channels = 1 if image.ndim == 2 else image.shape[2]
        self.squeeze = image.ndim == 2
        self.x = image.reshape(image.shape[0], image.shape[1], self.channels)
        self.in_h, self.in_w = self.x.shape[:2]
        h, w, c = self.in_h, self.in_w, self.channels
        if self.out_h > h:
            self._rows = ("grow",) + _linear_weights(h, self.out_h)
        elif self.out_h < h:
            self._rows = ("shrink",) + _area_edges(h, self.out_h)
        else:
            self._rows = ("same",)
        within = np.arange(c)
        if self.out_w > w:  # flat indices into a row of w * c samples: numpy gathers 8-byte items fastest
            i0, i1, w0, w1 = _linear_weights(w, self.out_w)
            self._cols = ("grow", (i0[:, None] * c + within).ravel(), (i1[:, None] * c + within).ravel(),
                          np.repeat(w0, c), np.repeat(w1, c))
        elif self.out_w < w:
            whole, frac, nxt, scale = _area_edges(w, self.out_w)
            self._cols = ("shrink", (whole[:, None] * c + within).ravel(), np.repeat(frac, c),
                          (nxt[:, None] * c + within).ravel(), scale)
        else:
            self._cols = ("same",)
        # growing or copying both axes of an image in [0, 1] gives values in [0, 1] (see the Notes)
        self.needs_clip = "shrink" in (self._rows[0], self._cols[0])

    def default_rows(self) -> int:
        """Output rows per strip that keep one float64 buffer near ``_STRIP_BYTES``."""
        return max(1, _STRIP_BYTES // (8 * self.channels * max(self.in_w, self.out_w)))

    def strips(self, rows: int | None = None, start: int = 0, stop: int | None = None):
        """Yield ``(y0, y1, part)``: output rows ``y0:y1`` as a new float32 array.

        ``part`` has shape (y1 - y0, W, C) (or (y1 - y0, W) for a 2-D image),
        values in [0, 1]; the strips of ``rows`` rows (default
        :meth:`default_rows`) cover rows ``start:stop`` (default ``0:H``) in
        order.  Strips that start late give the same bits: a shrinking row
        axis first sums the rows above, in order.
        """
        for y0, y1, g in self.raw_strips(rows, start, stop):
            out = np.empty((y1 - y0, self.out_w, self.channels), dtype=np.float32)
            np.copyto(out, g, casting="same_kind")
            if self.needs_clip:
                clip01(out)
            yield y0, y1, out[..., 0] if self.squeeze else out

    def raw_strips(self, rows: int | None = None, start: int = 0, stop: int | None = None):
        """As :meth:`strips`, but ``part`` is the float64 result before the cast and the clipping,
        of shape (y1 - y0, W, C), valid until the next step: cast it to float32, then
        :func:`clip01` it (in that order or the other: the same bits)."""
        rows = self.default_rows() if rows is None else max(1, int(rows))
        stop = self.out_h if stop is None else min(int(stop), self.out_h)
        carry = None
        for y0 in range(int(start), stop, rows):
            y1 = min(y0 + rows, stop)
            t, carry = self._row_pass(y0, y1, carry)
            yield y0, y1, self._column_pass(t)

    def _row_pass(self, y0: int, y1: int, carry):
        x, kind = self.x, self._rows[0]
        if kind == "same":
            return x[y0:y1].astype(np.float64), None
        if kind == "grow":  # the rows this strip reads, widened once, then gathered whole
            _, i0, i1, w0, w1 = self._rows
            lo = int(i0[y0])
            src = x[lo : int(i1[y1 - 1]) + 1].astype(np.float64).reshape(-1, self.in_w * self.channels)
            t = np.take(src, i0[y0:y1] - lo, axis=0)
            t *= w0[y0:y1, None]
            other = np.take(src, i1[y0:y1] - lo, axis=0)
            other *= w1[y0:y1, None]
            t += other
            return t.reshape(y1 - y0, self.in_w, self.channels), None
        _, whole, frac, nxt, scale = self._rows
        lo, hi = int(whole[y0]), int(whole[y1])  # cum[lo..hi] is needed
        if carry is None:  # cum[lo], summed from row 0 in the same order (lo > 0 for strips that start late)
            carry = np.zeros((1,) + x.shape[1:])
            for j in range(lo):
                np.add(carry[0], x[j], out=carry[0])
        cum = np.empty((hi - lo + 1,) + x.shape[1:])
        cum[0] = carry[0]
        cum[1:] = x[lo:hi]
        for j in range(1, len(cum)):  # cum[j - lo]: the same sequence of additions as the whole axis
            np.add(cum[j - 1], cum[j], out=cum[j])  # (row by row: np.cumsum over axis 0 is 6x slower)
        integral = cum[whole[y0 : y1 + 1] - lo]
        integral += frac[y0 : y1 + 1, None, None] * x[nxt[y0 : y1 + 1]]
        t = np.subtract(integral[1:], integral[:-1])
        t *= scale
        return t, cum[-1:]

    def _column_pass(self, t: np.ndarray) -> np.ndarray:
        kind = self._cols[0]
        if kind == "same":
            return t
        n, c = t.shape[0], self.channels
        flat = t.reshape(n, -1)
        if kind == "grow":
            _, i0, i1, w0, w1 = self._cols
            g = np.take(flat, i0, axis=1, mode="clip")
            g *= w0
            other = np.take(flat, i1, axis=1, mode="clip")
            other *= w1
            g += other
            return g.reshape(n, self.out_w, c)
        _, whole, frac, nxt, scale = self._cols
        cum = np.empty((n, t.shape[1] + 1, c))
        cum[:, 0] = 0.0
        np.cumsum(t, axis=1, out=cum[:, 1:])
        integral = np.take(cum.reshape(n, -1), whole, axis=1, mode="clip")
        part = np.take(flat, nxt, axis=1, mode="clip")
        part *= frac
        integral += part
        integral = integral.reshape(n, -1, c)
        g = np.subtract(integral[:, 1:], integral[:, :-1])
        g *= scale
        return g


def clip01(a: np.ndarray) -> np.ndarray:
    """Clip ``a`` to [0, 1] in place (what ``np.clip(a, 0, 1, out=a)`` does, faster) and return it.

    Examples
    --------
    >>> clip01(np.array([-0.5, 0.25, 2.0], dtype=np.float32)).tolist()
    [0.0, 0.25, 1.0]
    """
    np.minimum(a, 1.0, out=a)
    np.maximum(a, 0.0, out=a)
    return a


def resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` (h, w) or (h, w, C) to ``shape`` with the format-1 rule.

    The same bits as :func:`resize_reference`, computed strip by strip by a
    :class:`Resampler` (no full-size float64 temporaries).

    Parameters
    ----------
    image : ndarray of shape (h, w) or (h, w, C)
        Float image in [0, 1].
    shape : (int, int)
        Output (H, W).

    Returns
    -------
    ndarray of shape (H, W) or (H, W, C), float32

    Examples
    --------
    >>> img = np.arange(16, dtype=np.float32).reshape(4, 4) / 15
    >>> np.round(resize(img, (2, 2)).astype(float), 3).tolist()
    [[0.167, 0.3], [0.7, 0.833]]
    >>> resize(img, (4, 4)).dtype == np.float32
    True
    """
    r = Resampler(image, shape)
    out = np.empty((r.out_h, r.out_w) + (() if r.squeeze else (r.channels,)), dtype=np.float32)
    for y0, y1, part in r.strips():
        out[y0:y1] = part
    return out
