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

Overlay fitting (:meth:`Resampler.block_rows`, used by
:mod:`imgprivacy.krtio`) and k-RTIO's mix (:func:`compiled_mix`) run in the
optional compiled kernel ``imgprivacy._cfit`` where it was built, the same
bits, fitting several times faster; :func:`backend` tells which is in use,
and ``IMGPRIVACY_NO_C=1`` forces the numpy code, which stays the reference
and the fallback.
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np

__all__ = ["Resampler", "backend", "clip01", "compiled_mix", "compiled_scatter", "decode_u8", "resize", "resize_reference"]

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
        Float image in [0, 1] (float32 overlays; any float dtype works), or
        8-bit samples with ``decode``.
    shape : (int, int)
        Output (H, W).
    decode : (tuple of int, bool), optional
        ``(order, invert)``: ``image`` is uint8 (any strides) standing for the
        float image :func:`decode_u8` ``(image, order, invert)``.  The
        compiled kernel reads the samples as they are (no float copy of the
        image is made); the numpy code decodes them first.  The same bits.

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

    :meth:`block_rows` computes the same values in the compiled kernel
    (``imgprivacy/_cfit.c``), one output row at a time, and writes them
    straight into block layout.  It is the same bits, on every machine, for
    the same reasons: the index and weight tables are made by the same
    functions here and handed over; each value is the same sequence of
    float64 operations on the same operands (the running sums strictly in
    order, the row sum from row 0 whatever the first row, carried between
    calls); the cast and the clip are numpy's (round to nearest; minimum
    then maximum, which turns -0.0 into +0.0 as numpy's maximum does).  C
    would let a compiler fuse ``a * w0 + b * w1`` into one fused
    multiply-add (one rounding instead of two; GCC does so by default on
    aarch64, or on x86-64 with ``-march=native``) or reassociate sums under
    ``-ffast-math``: the extension is built with ``-ffp-contract=off`` and
    without fast-math (``setup.py``), and refuses to compile under
    ``__FAST_MATH__`` or with excess precision (``FLT_EVAL_METHOD != 0``,
    x87).  Vectorising the independent elementwise loops does not change a
    bit.  On first use the kernel is also checked against this numpy code
    on small grow, shrink and channel-converting cases (the float32 results
    and the float64 values before the cast, where a fused multiply-add
    would change about one value in six), and is not used (with a warning)
    if a single bit differs.

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

    def __init__(self, image: np.ndarray, shape: tuple[int, int], *, decode: tuple | None = None):
        image = np.asarray(image)
        self._decode = None
        if decode is not None:
            order, invert = tuple(int(c) for c in decode[0]), bool(decode[1])
            if image.dtype != np.uint8 or image.ndim != 3 or sorted(order) != list(range(image.shape[2])):
                raise ValueError(f"decode is for uint8 (h, w, c) samples and an order of their c channels, got "
                                 f"{image.dtype} {image.shape} and {order}")
            if _kernel() is None:
                image = decode_u8(image, order, invert)
            else:
                self._decode = (order, invert)
        self.out_h, self.out_w = _check_shape(shape)
        self.channels = 1 if image.ndim == 2 else image.shape[2]
        self.squeeze = image.ndim == 2
        self.x = image.reshape(image.shape[0], image.shape[1], self.channels)
        self.in_h, self.in_w = self.x.shape[:2]
        # growing or copying both axes of an image in [0, 1] gives values in [0, 1] (see the Notes)
        self.needs_clip = self.out_h < self.in_h or self.out_w < self.in_w
        self._rows = self._cols = None  # the numpy code's tables, made when it first runs

    def _numpy_tables(self) -> None:
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

    def kernel_ready(self) -> bool:
        """Whether :meth:`block_rows` can run: the compiled kernel is in use (:func:`backend` is
        ``"c"``) and the image is float32 or float64 (native byte order, aligned) or 8-bit samples
        with ``decode``; else the numpy strips (:meth:`raw_strips`) are the way (which decode 8-bit
        samples first, once)."""
        x = self.x
        if self._decode is not None:  # else the numpy strips decode them (the kernel was turned off since)
            return _kernel() is not None
        return (_kernel() is not None and x.dtype in _KERNEL_DTYPES and x.dtype.isnative
                and bool(x.flags.aligned))

    def block_rows(self, block: tuple[int, int], channels: int, luma: tuple[float, float, float], *,
                   first: int = 0, stop: int | None = None, rows: int | None = None,
                   out: np.ndarray | None = None):
        """Yield ``(r0, r1, blocks)``: block rows ``r0:r1`` of the output in block layout, made by
        the compiled kernel (only where :meth:`kernel_ready`).

        The output (H, W) is cut into a grid of ``block = (bh, bw)`` blocks (``bh`` must divide
        H and ``bw`` W); ``blocks`` is float32 of shape ((r1 - r0) * gw, bh * bw * channels),
        one row per block (row-major), its pixels in (bh, bw, channels) order.  ``channels``
        equal to the image's: the resampled values, cast and (where an axis shrinks) clipped,
        as :meth:`strips`; 1 from 3: the luminance ``luma`` of the clipped values in float64,
        cast, clipped; 3 from 1: the clipped grey repeated.  Block rows ``first:stop``
        (default all) come in strips of ``rows`` block rows (default one strip), written into
        ``out`` (C-contiguous float32 of shape (gh * gw, bh * bw * channels), at rows
        ``r0 * gw : r1 * gw``) if given, else into a new array each strip.

        Raises
        ------
        RuntimeError
            If the compiled kernel is not in use (see :func:`backend`).
        ValueError
            If the block does not divide the output shape.

        Examples
        --------
        >>> img = np.random.default_rng(0).random((5, 7, 3), dtype=np.float32)
        >>> r = Resampler(img, (4, 6))
        >>> if r.kernel_ready():  # 2 x 2 blocks of 2 x 3 pixels, back to an image: resize's bits
        ...     [(r0, r1, blocks)] = r.block_rows((2, 3), 3, (0.2125, 0.7154, 0.0721))
        ...     image = blocks.reshape(2, 2, 2, 3, 3).transpose(0, 2, 1, 3, 4).reshape(4, 6, 3)
        ...     assert (r0, r1) == (0, 2) and np.array_equal(image, resize(img, (4, 6)))
        """
        kernel = _kernel()
        if kernel is None:
            raise RuntimeError("the compiled kernel imgprivacy._cfit is not in use (see backend())")
        (bh, bw), channels = (int(block[0]), int(block[1])), int(channels)
        if self.out_h % bh or self.out_w % bw:
            raise ValueError(f"block {block} must divide the output shape {(self.out_h, self.out_w)}")
        gh, gw, size = self.out_h // bh, self.out_w // bw, bh * bw * channels
        stop = gh if stop is None else min(int(stop), gh)
        first = int(first)
        rows = max(1, stop - first) if rows is None else max(1, int(rows))
        row_table, col_table = self._kernel_tables()
        carry = np.empty(self.in_w * self.channels)  # the running row sum, carried from strip to strip
        carry_row = 0
        for r0 in range(first, stop, rows):
            r1 = min(r0 + rows, stop)
            dest = np.empty(((r1 - r0) * gw, size), dtype=np.float32) if out is None else out[r0 * gw : r1 * gw]
            layout = (self.out_h, gw, bh, bw, channels, r0, r1, self.needs_clip) + tuple(float(v) for v in luma)
            carry_row = kernel.fit(self.x, dest, row_table, col_table, layout, carry, carry_row, *self._decode_arg())
            yield r0, r1, dest

    def _decode_arg(self) -> tuple:
        """The kernel's decode argument: () for float samples, ((o0, o1, o2, invert),) for 8-bit ones."""
        if self._decode is None:
            return ()
        order, invert = self._decode
        return ((order + (0, 0))[:3] if len(order) == 1 else order) + (invert,),

    def _kernel_tables(self):
        """The index and weight tables of both axes as the kernel takes them, from the same functions."""
        tables = getattr(self, "_tables", None)
        if tables is None:
            tables = self._tables = (_axis_table(self.in_h, self.out_h), _axis_table(self.in_w, self.out_w))
        return tables

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
        if self._decode is not None:  # the numpy code reads floats
            self.x, self._decode = decode_u8(self.x, *self._decode), None
        if self._rows is None:
            self._numpy_tables()
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


