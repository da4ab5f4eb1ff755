"""Robust retraining (section 6.3, Fig. 16): k-RTIO augmentation and the provider's RobustCNN."""

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import models as M
from imgprivacy.attacks import krtio_augment
from imgprivacy.targets import ProviderCNN, RobustCNN, robust_retrain

USER_KEY = bytes(range(16))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def toy_overlays(rng):
    return [rng.random((12, 20, 3), dtype=np.float32) for _ in range(5)]


@pytest.fixture
def toy_faces(rng):
    """Three separable 'people', six noisy 16 x 16 faces each."""
    centres = rng.random((3, 16, 16))
    x = np.clip(np.repeat(centres, 6, axis=0) + rng.normal(0, 0.05, (18, 16, 16)), 0, 1).astype(np.float32)
    return x, np.repeat([10, 20, 30], 6)


# --------------------------------------------------------------------------- krtio_augment
@pytest.mark.parametrize("shape", [(10, 12), (10, 12, 3), (16, 16)])
@pytest.mark.parametrize("copies", [1, 3])
def test_augment_shapes_label_order_and_clean_part(rng, toy_overlays, shape, copies):
    x = rng.random((4,) + shape, dtype=np.float32)
    before = x.copy()
    labels = np.array([5, 1, 5, 9])
    xa, ya = krtio_augment(x, labels, overlays=toy_overlays, blocks=(4, (3, 5)), k=2, copies=copies)
    assert xa.shape == ((copies + 1) * 4,) + shape and xa.dtype == np.float32
    assert ya.tolist() == labels.tolist() * (copies + 1)
    np.testing.assert_array_equal(xa[:4], x)  # the clean faces first, untouched
    np.testing.assert_array_equal(x, before)  # the input is not modified
    assert float(xa.min()) >= 0.0 and float(xa.max()) <= 1.0
    for i in range(4, len(xa)):
        assert not np.allclose(xa[i], x[i % 4], atol=0.01)


def test_augment_is_k_rtio_with_keys_of_the_provider(rng, toy_overlays):
    x = rng.random((6, 16, 16), dtype=np.float32)
    alphas, blocks = (0.4, 0.5), (4, 8)
    xa, _, params = krtio_augment(x, np.arange(6), overlays=toy_overlays, alphas=alphas, blocks=blocks, k=3, copies=2,
                                  return_params=True)
    assert len(params) == 12 and [p.source for p in params] == list(range(6)) * 2
    keys = [p.key for p in params]
    assert len(set(keys)) == 12 and USER_KEY not in keys  # a fresh key per perturbed face
    assert {p.alpha for p in params} <= set(alphas) and {p.block for p in params} <= {(4, 4), (8, 8)}
    for row, p in zip(xa[6:], params):
        again = ip.krtio.perturb(x[p.source], p.key, image_id=p.image_id, overlays=toy_overlays, k=3, alpha=p.alpha,
                                 block=p.block)
        np.testing.assert_array_equal(row, again)
    assert "key" not in repr(params[0])  # throwaway keys are still never shown


def test_augment_never_uses_an_excluded_user_key(rng, toy_overlays):
    x = rng.random((3, 16, 16), dtype=np.float32)
    _, _, first = krtio_augment(x, [0, 1, 2], overlays=toy_overlays, return_params=True)
    user_key = first[0].key  # suppose the user's key is the provider's first draw
    xa, _, params = krtio_augment(x, [0, 1, 2], overlays=toy_overlays, exclude_keys=[user_key], return_params=True)
    assert user_key not in {p.key for p in params}
    users_own = ip.krtio.perturb(x[0], user_key, image_id=params[0].image_id, overlays=toy_overlays,
                                 alpha=params[0].alpha, block=params[0].block)
    assert not any(np.allclose(row, users_own, atol=1e-3) for row in xa)


def test_augment_is_deterministic_with_its_seed(rng, toy_overlays):
    x = rng.random((5, 16, 16), dtype=np.float32)
    a, ya = krtio_augment(x, np.arange(5), overlays=toy_overlays, seed=3)
    b, yb = krtio_augment(x, np.arange(5), overlays=toy_overlays, seed=3)
    c, _ = krtio_augment(x, np.arange(5), overlays=toy_overlays, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[5:], c[5:])


