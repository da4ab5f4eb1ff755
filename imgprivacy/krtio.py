"""k-Randomized Transparent Image Overlays (k-RTIO), format version 1.

k-RTIO (section 5.2 of the paper) hides a photo under a *unique* overlay
derived from a small public set ``S`` of ``m`` face-free images, a 16-byte
secret key and the photo's id:

1. choose ``k`` overlays of ``S`` with the keyed PRF (domain 0);
2. cut each chosen overlay into ``b`` blocks and shuffle them with a keyed
   Fisher-Yates shuffle (domain 1, one stream per position ``j``);
3. ``perturbed = alpha * image + (1 - alpha) / k * sum(shuffled overlays)``.

Anyone with the key and ``S`` re-derives the overlay and inverts step 3, so
nothing per photo needs to be stored.  The exact byte-level format is in
:mod:`imgprivacy._prf`; the resampling that fits an overlay to the image
is in :mod:`imgprivacy._resample`.  Both are frozen as format version 1.

Geometry: with block ``(bh, bw)`` an image of ``H x W`` pixels is covered by
a grid of ``gh = ceil(H / bh)`` by ``gw = ceil(W / bw)`` blocks, so
``b = gh * gw`` and any image size works.  Each overlay is resized to the
padded grid ``(gh * bh, gw * bw)``, converted to the image's colour channels,
shuffled on that grid (blocks numbered row-major; block ``p`` of the shuffled
overlay is block ``perm[p]`` of the unshuffled one), then cropped to
``H x W``.  Grey images use the luminance ``0.2125 R + 0.7154 G + 0.0721 B``;
an alpha channel (grey+alpha or RGBA) is passed through untouched.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from . import _prf
from ._resample import resize
from ._validation import check_alpha, check_block, check_image, check_images, check_int, check_range_01

__all__ = [
    "KRTIOPlan",
    "PreparedOverlays",
    "block_permutation",
    "grid_shape",
    "keyspace",
    "overlay_for",
    "perturb",
    "perturb_batch",
    "plan",
    "prepare_overlays",
    "recover",
    "recover_batch",
    "fisher_yates_reference",
    "select_overlays",
]

LUMA = (0.2125, 0.7154, 0.0721)
_STRIP_BYTES = 1 << 19  # bytes of one strip buffer (tuned by benchmarks/bench_krtio.py)


# --------------------------------------------------------------------------- PRF use
def keyspace(m: int, k: int, b: int) -> int:
    """Number of distinct combined overlays k-RTIO can derive: ``C(m, k) * (b!)**k``.

    Parameters
    ----------
    m : int
        Size of the overlay set ``S``.
    k : int
        Overlays combined per photo, ``1 <= k <= m``.
    b : int
        Blocks per overlay.

    Returns
    -------
    int
        The exact count (a Python integer, it can be huge).

    Notes
    -----
    The paper (section 5.2) prints ``10! / (10! (10 - 4)!) * (12!)**4 ~ 7.3e31``
    for ``m = 10, k = 4, b = 12``.  That expression is a typo: it equals
    ``(12!)**4 / 6!``, which is where 7.3e31 comes from.  The number of
    ways to choose 4 of 10 overlays is ``C(10, 4) = 10! / (4! 6!) = 210``,
    so the intended count is ``210 * (12!)**4 ~ 1.1e37``.  Either way the
    count says nothing about how hard the *image* is to recover: see the
    attacks notebooks.

    Examples
    --------
    >>> keyspace(10, 4, 12) == 210 * math.factorial(12) ** 4
    True
    >>> f"{float(keyspace(10, 4, 12)):.2e}"
    '1.11e+37'
    """
    m = check_int(m, "m", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=m)
    b = check_int(b, "b", minimum=1)
    return math.comb(m, k) * math.factorial(b) ** k


@dataclass(frozen=True)
class KRTIOPlan:
    """What the key derives for one photo: the chosen overlays and their shuffles.

    Attributes
    ----------
    selection : tuple of int
        Indices into ``S`` of the ``k`` chosen overlays, in order ``j = 1..k``.
    permutations : tuple of ndarray
        ``permutations[j - 1][p]`` is the source block of block ``p`` of the
        ``j``-th chosen overlay.
    """

    selection: tuple[int, ...]
    permutations: tuple[np.ndarray, ...]


def _check_plan_args(k, m, b=None):
    m = check_int(m, "m", minimum=1)
    k = check_int(k, "k", minimum=1, maximum=m)
    if b is not None:
        b = check_int(b, "b", minimum=1, maximum=2**32 - 1)
    return k, m, b


def fisher_yates_reference(draws: np.ndarray, b: int) -> np.ndarray:
    """Format-1 Fisher-Yates, written as the specification reads (slow, for tests).

    ``perm = [0..b-1]``; for ``i = 1..b``: swap ``perm[b - i]`` and ``perm[draws[i - 1]]``.

    Examples
    --------
    >>> fisher_yates_reference(np.array([0, 0, 0]), 3).tolist()
    [1, 2, 0]
    """
    perm = list(range(b))
    for i, t in enumerate(np.asarray(draws).tolist(), start=1):
        last = b - i
        perm[last], perm[t] = perm[t], perm[last]
    return np.asarray(perm, dtype=np.intp)


def _fisher_yates(draws: np.ndarray, b: int) -> np.ndarray:
    """Vectorised Fisher-Yates: the same permutation as :func:`fisher_yates_reference`.

    Step ``s`` (``s = 1..b``) swaps position ``q = b - s`` with ``t_s <= q`` and
    never touches ``q`` again, so ``perm[q]`` is the value at position ``t_s``
    just before step ``s``.  That value is ``t_s`` itself unless an earlier
    step ``s1`` also targeted ``t_s``; then it is what stood at position
    ``b - s1`` before step ``s1``, which is found the same way.  Following
    these links is a pointer chase, done for all positions at once by
    pointer doubling (``O(b log L)`` for chains of length ``L``, in numpy).
    """
    t = np.asarray(draws, dtype=np.intp)
    order = np.argsort(t.astype(np.uint16) if b <= 65536 else t, kind="stable")  # radix sort when it fits
    ts = t[order]
    same = ts[1:] == ts[:-1]
    # prev[s - 1]: the previous step (1-based) that targeted the same position as step s, 0 if none
    prev_sorted = np.zeros(b, dtype=np.intp)
    prev_sorted[1:] = np.where(same, order[:-1] + 1, 0)
    prev = np.empty(b, dtype=np.intp)
    prev[order] = prev_sorted
    # last[x]: the last step that targeted position x, 0 if none (group ends in sorted order)
    ends = np.flatnonzero(np.append(~same, True))
    last = np.zeros(b, dtype=np.intp)
    last[ts[ends]] = order[ends] + 1
    # node s: the value at position b - s just before step s; it links to the last
    # earlier step that wrote position b - s (steps writing it are all <= s)
    steps = np.arange(1, b + 1)
    link = last[::-1].copy()
    own = link == steps
    link[own] = prev[own]
    ptr = np.where(link == 0, steps, link) - 1
    while True:
        nxt = ptr[ptr]
        if np.array_equal(nxt, ptr):
            break
        ptr = nxt
    node_value = b - 1 - ptr
    values = np.where(prev == 0, t, node_value[prev - 1])
    return values[::-1].copy()


@functools.lru_cache(maxsize=16)
def _encoded_template(k: int, b: int) -> np.ndarray:
    """PRF input blocks of one photo with the 8 tag bytes left zero (read-only)."""
    zero = bytes(8)
    data = _prf.encode_blocks(zero, _prf.DOMAIN_SELECT, np.arange(1, k + 1), np.zeros(k, dtype=np.int64))
    data += _prf.encode_blocks(zero, _prf.DOMAIN_SHUFFLE, np.repeat(np.arange(1, k + 1), b), np.tile(np.arange(1, b + 1), k))
    out = np.frombuffer(data, dtype=np.uint8).reshape(-1, 16).copy()
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=16)
def _shuffle_moduli(k: int, b: int) -> np.ndarray:
    out = np.tile(b - np.arange(b, dtype=np.uint64), k)
    out.setflags(write=False)
    return out


def plan(key: bytes, image_id: str | bytes, *, k: int, m: int, b: int) -> KRTIOPlan:
    """Derive the overlay choice and all ``k`` block shuffles in one AES call.

    Parameters
    ----------
    key : bytes
        16-byte key (or 32 hex characters).
    image_id : str or bytes
        The photo's unique id.
    k, m, b : int
        Overlays to choose, size of ``S``, blocks per overlay.

    Returns
    -------
    KRTIOPlan

    Examples
    --------
    >>> p = plan(bytes(range(16)), "IMG_0001.png", k=3, m=30, b=16)
    >>> p.selection
    (0, 26, 28)
    >>> p.permutations[0].tolist()
    [15, 13, 10, 6, 1, 8, 7, 3, 2, 14, 12, 11, 9, 0, 5, 4]
    """
    key = _prf.check_key(key)
    k, m, b = _check_plan_args(k, m, b)
    blocks = np.array(_encoded_template(k, b))
    blocks[:, :8] = np.frombuffer(_prf.id_tag(image_id), dtype=np.uint8)
    cipher = _prf.prf_blocks(key, blocks.tobytes())
    # selection: v_j = PRF mod (m - j + 1), then pop from the remaining list
    sel_draws = _prf.mod_u128(cipher[:k], m - np.arange(k)).tolist()
    remaining = list(range(m))
    selection = tuple(remaining.pop(v) for v in sel_draws)
    # shuffles: t_i = PRF mod (b - i + 1); for large b one row runs on the worker thread
    moduli = _shuffle_moduli(1, b)

    def shuffle(j: int) -> np.ndarray:
        return _fisher_yates(_prf.mod_u128(cipher[k + j * b : k + (j + 1) * b], moduli), b)

    first = _pool().submit(shuffle, 0) if b >= 4096 and k > 1 and _threads() > 1 else None
    rest = [shuffle(j) for j in range(1, k)]
    perms = tuple([first.result() if first else shuffle(0)] + rest)
    return KRTIOPlan(selection, perms)


def select_overlays(key: bytes, image_id: str | bytes, *, k: int, m: int) -> list[int]:
    """Keyed choice of ``k`` distinct overlays out of ``m`` (format 1, domain 0).

    ``remaining = [0..m-1]``; for ``j = 1..k``:
    ``v = PRF(key, id, 0, j, 0) mod len(remaining)``; append ``remaining.pop(v)``.

    Examples
    --------
    >>> select_overlays(bytes(range(16)), "IMG_0001.png", k=3, m=30)
    [0, 26, 28]
    """
    key = _prf.check_key(key)
    k, m, _ = _check_plan_args(k, m)
    tag = _prf.id_tag(image_id)
    data = _prf.encode_blocks(tag, _prf.DOMAIN_SELECT, np.arange(1, k + 1), np.zeros(k, dtype=np.int64))
    draws = _prf.mod_u128(_prf.prf_blocks(key, data), m - np.arange(k)).tolist()
    remaining = list(range(m))
    return [remaining.pop(v) for v in draws]


def block_permutation(key: bytes, image_id: str | bytes, *, j: int, b: int) -> np.ndarray:
    """Keyed Fisher-Yates shuffle of ``b`` blocks for the ``j``-th chosen overlay.

    ``perm = [0..b-1]``; for ``i = 1..b``: ``t = PRF(key, id, 1, j, i) mod (b - i + 1)``;
    swap ``perm[b - i]`` and ``perm[t]``.  Block ``p`` of the shuffled overlay is
    block ``perm[p]`` of the unshuffled one (blocks numbered row-major).

    Examples
    --------
    >>> block_permutation(bytes(range(16)), "IMG_0001.png", j=1, b=16).tolist()
    [15, 13, 10, 6, 1, 8, 7, 3, 2, 14, 12, 11, 9, 0, 5, 4]
    """
    key = _prf.check_key(key)
    j = check_int(j, "j", minimum=1, maximum=2**24 - 1)
    b = check_int(b, "b", minimum=1, maximum=2**32 - 1)
    tag = _prf.id_tag(image_id)
    i = np.arange(1, b + 1)
    data = _prf.encode_blocks(tag, _prf.DOMAIN_SHUFFLE, np.full(b, j), i)
    draws = _prf.mod_u128(_prf.prf_blocks(key, data), b - i + 1)
    return _fisher_yates(draws, b)


# --------------------------------------------------------------------------- geometry
def grid_shape(shape: tuple[int, ...], block: int | tuple[int, int]) -> tuple[int, int]:
    """Blocks per column and per row, ``(ceil(H / bh), ceil(W / bw))``.

    Examples
    --------
    >>> grid_shape((64, 70), 8)
    (8, 9)
    """
    bh, bw = check_block(block)
    return -(-int(shape[0]) // bh), -(-int(shape[1]) // bw)


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
        blocks = self._blocks(index).reshape(gh, gw, bh, bw, self.channels)
        return blocks.transpose(0, 2, 1, 3, 4).reshape(gh * bh, gw * bw, self.channels)

    def _blocks(self, index: int) -> np.ndarray:
        # Fitted overlay stored block by block, shape (b, bh * bw * c), read-only, so
        # that a shuffle gathers whole contiguous blocks.
        cached = self._cache.get(index)
        if cached is not None:
            return cached
        (gh, gw), (bh, bw) = self.grid, self.block
        ov = self.overlays[index]
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
        sources = [self._blocks(i) for i in the_plan.selection]
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
        [0, 1] only for weights from :func:`_weights`."""
        out = _start(colour, alpha, forward)()
        self._mix_into(out, the_plan, alpha, weight, forward=forward)
        return out

    def _mix_into(self, out: np.ndarray, the_plan: KRTIOPlan, alpha: np.float32, weight: np.float32, *, forward: bool) -> None:
        # ``out`` already holds ``alpha * colour`` (forward) or ``colour / alpha`` (inverse),
        # computed by _start while the key schedule was derived.
        if not forward:
            weight = np.float32(weight / alpha)

        def work(first, stop):
            for y0, y1, part in self._strips(the_plan, weight, first, stop):
                rows = out[y0:y1]
                if forward:  # in [0, 1] without clipping: see _weights
                    rows += part
                else:
                    rows -= part
                    np.clip(rows, 0.0, 1.0, out=rows)

        for index in the_plan.selection:  # fit once, before any thread needs it
            self._blocks(index)
        gh, step = self.grid[0], self._strip_rows()
        n_strips = -(-gh // step)
        if n_strips >= 4 and _threads() > 1:  # numpy releases the GIL: two halves in parallel
            half = (n_strips // 2) * step
            future = _pool().submit(work, half, gh)
            work(0, half)
            future.result()
        else:
            work(0, gh)


def _start(colour: np.ndarray, alpha: np.float32, forward: bool, check: tuple | None = None):
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

    if colour.size >= 1 << 18 and _threads() > 1:
        return _pool().submit(run).result
    run()
    return lambda: out


@functools.lru_cache(maxsize=1)
def _pool():
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgprivacy-krtio")


if hasattr(os, "register_at_fork"):  # a forked child must not wait on its parent's worker thread
    os.register_at_fork(after_in_child=_pool.cache_clear)


def _threads() -> int:
    """Threads for one large photo: 2 where two cores are free, 1 if IMGPRIVACY_THREADS=1."""
    if os.environ.get("IMGPRIVACY_THREADS", "").strip() == "1":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores)


def prepare_overlays(
    overlays: Iterable[np.ndarray], shape: tuple[int, ...], *, block: int | tuple[int, int] = 8
) -> PreparedOverlays:
    """Fit an overlay set to one image geometry once, for many photos of that shape.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(5)]
    >>> prep = prepare_overlays(S, (8, 8, 3), block=4)
    >>> prep.b, prep.fitted(0).shape
    (4, (8, 8, 3))
    """
    return PreparedOverlays(overlays, shape, block=block)


def _prepared_for(overlays, shape, block) -> PreparedOverlays:
    if isinstance(overlays, PreparedOverlays) and overlays.matches(shape, block):
        return overlays
    return PreparedOverlays(overlays, shape, block=block)


def _check_id(image_id: object) -> str | bytes:
    if not isinstance(image_id, (str, bytes)):
        raise TypeError(f"image_id must be a str or bytes (e.g. the file name), got {type(image_id).__name__}")
    if len(image_id) == 0:
        raise ValueError("image_id must not be empty: every photo needs its own id (e.g. its file name)")
    return image_id


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
    image_id = _check_id(image_id)
    bpair = check_block(block)
    prep = _prepared_for(overlays, tuple(shape), bpair)
    k = check_int(k, "k", minimum=1, maximum=prep.m)
    the_plan = plan(key, image_id, k=k, m=prep.m, b=prep.b)
    if combined:
        out = np.clip(prep.weighted_sum(the_plan, 1.0 / k), 0.0, 1.0)
    else:
        out = np.stack([prep.shuffled(s, p) for s, p in zip(the_plan.selection, the_plan.permutations)])
    return out[..., 0] if len(shape) == 2 else out


def _weights(alpha: float, k: int) -> tuple[np.float32, np.float32]:
    """float32 ``alpha`` and ``w ~ (1 - alpha) / k``, with ``w`` nudged down by at most
    a few ulps so that ``alpha * x + w * sum`` provably stays <= 1 in float32
    (rounding is monotonic), which lets :func:`perturb` skip a clipping pass."""
    a = np.float32(alpha)
    w = np.float32((1.0 - alpha) / k)
    kk = np.float32(k)
    while np.float32(a + np.float32(w * kk)) > np.float32(1.0):
        w = np.nextafter(w, np.float32(0.0))
    return a, w


def _params(alpha, k, block, m):
    alpha = check_alpha(alpha)
    k = check_int(k, "k", minimum=1, maximum=m)
    a, w = _weights(alpha, k)
    return a, w, k


def _mix(image, key, image_id, overlays, k, alpha, block, *, forward):
    name = "image" if forward else "perturbed"
    img = check_image(image, name, check_range=False)  # the range is checked by _start
    image_id = _check_id(image_id)
    bpair = check_block(block)
    prep = _prepared_for(overlays, img.shape, bpair)
    a, w, k = _params(alpha, k, block, prep.m)
    c = prep.channels
    colour = img[..., None] if img.ndim == 2 else img[..., :c]
    started = _start(colour, a, forward, check=(img, name))
    try:  # the key schedule overlaps the range check and the scaling on large photos
        the_plan = plan(key, image_id, k=k, m=prep.m, b=prep.b)
    finally:
        mixed = started()
    prep._mix_into(mixed, the_plan, a, w, forward=forward)
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


def _check_ids(image_ids, n: int) -> list:
    """``image_ids`` as a list of ``n`` valid, unique ids (a repeated id would reuse one overlay)."""
    ids = list(image_ids)
    if len(ids) != n:
        raise ValueError(f"image_ids must have one id per image, got {len(ids)} ids for {n} images")
    for i in ids:
        _check_id(i)
    seen: dict = {}
    for pos, i in enumerate(ids):
        if i in seen:
            raise ValueError(
                f"image_ids must be unique, got {i!r} at positions {seen[i]} and {pos}; a repeated id "
                "reuses one overlay, which blind signal separation can remove"
            )
        seen[i] = pos
    return ids


def _overlay_images(overlays) -> Sequence[np.ndarray]:
    """The overlay set ``S`` as a sequence of images: ``None`` is the default set, a PreparedOverlays its images."""
    if overlays is None:
        from .data import overlay_set

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


def _batch(images, key, image_ids, overlays, k, alpha, block, progress, forward):
    from tqdm.auto import tqdm

    name = "images" if forward else "perturbed"
    stack = isinstance(images, np.ndarray)
    items = check_images(images, name)
    ids = _check_ids(image_ids, len(items))
    bpair = check_block(block)
    base = overlays.overlays if isinstance(overlays, PreparedOverlays) else tuple(overlays)
    preps: dict = {}
    if isinstance(overlays, PreparedOverlays):
        preps[(overlays.shape[:2], overlays.channels)] = overlays
    out = []
    for img, i in zip(tqdm(items, desc="k-RTIO " + ("perturb" if forward else "recover"), disable=not progress), ids):
        geo = (img.shape[:2], _colour_channels(img.shape))
        if geo not in preps or not preps[geo].matches(img.shape, bpair):
            preps[geo] = PreparedOverlays(base, img.shape, block=bpair)
        out.append(_mix(img, key, i, preps[geo], k, alpha, bpair, forward=forward))
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
