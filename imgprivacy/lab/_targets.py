"""The checks of the exercises on the models, the recognisers and the provider's countermeasures (notebooks 03, 06)."""

from __future__ import annotations

import numpy as np

from .. import attacks, krtio, metrics
from ._cases import Case, Mistake, run_cases
from ._feedback import CheckFailed, call_limited, describe_difference

__all__ = ["check_filter_attack", "check_known_s_found", "check_recognition_rate", "check_thumbnail"]

CASES = 5


def check_thumbnail(answer, *, rng) -> int:
    """``thumbnail(images)``: what :class:`imgprivacy.models.Thumbnail` does to a stack of grey faces."""
    from .. import models  # torch, loaded only for this check

    layer = models.Thumbnail()
    cases = []
    for _ in range(CASES):
        n, h, w = int(rng.integers(1, 4)), 2 * int(rng.integers(2, 9)), 2 * int(rng.integers(2, 9))
        images = rng.random((n, h, w), dtype=np.float32)
        expected = models.from_tensor(layer(models.to_tensor(images)))
        cases.append(Case((images,), expected, f"{n} face(s) of {h}x{w}", {"unit_range": True, "atol": 1e-5}))
    mistakes = (
        Mistake("thumbnail keeps every second pixel; the layer AVERAGES each 2x2 block (weights 1/4)",
                lambda x: x[:, ::2, ::2]),
        Mistake("thumbnail sums each 2x2 block; the layer's weights are 1/(2x2) = 0.25: the mean",
                lambda x: x.reshape(len(x), x.shape[1] // 2, 2, x.shape[2] // 2, 2).sum(axis=(2, 4))),
        Mistake("thumbnail averages pixels that are H/2 apart, not neighbours: reshape to (N, H/2, 2, W/2, 2)",
                lambda x: x.reshape(len(x), 2, x.shape[1] // 2, 2, x.shape[2] // 2).mean(axis=(1, 3))),
    )
    return run_cases(answer, cases, name="thumbnail", mistakes=mistakes)


def _need(context: dict, *names: str) -> None:
    missing = [n for n in names if context.get(n) is None]
    if missing:
        raise TypeError(f"this check needs {', '.join(n + '=' for n in missing)} (the check cell passes them)")


def check_recognition_rate(answer, *, rng, target=None, images=None, labels=None) -> int:
    """``recognition_rate(target, images, labels)``: as :func:`imgprivacy.metrics.recognition_rate`."""
    _need({"target": target, "images": images, "labels": labels}, "target", "images", "labels")
    labels = np.asarray(labels)
    cases = []
    for size in (len(labels), *rng.integers(5, len(labels) + 1, size=CASES - 1)):
        pick = np.sort(rng.choice(len(labels), int(size), replace=False))
        cases.append(Case((target, images[pick], labels[pick]), metrics.recognition_rate(target, images[pick], labels[pick]),
                          f"{len(pick)} of the faces", {"atol": 1e-9}))
    mistakes = (
        Mistake("that is the error rate (the fraction of faces named WRONG); the recognition rate is the fraction "
                "named right", lambda t, x, y: 1 - metrics.recognition_rate(t, x, y)),
        Mistake("that is a percentage; give the fraction in [0, 1]", lambda t, x, y: 100 * metrics.recognition_rate(t, x, y)),
        Mistake("that is the NUMBER of faces named right; divide by the number of faces",
                lambda t, x, y: float(np.sum(t.predict(x) == y))),
    )
    return run_cases(answer, cases, name="recognition_rate", mistakes=mistakes)


def check_filter_attack(answer, *, rng, target=None, images=None, labels=None, key=None, overlays=None,
                        target_name: str = "the recogniser") -> tuple[int, str]:
    """``my_filter(images)``: a filter that gives ``target`` back some k-RTIO faces (α 0.45, k 3, 8-px blocks)."""
    _need({"target": target, "images": images, "labels": labels, "key": key, "overlays": overlays},
          "target", "images", "labels", "key", "overlays")
    ids = [f"face-{i}" for i in range(len(images))]  # as ip.evaluate.sweep names them: the notebook's table
    protected = krtio.perturb_batch(images, key, image_ids=ids, overlays=overlays, progress=False)
    filtered = call_limited(answer, protected.copy(), name="my_filter")
    if filtered is None or np.shape(filtered) != protected.shape:
        raise CheckFailed(describe_difference(filtered, protected, what="my_filter's result")
                          + " (a filter returns the stack it was given, filtered: one image per photo)")
    filtered = np.asarray(filtered, dtype=np.float32)
    if filtered.min() < -1e-6 or filtered.max() > 1 + 1e-6:
        raise CheckFailed(f"my_filter's result is not in [0, 1] (min {filtered.min():.3g}, max {filtered.max():.3g}): "
                          "clip it, np.clip(x, 0, 1)")
    if np.array_equal(filtered, protected):
        raise CheckFailed("my_filter returned the photos unchanged: filter them (e.g. smooth each one)")
    before = metrics.recognition_rate(target, protected, labels)
    after = metrics.recognition_rate(target, filtered, labels)
    library = metrics.recognition_rate(target, attacks.apply_filter(protected, "median", strength=1), labels)
    if after < before + 0.1 - 1e-9:
        raise CheckFailed(
            f"with my_filter {target_name} recognises {after:.2f} of the {len(images)} k-RTIO faces, against {before:.2f} "
            f"unfiltered ({after - before:+.2f}); it must gain at least +0.10 (the library's median filter of radius 1: "
            f"{library:.2f}). Smoothing removes the overlay's fine texture and block edges more than the face")
    return 1, f"{target_name} recognises {before:.2f} → {after:.2f} of {len(images)} k-RTIO faces"


def check_known_s_found(answer, *, rng, result=None, key=None, image_ids=None, m=None) -> int:
    """``fraction_found(result, key, image_ids, m)``: as :func:`imgprivacy.attacks.overlays_found` on the true choice."""
    _need({"result": result, "key": key, "image_ids": image_ids, "m": m}, "result", "key", "image_ids", "m")

    def truth(k_, ids, k):
        return [krtio.select_overlays(k_, i, k=k, m=m) for i in ids]

    def case(res, k_, ids, about):
        k = np.asarray(res.selection).reshape(len(ids), -1).shape[1]
        return Case((res, k_, list(ids), m), attacks.overlays_found(res.selection, truth(k_, ids, k)), about, {"atol": 1e-9})

    cases = [case(result, key, image_ids, f"this notebook's {len(image_ids)} attacked photos")]
    for _ in range(CASES - 1):
        n, k = int(rng.integers(2, 7)), int(rng.integers(2, 5))
        fake_key, ids = rng.bytes(16), [f"lab-{int(v)}" for v in rng.integers(10**6, size=n)]
        true = truth(fake_key, ids, k)
        selection = np.sort(np.array([[t[0], *rng.choice([v for v in range(m) if v != t[0]], k - 1, replace=False)]
                                      if rng.random() < 0.7 else t for t in true]), axis=1)
        fake = attacks.KnownOverlayResult(np.zeros((n, 2, 2), np.float32), selection, np.zeros((n, k, 1), int),
                                          np.zeros(n), (8, 8))
        cases.append(case(fake, fake_key, ids, f"{n} made-up attack results with k = {k}"))

    def positional(res, k_, ids, m_):
        sel = np.asarray(res.selection).reshape(len(ids), -1)
        return float(np.mean(sel == np.array(truth(k_, ids, sel.shape[1]))))

    def all_found(res, k_, ids, m_):
        sel = np.asarray(res.selection).reshape(len(ids), -1)
        return float(np.mean([set(s.tolist()) == set(t) for s, t in zip(sel, truth(k_, ids, sel.shape[1]))]))

    def count(res, k_, ids, m_):
        sel = np.asarray(res.selection).reshape(len(ids), -1)
        return float(sum(len(set(s.tolist()) & set(t)) for s, t in zip(sel, truth(k_, ids, sel.shape[1]))))

    mistakes = (
        Mistake("fraction_found compares the overlays position by position; the attack lists them in ascending "
                "order, k-RTIO in the order drawn: compare them as sets", positional),
        Mistake("that is the fraction of photos whose k overlays were ALL found; the question is the fraction of the "
                "chosen overlays found, |found ∩ true| / k averaged over the photos", all_found),
        Mistake("that is the number of overlays found; divide by k and average over the photos", count),
    )
    count = run_cases(answer, cases, name="fraction_found", mistakes=mistakes)
    return count, f"on this notebook's attack and {count - 1} made-up ones"
