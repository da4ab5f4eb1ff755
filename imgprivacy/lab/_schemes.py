"""The checks of the exercises on the schemes and their attacks (notebooks 01, 02, 04 and 05).

Each check builds fresh random cases, asks the library for the answer (the public functions of
:mod:`imgprivacy.attacks`, :mod:`imgprivacy.krtio`, :mod:`imgprivacy.uep`, :mod:`imgprivacy.metrics`),
runs the student's function on them under a time limit and names the mistake if it is a known one.
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import attacks, krtio, metrics, uep
from ._cases import Case, Mistake, run_cases
from ._feedback import CheckFailed

__all__ = ["check_fisher_yates", "check_invert_mix", "check_kept_fooling_rate", "check_median_attack",
           "check_overlay_correlation", "check_pick_component", "check_remove_eq4", "check_remove_overlay"]

CASES = 6


def _stack(rng, n, h, w):
    return rng.random((n, h, w), dtype=np.float32)


# --------------------------------------------------------------------------- 01: the naive overlay and BSS
def check_remove_overlay(answer, *, rng) -> int:
    """``remove_overlay(perturbed, overlay, alpha)``: Eq. 5 undone, as :func:`imgprivacy.attacks.remove_naive_overlay`."""
    cases = []
    for _ in range(CASES):
        n, h, w = int(rng.integers(2, 5)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
        images, overlay = _stack(rng, n, h, w), rng.random((h, w), dtype=np.float32)
        alpha = float(np.round(rng.uniform(0.2, 0.8), 2))
        perturbed = attacks.naive_overlay(images, overlay, alpha=alpha)
        cases.append(Case((perturbed, overlay, alpha), attacks.remove_naive_overlay(perturbed, overlay, alpha=alpha),
                          f"{n} photos of {h}x{w}, α = {alpha}", {"alpha": alpha, "unit_range": True, "atol": 1e-4}))
    mistakes = (
        Mistake("α and 1 − α are swapped: the photo has weight α and the overlay 1 − α, so subtract (1 − α)·O "
                "and divide by α", lambda p, o, a: (p - a * o) / (1 - a)),
        Mistake("the overlay is subtracted with weight 1 instead of 1 − α", lambda p, o, a: (p - o) / a),
        Mistake("the overlay is subtracted but the result is not divided by α, so the photo keeps weight α",
                lambda p, o, a: p - (1 - a) * o),
        Mistake("the perturbed photo was divided by α but the overlay term was not: (I' − (1 − α)·O)/α divides both",
                lambda p, o, a: p / a - (1 - a) * o),
    )
    return run_cases(answer, cases, name="remove_overlay", mistakes=mistakes)


def _uniformity(mixing, axis=0):
    return mixing.std(axis=axis) / np.maximum(np.abs(mixing.mean(axis=axis)), 1e-12)


def check_pick_component(answer, *, rng) -> int:
    """``pick_component(mixing)``: the source :func:`imgprivacy.attacks.bss_fastica` takes for the overlay."""
    from sklearn.exceptions import ConvergenceWarning

    cases = []
    for _ in range(CASES):
        n = int(rng.integers(8, 14))
        faces, overlay = _stack(rng, n, 16, 16), rng.random((16, 16), dtype=np.float32)
        with warnings.catch_warnings():  # whether FastICA converged does not change which source it picks
            warnings.simplefilter("ignore", ConvergenceWarning)
            found = attacks.bss_fastica(attacks.naive_overlay(faces, overlay, alpha=0.45),
                                        random_state=int(rng.integers(2**31)))
        # ICA cannot know a source's scale or sign: rescaling and flipping the columns leaves the same mixture,
        # and the library's choice (the smallest std / |mean|) does not change; a scale-blind answer does
        mixing = found.mixing * np.exp(rng.uniform(-1.0, 1.0, found.mixing.shape[1])) \
            * rng.choice([-1.0, 1.0], found.mixing.shape[1])
        c, others = found.component, np.arange(mixing.shape[1]) != found.component
        if len(cases) % 2:  # the overlay's column gets the largest std of all ...
            mixing[:, c] *= 2 * mixing[:, others].std(axis=0).max() / mixing[:, c].std()
        else:  # ... or the smallest mean weight
            mixing[:, c] *= 0.5 * np.abs(mixing[:, others].mean(axis=0)).min() / abs(mixing[:, c].mean())
        cases.append(Case((mixing,), found.component,
                          f"a mixing matrix of {n} photos x {found.mixing.shape[1]} sources, columns rescaled"))
    mistakes = (
        Mistake("pick_component returns the source whose weights vary the MOST; the overlay is in every photo "
                "with the same weight, so take the smallest std / |mean|", lambda m: int(np.argmax(_uniformity(m)))),
        Mistake("pick_component compares the plain standard deviations of the columns; ICA's sources have arbitrary "
                "scale, so divide each column's std by its |mean| (the coefficient of variation)",
                lambda m: int(np.argmin(m.std(axis=0)))),
        Mistake("pick_component works along the rows (photos) instead of the columns (sources): mixing[i, j] is "
                "the weight of source j in photo i, so use axis=0", lambda m: int(np.argmin(_uniformity(m, axis=1)))),
        Mistake("pick_component takes the source with the largest mean weight; the test is how UNIFORM the weights "
                "are: std / |mean|", lambda m: int(np.argmax(np.abs(m.mean(axis=0))))),
    )

    def validate(got, case):
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            return f"must return one source index (an int), got {type(got).__name__} {got!r}"
        if not 0 <= int(got) < case.args[0].shape[1]:
            return (f"returned {got}, but there are only {case.args[0].shape[1]} sources (columns of the mixing "
                    f"matrix); a row index (one of {case.args[0].shape[0]} photos)?")
        return ""

    return run_cases(answer, cases, name="pick_component", mistakes=mistakes, validate=validate)


# --------------------------------------------------------------------------- 02: k-RTIO
def _draws(key, image_id, j, b, *, modulus, steps, domain=1, start=1):
    return [krtio.prf(key, image_id, domain, j, i) % modulus(i) for i in range(start, start + steps)]


def _backwards(draws, b, last=lambda i, b: b - i, start=1):
    perm = list(range(b))
    for i, t in enumerate(draws, start=start):
        q = last(i, b)
        perm[q], perm[t] = perm[t], perm[q]
    return perm


def check_fisher_yates(answer, *, rng) -> int:
    """``shuffle_blocks(key, image_id, j, b)``: the keyed Fisher–Yates shuffle, as :func:`imgprivacy.krtio.block_permutation`."""
    cases = []
    for _ in range(CASES):
        key, image_id = rng.bytes(16), f"IMG_{int(rng.integers(10_000)):04d}.png"
        j, b = int(rng.integers(1, 4)), int(rng.integers(6, 40))
        cases.append(Case((key, image_id, j, b), krtio.block_permutation(key, image_id, j=j, b=b),
                          f"key {key.hex()[:8]}..., id {image_id!r}, j = {j}, b = {b}"))
    mistakes = (
        Mistake("this is the textbook off-by-one (Sattolo's algorithm): t = PRF mod (b − i) for i = 1..b − 1 never "
                "lets a block stay where it is; format 1 draws t = PRF mod (b − i + 1), for i = 1..b",
                lambda k, d, j, b: _backwards(_draws(k, d, j, b, modulus=lambda i: b - i, steps=b - 1), b)),
        Mistake("t is drawn mod b at every step (the 'naive shuffle', which is biased); the modulus must shrink: "
                "PRF mod (b − i + 1)", lambda k, d, j, b: _backwards(_draws(k, d, j, b, modulus=lambda i: b, steps=b), b)),
        Mistake("the steps are numbered from 0; format 1 numbers them i = 1..b (the PRF's last field is i)",
                lambda k, d, j, b: _backwards(_draws(k, d, j, b, modulus=lambda i: b - i, steps=b, start=0), b,
                                              last=lambda i, b: b - 1 - i, start=0)),
        Mistake("the shuffle swaps position i − 1 (from the front) instead of b − i (from the back)",
                lambda k, d, j, b: _backwards(_draws(k, d, j, b, modulus=lambda i: b - i + 1, steps=b), b,
                                              last=lambda i, b: i - 1)),
        Mistake("the PRF is called with domain 0 (choosing overlays); the shuffle uses domain 1",
                lambda k, d, j, b: _backwards(_draws(k, d, j, b, modulus=lambda i: b - i + 1, steps=b, domain=0), b)),
    )

    def validate(got, case):
        b = case.args[3]
        values = np.asarray(got).ravel().tolist() if got is not None else None
        if values is not None and len(values) == b and sorted(values) != list(range(b)):
            return (f"must return a permutation of 0..{b - 1} (every block once), but some block appears twice "
                    "or is missing: swap entries, do not overwrite them")
        return ""

    return run_cases(answer, cases, name="shuffle_blocks", mistakes=mistakes, validate=validate)


def check_invert_mix(answer, *, rng) -> int:
    """``unmix(perturbed, parts, alpha)``: the photo from k-RTIO's mix, as :func:`imgprivacy.krtio.recover`."""
    overlays = [rng.random((12, 12), dtype=np.float32) for _ in range(5)]
    cases = []
    for _ in range(CASES):
        h, w, k = int(rng.integers(8, 20)), int(rng.integers(8, 20)), int(rng.integers(1, 4))
        alpha = float(np.round(rng.uniform(0.3, 0.7), 2))
        key, image_id = rng.bytes(16), f"lab_{int(rng.integers(10_000))}.png"
        image = rng.random((h, w), dtype=np.float32)
        settings = dict(overlays=overlays, k=k, alpha=alpha, block=4)
        perturbed = krtio.perturb(image, key, image_id=image_id, **settings)
        parts = krtio.overlay_for(key, image_id, overlays=overlays, shape=image.shape, k=k, block=4, combined=False)
        cases.append(Case((perturbed, parts, alpha), krtio.recover(perturbed, key, image_id=image_id, **settings),
                          f"a {h}x{w} photo, k = {k}, α = {alpha}", {"alpha": alpha, "unit_range": True, "atol": 1e-4}))
    mistakes = (
        Mistake("the k overlays are summed but not averaged: k-RTIO mixes in their MEAN, (1 − α)/k · Σ",
                lambda p, o, a: p / a - (1 - a) / a * np.sum(o, axis=0)),
        Mistake("α and 1 − α are swapped: the photo has weight α, the overlays 1 − α",
                lambda p, o, a: p / (1 - a) - a / ((1 - a) * len(o)) * np.sum(o, axis=0)),
        Mistake("the overlay term is subtracted but the result is not divided by α",
                lambda p, o, a: p - (1 - a) / len(o) * np.sum(o, axis=0)),
    )
    return run_cases(answer, cases, name="unmix", mistakes=mistakes)


