"""Overlay sets fitted to one image geometry: PreparedOverlays, its cache, and the strip-wise weighted sum."""

from __future__ import annotations

import threading
from typing import Iterable, Sequence

import numpy as np

from .._resample import resize
from .._validation import check_block, check_image, check_range_01
from ._plan import KRTIOPlan, grid_shape
from ._workers import worker_pool, worker_threads

LUMA = (0.2125, 0.7154, 0.0721)
_STRIP_BYTES = 1 << 19  # bytes of one strip buffer (tuned by benchmarks/bench_krtio.py)


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


class PreparedOverlays:
    """An overlay set fitted to one image geometry and pre-split into blocks.

    Built once per image shape and block size, then reused for every photo
    of that shape (the batch path).  Overlays are fitted lazily, the first
    time a photo chooses them, and kept.

    Parameters
    ----------
    overlays : sequence of ndarray of shape (h, w) or (h, w, 3)
        The overlay set ``S`` (e.g. :func:`imgprivacy.data.overlay_set`).
    shape : tuple
        Image shape (H, W) or (H, W, C).
    block : int or (int, int)
        Block side(s) in pixels.
    """

    def __init__(self, overlays: Iterable[np.ndarray], shape: tuple[int, ...], *, block: int | tuple[int, int] = 8):
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
        self.shape = shape
        self.block = check_block(block)
        self.grid = grid_shape(shape, self.block)
        self.channels = _colour_channels(shape)
        self._cache: dict[int, np.ndarray] = {}
        self._local = threading.local()

    @property
    def m(self) -> int:
        """Number of overlays in the set."""
        return len(self.overlays)

    @property
    def b(self) -> int:
        """Number of blocks per overlay."""
        return self.grid[0] * self.grid[1]

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

    def blocks(self, index: int) -> np.ndarray:
        """Overlay ``index`` fitted and stored block by block, shape (b, bh * bw * c).

        Row ``p`` is block ``p`` (row-major) of the fitted, unshuffled overlay,
        its pixels in (bh, bw, c) order; the array is read-only and computed
        once, so that a shuffle gathers whole contiguous blocks.

        Examples
        --------
        >>> S = [np.full((4, 4), 0.5, dtype=np.float32)]
        >>> PreparedOverlays(S, (4, 4), block=2).blocks(0).shape
        (4, 4)
        """
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        (gh, gw), (bh, bw) = self.grid, self.block
        ov = self.overlays[index]
        if _is_overlay_set(self.overlays):  # a tuple was checked in __init__; an OverlaySet's shape is checked here
            ov = _as_overlay(ov, index)
        fitted = resize(ov if ov.ndim == 3 else ov[..., None], (gh * bh, gw * bw))
        if fitted.shape[2] != self.channels:
            if self.channels == 1:
                f64 = fitted.astype(np.float64)
                grey = f64[..., 0] * LUMA[0] + f64[..., 1] * LUMA[1] + f64[..., 2] * LUMA[2]
                fitted = np.clip(grey, 0.0, 1.0).astype(np.float32)[..., None]
            else:
                fitted = np.repeat(fitted, 3, axis=2)
        c = self.channels
        blocks = np.ascontiguousarray(fitted.reshape(gh, bh, gw, bw, c).transpose(0, 2, 1, 3, 4)).reshape(gh * gw, -1)
        blocks.setflags(write=False)
        self._cache[index] = blocks
        return blocks

    def _workspace(self, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Three small per-thread buffers for one strip of block rows; working strip by
        # strip keeps the intermediate sums in cache, so memory traffic stays close to
        # that of the bare weighted sum.
        work = getattr(self._local, "work", None)
        if work is None:
            gw, (bh, bw), c = self.grid[1], self.block, self.channels
            work = (
                np.empty((rows * gw, bh * bw * c), dtype=np.float32),
                np.empty((rows * gw, bh * bw * c), dtype=np.float32),
                np.empty((rows * bh, gw * bw * c), dtype=np.float32),
            )
            self._local.work = work
        return work

    def _strip_rows(self) -> int:
        gw, (bh, bw), c = self.grid[1], self.block, self.channels
        return max(1, min(self.grid[0], _STRIP_BYTES // (gw * bh * bw * c * 4)))

    def _strips(self, the_plan: KRTIOPlan, weight: np.float32, first: int = 0, stop: int | None = None):
        """Yield ``(y0, y1, part)``: rows ``y0:y1`` of ``weight * sum(shuffled overlays)``
        as an (y1 - y0, W, c) view of a workspace buffer, valid until the next step.
        Only block rows ``first:stop`` are covered."""
        (gh, gw), (bh, bw), c = self.grid, self.block, self.channels
        height, width = self.shape[0], self.shape[1]
        rows = self._strip_rows()
        acc, tmp, pad = self._workspace(rows)
        sources = [self.blocks(i) for i in the_plan.selection]
        perms = the_plan.permutations
        for r0 in range(first, gh if stop is None else stop, rows):
            r1 = min(r0 + rows, gh)
            n, lo, hi = (r1 - r0) * gw, r0 * gw, r1 * gw
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
        for y0, y1, part in self._strips(the_plan, np.float32(weight)):
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

        def work(first, stop):
            for y0, y1, part in self._strips(the_plan, weight, first, stop):
                rows = out[y0:y1]
                if forward:  # in [0, 1] without clipping: see mix_weights
                    rows += part
                else:
                    rows -= part
                    np.clip(rows, 0.0, 1.0, out=rows)

        for index in the_plan.selection:  # fit once, before any thread needs it
            self.blocks(index)
        gh, step = self.grid[0], self._strip_rows()
        n_strips = -(-gh // step)
        if n_strips >= 4 and worker_threads() > 1:  # numpy releases the GIL: two halves in parallel
            half = (n_strips // 2) * step
            future = worker_pool().submit(work, half, gh)
            work(0, half)
            future.result()
        else:
            work(0, gh)


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
    overlays: Iterable[np.ndarray] | PreparedOverlays, shape: tuple[int, ...], *, block: int | tuple[int, int] = 8
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
    return PreparedOverlays(overlays, shape, block=bpair)


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
        :class:`PreparedOverlays` is kept as the entry of its own geometry.

    Attributes
    ----------
    overlays : tuple of ndarray
        The images of ``S``.

    Examples
    --------
    >>> S = [np.full((8, 8, 3), 0.5, dtype=np.float32) for _ in range(3)]
    >>> cache = OverlayCache(S)
    >>> prep = cache.get((8, 8, 3), block=4)
    >>> cache.get((8, 8, 4), block=4) is prep, cache.get((8, 8), block=4) is prep
    (True, False)
    """

    def __init__(self, overlays: Iterable[np.ndarray] | PreparedOverlays | None):
        if overlays is None:
            overlays = resolve_overlays(None)
        self._prepared: dict[tuple, PreparedOverlays] = {}
        if isinstance(overlays, PreparedOverlays):
            self._prepared[self._geometry(overlays.shape, overlays.block)] = overlays
            self.overlays = overlays.overlays
        else:
            self.overlays = overlays if _is_overlay_set(overlays) else tuple(overlays)  # an OverlaySet stays compact

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
            prep = self._prepared[geometry] = PreparedOverlays(self.overlays, shape, block=bpair)
        return prep
