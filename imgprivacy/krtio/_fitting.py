"""Fitting one overlay to a block grid, strip by strip, and the byte-bounded LRU of fitted overlays."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Callable, Hashable

import numpy as np

from .._resample import Resampler, clip01
from ._workers import worker_pool, worker_threads

LUMA = (0.2125, 0.7154, 0.0721)

#: default bound of a FittedStore: 384 MiB holds the 30 default overlays fitted to 1024 x 1024 RGB
#: (12.6 MB each), three at 8 MP; ``IMGPRIVACY_FIT_BYTES`` overrides it
DEFAULT_FIT_BYTES = 384 << 20


def new_store(max_bytes: int | None = None) -> "FittedStore":
    """A :class:`FittedStore` bounded by ``max_bytes``, by default ``IMGPRIVACY_FIT_BYTES`` or
    :data:`DEFAULT_FIT_BYTES`.

    Raises
    ------
    ValueError
        If the bound (argument or environment) is not a whole number of bytes >= 0.

    Examples
    --------
    >>> new_store(1 << 20).max_bytes
    1048576
    """
    name = "max_bytes"
    if max_bytes is None:
        text = os.environ.get("IMGPRIVACY_FIT_BYTES", "").strip()
        name, max_bytes = "IMGPRIVACY_FIT_BYTES", text or DEFAULT_FIT_BYTES
        try:
            max_bytes = int(max_bytes)
        except ValueError:
            raise ValueError(f"IMGPRIVACY_FIT_BYTES must be a whole number of bytes >= 0, got {text!r}") from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise ValueError(f"{name} must be a whole number of bytes >= 0, got {max_bytes!r}")
    return FittedStore(int(max_bytes))


class FittedStore:
    """A least-recently-used store of fitted overlays, bounded in bytes.

    Shared by the :class:`~imgprivacy.krtio.PreparedOverlays` of one
    :class:`~imgprivacy.krtio.OverlayCache`, so that a folder of mixed sizes
    holds at most ``max_bytes`` of fitted overlays in all, whatever the
    number of geometries.  Thread-safe.

    Parameters
    ----------
    max_bytes : int
        The most bytes held; an array larger than this is never stored.

    Examples
    --------
    >>> store = FittedStore(100)
    >>> store.put("a", np.zeros(10)); store.put("b", np.zeros(10))  # 80 bytes each
    >>> store.get("a") is None, store.get("b") is not None, store.nbytes
    (True, True, 80)
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list:
        """The keys held, least recently used first."""
        with self._lock:
            return list(self._items)

    def get(self, key: Hashable) -> np.ndarray | None:
        """The array stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            arr = self._items.get(key)
            if arr is not None:
                self._items.move_to_end(key)
            return arr

    def put(self, key: Hashable, arr: np.ndarray) -> None:
        """Store ``arr``, evicting the least recently used until it fits; too large: not stored."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            if arr.nbytes > self.max_bytes:
                return
            while self._items and self.nbytes + arr.nbytes > self.max_bytes:
                self.nbytes -= self._items.popitem(last=False)[1].nbytes
            self._items[key] = arr
            self.nbytes += arr.nbytes