# --------------------------------------------------------------------------- 04: Eq. 4 and the c search
def check_remove_eq4(answer, *, rng) -> int:
    """``remove_uep(perturbed, delta, beta)``: Eq. 4 undone, as :func:`imgprivacy.uep.remove`."""
    cases = []
    for _ in range(CASES):
        h, w = int(rng.integers(6, 16)), int(rng.integers(6, 16))
        image = rng.uniform(0.05, 0.95, (h, w)).astype(np.float32)
        delta = rng.normal(0.0, 0.5, (h, w)).astype(np.float32)
        beta = float(np.round(rng.choice([rng.uniform(0.3, 0.8), rng.uniform(1.5, 3.0)]), 2))
        perturbed = uep.apply(image, delta, beta=beta)
        cases.append(Case((perturbed, delta, beta), uep.remove(perturbed, delta, beta=beta),
                          f"a {h}x{w} face, β = {beta}", {"unit_range": True, "atol": 2e-4}))
    mistakes = (
        Mistake("remove_uep applies Eq. 4 again (+ β·δ); the inverse subtracts β·δ in tanh space: "
                "(tanh(arctanh(2x' − 1) − β·δ) + 1) / 2", lambda p, d, b: uep.apply(p, d, beta=b)),
        Mistake("β is left out: Eq. 4 adds β·δ, not δ", lambda p, d, b: uep.remove(p, d, beta=1.0)),
        Mistake("β·δ is subtracted from the pixels; Eq. 4 adds it in tanh space, arctanh(2x − 1)",
                lambda p, d, b: p - b * d),
    )
    return run_cases(answer, cases, name="remove_uep", mistakes=mistakes)