def decode_u8(pixels: np.ndarray, order=(0, 1, 2), invert: bool = False) -> np.ndarray:
    """The float32 image that 8-bit samples stand for: ``pixels[..., order] / 255``, ``1 -`` that if ``invert``.

    The same float32 operations as :func:`imgprivacy.data.to_float` (a cast, then a float32 division
    by 255) and ``numpy.subtract(float32(1), x)``, so the same bits as an overlay set's images.

    Examples
    --------
    >>> decode_u8(np.array([[[0, 51, 255]]], np.uint8), (2, 1, 0), True).tolist()
    [[[0.0, 0.800000011920929, 1.0]]]
    """
    order = list(order)
    img = pixels[..., order] if order != list(range(pixels.shape[-1])) else pixels
    out = img.astype(np.float32)
    out /= np.float32(255)
    if invert:
        np.subtract(np.float32(1), out, out=out)
    return out


# --------------------------------------------------------------------------- the compiled kernel
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


@functools.lru_cache(maxsize=256)
def _axis_table(n: int, size: int) -> tuple:
    """One axis for ``imgprivacy._cfit.fit``: (kind, ia, ib, wa, wb, scale) from the functions above.

    Kept for the next overlay of the same size (read-only: the kernel only reads them)."""
    empty = np.empty(0)
    if size > n:
        i0, i1, w0, w1 = _linear_weights(n, size)
        table = (1, i0.astype(np.int64), i1.astype(np.int64), w0, w1, 0.0)
    elif size < n:
        whole, frac, nxt, scale = _area_edges(n, size)
        table = (2, whole.astype(np.int64), nxt.astype(np.int64), frac, empty, float(scale))
    else:
        table = (0, empty, empty, empty, empty, 0.0)
    for part in table[1:5]:
        part.setflags(write=False)
    return table


