"""The known-S block attack on k-RTIO (imgprivacy.attacks.known_overlay_attack).

The provider knows the overlay set S, alpha, k and the block size (the CLI writes them into the
PNG metadata), not the key or the photo ids.  Measured values are in the comments (120 held-out
Olivetti faces, key bytes(range(16)), default overlay set); the assertions leave a margin.  The
full table, with alpha 0.3/0.6, blocks 4/16, k = 8 and timings, is in the attack's docstring, and
the beam search beside the greedy one in benchmarks/bench_known_s.py.
"""

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import attacks, krtio
from imgprivacy.attacks import _known_overlays as ko

KEY = bytes(range(16))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _toy(rng, shape, *, m=5, k=2, block=4, n=3):
    """Noise overlays and flat photos: the whole-image energy of the true residual is 0."""
    overlays = [rng.random((12, 12, 3), dtype=np.float32) for _ in range(m)]
    x = np.stack([np.full(shape, v, np.float32) for v in np.linspace(0.2, 0.8, n)])
    ids = [f"toy-{i}" for i in range(n)]
    y = krtio.perturb_batch(x, KEY, image_ids=ids, overlays=overlays, k=k, block=block, progress=False)
    return overlays, x, y, ids


# -- plumbing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 16), (13, 11), (10, 14, 3)])
def test_true_plan_subtraction_recovers_the_photo(rng, shape):
    # oracle: the attack's block geometry, weights and shuffle convention invert k-RTIO exactly
    overlays = [rng.random((20, 20, 3), dtype=np.float32) for _ in range(6)]
    x = rng.random(shape, dtype=np.float32)
    y = krtio.perturb(x, KEY, image_id="oracle", overlays=overlays, k=3, block=4)
    prep = krtio.PreparedOverlays(overlays, shape, block=4)
    a, w = krtio.mix_weights(0.45, 3)
    geo = ko._Geometry(prep, w)
    truth = krtio.plan(KEY, "oracle", k=3, m=6, b=prep.b)
    residual = geo.to_blocks(y.reshape(shape[:2] + (-1,)))
    for v, perm in zip(truth.selection, truth.permutations):
        residual = residual - geo.contribution(v, perm)
    recovered = (geo.to_image(residual) / a).reshape(shape)
    assert np.abs(recovered - x).max() < 1e-5
    # the whole-image energy is that of alpha * x, and the within-block forms are positive semi-definite
    assert np.isclose(geo.energy(residual), np.sum(ko._laplacian(a * x.reshape(shape[:2] + (-1,))) ** 2), rtol=1e-4)
    assert np.linalg.eigvalsh(geo.within.astype(np.float64)).min() > -1e-6
    assert np.linalg.eigvalsh(geo.glob.astype(np.float64)).min() > -1e-6


@pytest.mark.parametrize(("shape", "block"), [((11, 13), 4), ((9, 13), 4), ((7, 7), (1, 3)), ((5, 6), 8), ((6, 5, 3), 2)])
def test_global_form_is_the_laplacian_energy_of_one_block(rng, shape, block):
    # the per-block form used by the refinement equals ||L d||^2 for a change d inside one block,
    # wherever the block lies (image borders, cropped blocks, thin last rows)
    prep = krtio.PreparedOverlays([rng.random((9, 9), dtype=np.float32)], shape, block=block)
    geo = ko._Geometry(prep, np.float32(0.2))
    for p in range(prep.b):
        d = np.zeros((prep.b, geo.n, geo.c), np.float32)
        d[p] = rng.random((geo.n, geo.c)) * geo.mask[p]
        form = geo.glob[geo.global_kind[p]]
        assert np.isclose(np.sum(d[p] * (form @ d[p])), geo.energy(d), rtol=1e-4)