def test_augment_uses_the_default_overlay_set(rng):
    x = rng.random((2, 16, 16), dtype=np.float32)
    a, _ = krtio_augment(x, [0, 1])
    b, _ = krtio_augment(x, [0, 1], overlays=ip.data.overlay_set())
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ({"alphas": (0.4, 1.5)}, ValueError, r"alphas\[1\] must be in \(0, 1\], got 1.5"),
        ({"alphas": ()}, ValueError, r"alphas must hold at least one value, got an empty tuple"),
        ({"alphas": 0.45}, TypeError, r"alphas must be a non-empty list or tuple, got 0.45"),
        ({"blocks": (4, 0)}, ValueError, r"blocks\[1\] must be >= 1 pixel on each side, got 0"),
        ({"blocks": []}, ValueError, r"blocks must hold at least one value, got an empty list"),
        ({"blocks": (4.5,)}, TypeError, r"blocks\[0\] must be an int or a pair"),
        ({"k": 6}, ValueError, r"k must be in \[1, 5\], got 6"),
        ({"copies": 0}, ValueError, r"copies must be >= 1, got 0"),
        ({"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
        ({"exclude_keys": [b"short"]}, ValueError, r"key must be 16 bytes"),
        ({"exclude_keys": USER_KEY}, TypeError, r"exclude_keys must be a list of 16-byte keys, got bytes"),
        ({"progress": 1}, TypeError, r"progress must be True or False, got 1"),
        ({"overlays": []}, ValueError, r"overlays must hold at least one image, got an empty set"),
    ],
)
def test_augment_validation_names_the_parameter(rng, toy_overlays, options, error, match):
    x = rng.random((2, 16, 16), dtype=np.float32)
    kwargs = {"overlays": toy_overlays, **options}
    with pytest.raises(error, match=match):
        krtio_augment(x, [0, 1], **kwargs)


def test_augment_validates_images_and_labels(rng, toy_overlays):
    x = rng.random((2, 16, 16), dtype=np.float32)
    with pytest.raises(ValueError, match=r"labels must have one entry per image, shape \(2,\), got shape \(3,\)"):
        krtio_augment(x, [0, 1, 2], overlays=toy_overlays)
    with pytest.raises(ValueError, match=r"images must hold at least 1 face, got none"):
        krtio_augment(x[:0], [], overlays=toy_overlays)
    with pytest.raises(ValueError, match=r"images\[1\] values must be in \[0, 1\]"):
        krtio_augment(x * np.array([1, 3], np.float32)[:, None, None], [0, 1], overlays=toy_overlays)


# --------------------------------------------------------------------------- RobustCNN
def test_robust_cnn_round_trip(tmp_path, toy_faces, toy_overlays):
    x, y = toy_faces
    clf = RobustCNN(overlays=toy_overlays, epochs=8, augment=False, alphas=[0.45, 0.5], blocks=[4, (4, 8)], k=2, copies=2)
    assert repr(clf) == "RobustCNN(overlays=<5 images>, epochs=8, augment=False, alphas=(0.45, 0.5), blocks=(4, (4, 8)), k=2, copies=2)"
    with pytest.raises(RuntimeError, match=r"this RobustCNN is not fitted yet: call fit\(images, labels\) or RobustCNN.cached\(\)"):
        clf.predict(x)
    clf.fit(x, y, progress=False, device="cpu")
    assert clf.n_training_images_ == 54 and clf.history_.epochs == 8
    assert clf.overlay_fingerprint_ == ip.data.overlay_fingerprint(toy_overlays)
    path = clf.save(tmp_path / "robust.pt", dataset="toy", accuracy=0.5)
    back = RobustCNN.from_checkpoint(path)
    np.testing.assert_array_equal(back.predict(x), clf.predict(x))
    assert (back.alphas, back.blocks, back.k, back.copies, back.epochs) == ((0.45, 0.5), (4, (4, 8)), 2, 2, 8)
    assert back.overlay_fingerprint_ == clf.overlay_fingerprint_ and back.n_training_images_ == 54
    assert back.overlays is None and back.dataset_ == "toy" and back.accuracy_ == 0.5 and back.history_ == clf.history_
    assert RobustCNN.from_checkpoint(path, overlays=toy_overlays).overlays is toy_overlays
    with pytest.raises(ValueError, match=r"the overlays given .* is not the overlay set this RobustCNN was trained with"):
        RobustCNN.from_checkpoint(path, overlays=toy_overlays[:4])
    with pytest.raises(ValueError, match=r"does not hold a ProviderCNN \(it holds a RobustCNN\)"):
        ProviderCNN.from_checkpoint(path)
    plain = ProviderCNN(epochs=1, augment=False).fit(x, y, progress=False, device="cpu").save(tmp_path / "plain.pt")
    with pytest.raises(ValueError, match=r"does not hold a RobustCNN \(it holds a ProviderCNN\)"):
        RobustCNN.from_checkpoint(plain)