def backend() -> str:
    """The kernel that fits overlays now: ``"c"`` (the compiled ``imgprivacy._cfit``) or ``"numpy"``.

    ``"numpy"`` where the optional extension was not built, or did not pass its
    check against the numpy code on first use, or where the environment
    variable ``IMGPRIVACY_NO_C`` is set (to anything but ``0``), read at each
    call.  Both give the same bits; the numpy code is the reference.

    Examples
    --------
    >>> backend() in ("c", "numpy")
    True
    """
    return "numpy" if _kernel() is None else "c"


def compiled_mix():
    """The compiled k-RTIO mix ``imgprivacy._cfit.mix`` where the kernel is in use (see :func:`backend`), else None.

    ``mix(out, sources, perms, weight, forward, (gh, gw, bh, bw, first, stop))``
    adds ``float32(weight)`` times the float32 sum, in order, of the shuffled
    blocks into ``out`` (forward) or subtracts it and clips as ``np.clip``
    does (inverse), for block rows ``first:stop``: the bits of
    :meth:`imgprivacy.krtio.PreparedOverlays.mix_into`'s numpy code (float32
    operations only, the same ones in the same order).

    Examples
    --------
    >>> compiled_mix() is None or callable(compiled_mix())
    True
    """
    kernel = _kernel()
    return None if kernel is None else kernel.mix