@pytest.mark.parametrize(("shape", "k"), [((16, 16), 1), ((13, 11), 1), ((12, 10, 3), 1), ((12, 10, 3), 3)])
def test_toy_attack_is_exact_when_the_photo_is_flat(shape, k):
    overlays, x, y, ids = _toy(np.random.default_rng(1), shape, k=k)
    out = attacks.known_overlay_attack(y, overlays, k=k, block=4)
    b = np.prod(krtio.grid_shape(shape, 4))
    for i, image_id in enumerate(ids):
        truth = krtio.plan(KEY, image_id, k=k, m=5, b=b)
        assert out.selection[i].tolist() == sorted(truth.selection)
        for j, v in enumerate(out.selection[i]):
            assert np.array_equal(out.permutations[i, j], truth.permutations[truth.selection.index(v)])
    assert np.abs(out.recovered - x).max() < 1e-5
    assert np.allclose(out.explained, 1.0, atol=1e-6)


def test_toy_grey_noise_overlays_leave_the_search_in_a_local_optimum():
    # a finding, not a wish: with k = 2 grey noise overlays the overlays are found, but shared
    # errors (two wrong blocks at the same places) survive the one-overlay-at-a-time sweeps.
    # measured (16 x 16, block 4): blocks right 0.72, 1.0, 1.0; explained 0.78, 1.0, 1.0
    overlays, x, y, ids = _toy(np.random.default_rng(1), (16, 16), k=2)
    out = attacks.known_overlay_attack(y, overlays, k=2, block=4)
    for i, image_id in enumerate(ids):
        assert out.selection[i].tolist() == sorted(krtio.plan(KEY, image_id, k=2, m=5, b=16).selection)
    assert out.explained.min() < 0.9 and np.abs(out.recovered - x).max() > 0.1
    assert np.sum(np.isclose(out.explained, 1.0, atol=1e-6)) == 2


# -- the beam search -------------------------------------------------------------------------------


def _same_result(a, b):
    return (np.array_equal(a.recovered, b.recovered) and np.array_equal(a.selection, b.selection)
            and np.array_equal(a.permutations, b.permutations) and np.array_equal(a.explained, b.explained))


@pytest.mark.parametrize(("shape", "k"), [((16, 16), 2), ((13, 11), 2), ((12, 10, 3), 3)])
def test_beam_of_width_1_is_greedy(rng, shape, k):
    overlays, _, y, _ = _toy(np.random.default_rng(1), shape, k=k)
    y = np.clip(y + rng.normal(0, 0.05, y.shape).astype(np.float32), 0, 1)  # not exactly solvable
    greedy = attacks.known_overlay_attack(y, overlays, k=k, block=4)
    assert _same_result(attacks.known_overlay_attack(y, overlays, k=k, block=4, search="greedy"), greedy)
    assert _same_result(attacks.known_overlay_attack(y, overlays, k=k, block=4, search="beam", beam_width=1), greedy)
    for sweeps in (0, 1):
        assert _same_result(attacks.known_overlay_attack(y, overlays, k=k, block=4, sweeps=sweeps, search="beam",
                                                         beam_width=1),
                            attacks.known_overlay_attack(y, overlays, k=k, block=4, sweeps=sweeps))


def test_best_overlays_names_greedys_choice_at_any_count(rng):
    # the beam keeps greedy's path by construction: the first choice _best_overlays reports is the one a
    # count of 1 returns, however many are asked for
    from scipy.optimize import linear_sum_assignment

    overlays = [rng.random((16, 16), dtype=np.float32) for _ in range(8)]
    prep = krtio.PreparedOverlays(overlays, (16, 16), block=4)
    geo = ko._Geometry(prep, np.float32(0.2))
    for _ in range(5):
        residual = rng.random((prep.b, geo.n, 1), dtype=np.float32)
        cands = [int(v) for v in rng.permutation(8)[:6]]
        (g1, v1, p1), [only] = ko._best_overlays(geo, residual, cands, 1, linear_sum_assignment)
        assert only[1] == v1 and np.array_equal(only[2], p1)
        for count in (2, 4, 6):
            (g, v, p), best = ko._best_overlays(geo, residual, cands, count, linear_sum_assignment)
            assert (g, v) == (g1, v1) and np.array_equal(p, p1)
            assert len(best) == count and [t[0] for t in best] == sorted((t[0] for t in best), reverse=True)
            assert best[0][0] >= g  # nothing the wider search reports beats the best


