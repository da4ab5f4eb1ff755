"""k-RTIO: known answers, round trips, invariants and every validation rule."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import imgprivacy as ip
from imgprivacy import krtio
from imgprivacy.krtio._plan import _fisher_yates
from imgprivacy._resample import resize

VECTORS = json.loads((Path(__file__).parent / "vectors" / "krtio_v1.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])
ID = VECTORS["image_id"]


@pytest.fixture
def rng():
    return np.random.default_rng(20210901)


@pytest.fixture(scope="module")
def overlays():
    return ip.data.overlay_set()


def random_set(rng, m=6, shape=(20, 24, 3)):
    return [rng.random(shape, dtype=np.float32) for _ in range(m)]


# ----------------------------------------------------------------------------- known answers
def test_select_overlays_known_answer():
    v = VECTORS["select_overlays"]
    assert krtio.select_overlays(KEY, ID, k=v["k"], m=v["m"]) == v["expected"]


def test_block_permutation_known_answer():
    v = VECTORS["block_permutation"]
    assert krtio.block_permutation(KEY, ID, j=v["j"], b=v["b"]).tolist() == v["expected"]


def test_plan_agrees_with_the_single_functions():
    p = krtio.plan(KEY, ID, k=3, m=30, b=16)
    assert list(p.selection) == krtio.select_overlays(KEY, ID, k=3, m=30)
    for j in range(3):
        assert p.permutations[j].tolist() == krtio.block_permutation(KEY, ID, j=j + 1, b=16).tolist()


def formula_inputs():
    h, w = 5, 7
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(yy * w + xx) / (h * w - 1), xx / (w - 1), yy / (h - 1)], axis=-1).astype(np.float32)
    ovs = []
    for q in range(4):
        oy, ox = np.mgrid[0:6, 0:6]
        ovs.append(
            np.stack([((oy * 6 + ox + 7 * q) % 11) / 10, ((ox * (q + 1)) % 5) / 4, ((oy + q) % 3) / 2], -1).astype(np.float32)
        )
    return img, ovs


def test_end_to_end_pixel_vector():
    v = VECTORS["end_to_end"]
    img, ovs = formula_inputs()
    p = krtio.plan(KEY, ID, k=v["k"], m=len(ovs), b=9)
    assert list(p.selection) == v["selection"]
    assert [q.tolist() for q in p.permutations] == v["permutations"]
    out = krtio.perturb(img, KEY, image_id=ID, overlays=ovs, k=v["k"], alpha=v["alpha"], block=tuple(v["block"]))
    np.testing.assert_allclose(out, np.array(v["perturbed"]), atol=2e-7)


def test_end_to_end_follows_the_definition_by_hand():
    # Rebuild the perturbation from the specification with plain loops.
    img, ovs = formula_inputs()
    k, alpha, (bh, bw) = 2, 0.5, (2, 3)
    gh, gw = math.ceil(5 / bh), math.ceil(7 / bw)
    sel = krtio.select_overlays(KEY, ID, k=k, m=len(ovs))
    total = np.zeros((5, 7, 3))
    for j, s in enumerate(sel, start=1):
        fitted = resize(ovs[s], (gh * bh, gw * bw)).astype(np.float64)
        perm = krtio.block_permutation(KEY, ID, j=j, b=gh * gw)
        shuffled = np.empty_like(fitted)
        for p in range(gh * gw):
            r, c = divmod(p, gw)
            sr, sc = divmod(int(perm[p]), gw)
            shuffled[r * bh : (r + 1) * bh, c * bw : (c + 1) * bw] = fitted[sr * bh : (sr + 1) * bh, sc * bw : (sc + 1) * bw]
        total += shuffled[:5, :7]
    want = alpha * img + (1 - alpha) / k * total
    got = krtio.perturb(img, KEY, image_id=ID, overlays=ovs, k=k, alpha=alpha, block=(bh, bw))
    np.testing.assert_allclose(got, want, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300), st.data())
def test_vectorised_fisher_yates_equals_the_specification(b, data):
    draws = np.array([data.draw(st.integers(0, b - i)) for i in range(1, b + 1)])
    assert _fisher_yates(draws, b).tolist() == krtio.fisher_yates_reference(draws, b).tolist()


@pytest.mark.parametrize("b", [1, 2, 4096, 70000])
def test_fisher_yates_extremes(b):
    for draws in (np.zeros(b, dtype=np.int64), b - np.arange(1, b + 1)):
        assert np.array_equal(_fisher_yates(draws, b), krtio.fisher_yates_reference(draws, b))


def test_permutations_are_permutations_and_differ_by_id_and_j():
    a = krtio.block_permutation(KEY, "a", j=1, b=500)
    assert sorted(a.tolist()) == list(range(500))
    assert not np.array_equal(a, krtio.block_permutation(KEY, "b", j=1, b=500))
    assert not np.array_equal(a, krtio.block_permutation(KEY, "a", j=2, b=500))
    assert not np.array_equal(a, krtio.block_permutation(bytes(16), "a", j=1, b=500))


def test_selection_is_distinct_and_roughly_uniform():
    counts = np.zeros(30)
    for n in range(400):
        sel = krtio.select_overlays(KEY, f"IMG_{n}", k=3, m=30)
        assert len(set(sel)) == 3
        counts[sel] += 1
    # 1200 draws over 30 overlays: expect 40 each; a chi-square far beyond 29 dof would be a bug
    chi2 = float(((counts - 40) ** 2 / 40).sum())
    assert chi2 < 70


def test_keyspace_matches_formula_and_documents_the_paper_typo():
    assert krtio.keyspace(10, 4, 12) == math.comb(10, 4) * math.factorial(12) ** 4
    paper = math.factorial(12) ** 4 / math.factorial(6)  # what the printed formula evaluates to
    assert f"{paper:.1e}" == "7.3e+31"
    assert krtio.keyspace(30, 3, 64) > 2**128


# ----------------------------------------------------------------------------- round trips
channel_counts = st.sampled_from([None, 1, 2, 3, 4])


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 37),
    w=st.integers(1, 37),
    channels=channel_counts,
    alpha=st.floats(0.3, 1.0),
    k=st.integers(1, 5),
    bh=st.integers(1, 12),
    bw=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_roundtrip_any_shape(h, w, channels, alpha, k, bh, bw, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    img = rng.random(shape, dtype=np.float32)
    ovs = random_set(rng, m=5, shape=(9, 13, 3))
    out = krtio.perturb(img, KEY, image_id=f"id{seed}", overlays=ovs, k=k, alpha=alpha, block=(bh, bw))
    assert out.shape == img.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    back = krtio.recover(out, KEY, image_id=f"id{seed}", overlays=ovs, k=k, alpha=alpha, block=(bh, bw))
    assert np.abs(back - img).max() < 1e-5 / alpha
    if channels in (2, 4):  # alpha channel untouched, bit for bit
        assert np.array_equal(out[..., -1], img[..., -1])
        assert np.array_equal(back[..., -1], img[..., -1])


def test_perturb_stays_in_range_at_the_extremes(overlays):
    for value in (0.0, 1.0):
        img = np.full((40, 40, 3), value, dtype=np.float32)
        white = [np.ones((10, 10, 3), dtype=np.float32)] * 3
        for ovs in (white, overlays):
            out = krtio.perturb(img, KEY, image_id="x", overlays=ovs, k=3, alpha=0.45, block=4)
            assert 0.0 <= out.min() and out.max() <= 1.0


def test_perturb_equals_alpha_mix_with_overlay_for(rng, overlays):
    img = rng.random((50, 61, 3), dtype=np.float32)
    ov = krtio.overlay_for(KEY, "p", overlays=overlays, shape=img.shape, k=3, block=8)
    out = krtio.perturb(img, KEY, image_id="p", overlays=overlays, k=3, alpha=0.45, block=8)
    np.testing.assert_allclose(out, 0.45 * img + 0.55 * ov, atol=1e-6)
    parts = krtio.overlay_for(KEY, "p", overlays=overlays, shape=img.shape, k=3, block=8, combined=False)
    assert parts.shape == (3, 50, 61, 3)
    np.testing.assert_allclose(parts.mean(axis=0), ov, atol=1e-6)


def test_grey_image_uses_luminance_of_the_overlay(rng):
    ovs = random_set(rng, m=3)
    grey = krtio.overlay_for(KEY, "g", overlays=ovs, shape=(20, 24), k=1, block=4)
    colour = krtio.overlay_for(KEY, "g", overlays=ovs, shape=(20, 24, 3), k=1, block=4)
    np.testing.assert_allclose(grey, colour @ np.array(krtio.LUMA, dtype=np.float32), atol=1e-6)


def test_inputs_are_not_modified(rng, overlays):
    img = rng.random((16, 16, 4), dtype=np.float32)
    before = img.copy()
    krtio.perturb(img, KEY, image_id="x", overlays=overlays)
    krtio.recover(img, KEY, image_id="x", overlays=overlays)
    assert np.array_equal(img, before)


def test_float64_input_is_accepted_and_float32_returned(rng, overlays):
    img = rng.random((16, 16))
    assert krtio.perturb(img, KEY, image_id="x", overlays=overlays).dtype == np.float32


def test_block_larger_than_image_means_one_unshuffled_block(rng):
    ovs = random_set(rng, m=3)
    assert krtio.grid_shape((10, 10), 64) == (1, 1)
    img = rng.random((10, 10, 3), dtype=np.float32)
    out = krtio.perturb(img, KEY, image_id="x", overlays=ovs, k=1, block=64)
    sel = krtio.select_overlays(KEY, "x", k=1, m=3)[0]
    np.testing.assert_allclose(out, 0.45 * img + 0.55 * resize(ovs[sel], (64, 64))[:10, :10], atol=1e-6)


# ----------------------------------------------------------------------------- storage
@pytest.mark.parametrize("alpha", [0.3, 0.45, 0.7])
def test_16_bit_storage_recovers_8_bit_originals_exactly(alpha, overlays):
    faces = ip.data.load_faces("olivetti").images[:20]
    originals = ip.data.to_float(ip.data.to_uint(faces))  # genuine 8-bit photos
    for i, img in enumerate(originals):
        out = krtio.perturb(img, KEY, image_id=f"f{i}", overlays=overlays, alpha=alpha)
        stored = ip.data.to_float(ip.data.to_uint(out, depth=16))
        back = krtio.recover(stored, KEY, image_id=f"f{i}", overlays=overlays, alpha=alpha)
        assert np.array_equal(ip.data.to_uint(back), ip.data.to_uint(img))


@pytest.mark.parametrize("alpha", [0.4, 0.45, 0.6, 1.0])
def test_8_bit_storage_recovers_within_one_level(alpha, overlays, rng):
    img = ip.data.to_float(rng.integers(0, 256, size=(96, 80, 3), dtype=np.uint8))
    out = krtio.perturb(img, KEY, image_id="c", overlays=overlays, alpha=alpha)
    stored = ip.data.to_float(ip.data.to_uint(out, depth=8))
    back = krtio.recover(stored, KEY, image_id="c", overlays=overlays, alpha=alpha)
    diff = np.abs(ip.data.to_uint(back).astype(int) - ip.data.to_uint(img).astype(int))
    assert diff.max() <= 1


# ----------------------------------------------------------------------------- secrecy
@pytest.fixture(scope="module")
def face():
    return ip.data.load_faces("olivetti").images[0]


def test_correct_key_recovers_a_real_face(face, overlays):
    out = krtio.perturb(face, KEY, image_id=ID, overlays=overlays)
    assert ip.metrics.ssim(face, out) < 0.5
    assert ip.metrics.ssim(face, krtio.recover(out, KEY, image_id=ID, overlays=overlays)) > 0.999


@pytest.mark.parametrize(
    "change",
    [
        {"key": bytes(16)},
        {"image_id": "IMG_0002.png"},
        {"overlays": "other set"},
        {"block": 16},
    ],
    ids=["wrong key", "wrong id", "wrong overlay set", "wrong block"],
)
def test_anything_wrong_does_not_recover(change, face, overlays, rng):
    out = krtio.perturb(face, KEY, image_id=ID, overlays=overlays)
    args = {"key": KEY, "image_id": ID, "overlays": overlays, "k": 3, "block": 8}
    args.update(change)
    if args["overlays"] == "other set":
        args["overlays"] = [np.asarray(o)[::-1, ::-1] for o in overlays]  # the same images, flipped
    key = args.pop("key")
    wrong = krtio.recover(out, key, **args)
    assert ip.metrics.ssim(face, wrong) < 0.6
    assert ip.metrics.psnr(face, wrong) < 20


@pytest.mark.parametrize("change", [{"k": 4}, {"k": 2}, {"alpha": 0.5}])
def test_wrong_public_parameters_do_not_recover_exactly(change, face, overlays):
    # A finding worth knowing: k and alpha are not secret (they are stored in the
    # file's metadata), and a near miss undoes much of the overlay, because the
    # first k picks of a longer selection are the same.  Only the key hides the face.
    out = krtio.perturb(face, KEY, image_id=ID, overlays=overlays)
    args = {"k": 3, "alpha": 0.45}
    args.update(change)
    wrong = krtio.recover(out, KEY, image_id=ID, overlays=overlays, **args)
    right = krtio.recover(out, KEY, image_id=ID, overlays=overlays)
    assert ip.metrics.psnr(face, wrong) < 30 < ip.metrics.psnr(face, right)


# ----------------------------------------------------------------------------- batch path
def test_batch_equals_single_and_prepares_once(rng, overlays):
    faces = ip.data.load_faces("olivetti").images[:6]
    ids = [f"face{i}" for i in range(6)]
    batch = krtio.perturb_batch(faces, KEY, image_ids=ids, overlays=overlays, progress=False)
    assert isinstance(batch, np.ndarray) and batch.shape == faces.shape
    for img, i, out in zip(faces, ids, batch):
        assert np.array_equal(out, krtio.perturb(img, KEY, image_id=i, overlays=overlays))
    back = krtio.recover_batch(batch, KEY, image_ids=ids, overlays=overlays, progress=False)
    assert np.abs(back - faces).max() < 1e-5
    mixed = [rng.random((10, 12), dtype=np.float32), rng.random((7, 9, 3), dtype=np.float32)]
    out = krtio.perturb_batch(mixed, KEY, image_ids=["a", "b"], overlays=overlays, progress=False)
    assert isinstance(out, list) and [o.shape for o in out] == [(10, 12), (7, 9, 3)]


def test_prepared_overlays_reused_and_replaced_when_geometry_differs(rng, overlays):
    prep = krtio.prepare_overlays(overlays, (64, 64), block=8)
    img = rng.random((64, 64), dtype=np.float32)
    a = krtio.perturb(img, KEY, image_id="x", overlays=prep)
    assert np.array_equal(a, krtio.perturb(img, KEY, image_id="x", overlays=overlays))
    chosen = krtio.plan(KEY, "x", k=3, m=prep.m, b=prep.b).selection
    assert sorted(prep.cached_indices()) == sorted(chosen)  # only the chosen overlays were fitted
    other = rng.random((30, 20, 3), dtype=np.float32)
    b = krtio.perturb(other, KEY, image_id="x", overlays=prep, block=4)
    assert np.array_equal(b, krtio.perturb(other, KEY, image_id="x", overlays=overlays, block=4))


def test_prepare_overlays_returns_a_matching_preparation_unchanged(rng):
    S = random_set(rng)
    prep = krtio.prepare_overlays(S, (16, 20, 3), block=4)
    assert krtio.prepare_overlays(prep, (16, 20, 3), block=4) is prep
    assert krtio.prepare_overlays(prep, (16, 20, 4), block=(4, 4)) is prep  # alpha does not count
    other = krtio.prepare_overlays(prep, (16, 20, 3), block=8)
    assert other is not prep and other.block == (8, 8) and other.overlays == prep.overlays
    grey = krtio.prepare_overlays(prep, (16, 20), block=4)
    assert grey is not prep and grey.channels == 1


def test_overlay_cache_prepares_each_geometry_once(rng):
    S = random_set(rng)
    cache = krtio.OverlayCache(S)
    assert len(cache.overlays) == len(S) and all(a is b for a, b in zip(cache.overlays, S))
    prep = cache.get((16, 20, 3), block=4)
    assert isinstance(prep, krtio.PreparedOverlays) and prep.matches((16, 20, 3), (4, 4))
    assert cache.get((16, 20, 3), block=4) is prep
    assert cache.get((16, 20, 4), block=(4, 4)) is prep  # same colour channels, same entry
    other_block = cache.get((16, 20, 3), block=8)
    assert other_block is not prep and other_block.block == (8, 8)
    assert cache.get((16, 20, 3), block=(4, 8)) is not prep
    assert cache.get((16, 20), block=4) is not prep and cache.get((16, 20), block=4).channels == 1
    assert cache.get((17, 20, 3), block=4) is not prep
    assert len(cache._prepared) == 5


def test_overlay_cache_keeps_a_preparation_and_defaults_to_the_bundled_set(rng):
    S = random_set(rng)
    prep = krtio.prepare_overlays(S, (16, 20, 3), block=4)
    cache = krtio.OverlayCache(prep)
    assert cache.get((16, 20, 3), block=4) is prep and cache.overlays == prep.overlays
    assert len(krtio.OverlayCache(None).overlays) == len(ip.data.overlay_set())


def test_batch_uses_one_preparation_per_geometry(rng, monkeypatch):
    S = random_set(rng)
    built = []
    original = krtio.PreparedOverlays.__init__

    def counting(self, *args, **kwargs):
        built.append(tuple(args[1]))
        original(self, *args, **kwargs)

    monkeypatch.setattr(krtio.PreparedOverlays, "__init__", counting)
    images = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(3)] + [rng.random((8, 8), dtype=np.float32)]
    krtio.perturb_batch(images, KEY, image_ids=list("abcd"), overlays=S, block=4, progress=False)
    assert built == [(8, 8, 3), (8, 8)]


def test_resolve_overlays(rng):
    S = random_set(rng)
    assert krtio.resolve_overlays(S) is S
    assert krtio.resolve_overlays(krtio.prepare_overlays(S, (8, 8), block=4)) == tuple(S)
    assert len(krtio.resolve_overlays(None)) == len(ip.data.overlay_set())
    with pytest.raises(TypeError, match="overlays must be a sequence of overlay images"):
        krtio.resolve_overlays(np.stack(S))
    with pytest.raises(ValueError, match="overlays must hold at least one image, got an empty set"):
        krtio.resolve_overlays([])


def test_mix_weights_never_overflow_and_are_validated():
    for alpha in (0.05, 0.3, 0.45, 0.7, 0.999, 1.0):
        for k in (1, 2, 3, 5, 10):
            a, w = krtio.mix_weights(alpha, k)
            assert a.dtype == np.float32 and w.dtype == np.float32
            assert np.float32(a + np.float32(w * np.float32(k))) <= np.float32(1.0)
            assert abs(float(w) - (1 - alpha) / k) < 1e-6
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 1.5"):
        krtio.mix_weights(1.5, 3)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        krtio.mix_weights(0.45, 0)


def test_format_1_prf_pieces_are_public():
    assert krtio.id_tag is ip._prf.id_tag and krtio.encode_block is ip._prf.encode_block and krtio.prf is ip._prf.prf
    value = krtio.prf(KEY, ID, 0, 1, 0)
    assert value == int.from_bytes(ip._prf.aes_ecb(KEY, krtio.encode_block(krtio.id_tag(ID), 0, 1, 0)), "big")


def test_batch_refuses_repeated_ids(overlays, rng):
    x = rng.random((2, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="image_ids must be unique, got 'a' at positions 0 and 1"):
        krtio.perturb_batch(x, KEY, image_ids=["a", "a"], overlays=overlays, progress=False)
    with pytest.raises(ValueError, match="image_ids must have one id per image, got 1 ids for 2 images"):
        krtio.perturb_batch(x, KEY, image_ids=["a"], overlays=overlays, progress=False)


# ----------------------------------------------------------------------------- validation
@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    return rng.random((8, 8), dtype=np.float32), random_set(rng, m=3)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"alpha": 0.0}, ValueError, r"alpha must be in \(0, 1\], got 0.0"),
        ({"alpha": 1.5}, ValueError, r"alpha must be in \(0, 1\], got 1.5"),
        ({"alpha": "0.4"}, TypeError, "alpha must be a real number"),
        ({"k": 0}, ValueError, r"k must be in \[1, 3\], got 0"),
        ({"k": 4}, ValueError, r"k must be in \[1, 3\], got 4"),
        ({"k": 2.0}, TypeError, "k must be an integer, got 2.0"),
        ({"block": 0}, ValueError, "block must be >= 1 pixel on each side, got 0"),
        ({"block": (4, 0)}, ValueError, r"block must be >= 1 pixel on each side, got \(4, 0\)"),
        ({"block": (1, 2, 3)}, TypeError, "block must be an int or a pair"),
        ({"block": 2.5}, TypeError, "block must be an int or a pair"),
        ({"image_id": ""}, ValueError, "image_id must not be empty"),
        ({"image_id": 7}, TypeError, "image_id must be a str or bytes"),
        ({"overlays": []}, ValueError, "overlays must hold at least one image"),
        ({"overlays": [np.zeros((4, 4, 3), dtype=np.uint8)]}, TypeError, r"overlays\[0\] must be a float image"),
        ({"overlays": [np.zeros((4, 4, 4), dtype=np.float32)]}, ValueError, r"overlays\[0\] must have shape \(h, w\) or \(h, w, 3\)"),
    ],
)
def test_parameter_validation(small, kwargs, exc, match):
    img, ovs = small
    args = {"image_id": "x", "overlays": ovs}
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        krtio.perturb(img, KEY, **args)


@pytest.mark.parametrize(
    ("image", "exc", "match"),
    [
        (np.zeros((8, 8), dtype=np.uint8), TypeError, "image must be a floating-point image .* got dtype uint8; convert"),
        (np.full((8, 8), 1.5, dtype=np.float32), ValueError, r"image values must be in \[0, 1\], got range \[1.5, 1.5\]"),
        (np.full((8, 8), np.nan, dtype=np.float32), ValueError, "image must be finite"),
        (np.zeros((8,), dtype=np.float32), ValueError, r"image must have shape \(H, W\) or \(H, W, C\), got shape \(8,\)"),
        (np.zeros((8, 8, 5), dtype=np.float32), ValueError, r"image must have 1 \(grey\), .* channels, got shape \(8, 8, 5\)"),
        (np.zeros((0, 8), dtype=np.float32), ValueError, "image must be at least 1x1 pixels"),
        ([[0.5]], TypeError, "image must be a numpy array"),
    ],
)
def test_image_validation(small, image, exc, match):
    _, ovs = small
    with pytest.raises(exc, match=match):
        krtio.perturb(image, KEY, image_id="x", overlays=ovs)


def test_recover_validates_its_input_name(small):
    _, ovs = small
    with pytest.raises(ValueError, match=r"perturbed values must be in \[0, 1\]"):
        krtio.recover(np.full((4, 4), 2.0), KEY, image_id="x", overlays=ovs)


def test_plan_validation():
    with pytest.raises(ValueError, match=r"k must be in \[1, 30\], got 31"):
        krtio.select_overlays(KEY, "x", k=31, m=30)
    with pytest.raises(ValueError, match="m must be >= 1, got 0"):
        krtio.select_overlays(KEY, "x", k=1, m=0)
    with pytest.raises(ValueError, match=r"j must be in \[1, 16777215\], got 0"):
        krtio.block_permutation(KEY, "x", j=0, b=4)
    with pytest.raises(ValueError, match=r"b must be in \[1, 4294967295\], got 0"):
        krtio.block_permutation(KEY, "x", j=1, b=0)
    with pytest.raises(ValueError, match=r"k must be in \[1, 10\], got 11"):
        krtio.keyspace(10, 11, 4)


def test_two_threads_and_one_thread_give_identical_results(monkeypatch, overlays, rng):
    img = rng.random((1001, 257, 3), dtype=np.float32)  # >= 4 strips (threaded), a partial last strip
    two = krtio.perturb(img, KEY, image_id="t", overlays=overlays, block=4)
    monkeypatch.setenv("IMGPRIVACY_THREADS", "1")
    one = krtio.perturb(img, KEY, image_id="t", overlays=overlays, block=4)
    assert np.array_equal(one, two)
    assert np.abs(krtio.recover(two, KEY, image_id="t", overlays=overlays, block=4) - img).max() < 1e-5


def test_overlay_resampling_in_strips_gives_the_bits_of_the_whole_image(monkeypatch):
    """resize works on strips of columns (memory); the strip width changes no bit of format 1's fitted overlays."""
    from imgprivacy import _resample

    rng = np.random.default_rng(0)
    for shape, out in (((300, 700, 3), (64, 64)), ((50, 90), (97, 31)), ((40, 30, 3), (200, 150))):
        img = rng.random(shape, dtype=np.float32)
        default = resize(img, out)
        widths = {}
        for strip in (1 << 40, 8):  # the whole image at once; one column at a time
            monkeypatch.setattr(_resample, "_STRIP_BYTES", strip)
            widths[strip] = resize(img, out)
        monkeypatch.undo()
        assert default.dtype == np.float32 and default.shape[:2] == out
        assert np.array_equal(default, widths[1 << 40]) and np.array_equal(widths[8], widths[1 << 40])