def compiled_scatter():
    """The compiled scatter ``imgprivacy._cfit.scatter`` where the kernel is in use (see :func:`backend`), else None.

    ``scatter(total, blocks, where, first, add)`` puts row ``i`` of ``blocks``
    at row ``where[first + i]`` of ``total`` (both C-contiguous float32, rows
    of the same size; ``where`` int64), copied, or added in float32 with
    ``add``: the bits of ``total[where[first:first + n]] = blocks`` (or
    ``+=``) for a permutation ``where``, as k-RTIO's streamed sum of the
    shuffled overlays does it.

    Examples
    --------
    >>> compiled_scatter() is None or callable(compiled_scatter())
    True
    """
    kernel = _kernel()
    return None if kernel is None else kernel.scatter


def _kernel():
    """The compiled module, or None (not built, refused, or ``IMGPRIVACY_NO_C`` set)."""
    if os.environ.get("IMGPRIVACY_NO_C", "").strip() not in ("", "0"):
        return None
    return _load_kernel()


@functools.lru_cache(maxsize=1)
def _load_kernel():
    try:
        from . import _cfit
    except ImportError:
        return None
    wrong = _self_check(_cfit)
    if wrong:
        warnings.warn(f"imgprivacy._cfit does not give the numpy fitting's bits here ({wrong}); "
                      "the numpy code is used", RuntimeWarning, stacklevel=3)
        return None
    return _cfit


def _self_check(kernel) -> str | None:
    """The kernel against the numpy strips on small grow, shrink, same and channel-converting cases
    (a compiler that fused or reassociated would differ on most of them); what differs, or None."""
    image = (np.arange(13 * 17 * 3) * 0.6180339887498949 % 1.0).reshape(13, 17, 3)  # no coarse grid: all bits used
    luma = (0.2125, 0.7154, 0.0721)
    cases = [(np.float32, shape, 3, 3) for shape in ((29, 9), (5, 40), (13, 17), (6, 8), (31, 37), (13, 5))]
    cases += [(np.float32, (29, 9), 3, 1), (np.float32, (6, 40), 1, 3), (np.float32, (6, 8), 1, 1),
              (np.float64, (5, 40), 3, 3), (np.float64, (31, 9), 1, 3)]
    for dtype, shape, c_in, c_out in cases:
        x = image.astype(dtype)
        src = x if c_in == 3 else x[:, ::-1, 1:2]  # a strided view for one channel
        r = Resampler(src, shape)
        want = np.empty(shape + (c_in,), dtype=np.float32)
        for y0, y1, raw in r.raw_strips(rows=4):
            want[y0:y1] = raw
        if r.needs_clip or c_in != c_out:
            clip01(want)
        if c_in == 3 and c_out == 1:
            f = want.astype(np.float64)
            want = clip01((f[..., 0] * luma[0] + f[..., 1] * luma[1] + f[..., 2] * luma[2]).astype(np.float32))
        elif c_in == 1 and c_out == 3:
            want = np.repeat(want, 3, axis=2)
        out = np.empty((shape[0] * shape[1], c_out), dtype=np.float32)
        carry, row = np.empty(src.shape[1] * c_in), 0
        tables = (_axis_table(src.shape[0], shape[0]), _axis_table(src.shape[1], shape[1]))
        for r0, r1 in ((0, 3), (3, shape[0])):  # the row sum carried from one call to the next
            layout = (shape[0], shape[1], 1, 1, c_out, r0, r1, r.needs_clip) + luma
            row = kernel.fit(r.x, out[r0 * shape[1] : r1 * shape[1]], tables[0], tables[1], layout, carry, row)
        if not np.array_equal(out.view(np.uint32).ravel(), want.view(np.uint32).ravel()):
            return f"{np.dtype(dtype).name} {src.shape} -> {shape}, {c_in} -> {c_out} channels"
        if c_in == c_out:  # the float64 rows before the cast: a fused multiply-add changes ~1 in 6 of them
            raw = np.empty(shape + (c_in,))
            kernel.fit(r.x, raw, tables[0], tables[1], layout[:5] + (0, shape[0]) + layout[7:], carry, 0)
            if not np.array_equal(raw.view(np.uint64), np.concatenate([g for _, _, g in r.raw_strips()]).view(np.uint64)):
                return f"{np.dtype(dtype).name} {src.shape} -> {shape}, the float64 rows"
    # 8-bit samples: read through a turned, mirrored view, the channels reordered and inverted; and in order
    stored = np.rint(image * 255).astype(np.uint8)
    turned = np.rot90(stored, 1)[:, ::-1]
    for view, order, invert, shape, c_out in ((turned, (2, 0, 1), True, (29, 9), 3), (turned, (2, 0, 1), True, (5, 40), 1),
                                              (stored, (0, 1, 2), False, (17, 13), 3), (stored, (0, 1, 2), True, (6, 40), 3)):
        r = Resampler(decode_u8(view, order, invert), shape)
        want = np.concatenate([part for _, _, part in r.strips()]).reshape(shape + (3,))
        if c_out == 1:
            f = want.astype(np.float64)
            want = clip01((f[..., 0] * luma[0] + f[..., 1] * luma[1] + f[..., 2] * luma[2]).astype(np.float32))
        out = np.empty((shape[0] * shape[1], c_out), dtype=np.float32)
        tables = (_axis_table(view.shape[0], shape[0]), _axis_table(view.shape[1], shape[1]))
        layout = (shape[0], shape[1], 1, 1, c_out, 0, shape[0], r.needs_clip) + luma
        kernel.fit(view, out, tables[0], tables[1], layout, np.empty(view.shape[1] * 3), 0, order + (invert,))
        if not np.array_equal(out.view(np.uint32).ravel(), want.view(np.uint32).ravel()):
            return f"uint8 {view.shape} -> {shape}, 3 -> {c_out} channels, order {order}, inverted {invert}"
    return _mix_check(kernel, image)