def block_strips(ov: np.ndarray, grid: tuple[int, int], block: tuple[int, int], channels: int,
                 first: int = 0, stop: int | None = None, out: np.ndarray | None = None, decode: tuple | None = None):
    """Yield ``(r0, r1, blocks)``: block rows ``r0:r1`` of ``ov`` fitted to the padded grid.

    ``blocks`` is a float32 array of shape ((r1 - r0) * gw, bh * bw * c),
    one row per block (row-major), its pixels in (bh, bw, c) order: the rows
    ``r0 * gw : r1 * gw`` of :meth:`PreparedOverlays.blocks`, written there
    in ``out`` if given (else a new array each step).  The values are
    format 1's: :func:`imgprivacy._resample.resize` to (gh * bh, gw * bw),
    then the luminance (``channels == 1`` from RGB, in float64 as the
    specification says) or the grey repeated (``channels == 3`` from grey).
    Only block rows ``first:stop`` are made.

    The compiled kernel makes them where it is in use
    (:func:`imgprivacy._resample.backend`), writing float32 straight into
    block layout; else (or for a source that is not float32 or float64) the
    numpy code below, which is the reference: the same bits.  ``out`` must be
    C-contiguous float32 of shape (gh * gw, bh * bw * c).  With ``decode =
    (order, invert)``, ``ov`` is uint8 samples standing for the float image
    :func:`imgprivacy._resample.decode_u8` makes of them (an overlay set's
    stored samples, :meth:`imgprivacy.data.OverlaySet.encoded`), read by the
    kernel as they are.
    """
    (gh, gw), (bh, bw) = grid, block
    stop = gh if stop is None else stop
    resampler = Resampler(ov if ov.ndim == 3 else ov[..., None], (gh * bh, gw * bw), decode=decode)
    step = max(1, resampler.default_rows() // bh)
    if resampler.kernel_ready():  # one call for the whole range when writing into out; else strips of `step` rows
        yield from resampler.block_rows(block, channels, LUMA, first=first, stop=stop,
                                        rows=None if out is not None else step, out=out)
        return
    for y0, y1, raw in resampler.raw_strips(rows=step * bh, start=first * bh, stop=stop * bh):
        r0, r1 = y0 // bh, y1 // bh
        dest = np.empty(((r1 - r0) * gw, bh * bw * channels), dtype=np.float32) if out is None else out[r0 * gw : r1 * gw]
        if raw.shape[2] == channels:  # cast and rearranged in one pass, then clipped: the same bits as resize
            np.copyto(dest.reshape(r1 - r0, gw, bh, bw, channels),
                      raw.reshape(r1 - r0, bh, gw, bw, channels).transpose(0, 2, 1, 3, 4), casting="same_kind")
        else:
            fitted = clip01(raw.astype(np.float32))
            if channels == 1:
                f64 = fitted.astype(np.float64)
                grey = f64[..., 0] * LUMA[0] + f64[..., 1] * LUMA[1] + f64[..., 2] * LUMA[2]
                fitted = grey.astype(np.float32)[..., None]
            else:
                fitted = np.broadcast_to(fitted, fitted.shape[:2] + (3,))
            dest.reshape(r1 - r0, gw, bh, bw, channels)[...] = fitted.reshape(r1 - r0, bh, gw, bw, channels).transpose(
                0, 2, 1, 3, 4)
        yield r0, r1, clip01(dest) if resampler.needs_clip or raw.shape[2] != channels else dest


def in_halves(grid_rows: int, work: Callable[[int, int], None]) -> None:
    """Run ``work(first, stop)`` over block rows ``0:grid_rows``, in two halves on two threads
    where two cores are free and there is enough work (numpy releases the GIL)."""
    if grid_rows >= 8 and worker_threads() > 1:
        half = grid_rows // 2
        future = worker_pool().submit(work, half, grid_rows)
        try:
            work(0, half)
        finally:
            future.result()
    else:
        work(0, grid_rows)


def fit_blocks(ov: np.ndarray, grid: tuple[int, int], block: tuple[int, int], channels: int, *,
               decode: tuple | None = None) -> np.ndarray:
    """``ov`` fitted to the padded grid and stored block by block, shape (gh * gw, bh * bw * c), read-only
    (``decode`` as in :func:`block_strips`).

    Examples
    --------
    >>> fit_blocks(np.full((4, 4), 0.5, dtype=np.float32), (2, 2), (2, 2), 1).shape
    (4, 4)
    """
    (gh, gw), (bh, bw) = grid, block
    out = np.empty((gh * gw, bh * bw * channels), dtype=np.float32)

    def work(first, stop):
        for _ in block_strips(ov, grid, block, channels, first, stop, out=out, decode=decode):
            pass

    in_halves(gh, work)
    out.setflags(write=False)
    return out
