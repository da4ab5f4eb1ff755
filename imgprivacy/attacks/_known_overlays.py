"""The known-S block attack on k-RTIO: identify and subtract the overlay blocks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import krtio
from .._validation import check_alpha, check_block, check_image, check_images, check_int, check_search

__all__ = ["KnownOverlayResult", "known_overlay_attack"]


@dataclass(frozen=True, eq=False)
class KnownOverlayResult:
    """What :func:`known_overlay_attack` estimated.

    Attributes
    ----------
    recovered : ndarray, float32 in [0, 1]
        The attacked photos, the shape of the input (a stack for a list).
    selection : ndarray of int, shape (N, k), or (k,) for one image
        Estimated indices into ``S`` of the overlays mixed into each photo,
        in ascending order (the order k-RTIO drew them in cannot be known
        and does not change the sum).
    permutations : ndarray of int, shape (N, k, b), or (k, b) for one image
        ``permutations[..., j, p]`` is the estimated source block of block
        ``p`` of overlay ``selection[..., j]``, as in
        :class:`imgprivacy.krtio.KRTIOPlan`.
    explained : ndarray of float, shape (N,), or float for one image
        ``1 - ||L r||^2 / ||L y||^2``: the fraction of the perturbed photo
        ``y``'s Laplacian energy (``L`` the pixel grid's graph Laplacian)
        that the estimated overlays remove, ``r`` the residual.  The photo
        has some too, so even the true overlays explain less than 1
        (measured 0.75 on average on Olivetti faces at alpha 0.45).
    block : (int, int)
        Block size used.
    """

    recovered: np.ndarray
    selection: np.ndarray
    permutations: np.ndarray
    explained: np.ndarray | float
    block: tuple[int, int]


_SWITCH_CANDIDATES = 2  # overlays tried in place of a chosen one per sweep (4: 0.88 vs 0.86 all-k found, 1.4x time)
_INNER = 3  # linearised re-assignments per refinement (each one is kept only if it lowers the energy)
_BEAM_WIDTH = 4  # partial overlay sets kept by ``search="beam"`` unless ``beam_width`` says otherwise


def _laplacian(img: np.ndarray) -> np.ndarray:
    """Graph Laplacian of the 4-neighbour pixel grid (free borders) on axes 0 and 1 of ``img``."""
    out = np.zeros_like(img)
    d = img[1:] - img[:-1]
    out[1:] += d
    out[:-1] -= d
    d = img[:, 1:] - img[:, :-1]
    out[:, 1:] += d
    out[:, :-1] -= d
    return out


def _within_form(valid: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """``L^2`` for the graph Laplacian ``L`` of the valid pixels of one block, edges inside the block only."""
    n = bh * bw
    grid = valid.reshape(bh, bw)
    adj = np.zeros((n, n))
    idx = np.arange(n).reshape(bh, bw)
    for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1], idx[1:])):
        both = (grid.ravel()[a] & grid.ravel()[b]).ravel()
        adj[a.ravel()[both], b.ravel()[both]] = adj[b.ravel()[both], a.ravel()[both]] = 1
    lap = np.diag(adj.sum(axis=1)) - adj
    return (lap @ lap).astype(np.float32)


class _Geometry:
    """Everything about one image geometry that does not depend on the photo."""

    def __init__(self, prep: krtio.PreparedOverlays, w: np.float32):
        (gh, gw), (bh, bw), c = prep.grid, prep.block, prep.channels
        height, width = prep.shape[:2]
        self.prep, self.c, self.n, self.b, self.w = prep, c, bh * bw, prep.b, w
        self.height, self.width = height, width
        # valid pixels of each block position (edge blocks are cropped)
        rows = (np.arange(gh * bh) < height).reshape(gh, 1, bh, 1)
        cols = (np.arange(gw * bw) < width).reshape(1, gw, 1, bw)
        valid = np.broadcast_to(rows & cols, (gh, gw, bh, bw)).reshape(self.b, self.n)
        self.mask = valid.astype(np.float32)[:, :, None]
        self.blocks = np.stack([prep.blocks(i).reshape(self.b, self.n, c) for i in range(prep.m)])
        # within-block prior (greedy search): at most 4 kinds of position, by their valid pixels
        kinds, self.within_kind = np.unique(valid, axis=0, return_inverse=True)
        self.within_kind = self.within_kind.reshape(-1)
        self.within = np.stack([_within_form(v, bh, bw) for v in kinds])
        # whole-image prior (refinement): the energy ||L r||^2 of the residual r for the Laplacian L of
        # the whole pixel grid, restricted to one block.  L L reaches 2 pixels, so the form depends on
        # the block's valid size and on how far (0, 1, 2 or more pixels) it is from each image border.
        gi, gj = np.divmod(np.arange(self.b), gw)
        r0, c0 = gi * bh, gj * bw
        r1, c1 = np.minimum(r0 + bh, height), np.minimum(c0 + bw, width)
        near = np.stack([np.minimum(r0, 2), np.minimum(height - r1, 2), np.minimum(c0, 2), np.minimum(width - c1, 2),
                         r1 - r0, c1 - c0], axis=1)
        _, first, self.global_kind = np.unique(near, axis=0, return_index=True, return_inverse=True)
        self.global_kind = self.global_kind.reshape(-1)
        self.glob = np.stack([self._global_form(int(p), gw, bh, bw, valid[p]) for p in first])
        self.within_pen = self._penalties(self.within)  # (m, kinds, b)
        self.global_pen = self._penalties(self.glob)

    def _global_form(self, p: int, gw: int, bh: int, bw: int, valid: np.ndarray) -> np.ndarray:
        r0, c0 = (p // gw) * bh, (p % gw) * bw
        y0, x0 = max(0, r0 - 2), max(0, c0 - 2)
        y1, x1 = min(self.height, r0 + bh + 2), min(self.width, c0 + bw + 2)
        yy, xx = np.divmod(np.flatnonzero(valid), bw)
        impulses = np.zeros((y1 - y0, x1 - x0, len(yy)), dtype=np.float64)
        impulses[yy + r0 - y0, xx + c0 - x0, np.arange(len(yy))] = 1.0
        response = _laplacian(_laplacian(impulses))[yy + r0 - y0, xx + c0 - x0]  # (valid, valid)
        out = np.zeros((self.n, self.n), dtype=np.float32)
        out[np.ix_(np.flatnonzero(valid), np.flatnonzero(valid))] = response
        return out

    def _penalties(self, forms: np.ndarray) -> np.ndarray:
        # w^2 o^T F o for every block o of every overlay and every kind of position
        out = np.empty((self.blocks.shape[0], len(forms), self.b), dtype=np.float32)
        for t, form in enumerate(forms):
            out[:, t] = np.einsum("mbnc,nk,mbkc->mb", self.blocks, form, self.blocks, optimize=True)
        return (self.w * self.w) * np.maximum(out, 0.0)

    @staticmethod
    def _apply(forms: np.ndarray, kind: np.ndarray, blocks: np.ndarray) -> np.ndarray:
        out = np.empty_like(blocks)
        for t, form in enumerate(forms):
            sel = kind == t
            out[sel] = np.einsum("nk,pkc->pnc", form, blocks[sel])
        return out

    def to_blocks(self, img: np.ndarray) -> np.ndarray:
        (gh, gw), (bh, bw), c = self.prep.grid, self.prep.block, self.c
        padded = np.zeros((gh * bh, gw * bw, c), dtype=np.float32)
        padded[: self.height, : self.width] = img
        return padded.reshape(gh, bh, gw, bw, c).transpose(0, 2, 1, 3, 4).reshape(self.b, self.n, c)

    def to_image(self, blocks: np.ndarray) -> np.ndarray:
        (gh, gw), (bh, bw), c = self.prep.grid, self.prep.block, self.c
        img = blocks.reshape(gh, gw, bh, bw, c).transpose(0, 2, 1, 3, 4).reshape(gh * bh, gw * bw, c)
        return img[: self.height, : self.width]

    def energy(self, residual: np.ndarray) -> float:
        """``||L r||^2`` over the whole image: small for a smooth photo, large where blocks jump."""
        return float(np.sum(_laplacian(self.to_image(residual)) ** 2))

    def contribution(self, v: int, perm: np.ndarray) -> np.ndarray:
        return self.w * self.blocks[v][perm] * self.mask


def _gains(geo: _Geometry, lin: np.ndarray, v: int, pen: np.ndarray) -> np.ndarray:
    """``G[p, q] = 2 w <lin_p, o_q> - pen[p, q]``: what putting block ``q`` at ``p`` lowers the energy by."""
    return (2.0 * geo.w) * (lin.reshape(geo.b, -1) @ geo.blocks[v].reshape(geo.b, -1).T) - pen


def _assign(gain: np.ndarray, lsa) -> tuple[float, np.ndarray]:
    rows, cols = lsa(gain.astype(np.float64), maximize=True)
    return float(gain[rows, cols].sum()), cols


def _upper_bound(gain: np.ndarray) -> float:
    """An upper bound on the best assignment's total gain, from a feasible dual of the assignment
    problem (``u_p + v_q >= G[p, q]``, so any assignment gains at most ``sum u + sum v``)."""
    g = gain.astype(np.float64)
    u = g.max(axis=1)
    v = (g - u[:, None]).max(axis=0)
    u = (g - v[None, :]).max(axis=1)
    return float(u.sum() + v.sum())


def _best_overlays(geo: _Geometry, residual: np.ndarray, candidates, count: int, lsa):
    """The ``count`` candidate overlays (with their shuffles) that most lower the within-block energy.

    Returns ``(first, [(gain, overlay, shuffle), ...])``, the list best
    first.  Candidates are solved in order of an upper bound
    (:func:`_upper_bound`) and the search stops once no remaining bound can
    enter the top ``count``, so the answer is that of solving every
    candidate.  ``first`` is exactly what ``count=1`` would return (the
    greedy choice, ties and rounding included), however large ``count`` is.
    """
    lin = geo._apply(geo.within, geo.within_kind, residual)
    gains = [_gains(geo, lin, v, geo.within_pen[v][geo.within_kind]) for v in candidates]
    bounds = np.array([_upper_bound(g) for g in gains])
    found: list[tuple[float, int, np.ndarray]] = []
    first = None
    for i in np.argsort(-bounds, kind="stable"):
        if first is None and found and bounds[i] <= found[0][0]:
            first = found[0]  # where the search for count=1 stops
        if len(found) >= count and bounds[i] <= found[count - 1][0]:
            break
        total, cols = _assign(gains[i], lsa)
        found.append((total, candidates[i], cols))
        found.sort(key=lambda t: -t[0])
    return (found[0] if first is None else first), found[:count]


def _refine(geo: _Geometry, base: np.ndarray, v: int, perm: np.ndarray, energy: float, lsa):
    """Re-assign overlay ``v``'s blocks against the whole-image energy of ``base - w * v[perm]``.

    The energy couples neighbouring blocks; it is linearised around the
    current shuffle (neighbours held where they are), solved as an
    assignment, and the new shuffle kept only if the true energy drops.
    """
    pen = geo.global_pen[v][geo.global_kind]
    h_base = geo.to_blocks(_laplacian(_laplacian(geo.to_image(base))))
    for _ in range(_INNER):
        d = geo.contribution(v, perm)
        # H d minus its within-block part: what the neighbours' current blocks contribute
        coupling = geo.to_blocks(_laplacian(_laplacian(geo.to_image(d)))) - geo._apply(geo.glob, geo.global_kind, d)
        _, new = _assign(_gains(geo, h_base - coupling, v, pen), lsa)
        new_energy = geo.energy(base - geo.contribution(v, new))
        if not new_energy < energy:
            break
        perm, energy = new, new_energy
    return perm, energy


def _identify(geo: _Geometry, y: np.ndarray, k: int, width: int, lsa):
    """Partial overlay sets grown one overlay at a time, the ``width`` best kept (a beam search).

    The score is greedy's: the within-block energy the overlays so far
    remove (the sum of their gains).  Each kept set is extended by its
    ``width`` best overlays (so the ``width`` best extensions of all kept
    sets are among them); sets of the same overlays in another order count
    once.  The first kept set is always greedy's own path (its parent's
    :func:`_best_overlays` ``first``), so ``width=1`` is the greedy search
    and a wider beam only adds candidates.  Returns ``[(chosen, perms,
    residual), ...]``, greedy's first.
    """
    m = geo.blocks.shape[0]
    beam = [(0.0, [], [], y.copy())]
    for _ in range(k):
        children, greedy = [], None
        for rank, (score, chosen, perms, residual) in enumerate(beam):
            candidates = [u for u in range(m) if u not in chosen]
            first, best = _best_overlays(geo, residual, candidates, width, lsa)
            if rank == 0:
                greedy = (score + first[0], rank, first[1], first[2])
            children += [(score + gain, rank, v, perm) for gain, v, perm in best]
        children.sort(key=lambda t: -t[0])  # stable: ties keep the parent's and the candidate's order
        kept = [greedy]
        seen = {frozenset(beam[0][1] + [greedy[2]])}
        for child in children:
            if len(kept) == width:
                break
            key = frozenset(beam[child[1]][1] + [child[2]])
            if key not in seen:
                seen.add(key)
                kept.append(child)
        beam = [(score, beam[rank][1] + [v], beam[rank][2] + [perm], beam[rank][3] - geo.contribution(v, perm))
                for score, rank, v, perm in kept]
    return [(chosen, perms, residual) for _, chosen, perms, residual in beam]


def _sweep(geo: _Geometry, chosen: list, perms: list, residual: np.ndarray, sweeps: int, lsa):
    """Coordinate descent on the whole-image energy, one overlay at a time (step 2 of the attack)."""
    k, m = len(chosen), geo.blocks.shape[0]
    chosen, perms = list(chosen), list(perms)
    energy = geo.energy(residual)
    for _ in range(sweeps):
        changed = False
        for j in range(k):
            base = residual + geo.contribution(chosen[j], perms[j])
            perm, energy = _refine(geo, base, chosen[j], perms[j], energy, lsa)
            changed |= not np.array_equal(perm, perms[j])
            perms[j] = perm
            # could another overlay take this place?  The few that explain most within blocks, given
            # the others, are fitted, refined, and kept if the whole-image energy drops
            candidates = [u for u in range(m) if u not in chosen]
            for _, u, cols in _best_overlays(geo, base, candidates, _SWITCH_CANDIDATES, lsa)[1] if candidates else []:
                start = geo.energy(base - geo.contribution(u, cols))
                cols, e_u = _refine(geo, base, u, cols, start, lsa)
                if e_u < energy:
                    chosen[j], perms[j], energy, changed = u, cols, e_u, True
            residual = base - geo.contribution(chosen[j], perms[j])
        if not changed:
            break
    return chosen, perms, residual, energy


def _attack_one(colour: np.ndarray, geo: _Geometry, k: int, sweeps: int, width: int, lsa):
    y = geo.to_blocks(colour)
    best = None
    for chosen, perms, residual in _identify(geo, y, k, width, lsa):
        found = _sweep(geo, chosen, perms, residual, sweeps, lsa)
        if best is None or found[3] < best[3]:  # the lowest whole-image energy; ties keep greedy's
            best = found
    chosen, perms, residual, energy = best
    total = geo.energy(y)
    explained = 1.0 - energy / total if total > 0 else 0.0
    order = np.argsort(chosen)
    return (
        geo.to_image(residual),
        np.asarray(chosen, dtype=np.intp)[order],
        np.stack(perms).astype(np.intp)[order],
        explained,
    )


def _check_sweeps(sweeps) -> int:
    return check_int(sweeps, "sweeps", minimum=0)


def overlays_found(selection, truth) -> float:
    """Fraction of the overlays k-RTIO chose that an attack found: ``|found & true| / k``, averaged over photos.

    The attack lists its overlays in ascending order and k-RTIO in the order it drew them; both are
    compared as sets.

    Parameters
    ----------
    selection : array-like of int, shape (N, k) or (k,)
        The attack's overlays per photo (:attr:`KnownOverlayResult.selection`).
    truth : sequence of N sequences of k ints, or one sequence of k ints
        The overlays k-RTIO chose (:func:`imgprivacy.krtio.select_overlays`).

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> round(overlays_found([[1, 4, 7], [0, 2, 3]], [[7, 1, 5], [3, 0, 2]]), 4)  # (2/3 + 3/3) / 2
    0.8333
    """
    found = np.atleast_2d(np.asarray(selection, dtype=np.int64))
    true = np.atleast_2d(np.asarray(truth, dtype=np.int64))
    if found.shape != true.shape or found.size == 0:
        raise ValueError(f"selection and truth must both hold k overlays for each of N >= 1 photos, "
                         f"got shapes {found.shape} and {true.shape}")
    k = found.shape[1]
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / k for f, t in zip(found, true)]))


def known_overlay_attack(
    perturbed,
    overlays,
    *,
    alpha: float = 0.45,
    k: int = 3,
    block: int | tuple[int, int] = 8,
    sweeps: int = 2,
    search: str = "greedy",
    beam_width: int | None = None,
    progress: bool = False,
) -> KnownOverlayResult:
    """Undo k-RTIO without the key, knowing only the overlay set ``S``.

    k-RTIO adds ``w * sum_j P_j(O_{v_j})`` with ``w = (1 - alpha) / k``:
    ``k`` overlays of ``S`` with their ``b`` blocks shuffled.  Every chosen
    overlay contributes each of its blocks exactly once, so finding one
    overlay's shuffle is an assignment problem.  What tells the true blocks
    from others is a prior on photos: they are smooth, so the residual
    ``r = perturbed - w * (estimated blocks) = alpha * photo`` should have a
    small Laplacian energy ``||L r||^2`` (``L`` the 4-neighbour graph
    Laplacian).  For each photo:

    1. *greedy identification*: for each overlay of ``S``, the assignment of
       its blocks to the block positions (``scipy.optimize.linear_sum_assignment``)
       that most lowers the residual's energy *within blocks* (each block's
       own Laplacian, blind to block means, so the unknown photo's
       brightness does not count); the overlay that lowers it most is
       subtracted, ``k`` times without replacement.  ``search="beam"``
       keeps the ``beam_width`` best partial sets by the same score at each
       of the ``k`` steps instead of one (greedy's own path always among
       them), and steps 2 and 3 run on each final set: the one left with the
       lowest whole-image energy wins, so the energy is never higher than
       greedy's;
    2. *refinement*: ``sweeps`` rounds of coordinate descent on the energy of
       the *whole* residual image, whose jumps across block edges also tell
       block means apart: one overlay at a time is re-assigned (the
       coupling to neighbouring blocks linearised, a change kept only if
       the energy drops), then the two not yet chosen overlays of ``S``
       that explain most in its place are fitted, refined and kept if they
       do better; a sweep that changes nothing ends the refinement;
    3. ``recovered = clip((perturbed - w * sum of the estimated blocks) / alpha, 0, 1)``.

    Parameters
    ----------
    perturbed : ndarray of shape (H, W[, C]) or (N, H, W[, C]), or list of images
        k-RTIO photos, float in [0, 1]; a list must hold images of one shape.
        A 3-D array whose last axis has 1 to 4 entries is one image.
        Alpha channels (C = 2 or 4) are passed through untouched.
    overlays : sequence of ndarray or imgprivacy.krtio.PreparedOverlays
        The overlay set ``S`` (public or leaked), e.g.
        :func:`imgprivacy.data.overlay_set`.
    alpha : float, default 0.45
        k-RTIO's mixing weight, in (0, 1] (not secret: the CLI stores it).
    k : int, default 3
        Overlays combined per photo, ``1 <= k <= len(overlays)``.
    block : int or (int, int), default 8
        k-RTIO's block side(s) in pixels.
    sweeps : int, default 2
        Refinement sweeps after the greedy pass (0 for greedy only); a
        sweep that changes nothing ends the refinement early.
    search : {"greedy", "beam"}, default "greedy"
        How step 1 identifies the overlays: one best overlay at a time, or
        a beam search over partial overlay sets (about ``beam_width`` times
        the time).
    beam_width : int, optional
        Partial overlay sets the beam keeps, ``>= 1`` (default 4); only
        with ``search="beam"``.  ``beam_width=1`` is the greedy search,
        result for result.
    progress : bool, default False
        Show a progress bar over the photos.

    Returns
    -------
    KnownOverlayResult
        ``recovered`` has the shape of ``perturbed``; ``selection``,
        ``permutations`` and ``explained`` have a leading ``N`` axis for a
        stack or list and none for one image.

    Raises
    ------
    ValueError, TypeError
        For a malformed image, list of mixed shapes, empty overlay set or
        out-of-range parameter.

    Notes
    -----
    The threat model: the provider knows ``S``, ``alpha``, ``k`` and the
    block size (the CLI stores them in the PNG), not the key or the photo's
    id, so it cannot re-derive the selection or the shuffles; the key space
    ``C(m, k) * (b!)**k`` (:func:`imgprivacy.krtio.keyspace`) is never
    searched.  Each overlay's gains are one matrix product with its blocks;
    candidates are solved in order of an upper bound from a feasible dual
    of the assignment problem and skipped once the bound cannot win, which
    gives the same answer as solving all ``m``.  With the true overlays and
    shuffles step 3 is k-RTIO's own inverse.

    The prior matters more than the search.  With block-wise mean removal
    as the only high-pass (the obvious choice) the estimated overlays
    always explained the photo *better* than the true ones (120 of 120
    Olivetti faces): with ``m * b`` candidate blocks per position the
    assignment fits the face's own detail; only 2.5% of the faces got all
    3 overlays right and the attack made the faces *less* recognisable.
    The within-block Laplacian squared (a whitening for the roughly
    ``1/f**2`` spectrum of photos) and the whole-image refinement fix this.

    Measured on the 120 held-out Olivetti faces (64 x 64 grey), default
    set ``S`` of 30 overlays, ``sweeps=2`` (recognition: clean / k-RTIO /
    attacked; Eigenfaces and the provider CNN of :mod:`imgprivacy.targets`):

    ==============  ========  =====  ======  =============  ==================  ==================  ======
    alpha, k, b     overlays  all k  blocks  SSIM           Eigenfaces          provider CNN        time
    ==============  ========  =====  ======  =============  ==================  ==================  ======
    0.45, 3, 8      0.95      0.86   0.72    0.59 -> 0.95   0.95 / 0.84 / 0.93  0.99 / 0.32 / 0.98  4 s
      8-bit PNG     0.95      0.84   0.71    0.59 -> 0.95   0.95 / 0.85 / 0.93  0.99 / 0.32 / 0.97  4 s
      sweeps=0      0.93      0.79   0.66    0.59 -> 0.82   0.95 / 0.84 / 0.89  0.99 / 0.32 / 0.83  1 s
    0.3, 3, 8       0.99      0.96   0.81    0.41 -> 0.95   0.95 / 0.43 / 0.93  0.99 / 0.05 / 0.94  4 s
      8-bit PNG     0.99      0.96   0.81    0.41 -> 0.94   0.95 / 0.43 / 0.93  0.99 / 0.05 / 0.95  5 s
    0.6, 3, 8       0.84      0.63   0.55    0.76 -> 0.94   0.95 / 0.93 / 0.95  0.99 / 0.77 / 0.98  4 s
    0.45, 3, 16     1.00      0.99   0.94    0.64 -> 0.99   0.95 / 0.73 / 0.95  0.99 / 0.38 / 0.99  2 s
    0.45, 3, 4      0.53      0.16   0.09    0.55 -> 0.63   0.95 / 0.88 / 0.91  0.99 / 0.14 / 0.67  66 s
    0.45, 8, 8      0.66      0.05   0.26    0.69 -> 0.83   0.95 / 0.89 / 0.92  0.99 / 0.73 / 0.96  11 s
    ==============  ========  =====  ======  =============  ==================  ==================  ======

    "overlays": fraction of the chosen overlays found; "all k": photos with
    all of them found; "blocks": fraction of all ``k * b`` blocks put in the
    right place (a wrong block is usually a similar one: median RMS
    difference 0.05 against 0.14 for random pairs at the first setting,
    about 0.02 in the recovered face); time on 2 CPU cores for the 120 faces.  dlib's ResNet
    (:class:`imgprivacy.targets.DlibRecognizer`, gallery of the 280
    training faces) recognised 1.00 / 0.67 / 0.99 at the first setting,
    1.00 / 0.18 / 0.99 at alpha 0.3.  At block 4 the whole-image energy
    of the true overlays is lower than that of the attack's estimate for 9
    of 10 faces: the search, not the prior, fails there.  One 256 x 256 RGB photo
    (``skimage.data.astronaut``, alpha 0.45, k 3): block 16, all 3
    overlays found, SSIM 0.55 -> 0.96 in 7 s; block 8 (b = 1024), 2 of 3
    found, SSIM 0.48 -> 0.74 in 24 s.

    Limits: the search can stop in a local optimum where two
    overlays share errors (two wrong blocks at one place), most visibly
    with structureless noise overlays; smaller blocks (less texture per
    block) and larger ``k`` (weaker overlays) make identification harder.
    ``search="beam"`` helps where greedy fails, at block 4 (first 10
    held-out faces, ``benchmarks/bench_known_s.py``): overlays found 0.50
    (greedy) / 0.60 (width 2) / 0.63 (width 4), all 3 found 0.2 / 0.4 /
    0.4, SSIM after the attack 0.61 / 0.66 / 0.68, at 2.1 / 3.6 times
    greedy's time; at blocks 8 and 16 all three find every overlay (1.4 to
    1.9 times the time).  On the first 40 held-out faces, greedy / width 4:
    block 4 found 0.54 / 0.68, all 3 found 0.12 / 0.33, SSIM 0.63 / 0.69
    (3.9 times the time); block 8 0.97 / 0.98, 0.90 / 0.95, 0.959 / 0.967
    (1.5 times); block 16 1.00 / 1.00, SSIM 0.996 / 0.998 (1.4 times).
    What still limits it is the score: with the
    first two true overlays subtracted (greedy's shuffles, some blocks
    wrong) the third true one ranks 13th to 22nd of 28 by the within-block
    score for 6 of 10 faces, so a beam on that score would need a width
    of about 20.

    References
    ----------
    Section 5.2 ("Perturbation Generation") of the paper; section 7 ("Lack of
    Strong Guarantees") speculates that the structure of the overlays might
    be used, which this attack does.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8), dtype=np.float32) for _ in range(4)]
    >>> x = np.full((8, 8), 0.5, np.float32)
    >>> y = krtio.perturb(x, bytes(16), image_id="a", overlays=S, k=2, block=4)
    >>> out = known_overlay_attack(y, S, k=2, block=4)
    >>> out.selection.tolist() == sorted(krtio.select_overlays(bytes(16), "a", k=2, m=4))
    True
    >>> bool(np.abs(out.recovered - x).max() < 1e-5)
    True
    """
    from scipy.optimize import linear_sum_assignment
    from tqdm.auto import tqdm

    one = isinstance(perturbed, np.ndarray) and (
        perturbed.ndim == 2 or (perturbed.ndim == 3 and perturbed.shape[2] in (1, 2, 3, 4))
    )
    if one:
        items = [check_image(perturbed, "perturbed")]
    else:
        if isinstance(perturbed, (list, tuple)) and len(perturbed) == 0:
            raise ValueError("perturbed must hold at least 1 image, got none")
        items = check_images(perturbed, "perturbed")
        shapes = sorted({im.shape for im in items})
        if len(shapes) > 1:
            raise ValueError(f"perturbed must all have the same shape, got {shapes}; attack each shape separately")
    shape = items[0].shape
    bpair = check_block(block)
    alpha = check_alpha(alpha)
    sweeps = _check_sweeps(sweeps)
    width = check_search(search, beam_width, default_width=_BEAM_WIDTH)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    base = overlays.overlays if isinstance(overlays, krtio.PreparedOverlays) else overlays
    if isinstance(base, np.ndarray) and base.ndim in (2, 3) and not isinstance(overlays, krtio.PreparedOverlays):
        raise ValueError(
            f"overlays must be a sequence of images (the set S), got one array of shape {base.shape}; "
            "pass a list, e.g. imgprivacy.data.overlay_set()"
        )
    prep = krtio.prepare_overlays(overlays, shape, block=bpair)
    k = check_int(k, "k", minimum=1, maximum=prep.m)
    a, w = krtio.mix_weights(alpha, k)
    geo = _Geometry(prep, w)
    c = prep.channels

    recovered, selections, permutations, explained = [], [], [], []
    for img in tqdm(items, desc="known-S attack", disable=not progress):
        colour = img[..., None] if img.ndim == 2 else img[..., :c]
        face, sel, perm, fit = _attack_one(colour, geo, k, sweeps, width, linear_sum_assignment)
        face = np.clip(face / a, 0.0, 1.0).astype(np.float32)
        if img.ndim == 2:
            out = face[..., 0]
        elif img.shape[2] == c:
            out = face
        else:
            out = img.copy()
            out[..., :c] = face
        recovered.append(out)
        selections.append(sel)
        permutations.append(perm)
        explained.append(fit)
    if one:
        return KnownOverlayResult(recovered[0], selections[0], permutations[0], float(explained[0]), bpair)
    return KnownOverlayResult(
        np.stack(recovered), np.stack(selections), np.stack(permutations), np.asarray(explained), bpair
    )
