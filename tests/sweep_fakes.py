"""Fake targets and a tiny face set for the sweep and plotting tests (tests/test_evaluate.py, tests/test_plotting.py)."""

from __future__ import annotations

import numpy as np

from imgprivacy import evaluate as E

N, SIDE = 6, 16


class Exact:
    """Recogniser that is right iff it is shown the clean face itself (and otherwise answers -1)."""

    def __init__(self, clean, labels):
        self.clean, self.labels = np.asarray(clean), np.asarray(labels)

    def predict(self, images):
        out = []
        for im in np.asarray(images):
            hit = [i for i, c in enumerate(self.clean) if np.array_equal(c, im)]
            out.append(self.labels[hit[0]] if hit else -1)
        return np.asarray(out)


class Smooth:
    """Detector that finds a 'face' in an image whose neighbouring pixels differ by little on average."""

    def detect(self, images):
        return [[(0, 0, 2, 2)] if np.abs(np.diff(im, axis=1)).mean() < 0.05 else [] for im in np.asarray(images)]


def make_tiny():
    """Six smooth 16x16 ramps of three subjects, four RGB overlays and an 8x8 delta."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.2, 0.8, SIDE, dtype=np.float32)
    X = np.clip(ramp[None, None, :] + rng.normal(0, 0.01, (N, SIDE, SIDE)), 0, 1).astype(np.float32)
    y = np.arange(N) % 3
    S = [rng.random((SIDE, SIDE, 3), dtype=np.float32) for _ in range(4)]
    delta = rng.normal(0, 0.5, (8, 8)).astype(np.float32)
    return X, y, S, delta


GRID = dict(alphas=(0.3, 0.6), blocks=(4, 8), ks=(2,), betas=(1.0,), filters=(("none", 0), ("median", 1)))


def make_tiny_table(tiny):
    """The sweep of :func:`make_tiny`'s faces over :data:`GRID` with both fakes."""
    X, y, S, delta = tiny
    targets = {"exact": Exact(X, y), "smooth": Smooth()}
    return E.sweep(X, y, targets, overlays=S, delta=delta, progress=False, **GRID)
