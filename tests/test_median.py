"""Median estimation (section 6.3 of the paper) against UEP, and against k-RTIO for contrast.

The UEP is learned here on the user's 100 faces for one value of c (c = 0.0316; see
tests/test_uep.py), and the recognisers are those of the provider: Eigenfaces fitted on the
provider's training split (40 subjects x 7 faces) and the cached provider CNN.  The dlib
ResNet (about 80 ms per face) is measured by benchmarks/bench_uep.py, not here.
Measured values are in the comments; the assertions leave a margin.
"""

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import attacks, uep

LAMS = np.arange(0.40, 0.561, 0.02)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# -- median_estimate / median_removal --------------------------------------------------------------


def test_median_estimate_is_the_pixelwise_median(rng):
    x = rng.random((5, 6, 7), dtype=np.float32)
    before = x.copy()
    m = attacks.median_estimate(x)
    assert m.shape == (6, 7) and m.dtype == np.float32
    assert np.array_equal(m, np.median(x, axis=0).astype(np.float32))
    assert np.array_equal(x, before)
    rgb = rng.random((4, 5, 5, 3), dtype=np.float32)  # even N: mean of the two middle values
    assert np.allclose(attacks.median_estimate(list(rgb)), np.median(rgb, axis=0))
    assert np.array_equal(attacks.median_estimate(x[:1]), x[0])


def test_median_removal_formula_shapes_and_clipping(rng):
    x = rng.random((3, 6, 6), dtype=np.float32)
    m = rng.random((6, 6), dtype=np.float32)
    out = attacks.median_removal(x, m, lam=0.45)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.allclose(out, np.clip(0.45 * x + 0.55 * (1 - m), 0, 1), atol=1e-6)
    assert np.array_equal(attacks.median_removal(x[1], m, lam=0.45), out[1])  # one image
    assert np.array_equal(attacks.median_removal(x, m, lam=1.0), x)
    assert attacks.median_removal(np.ones((1, 2, 2), np.float32), np.zeros((2, 2), np.float32), lam=0.3).max() == 1.0


def test_median_removal_cancels_an_additive_shared_perturbation(rng):
    # the paper's own model (x' = x + delta): at lam = 0.5 the result is (x - median(x) + 1) / 2, whatever delta is
    x = 0.3 + 0.4 * rng.random((9, 8, 8), dtype=np.float32)
    delta = 0.2 * rng.random((8, 8), dtype=np.float32)
    out = attacks.median_removal(x + delta, attacks.median_estimate(x + delta), lam=0.5)
    assert np.allclose(out, (x - np.median(x, axis=0) + 1) / 2, atol=1e-6)