def check_kept_fooling_rate(answer, *, rng, result=None) -> int:
    """``kept_fooling_rate(result)``: the c search's record of the kept δ, ``result.fooling_rate["all"]``."""
    if not isinstance(result, uep.UEPResult):
        raise TypeError(f"this check needs result=<the UEPResult of ip.uep.learn>, got {type(result).__name__}")
    kept = [t for t in result.history if t.c == result.c]
    cases = [Case((result,), result.fooling_rate["all"], f"this notebook's search over {len(result.history)} value(s) of c",
                  {"atol": 1e-6})]
    mistakes = [
        Mistake("that is the rate at the LAST Adam step of the kept c; the search keeps the smallest successful δ, "
                "whose rate is the trial's fooling_rate", lambda r: kept[0].trace_fooling[-1]),
        Mistake("that is the best rate over all values of c; the search keeps the smallest δ that reaches p, "
                "not the one that fools most", lambda r: max(t.fooling_rate for t in r.history)),
        Mistake("that is the fraction of faces NOT fooled (1 − rate)", lambda r: 1 - r.fooling_rate["all"]),
    ]
    mistakes += [Mistake(f"that is {name}'s rate alone; the search compares the fraction that fools ALL the networks "
                         "at once with p", lambda r, name=name: r.fooling_rate[name]) for name in result.models]
    if not kept or not kept[0].trace_fooling:
        mistakes = mistakes[1:]
    return run_cases(answer, cases, name="kept_fooling_rate", mistakes=tuple(mistakes))