def test_beam_keeps_greedys_path_and_distinct_sets(rng):
    from scipy.optimize import linear_sum_assignment

    overlays, _, y, _ = _toy(np.random.default_rng(1), (16, 16), m=6, k=3)
    y = np.clip(y + rng.normal(0, 0.05, y.shape).astype(np.float32), 0, 1)
    prep = krtio.PreparedOverlays(overlays, (16, 16), block=4)
    geo = ko._Geometry(prep, krtio.mix_weights(0.45, 3)[1])
    for img in y:
        blocks = geo.to_blocks(img[..., None])
        [(chosen, perms, residual)] = ko._identify(geo, blocks, 3, 1, linear_sum_assignment)
        for width in (2, 3, 5):
            beam = ko._identify(geo, blocks, 3, width, linear_sum_assignment)
            assert len(beam) == width and len({frozenset(c) for c, _, _ in beam}) == width
            assert beam[0][0] == chosen and np.array_equal(beam[0][2], residual)
            assert all(np.array_equal(p, q) for p, q in zip(beam[0][1], perms))
            for c, ps, r in beam:  # each state's residual is the photo less its overlays
                expected = blocks.copy()
                for v, p in zip(c, ps):
                    expected = expected - geo.contribution(v, p)
                assert np.array_equal(r, expected)
    # the set kept is the one left smoothest after refinement, so never rougher than greedy's
    greedy = attacks.known_overlay_attack(y, overlays, k=3, block=4)
    for width in (2, 3):
        beam = attacks.known_overlay_attack(y, overlays, k=3, block=4, search="beam", beam_width=width)
        assert np.all(beam.explained >= greedy.explained)


