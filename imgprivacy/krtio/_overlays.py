"""Overlay sets fitted to one image geometry: PreparedOverlays, its cache, and the strip-wise weighted sum."""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

import numpy as np

from .._memory import release_free_memory
from .._resample import backend, compiled_mix, compiled_scatter
from .._validation import check_block, check_image, check_range_01
from ._fitting import LUMA, FittedStore, block_strips, fit_blocks, in_halves, new_store
from ._plan import KRTIOPlan, grid_shape
from ._workers import worker_pool, worker_threads

__all__ = ["LUMA", "OverlayCache", "PreparedOverlays", "prepare_overlays", "resolve_overlays", "start_scaling"]

_RELEASE_BYTES = 4 << 20  # freed memory is handed back after fitting from a source this large
_STRIP_BYTES = 1 << 19  # bytes of one strip buffer (tuned by benchmarks/bench_krtio.py)
_LOCAL = threading.local()  # one set of strip buffers per thread, shared by every geometry


def _colour_channels(shape: tuple[int, ...]) -> int:
    return 1 if len(shape) == 2 or shape[2] in (1, 2) else 3


def _as_overlay(ov: object, index: int) -> np.ndarray:
    arr = np.asarray(ov)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(
            f"overlays[{index}] must be a float image in [0, 1], got dtype {arr.dtype}; "
            "use imgprivacy.data.overlay_set() or convert with imgprivacy.data.to_float"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise ValueError(f"overlays[{index}] must have shape (h, w) or (h, w, 3), got {arr.shape}")
    return check_image(arr, f"overlays[{index}]")


def _is_overlay_set(overlays: object) -> bool:
    from ..data import OverlaySet  # the same layer; data never imports krtio

    return isinstance(overlays, OverlaySet)


def _workspace(blocks: int, block_size: int, image_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three float32 strip buffers of this thread, shared by every geometry: two of (blocks, block_size)
    and one of the same size as (image_rows, -1); working strip by strip keeps the sums in cache."""
    need = blocks * block_size
    work = getattr(_LOCAL, "work", None)
    if work is None or work[0].size < need:
        work = _LOCAL.work = tuple(np.empty(need, dtype=np.float32) for _ in range(3))
    return (work[0][:need].reshape(blocks, block_size), work[1][:need].reshape(blocks, block_size),
            work[2][:need].reshape(image_rows, -1))


class PreparedOverlays:
    """An overlay set fitted to one image geometry and pre-split into blocks.

    Built once per image shape and block size, then reused for every photo
    of that shape (the batch path).  Overlays are fitted lazily, the first
    time a photo chooses them, and kept in a byte-bounded least-recently-used
    :class:`~imgprivacy.krtio._fitting.FittedStore`: a photo whose ``k``
    chosen overlays cannot all be held is mixed while they are fitted, strip
    by strip, without keeping them (the same bits).

    Parameters
    ----------
    overlays : sequence of ndarray of shape (h, w) or (h, w, 3)
        The overlay set ``S`` (e.g. :func:`imgprivacy.data.overlay_set`).
    shape : tuple
        Image shape (H, W) or (H, W, C).
    block : int or (int, int)
        Block side(s) in pixels.
    max_bytes : int, optional
        Bound of the fitted overlays kept (default 384 MiB, or the
        ``IMGPRIVACY_FIT_BYTES`` environment variable); 0 keeps none.
    store : FittedStore, optional
        A store shared with other geometries (as :class:`OverlayCache` does);
        ``max_bytes`` is then ignored.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> prep = PreparedOverlays(S, (8, 8, 3), block=4)
    >>> prep.blocks(2).shape, prep.cached_indices()
    ((4, 48), [2])
    """

    def __init__(self, overlays: Iterable[np.ndarray], shape: tuple[int, ...], *, block: int | tuple[int, int] = 8,
                 max_bytes: int | None = None, store: FittedStore | None = None):
        if isinstance(overlays, PreparedOverlays):
            overlays = overlays.overlays
        if _is_overlay_set(overlays):  # checked when it was made; its images are read one at a time, when fitted
            self.overlays = overlays
        else:
            self.overlays = tuple(_as_overlay(ov, i) for i, ov in enumerate(overlays))
        if not self.overlays:
            raise ValueError("overlays must hold at least one image, got an empty set")
        shape = tuple(int(s) for s in shape)
        if len(shape) not in (2, 3) or shape[0] < 1 or shape[1] < 1:
            raise ValueError(f"shape must be (H, W) or (H, W, C) with H, W >= 1, got {shape}")
        self.store = new_store(max_bytes) if store is None else store
        self.shape = shape
        self.block = check_block(block)
        self.grid = grid_shape(shape, self.block)
        self.channels = _colour_channels(shape)
        self._geometry = (self.shape[:2], self.channels, self.block)

    @property
    def m(self) -> int:
        """Number of overlays in the set."""
        return len(self.overlays)

    @property
    def b(self) -> int:
        """Number of blocks per overlay."""
        return self.grid[0] * self.grid[1]

    @property
    def overlay_nbytes(self) -> int:
        """Bytes of one fitted overlay (float32, the padded grid)."""
        (bh, bw), c = self.block, self.channels
        return self.b * bh * bw * c * 4

    def cached_indices(self) -> list[int]:
        """Indices of this geometry's fitted overlays held by the store, least recently used first."""
        return [key[1] for key in self.store.keys() if key[0] == self._geometry]

    def matches(self, shape: tuple[int, ...], block: tuple[int, int]) -> bool:
        """Whether this preparation serves images of ``shape`` with ``block``."""
        return (tuple(shape[:2]), _colour_channels(tuple(shape)), tuple(block)) == (
            self.shape[:2],
            self.channels,
            self.block,
        )

    def fitted(self, index: int) -> np.ndarray:
        """Overlay ``index`` fitted to the padded grid, shape (gh*bh, gw*bw, c)."""
        (gh, gw), (bh, bw) = self.grid, self.block
        blocks = self.blocks(index).reshape(gh, gw, bh, bw, self.channels)
        return blocks.transpose(0, 2, 1, 3, 4).reshape(gh * bh, gw * bw, self.channels)

    def _source(self, index: int) -> tuple[np.ndarray, tuple | None]:
        """``(samples, decode)`` to fit overlay ``index`` from (see :func:`block_strips`): an overlay set's
        stored 8-bit samples as they are, where the compiled kernel reads them (no float copy of the
        image: a quarter of the bytes, and no conversion pass), else the float image (decode None)."""
        if _is_overlay_set(self.overlays) and backend() == "c":
            encoded = self.overlays.encoded(index)
            if encoded is not None:  # a turned or recoloured view copied in order while 8-bit: rows read in one loop
                pixels, order, invert = encoded
                if not pixels.flags.c_contiguous or order != (0, 1, 2):
                    pixels, order = np.ascontiguousarray(pixels[..., list(order)]), (0, 1, 2)
                return pixels, (order, invert)
        return self._overlay(index), None

    def _overlay(self, index: int) -> np.ndarray:
        ov = self.overlays[index]
        if _is_overlay_set(self.overlays):  # a tuple was checked in __init__; an OverlaySet's shape is checked here
            ov = _as_overlay(ov, index)
        return ov

    def blocks(self, index: int) -> np.ndarray:
        """Overlay ``index`` fitted and stored block by block, shape (b, bh * bw * c).

        Row ``p`` is block ``p`` (row-major) of the fitted, unshuffled overlay,
        its pixels in (bh, bw, c) order; the array is read-only, kept in the
        store while it fits there, so that a shuffle gathers whole
        contiguous blocks.

        Examples
        --------
        >>> S = [np.full((4, 4), 0.5, dtype=np.float32)]
        >>> PreparedOverlays(S, (4, 4), block=2).blocks(0).shape
        (4, 4)
        """
        key = (self._geometry, index)
        cached = self.store.get(key)
        if cached is not None:
            return cached
        source, decode = self._source(index)
        blocks = fit_blocks(source, self.grid, self.block, self.channels, decode=decode)
        large = decode is None and source.nbytes >= _RELEASE_BYTES
        del source
        if large:  # the source's float copy and the fit's strips: a notebook kernel would keep ~40 MB of them
            release_free_memory()
        self.store.put(key, blocks)
        return blocks

    def _sources(self, the_plan: KRTIOPlan):
        """What :meth:`_strips` gathers from: the ``k`` fitted overlays and their shuffles, or, when
        they cannot all be held, ``([sum of the shuffled overlays], None)`` made while fitting."""
        held = [self.store.get((self._geometry, i)) for i in the_plan.selection]
        if all(h is not None for h in held) or len(held) * self.overlay_nbytes <= self.store.max_bytes:
            return [h if h is not None else self.blocks(i) for h, i in zip(held, the_plan.selection)], the_plan.permutations
        return [self._streamed_sum(the_plan, held)], None

    def _streamed_sum(self, the_plan: KRTIOPlan, held: list) -> np.ndarray:
        """The sum of the shuffled overlays in block order, shape (b, bh * bw * c), each overlay fitted
        strip by strip and scattered to its shuffled places (nothing kept).  Sums are taken in the
        order ``j = 1..k``, as :meth:`_strips` does, so the bits are the same."""
        (gh, gw), (bh, bw), c = self.grid, self.block, self.channels
        total = np.empty((self.b, bh * bw * c), dtype=np.float32)
        for j, (index, perm, arr) in enumerate(zip(the_plan.selection, the_plan.permutations, held)):
            if arr is None:
                ov, decode = self._source(index)
                where = np.empty(self.b, dtype=np.int64)
                where[perm] = np.arange(self.b)  # fitted block q goes to shuffled place where[q]
                scatter = compiled_scatter()  # the same bits, without numpy's fancy-index passes

                def work(first, stop, ov=ov, decode=decode, where=where, j=j, scatter=scatter):
                    for r0, r1, blocks in block_strips(ov, self.grid, self.block, c, first, stop, decode=decode):
                        if scatter is not None and blocks.dtype == np.float32 and blocks.flags.c_contiguous:
                            scatter(total, blocks, where, r0 * gw, j > 0)
                            continue
                        dest = where[r0 * gw : r1 * gw]
                        if j == 0:
                            total[dest] = blocks
                        else:
                            total[dest] += blocks
            else:

                def work(first, stop, arr=arr, perm=perm, j=j):
                    lo, hi = first * gw, stop * gw
                    if j == 0:
                        np.take(arr, perm[lo:hi], axis=0, out=total[lo:hi], mode="clip")
                    else:
                        total[lo:hi] += np.take(arr, perm[lo:hi], axis=0, mode="clip")

            in_halves(gh, work)
        return total

    def _strip_rows(self) -> int:
        gw, (bh, bw), c = self.grid[1], self.block, self.channels
        return max(1, min(self.grid[0], _STRIP_BYTES // (gw * bh * bw * c * 4)))

    def _strips(self, sources, perms, weight: np.float32, first: int = 0, stop: int | None = None):
        """Yield ``(y0, y1, part)``: rows ``y0:y1`` of ``weight * sum(shuffled overlays)``
        as an (y1 - y0, W, c) view of a workspace buffer, valid until the next step.
        ``sources, perms`` come from :meth:`_sources`.  Only block rows ``first:stop`` are covered."""
        (gh, gw), (bh, bw), c = self.grid, self.block, self.channels
        height, width = self.shape[0], self.shape[1]
        rows = self._strip_rows()
        acc, tmp, pad = _workspace(rows * gw, bh * bw * c, rows * bh)
        for r0 in range(first, gh if stop is None else stop, rows):
            r1 = min(r0 + rows, gh)
            n, lo, hi = (r1 - r0) * gw, r0 * gw, r1 * gw
            if perms is None:  # already summed, in shuffled order
                part = sources[0][lo:hi]
            else:
                part = acc[:n]
                np.take(sources[0], perms[0][lo:hi], axis=0, out=part, mode="clip")
                for src, perm in zip(sources[1:], perms[1:]):
                    part += np.take(src, perm[lo:hi], axis=0, out=tmp[:n], mode="clip")
            image_rows = pad[: (r1 - r0) * bh]
            np.multiply(
                part.reshape(r1 - r0, gw, bh, bw * c).transpose(0, 2, 1, 3),
                weight,
                out=image_rows.reshape(r1 - r0, bh, gw, bw * c),
            )
            y0, y1 = r0 * bh, min(r1 * bh, height)
            yield y0, y1, image_rows.reshape(-1, gw * bw, c)[: y1 - y0, :width]

    def weighted_sum(self, the_plan: KRTIOPlan, weight: float = 1.0) -> np.ndarray:
        """``weight * sum`` of the plan's shuffled overlays, shape (H, W, c), float32."""
        out = np.empty(self.shape[:2] + (self.channels,), dtype=np.float32)
        sources, perms = self._sources(the_plan)
        for y0, y1, part in self._strips(sources, perms, np.float32(weight)):
            out[y0:y1] = part
        return out

    def shuffled(self, index: int, perm: np.ndarray) -> np.ndarray:
        """Overlay ``index`` with its blocks shuffled by ``perm``, cropped to (H, W, c)."""
        perm = np.asarray(perm, dtype=np.intp)
        if perm.shape != (self.b,):
            raise ValueError(f"perm must have one entry per block ({self.b}), got shape {perm.shape}")
        return self.weighted_sum(KRTIOPlan((index,), (perm,)))

    def mix(self, colour: np.ndarray, the_plan: KRTIOPlan, alpha: np.float32, weight: np.float32, *, forward: bool) -> np.ndarray:
        """``alpha * colour + weight * sum`` (forward) or ``(colour - weight * sum) / alpha``
        clipped to [0, 1] (inverse); ``colour`` has shape (H, W, c).  Forward stays in
        [0, 1] only for weights from :func:`mix_weights`."""
        out = start_scaling(colour, alpha, forward)()
        self.mix_into(out, the_plan, alpha, weight, forward=forward)
        return out

    def mix_into(self, out: np.ndarray, the_plan: KRTIOPlan, alpha: np.float32, weight: np.float32, *, forward: bool) -> None:
        """Second half of :meth:`mix`, in place: add (forward) or subtract and clip (inverse)
        ``weight * sum`` into ``out``, which already holds ``alpha * colour`` (forward) or
        ``colour / alpha`` (inverse), e.g. from :func:`start_scaling` while the key schedule
        was derived."""
        if not forward:
            weight = np.float32(weight / alpha)
        sources, perms = self._sources(the_plan)  # fitted once, before any thread needs them

        def numpy_work(first, stop):
            for y0, y1, part in self._strips(sources, perms, weight, first, stop):
                rows = out[y0:y1]
                if forward:  # in [0, 1] without clipping: see mix_weights
                    rows += part
                else:
                    rows -= part
                    np.clip(rows, 0.0, 1.0, out=rows)

        work = self._compiled_work(out, sources, perms, weight, forward) or numpy_work
        gh, step = self.grid[0], self._strip_rows()
        n_strips = -(-gh // step)
        if n_strips >= 4 and worker_threads() > 1:  # numpy releases the GIL: two halves in parallel
            half = (n_strips // 2) * step
            future = worker_pool().submit(work, half, gh)
            work(0, half)
            future.result()
        else:
            work(0, gh)

    def _compiled_work(self, out, sources, perms, weight, forward):
        """``work(first, stop)`` in the compiled kernel (the same bits as the numpy strips), or None
        where it is not in use or the arrays are not the float32 C-contiguous ones it takes."""
        mix = compiled_mix()
        if (mix is None or not isinstance(weight, np.float32) or out.dtype != np.float32 or not out.flags.c_contiguous
                or out.shape != self.shape[:2] + (self.channels,)
                or not all(s.dtype == np.float32 and s.flags.c_contiguous for s in sources)):
            return None
        (gh, gw), (bh, bw) = self.grid, self.block
        sources = tuple(sources)
        perms = None if perms is None else tuple(np.ascontiguousarray(p, dtype=np.int64) for p in perms)

        def work(first, stop):
            mix(out, sources, perms, float(weight), forward, (gh, gw, bh, bw, first, stop))

        return work


def start_scaling(colour: np.ndarray, alpha: np.float32, forward: bool, check: tuple | None = None):
    """Begin ``alpha * colour`` (forward) or ``colour / alpha`` (inverse) into a new array,
    after the range check of ``check = (image, name)`` if given; on the worker thread for
    large photos.  Returns a function that waits, raises any error, and returns the array."""
    out = np.empty(colour.shape, dtype=np.float32)
    op = np.multiply if forward else np.divide

    def run():
        if check is not None:
            check_range_01(*check)
        op(colour, alpha, out=out)
        return out

    if colour.size >= 1 << 18 and worker_threads() > 1:
        return worker_pool().submit(run).result
    run()
    return lambda: out


def prepare_overlays(
    overlays: Iterable[np.ndarray] | PreparedOverlays, shape: tuple[int, ...], *, block: int | tuple[int, int] = 8,
    max_bytes: int | None = None,
) -> PreparedOverlays:
    """Fit an overlay set to one image geometry once, for many photos of that shape.

    Parameters
    ----------
    overlays : sequence of ndarray or PreparedOverlays
        The overlay set ``S``.  A :class:`PreparedOverlays` that already
        serves ``shape`` and ``block`` is returned unchanged; one fitted to
        another geometry contributes its images.
    shape : tuple
        Image shape (H, W) or (H, W, C).
    block : int or (int, int), default 8
        Block side(s) in pixels.
    max_bytes : int, optional
        Bound of the fitted overlays kept, as in :class:`PreparedOverlays`
        (a new preparation only).

    Returns
    -------
    PreparedOverlays

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(5)]
    >>> prep = prepare_overlays(S, (8, 8, 3), block=4)
    >>> prep.b, prep.fitted(0).shape
    (4, (8, 8, 3))
    >>> prepare_overlays(prep, (8, 8, 3), block=4) is prep
    True
    """
    bpair = check_block(block)
    if isinstance(overlays, PreparedOverlays) and overlays.matches(shape, bpair):
        return overlays
    return PreparedOverlays(overlays, shape, block=bpair, max_bytes=max_bytes)


def resolve_overlays(overlays: Sequence[np.ndarray] | PreparedOverlays | None) -> Sequence[np.ndarray]:
    """The overlay set ``S`` as a sequence of images.

    Parameters
    ----------
    overlays : sequence of ndarray, PreparedOverlays or None
        ``None`` stands for the bundled default set
        (:func:`imgprivacy.data.overlay_set`); a :class:`PreparedOverlays`
        gives its images; a sequence of images is returned as it is.

    Returns
    -------
    sequence of ndarray

    Raises
    ------
    TypeError
        If ``overlays`` is not a sequence of images (a single array, a string, ...).
    ValueError
        If the sequence is empty.

    Examples
    --------
    >>> S = [np.zeros((4, 4), dtype=np.float32)]
    >>> resolve_overlays(S) is S
    True
    >>> len(resolve_overlays(PreparedOverlays(S, (4, 4), block=2)))
    1
    """
    if overlays is None:
        from ..data import overlay_set

        return overlay_set()
    if isinstance(overlays, PreparedOverlays):
        return overlays.overlays
    if isinstance(overlays, (str, bytes, np.ndarray)) or not isinstance(overlays, Sequence):
        raise TypeError(
            "overlays must be a sequence of overlay images (imgprivacy.data.overlay_set()) or None for the default set, "
            f"got {type(overlays).__name__}"
        )
    if len(overlays) == 0:
        raise ValueError("overlays must hold at least one image, got an empty set; use None for the default set")
    return overlays


class OverlayCache:
    """The prepared overlays of one overlay set, one :class:`PreparedOverlays` per geometry.

    A geometry is the image's (H, W), its colour channels (grey or RGB; an
    alpha channel does not count) and the block pair.  Each geometry is
    fitted once, the first time it is asked for, and then reused: this is
    how the batch functions, the k-RTIO explorer and ``imgprivacy protect``
    serve many photos.

    Parameters
    ----------
    overlays : sequence of ndarray, PreparedOverlays or None
        The overlay set ``S``; ``None`` is the bundled default set.  A
        :class:`PreparedOverlays` is kept as the entry of its own geometry,
        and its store is shared by the others.
    max_bytes : int, optional
        Bound of the fitted overlays kept for all geometries together
        (default 384 MiB or ``IMGPRIVACY_FIT_BYTES``), as in
        :class:`PreparedOverlays`.

    Attributes
    ----------
    overlays : tuple of ndarray
        The images of ``S``.
    store : FittedStore
        The least-recently-used store of fitted overlays every geometry shares.

    Examples
    --------
    >>> S = [np.full((8, 8, 3), 0.5, dtype=np.float32) for _ in range(3)]
    >>> cache = OverlayCache(S)
    >>> prep = cache.get((8, 8, 3), block=4)
    >>> cache.get((8, 8, 4), block=4) is prep, cache.get((8, 8), block=4) is prep
    (True, False)
    """

    def __init__(self, overlays: Iterable[np.ndarray] | PreparedOverlays | None, *, max_bytes: int | None = None):
        if overlays is None:
            overlays = resolve_overlays(None)
        self._prepared: dict[tuple, PreparedOverlays] = {}
        if isinstance(overlays, PreparedOverlays):
            self._prepared[self._geometry(overlays.shape, overlays.block)] = overlays
            self.overlays = overlays.overlays
            self.store = overlays.store
        else:
            self.overlays = overlays if _is_overlay_set(overlays) else tuple(overlays)  # an OverlaySet stays compact
            self.store = new_store(max_bytes)

    @staticmethod
    def _geometry(shape: tuple[int, ...], bpair: tuple[int, int]) -> tuple:
        shape = tuple(int(s) for s in shape)
        return shape[:2], _colour_channels(shape), bpair

    def get(self, shape: tuple[int, ...], *, block: int | tuple[int, int] = 8) -> PreparedOverlays:
        """The set fitted to images of ``shape`` with ``block``, prepared on first use.

        Parameters
        ----------
        shape : tuple
            Image shape (H, W) or (H, W, C).
        block : int or (int, int), default 8
            Block side(s) in pixels.

        Returns
        -------
        PreparedOverlays

        Examples
        --------
        >>> cache = OverlayCache([np.zeros((4, 4), dtype=np.float32)])
        >>> cache.get((4, 4), block=2) is cache.get((4, 4, 1), block=(2, 2))
        True
        """
        bpair = check_block(block)
        geometry = self._geometry(shape, bpair)
        prep = self._prepared.get(geometry)
        if prep is None:
            prep = self._prepared[geometry] = PreparedOverlays(self.overlays, shape, block=bpair, store=self.store)
        return prep