# --------------------------------------------------------------------------- 05: the median attack
def check_median_attack(answer, *, rng) -> int:
    """``median_attack(perturbed, lam)``: :func:`imgprivacy.attacks.median_estimate` then :func:`~imgprivacy.attacks.median_removal`."""
    cases = []
    for _ in range(CASES):
        n, h, w = int(rng.integers(3, 8)), int(rng.integers(4, 10)), int(rng.integers(4, 10))
        perturbed = _stack(rng, n, h, w)
        lam = float(np.round(rng.uniform(0.4, 0.6), 2))
        expected = attacks.median_removal(perturbed, attacks.median_estimate(perturbed), lam=lam)
        cases.append(Case((perturbed, lam), expected, f"{n} photos of {h}x{w}, λ = {lam}", {"unit_range": True, "atol": 1e-5}))
    mistakes = (
        Mistake("λ and 1 − λ are swapped: x = λ·x' + (1 − λ)·(1 − δ')",
                lambda p, lam: np.clip((1 - lam) * p + lam * (1 - np.median(p, axis=0)), 0, 1)),
        Mistake("the estimate is the MEAN of the photos; the paper's attacker takes the pixel-wise median",
                lambda p, lam: np.clip(lam * p + (1 - lam) * (1 - p.mean(axis=0)), 0, 1)),
        Mistake("the median is blended in without inverting it: use 1 − δ'",
                lambda p, lam: np.clip(lam * p + (1 - lam) * np.median(p, axis=0), 0, 1)),
    )
    return run_cases(answer, cases, name="median_attack", mistakes=mistakes)


def check_overlay_correlation(answer, *, rng, perturbed=None, originals=None, alpha=None) -> int:
    """``overlay_correlation(perturbed, originals, alpha)``: how much two photos' perturbations have in common."""
    if perturbed is None or originals is None or alpha is None:
        raise TypeError("this check needs perturbed=, originals= and alpha= (the k-RTIO photos, their originals, α)")
    perturbed, originals = np.asarray(perturbed), np.asarray(originals)
    cases = []
    for _ in range(CASES):
        i, j = (int(v) for v in rng.choice(len(perturbed), 2, replace=False))
        pair_p, pair_o = perturbed[[i, j]], originals[[i, j]]
        expected = metrics.correlation(pair_p[0] - alpha * pair_o[0], pair_p[1] - alpha * pair_o[1])
        cases.append(Case((pair_p, pair_o, alpha), expected, f"photos {i} and {j}", {"atol": 1e-4}))
    mistakes = (
        Mistake("the residual is x' − x; the photo enters with weight α, so what is not the face is x' − α·x",
                lambda p, o, a: metrics.correlation(p[0] - o[0], p[1] - o[1])),
        Mistake("that is the correlation of the perturbed photos themselves, faces included; subtract α·x first",
                lambda p, o, a: metrics.correlation(p[0], p[1])),
        Mistake("that is |correlation|; keep its sign", lambda p, o, a: abs(metrics.correlation(p[0] - a * o[0], p[1] - a * o[1]))),
    )

    def validate(got, case):
        if not isinstance(got, (float, int, np.floating, np.integer)) or not -1 - 1e-9 <= float(got) <= 1 + 1e-9:
            return f"must return one correlation, a number in [-1, 1], got {got!r}"
        return ""

    count = run_cases(answer, cases, name="overlay_correlation", mistakes=mistakes, validate=validate)
    if max(abs(c.expected) for c in cases) > 0.5:  # the lesson itself: k-RTIO photos share (almost) nothing
        raise CheckFailed("the photos passed share their perturbation (correlation > 0.5): pass k-RTIO photos")
    return count