def test_robust_retrain_and_make(toy_faces, toy_overlays):
    x, y = toy_faces
    clf = robust_retrain(x, y, overlays=toy_overlays, epochs=8, augment=False, blocks=(4,), progress=False, device="cpu")
    assert isinstance(clf, RobustCNN) and clf.epochs == 8 and clf.score(x, y) == 1.0
    assert ip.targets.make("robust-cnn", copies=2).copies == 2 and ip.targets.NAMES["robust-cnn"] == "RobustCNN"
    with pytest.raises(ValueError, match=r"alphas\[0\] must be in \(0, 1\], got 0.0"):
        RobustCNN(overlays=toy_overlays, alphas=(0,)).fit(x, y, progress=False)


def test_cached_robust_cnn_reaches_its_recorded_accuracy(faces):
    robust = RobustCNN.cached(faces=faces)
    split = robust.split_
    assert split.fingerprint == ProviderCNN.cached(faces=faces).split_.fingerprint  # the provider's split
    assert robust.dataset_ == "olivetti" and robust.n_training_images_ == 560
    assert robust.overlay_fingerprint_ == ip.data.overlay_set().fingerprint
    acc = robust.score(faces.images[split.test], faces.labels[split.test])
    assert acc == pytest.approx(robust.accuracy_, abs=1e-6) and acc >= 0.95  # measured 0.992 (119 of 120)
    assert M.checkpoint_dir().joinpath(M.CACHED_FILES["robust"]).stat().st_size < 600_000  # 374 KB


def test_cached_robust_cnn_refuses_another_default_overlay_set(monkeypatch, faces):
    default = ip.data.overlay_set()
    other = ip.data.OverlaySet(default.images[::-1], default.names[::-1], ip.data.overlay_fingerprint(default.images[::-1]), "default")
    monkeypatch.setattr(ip.data, "overlay_set", lambda source="default": other)
    with pytest.raises(ValueError, match=r"the default overlay set .* is not the overlay set this RobustCNN was trained with"):
        RobustCNN.cached(faces=faces)


def test_robust_cnn_improves_on_k_rtio_faces_over_the_plain_one(faces):
    """Section 6.3, Fig. 16 on a small seeded run: 10 people x 7 training faces, 30 held out."""
    split = M.split_per_subject(faces.labels, subjects=10, train_per_subject=7, seed=0, images=faces.images)
    xtr, ytr = faces.images[split.train], faces.labels[split.train]
    xte, yte = faces.images[split.test], faces.labels[split.test]
    plain = ProviderCNN(epochs=30, seed=0).fit(xtr, ytr, progress=False, device="cpu")
    robust = RobustCNN(epochs=30, seed=0).fit(xtr, ytr, progress=False, device="cpu")
    overlays = ip.data.overlay_set()
    _, _, params = krtio_augment(xtr, ytr, overlays=overlays, seed=0, return_params=True)  # the keys robust trained on
    assert USER_KEY not in {p.key for p in params}
    ids = [f"olivetti/{i}" for i in split.test]
    scores = {}
    for alpha in (0.45, 0.5):  # the paper's cells: alpha in {0.45, 0.5} x block in {4, 8, 16, 64}
        for block in (4, 8, 16, 64):
            perturbed = ip.krtio.perturb_batch(xte, USER_KEY, image_ids=ids, overlays=overlays, k=3, alpha=alpha,
                                               block=block, progress=False)
            scores[alpha, block] = (plain.score(perturbed, yte), robust.score(perturbed, yte))
    plain_mean = np.mean([p for p, _ in scores.values()])
    robust_mean = np.mean([r for _, r in scores.values()])
    # measured (torch 2.13 CPU, ~26 s on 2 busy cores): clean plain 0.967, robust 1.0; on the 8 k-RTIO cells
    # plain 0.27-0.57 (mean 0.41), robust 0.73-0.93 (mean 0.87), robust ahead in all 8
    assert plain.score(xte, yte) >= 0.9 and robust.score(xte, yte) >= 0.9
    assert robust_mean >= plain_mean + 0.15, scores
    assert sum(r >= p for p, r in scores.values()) >= 7, scores  # better (or equal) in nearly every cell