def test_rejects_bad_search_options(rng):
    S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    y = rng.random((2, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="search must be one of 'greedy', 'beam', got 'Beam'"):
        attacks.known_overlay_attack(y, S, block=4, search="Beam")
    with pytest.raises(ValueError, match="search must be one of 'greedy', 'beam', got None"):
        attacks.known_overlay_attack(y, S, block=4, search=None)
    with pytest.raises(ValueError, match="beam_width must be >= 1, got 0"):
        attacks.known_overlay_attack(y, S, block=4, search="beam", beam_width=0)
    with pytest.raises(TypeError, match="beam_width must be an integer, got 2.0 of type float"):
        attacks.known_overlay_attack(y, S, block=4, search="beam", beam_width=2.0)
    with pytest.raises(ValueError, match=r"beam_width applies to search='beam' only, got beam_width=3 with "
                                         r"search='greedy'; pass search='beam' or leave beam_width out"):
        attacks.known_overlay_attack(y, S, block=4, beam_width=3)


# -- shapes, dtypes, inputs ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(16, 16), (13, 11), (12, 10, 3), (12, 10, 4), (9, 9, 2)])
def test_shapes_dtypes_and_untouched_inputs(rng, shape):
    overlays = [rng.random((12, 12, 3), dtype=np.float32) for _ in range(5)]
    y = rng.random((3,) + shape, dtype=np.float32)
    y_before, ov_before = y.copy(), [o.copy() for o in overlays]
    out = attacks.known_overlay_attack(y, overlays, k=2, block=4)
    gh, gw = krtio.grid_shape(shape, 4)
    assert out.recovered.shape == y.shape and out.recovered.dtype == np.float32
    assert 0.0 <= out.recovered.min() and out.recovered.max() <= 1.0
    assert out.selection.shape == (3, 2) and out.permutations.shape == (3, 2, gh * gw)
    assert out.explained.shape == (3,) and out.block == (4, 4)
    for sel, perms in zip(out.selection, out.permutations):
        assert len(set(sel.tolist())) == 2 and list(sel) == sorted(sel)
        for perm in perms:
            assert sorted(perm.tolist()) == list(range(gh * gw))
    assert np.array_equal(y, y_before) and all(np.array_equal(o, p) for o, p in zip(overlays, ov_before))
    if len(shape) == 3 and shape[2] in (2, 4):  # alpha channel passed through
        assert np.array_equal(out.recovered[..., -1], y[..., -1])


def test_one_image_list_and_stack_agree(rng):
    overlays, _, y, _ = _toy(rng, (13, 11), n=3)
    y = np.clip(y + rng.normal(0, 0.02, y.shape).astype(np.float32), 0, 1)  # not exactly solvable
    stack = attacks.known_overlay_attack(y, overlays, k=2, block=4)
    listed = attacks.known_overlay_attack(list(y), overlays, k=2, block=4)
    prepared = attacks.known_overlay_attack(y, krtio.prepare_overlays(overlays, (13, 11), block=4), k=2, block=4)
    for other in (listed, prepared):
        assert np.array_equal(other.recovered, stack.recovered)
        assert np.array_equal(other.permutations, stack.permutations)
    for i in range(3):
        one = attacks.known_overlay_attack(y[i], overlays, k=2, block=4)
        assert one.recovered.shape == (13, 11) and one.selection.shape == (2,)
        assert isinstance(one.explained, float)
        assert np.array_equal(one.recovered, stack.recovered[i])
        assert np.array_equal(one.selection, stack.selection[i])
        assert np.array_equal(one.permutations, stack.permutations[i])
    greedy = attacks.known_overlay_attack(y, overlays, k=2, block=4, sweeps=0, progress=True)
    assert np.all(stack.explained >= greedy.explained - 1e-6)  # sweeps only ever lower the energy


def test_rejects_bad_input(rng):
    S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    y = rng.random((2, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 1.5"):
        attacks.known_overlay_attack(y, S, alpha=1.5, block=4)
    with pytest.raises(ValueError, match=r"k must be in \[1, 4\], got 5"):
        attacks.known_overlay_attack(y, S, k=5, block=4)
    with pytest.raises(ValueError, match="block must be >= 1 pixel on each side, got 0"):
        attacks.known_overlay_attack(y, S, block=0)
    with pytest.raises(ValueError, match="sweeps must be >= 0, got -1"):
        attacks.known_overlay_attack(y, S, block=4, sweeps=-1)
    with pytest.raises(ValueError, match=r"perturbed\[1\] values must be in \[0, 1\], got range"):
        attacks.known_overlay_attack(y * np.array([1, 3], np.float32)[:, None, None], S, block=4)
    with pytest.raises(ValueError, match=r"perturbed values must be in \[0, 1\]"):
        attacks.known_overlay_attack(y[0] - 1, S, block=4)
    with pytest.raises(ValueError, match="perturbed must hold at least 1 image, got none"):
        attacks.known_overlay_attack([], S, block=4)
    with pytest.raises(ValueError, match=r"perturbed must all have the same shape, got \[\(7, 8\), \(8, 8\)\]"):
        attacks.known_overlay_attack([y[0], y[1, :7]], S, block=4)
    with pytest.raises(ValueError, match=r"perturbed must be a stack of shape \(N, H, W\) or \(N, H, W, C\)"):
        attacks.known_overlay_attack(y[None, ..., None], S, block=4)
    with pytest.raises(ValueError, match="overlays must hold at least one image, got an empty set"):
        attacks.known_overlay_attack(y, [], block=4)
    with pytest.raises(ValueError, match=r"overlays must be a sequence of images \(the set S\), got one array"):
        attacks.known_overlay_attack(y, S[0], block=4)
    with pytest.raises(TypeError, match="convert integer images"):
        attacks.known_overlay_attack((y * 255).astype(np.uint8), S, block=4)
    with pytest.raises(TypeError, match="progress must be True or False, got 1"):
        attacks.known_overlay_attack(y, S, block=4, progress=1)


# -- real faces ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setting(faces):
    provider = ip.targets.ProviderCNN.cached(faces=faces)
    test, train = provider.split_.test, provider.split_.train
    eigen = ip.targets.Eigenfaces().fit(faces.images[train], faces.labels[train])
    return {
        "x": faces.images[test],
        "labels": faces.labels[test],
        "ids": [f"olivetti-{i}" for i in test],
        "provider": provider,
        "eigen": eigen,
        "S": ip.data.overlay_set(),
    }


def _measure(setting, *, n=None, alpha=0.45, k=3, block=8, store=False):
    x, labels, ids = setting["x"][:n], setting["labels"][:n], setting["ids"][:n]
    y = krtio.perturb_batch(x, KEY, image_ids=ids, overlays=setting["S"], k=k, alpha=alpha, block=block, progress=False)
    if store:
        y = np.stack([ip.data.storage_roundtrip(im) for im in y])
    out = attacks.known_overlay_attack(y, setting["S"], alpha=alpha, k=k, block=block)
    b = out.permutations.shape[-1]
    found, all_found, blocks = [], [], []
    for image_id, sel, perms in zip(ids, out.selection, out.permutations):
        truth = krtio.plan(KEY, image_id, k=k, m=len(setting["S"]), b=b)
        true = dict(zip(truth.selection, truth.permutations))
        found.append(np.mean([v in true for v in sel]))
        all_found.append(set(sel.tolist()) == set(truth.selection))
        blocks.append(sum(int(np.sum(p == true[v])) for v, p in zip(sel, perms) if v in true) / (k * b))
    ssim = lambda imgs: np.mean([ip.metrics.ssim(a, c) for a, c in zip(x, imgs)])  # noqa: E731
    rates = {
        name: [ip.metrics.recognition_rate(setting[name], imgs, labels) for imgs in (x, y, out.recovered)]
        for name in ("eigen", "provider")
    }
    return {"found": np.mean(found), "all": np.mean(all_found), "blocks": np.mean(blocks),
            "ssim_perturbed": ssim(y), "ssim_attacked": ssim(out.recovered), "explained": out.explained, **rates}


@pytest.mark.parametrize("store", [False, True])
def test_knowing_S_breaks_krtio_at_the_papers_setting(setting, store):
    r = _measure(setting, store=store)
    # measured (alpha 0.45, k 3, block 8; 8-bit PNG in brackets), 120 faces, about 6 s on 2 cores:
    #   overlays found 0.953 (0.947); all 3 found 0.858 (0.842); blocks placed right 0.717 (0.710)
    #   SSIM to the clean face: perturbed 0.592, attacked 0.954 (0.949)
    #   Eigenfaces 0.95 clean, 0.84 perturbed (0.85), 0.93 attacked (0.93)
    #   provider CNN 0.99 clean, 0.32 perturbed, 0.98 attacked (0.97)
    assert r["found"] >= 0.9 and r["all"] >= 0.75 and r["blocks"] >= 0.6
    assert r["ssim_attacked"] >= 0.9 and r["ssim_perturbed"] <= 0.65
    assert r["provider"][1] <= 0.45 and r["provider"][2] >= 0.9
    assert r["eigen"][2] >= 0.85 and r["eigen"][2] >= r["eigen"][1]
    assert 0.6 <= np.mean(r["explained"]) <= 0.9  # measured 0.751 (0.746)


def test_knowing_S_breaks_krtio_at_low_alpha(setting):
    r = _measure(setting, n=40, alpha=0.3)
    # measured on the first 40 faces: found 0.99, all 3 found 0.95, blocks 0.80; SSIM 0.41 -> 0.94;
    # provider CNN 0.05 perturbed -> 0.93 attacked (on all 120: 0.986, 0.958, 0.811, 0.414 -> 0.947, 0.05 -> 0.94)
    assert r["found"] >= 0.9 and r["all"] >= 0.8
    assert r["ssim_attacked"] >= r["ssim_perturbed"] + 0.4
    assert r["provider"][1] <= 0.15 and r["provider"][2] >= 0.8


@pytest.fixture(scope="module")
def block_4(setting):
    """The first 10 held-out faces at 4-px blocks (alpha 0.45, k 3) and the greedy attack on them."""
    x, ids, S = setting["x"][:10], setting["ids"][:10], setting["S"]
    y = krtio.perturb_batch(x, KEY, image_ids=ids, overlays=S, block=4, progress=False)
    return x, ids, S, y, attacks.known_overlay_attack(y, S, block=4)


def _found(ids, selection, S, b):
    return np.array([len(set(sel.tolist()) & set(krtio.plan(KEY, i, k=3, m=len(S), b=b).selection))
                     for i, sel in zip(ids, selection)])


def test_block_4_beam_search_finds_more(block_4):
    x, ids, S, y, greedy = block_4
    beam = attacks.known_overlay_attack(y, S, block=4, search="beam", beam_width=2)
    b = greedy.permutations.shape[-1]
    found_greedy, found_beam = _found(ids, greedy.selection, S, b), _found(ids, beam.selection, S, b)
    # by construction greedy's path is among the beam's, and the lowest whole-image energy is kept
    assert np.all(beam.explained >= greedy.explained)
    # measured, overlays found per face: greedy [0, 3, 2, 1, 1, 1, 2, 3, 2, 0], beam [0, 3, 2, 1, 1, 1, 3, 3, 3, 1]
    # (0.50 -> 0.60; all 3 found 0.2 -> 0.4); SSIM after the attack 0.609 -> 0.661; 2.1 times greedy's time.
    # That the beam finds more is measured, not guaranteed: a smoother remainder need not hold more true overlays.
    assert found_beam.sum() >= found_greedy.sum() + 2  # more overlays identified ...
    assert np.sum((found_beam == 3) & (found_greedy < 3)) >= 1  # ... a face whose 3 only the beam finds ...
    ssim = lambda imgs: np.mean([ip.metrics.ssim(a, c) for a, c in zip(x, imgs)])  # noqa: E731
    assert ssim(beam.recovered) >= ssim(greedy.recovered) + 0.02  # ... and faces closer to the clean ones
    one = attacks.known_overlay_attack(y[:2], S, block=4, search="beam", beam_width=1)  # width 1: greedy, bit for bit
    assert np.array_equal(one.recovered, greedy.recovered[:2]) and np.array_equal(one.explained, greedy.explained[:2])
    assert np.array_equal(one.selection, greedy.selection[:2]) and np.array_equal(one.permutations, greedy.permutations[:2])


def test_block_4_resists_this_search_but_not_its_energy(block_4):
    # 4 x 4 blocks carry little texture each: the greedy start is poor and the local sweeps do not
    # repair it.  Yet the whole-image energy still prefers the true overlays, so a better search
    # could do more.  measured on the first 10 faces (about 5 s): overlays found 0.50, all 3 found
    # 0.20, blocks 0.095, SSIM 0.549 -> 0.609; the true plan has lower energy for 9 of 10 faces
    # (median ratio 0.54).  On all 120: 0.531, 0.158, 0.088, SSIM 0.548 -> 0.629, provider CNN
    # 0.14 -> 0.67, Eigenfaces 0.88 -> 0.91, 66 s.
    x, ids, S, y, out = block_4
    prep = krtio.PreparedOverlays(S, x.shape[1:], block=4)
    geo = ko._Geometry(prep, krtio.mix_weights(0.45, 3)[1])
    truth_lower, found = 0, []
    for i, image_id in enumerate(ids):
        truth = krtio.plan(KEY, image_id, k=3, m=len(S), b=prep.b)
        found.append(np.mean([v in truth.selection for v in out.selection[i]]))
        true_res, est_res = geo.to_blocks(y[i][..., None]), geo.to_blocks(y[i][..., None])
        for v, perm in zip(truth.selection, truth.permutations):
            true_res = true_res - geo.contribution(v, perm)
        for v, perm in zip(out.selection[i], out.permutations[i]):
            est_res = est_res - geo.contribution(v, perm)
        truth_lower += geo.energy(true_res) < geo.energy(est_res)
    ssim = [ip.metrics.ssim(a, b) for a, b in zip(x, out.recovered)]
    assert np.mean(found) <= 0.75 and np.mean(ssim) <= 0.75
    assert truth_lower >= 7


def test_overlays_found_compares_as_sets_and_refuses_mismatched_shapes():
    assert ip.attacks.overlays_found([[1, 4, 7], [0, 2, 3]], [[7, 1, 5], [3, 0, 2]]) == pytest.approx((2 / 3 + 1) / 2)
    assert ip.attacks.overlays_found([2, 5], [5, 2]) == 1.0  # one photo; the order drawn does not matter
    with pytest.raises(ValueError, match="k overlays for each of N >= 1 photos"):
        ip.attacks.overlays_found([[1, 2]], [[1, 2], [3, 4]])