def _mix_check(kernel, image: np.ndarray) -> str | None:
    """The compiled mix against the numpy mix's operations (PreparedOverlays._strips and mix_into) on a
    3 x 4 grid of 2 x 3 blocks cropped to 5 x 11, k = 3, both ways, and the compiled scatter against
    numpy's fancy indexing (the streamed sum); what differs, or None."""
    gh, gw, bh, bw, c = 3, 4, 2, 3, 3
    flat = image.astype(np.float32).ravel()
    sources = tuple(np.roll(flat, 97 * j)[: gh * gw * bh * bw * c].reshape(gh * gw, -1) for j in range(3))
    perms = tuple(np.roll(np.arange(gh * gw, dtype=np.int64)[::-1], j) for j in range(3))
    w = np.float32(0.55 / 3)
    part = sources[0][perms[0]]
    for src, perm in zip(sources[1:], perms[1:]):
        part += src[perm]
    image_rows = (part.reshape(gh, gw, bh, bw * c).transpose(0, 2, 1, 3) * w).reshape(gh * bh, gw * bw, c)[:5, :11]
    for forward in (True, False):
        start = (flat[: 5 * 11 * c].reshape(5, 11, c) * np.float32(0.45 if forward else 1.3)).astype(np.float32)
        want = start + image_rows if forward else np.clip(start - image_rows, 0.0, 1.0)
        got = start.copy()
        kernel.mix(got, sources, perms, float(w), forward, (gh, gw, bh, bw, 0, 1))
        kernel.mix(got, sources, perms, float(w), forward, (gh, gw, bh, bw, 1, gh))
        if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
            return f"the mix ({'forward' if forward else 'inverse'})"
    where = perms[1]  # the streamed sum: each source's rows scattered to their shuffled places, summed in order
    want, got = np.empty_like(sources[0]), np.empty_like(sources[0])
    for j, src in enumerate(sources):
        if j == 0:
            want[where] = src
        else:
            want[where] += src
        kernel.scatter(got, src[:5], where, 0, j > 0)
        kernel.scatter(got, src[5:], where, 5, j > 0)
    if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
        return "the scatter"
    return None


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
