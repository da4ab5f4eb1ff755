"""The provider's recognisers: interface, behaviour on real faces, validation."""

import numpy as np
import pytest

import imgprivacy as ip


@pytest.fixture(scope="module")
def split():
    faces = ip.data.load_faces("olivetti")
    index = np.arange(len(faces))
    train, test = index[index % 10 < 5], index[index % 10 >= 5]
    return faces.images[train], faces.labels[train], faces.images[test], faces.labels[test]


def test_eigenfaces_recognises_held_out_faces(split):
    xtr, ytr, xte, yte = split
    model = ip.targets.Eigenfaces().fit(xtr, ytr)
    assert model.score(xtr, ytr) == 1.0
    assert model.score(xte, yte) > 0.8  # measured 0.885 on the 200 held-out faces
    assert model.score(xte, yte) == ip.metrics.recognition_rate(model, xte, yte)
    assert set(model.predict(xte)) <= set(model.classes_)


def test_eigenfaces_ignores_brightness_and_contrast(split):
    xtr, ytr, xte, yte = split
    model = ip.targets.Eigenfaces().fit(xtr, ytr)
    dimmed = 0.2 + 0.5 * xte
    assert np.array_equal(model.predict(dimmed), model.predict(xte))


def test_eigenfaces_is_not_fooled_by_noise_but_by_an_overlay(split):
    xtr, ytr, xte, yte = split
    model = ip.targets.Eigenfaces().fit(xtr, ytr)
    rng = np.random.default_rng(0)
    noisy = np.clip(xte + rng.normal(0, 0.05, xte.shape), 0, 1).astype(np.float32)
    assert model.score(noisy, yte) > 0.75
    china = ip.krtio.prepare_overlays(ip.data.overlay_set(), (64, 64), block=8).fitted(16)[..., 0]
    assert model.score(ip.attacks.naive_overlay(xte, china, alpha=0.45), yte) < 0.3  # measured 0.04


def test_eigenfaces_validation(split):
    xtr, ytr, xte, _ = split
    with pytest.raises(RuntimeError, match="not fitted yet"):
        ip.targets.Eigenfaces().predict(xte)
    with pytest.raises(ValueError, match=r"labels must have one entry per image, got shape \(3,\) for 200 images"):
        ip.targets.Eigenfaces().fit(xtr, ytr[:3])
    with pytest.raises(ValueError, match="labels must name at least 2 people"):
        ip.targets.Eigenfaces().fit(xtr, np.zeros(len(xtr)))
    with pytest.raises(ValueError, match=r"n_components must be in \[1, 200\], got 500"):
        ip.targets.Eigenfaces(n_components=500).fit(xtr, ytr)
    model = ip.targets.Eigenfaces(n_components=10).fit(xtr, ytr)
    with pytest.raises(ValueError, match=r"images must have the training shape \(64, 64\), got \(32, 32\)"):
        model.predict(xte[:, :32, :32])
    with pytest.raises(TypeError, match="images.0. must be a floating-point image"):
        model.predict((xte * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="images and labels must have the same length, got 200 and 2"):
        ip.metrics.recognition_rate(model, xte, [0, 1])


def test_every_target_can_be_made_by_its_short_name():
    for short, class_name in ip.targets.NAMES.items():
        target = ip.targets.make(short)
        assert type(target).__name__ == class_name
        assert target.name == short
    with pytest.raises(ValueError, match="name must be one of 'eigenfaces', .* got 'clarifai'"):
        ip.targets.make("clarifai")
