"""k-RTIO key derivation (format 1): the keyed overlay choice, the keyed block shuffles, the grid."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .. import _prf
from .._validation import check_block, check_int
from ._workers import worker_pool, worker_threads


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

    first = worker_pool().submit(shuffle, 0) if b >= 4096 and k > 1 and worker_threads() > 1 else None
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