def test_median_attacks_reject_bad_input(rng):
    x = rng.random((3, 6, 6), dtype=np.float32)
    m = rng.random((6, 6), dtype=np.float32)
    with pytest.raises(ValueError, match=r"lam must be in \(0, 1\], got 1.5"):
        attacks.median_removal(x, m, lam=1.5)
    with pytest.raises(ValueError, match=r"lam must be in \(0, 1\], got 0.0"):
        attacks.median_removal(x, m, lam=0)
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'lam'"):
        attacks.median_removal(x, m)
    with pytest.raises(ValueError, match=r"estimate must have the shape of one perturbed image, \(6, 6\), got \(5, 5\)"):
        attacks.median_removal(x, m[:5, :5], lam=0.5)
    with pytest.raises(ValueError, match="perturbed must all have the same shape"):
        attacks.median_estimate([x[0], x[0, :5]])
    with pytest.raises(TypeError, match="convert integer images"):
        attacks.median_estimate((x * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"perturbed\[0\] values must be in \[0, 1\]"):
        attacks.median_estimate(x * 3)
    with pytest.raises(ValueError, match="perturbed must hold at least 1 image, got none"):
        attacks.median_estimate([])


class Oracle:
    """Recognises a face when its mean brightness is above 0.5 (label 1), for bookkeeping tests."""

    def predict(self, images):
        return (np.asarray(images).mean(axis=(1, 2)) > 0.5).astype(int)


def test_median_sweep_bookkeeping(rng):
    x = rng.random((12, 8, 8), dtype=np.float32)
    labels = np.ones(12, int)
    s = attacks.median_sweep(Oracle(), x, labels, n_images=(5, 10, 35, 200))
    assert s.n_images == (5, 10, 12)  # capped at the 12 available, duplicates dropped
    assert np.allclose(s.lams, LAMS) and s.recognition.shape == (3, 9) and s.correct.shape == (3, 9, 12)
    assert np.allclose(s.recognition, s.correct.mean(axis=2))
    assert np.all(s.best_per_image >= s.recognition.max(axis=1))  # best lam per image is an upper bound
    assert s.baseline == np.mean(Oracle().predict(x) == labels)
    rows = s.rows()
    assert len(rows) == 3 * 9 + 3 and rows[0] == {"n": 5, "lam": 0.4, "recognition": float(s.recognition[0, 0])}
    assert rows[-1]["lam"] is None
    n, lam, rate = s.best()
    assert rate == s.recognition.max()
    again = attacks.median_sweep(Oracle(), x, labels, n_images=(5, 10, 35, 200))
    assert np.array_equal(again.correct, s.correct)  # seeded
    with pytest.raises(ValueError, match=r"labels must have one entry per perturbed image, shape \(12,\)"):
        attacks.median_sweep(Oracle(), x, labels[:3])
    with pytest.raises(ValueError, match=r"lam must be in \(0, 1\]"):
        attacks.median_sweep(Oracle(), x, labels, lams=[0.5, 2.0])
    with pytest.raises(ValueError, match="n_images must be >= 1, got 0"):
        attacks.median_sweep(Oracle(), x, labels, n_images=(0,))
    with pytest.raises(TypeError, match="target must be a fitted recogniser"):
        attacks.median_sweep(object(), x, labels)


def test_median_pick_is_the_sweeps_draw(rng):
    # the draw median_sweep has always made: np.random.default_rng([seed, n]), sorted
    for n, seed in [(1, 0), (5, 0), (5, 3), (10, 7), (20, 2)]:
        held = attacks.median_pick(20, n, seed=seed)
        expected = np.sort(np.random.default_rng([seed, n]).choice(20, size=n, replace=False))
        assert held.dtype.kind == "i" and np.array_equal(held, expected)
    assert attacks.median_pick(20, 20, seed=5).tolist() == list(range(20))
    # median_sweep holds exactly these photos: a recogniser that checks the median of the photos it is shown
    x = rng.random((12, 8, 8), dtype=np.float32)
    for n in (3, 5):
        estimate = attacks.median_estimate(x[attacks.median_pick(12, n, seed=4)])
        expected = attacks.median_removal(x, estimate, lam=0.5)
        shown = []
        attacks.median_sweep(SimpleRecorder(shown), x, np.ones(12, int), lams=[0.5], n_images=(n,), seed=4)
        assert np.array_equal(shown[1], expected)
    with pytest.raises(ValueError, match=r"n must be in \[1, 20\], got 21"):
        attacks.median_pick(20, 21, seed=0)
    with pytest.raises(ValueError, match="n must be in"):
        attacks.median_pick(20, 0, seed=0)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        attacks.median_pick(20, 3, seed=-1)
    with pytest.raises(TypeError, match="n must be an integer"):
        attacks.median_pick(20, 2.5, seed=0)
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'seed'"):
        attacks.median_pick(20, 3)


class SimpleRecorder:
    """Answers 1 and keeps every stack it is asked about."""

    def __init__(self, shown):
        self.shown = shown

    def predict(self, images):
        self.shown.append(np.array(images))
        return np.ones(len(images), int)


# -- real faces ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setting():
    faces = ip.data.load_faces("olivetti")
    ensemble = ip.models.cached_ensemble(faces=faces)
    provider = ip.targets.ProviderCNN.cached(faces=faces)
    idx = np.flatnonzero(np.isin(faces.labels, ensemble.split.subjects))
    x, subjects = faces.images[idx], faces.labels[idx]
    result = uep.learn(ensemble, x, ensemble.split.class_index(subjects), c_range=(0.01, 0.1), search_steps=1,
                       progress=False, device="cpu")
    train = provider.split_.train
    eigen = ip.targets.Eigenfaces().fit(faces.images[train], faces.labels[train])
    return {"x": x, "subjects": subjects, "idx": idx, "delta": result.delta, "provider": provider, "eigen": eigen}


@pytest.mark.parametrize("beta", [3.0, 5.0])
def test_median_attack_restores_eigenfaces_on_uep_faces(setting, beta):
    perturbed = uep.apply(setting["x"], setting["delta"], beta=beta)
    s = attacks.median_sweep(setting["eigen"], perturbed, setting["subjects"], lams=LAMS)
    # measured: beta 3: 0.21 -> 0.80 (all 100 photos held, lam = 0.54), best lam per image 0.80;
    #           beta 5: 0.10 -> 0.67 (100 held, lam = 0.52), best lam per image 0.69
    assert s.recognition.max() >= s.baseline + 0.3
    assert s.recognition[-1].max() >= s.baseline + 0.3  # with all 100 photos
    assert s.best_per_image.max() >= s.recognition.max()
    # five photos are already enough for most of the gain (measured 0.73 at beta 3, 0.60 at beta 5)
    assert s.recognition[0].max() >= s.baseline + 0.25


def test_median_attack_does_not_restore_the_provider_cnn(setting):
    perturbed = uep.apply(setting["x"], setting["delta"], beta=3.0)
    s = attacks.median_sweep(setting["provider"], perturbed, setting["subjects"], lams=LAMS)
    # measured: baseline 0.00, best over lam and n 0.08, best lam per image 0.09: nowhere near the
    # paper's 70% on Clarifai (the provider CNN, trained on 7 faces per person, is thrown off by
    # the inverted median face the attack mixes in; dlib's ResNet is not: see bench_uep.py)
    assert s.baseline <= 0.05
    assert s.recognition.max() <= 0.25
    assert s.best_per_image.max() <= 0.3


def test_median_attack_is_useless_against_krtio(setting):
    key = bytes(range(16))
    ids = [f"olivetti-{i}" for i in setting["idx"]]
    perturbed = ip.krtio.perturb_batch(setting["x"], key, image_ids=ids, overlays=ip.data.overlay_set(), progress=False)
    eigen = attacks.median_sweep(setting["eigen"], perturbed, setting["subjects"], lams=LAMS)
    # measured: Eigenfaces 0.95 on k-RTIO faces, at best 0.73 after the attack (every face has its
    # own overlay: the median is a blur of many overlays, removing it only adds the median face)
    assert eigen.recognition.max() <= eigen.baseline
    provider = attacks.median_sweep(setting["provider"], perturbed, setting["subjects"], lams=LAMS)
    # measured: provider CNN 0.15 on k-RTIO faces, 0.00 after the attack at every lam and n
    assert provider.recognition.max() <= provider.baseline
