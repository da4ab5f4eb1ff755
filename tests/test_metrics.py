"""PSNR and SSIM: identities, known values and validation."""

import numpy as np
import pytest

import imgprivacy as ip


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 1), (16, 16, 3), (5, 9)])
def test_identity(rng, shape):
    x = rng.random(shape, dtype=np.float32)
    assert ip.metrics.ssim(x, x) == pytest.approx(1.0)
    assert ip.metrics.psnr(x, x) == float("inf")


def test_psnr_known_value_and_data_range(rng):
    x = rng.random((32, 32)).astype(np.float32) * 0.5
    assert ip.metrics.psnr(x, x + 0.01) == pytest.approx(40.0, abs=1e-3)
    assert ip.metrics.psnr(x * 255, x * 255 + 2.55, data_range=255.0) == pytest.approx(40.0, abs=1e-3)


def test_ssim_orders_degradation_and_is_symmetric(rng):
    face = ip.data.load_faces("olivetti").images[3]
    noisy = [np.clip(face + rng.normal(0, s, face.shape), 0, 1).astype(np.float32) for s in (0.02, 0.1, 0.3)]
    scores = [ip.metrics.ssim(face, n) for n in noisy]
    assert scores[0] > scores[1] > scores[2]
    assert ip.metrics.ssim(noisy[1], face) == pytest.approx(scores[1])


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "exc", "match"),
    [
        (np.zeros((4, 4), np.float32), np.zeros((4, 5), np.float32), {}, ValueError, r"same shape, got \(4, 4\) and \(4, 5\)"),
        (np.zeros((4, 4), np.uint8), np.zeros((4, 4), np.uint8), {}, TypeError, "reference must be a float image"),
        (np.zeros((4, 4), np.float32), np.zeros((4, 4), np.float32), {"data_range": 0}, ValueError, "data_range must be a positive number, got 0"),
    ],
)
def test_validation(a, b, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        ip.metrics.psnr(a, b, **kwargs)
    with pytest.raises(exc, match=match):
        ip.metrics.ssim(a, b, **kwargs)


def test_ssim_needs_three_pixels():
    with pytest.raises(ValueError, match=r"ssim needs images of at least 3x3 pixels, got shape \(2, 8\)"):
        ip.metrics.ssim(np.zeros((2, 8), np.float32), np.zeros((2, 8), np.float32))


def test_import_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, imgprivacy; import imgprivacy.krtio, imgprivacy.data, imgprivacy.metrics; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_affine_invariant_scores(rng):
    face = ip.data.load_faces("olivetti").images[5]
    for gain, offset in ((0.5, 0.2), (-1.0, 1.0), (2.0, -0.5)):
        other = gain * face + offset  # any brightness, contrast or sign
        assert ip.metrics.ssim_affine(face, other) == pytest.approx(1.0, abs=1e-6)
        assert ip.metrics.psnr_affine(face, other) > 60
        assert abs(ip.metrics.correlation(face, other)) == pytest.approx(1.0)
    noise = rng.random(face.shape).astype(np.float32)
    assert abs(ip.metrics.correlation(face, noise)) < 0.1
    # the best affine map of unrelated noise is nearly flat, and a flat grey image
    # still scores about 0.4 against a face (its smooth regions match): the floor
    flat = np.full_like(face, face.mean())
    assert ip.metrics.ssim_affine(face, noise) == pytest.approx(ip.metrics.ssim(face, flat), abs=0.05)
    assert 0.3 < ip.metrics.ssim(face, flat) < 0.5
    assert ip.metrics.correlation(face, np.zeros_like(face)) == 0.0


def test_recognition_rate_counts_matches():
    class Fixed:
        def predict(self, images):
            return np.array([0, 1, 2, 3])

    assert ip.metrics.recognition_rate(Fixed(), np.zeros((4, 2, 2)), [0, 1, 0, 0]) == 0.5
    with pytest.raises(ValueError, match="images must hold at least one image"):
        ip.metrics.recognition_rate(Fixed(), np.zeros((0, 2, 2)), [])


def test_accuracy_is_recognition_rate_of_answers_already_computed():
    class Fixed:
        def predict(self, images):
            return np.array([0, 1, 1, 0])

    labels = np.array([0, 1, 0, 0])
    assert ip.metrics.accuracy(Fixed().predict(None), labels) == 0.75
    assert ip.metrics.recognition_rate(Fixed(), np.zeros((4, 2, 2), np.float32), labels) == 0.75
    with pytest.raises(ValueError, match=r"predicted must have the shape of labels, \(4,\), got \(3,\)"):
        ip.metrics.accuracy([0, 1, 1], labels)  # broadcasting would have hidden a missing answer
    with pytest.raises(ValueError, match="labels must hold at least one label"):
        ip.metrics.accuracy([], [])


@pytest.mark.parametrize("shape", [(5, 64, 64), (3, 30, 26), (2, 8, 8), (3, 16, 16, 3), (2, 12, 12, 1)])
def test_ssim_batch_is_ssim_of_each_pair_bit_for_bit(shape):
    rng = np.random.default_rng(0)
    x = rng.random(shape).astype(np.float32)
    y = np.clip(x + rng.normal(0, 0.15, shape), 0, 1).astype(np.float32)
    batch = ip.metrics.ssim_batch(x, y)
    assert batch.shape == (shape[0],) and batch.dtype == np.float64
    assert batch.tolist() == [ip.metrics.ssim(a, b) for a, b in zip(x, y)]  # the same floats, not just close
    assert ip.metrics.ssim_batch(x, x).tolist() == [1.0] * shape[0]
    affine = ip.metrics.ssim_affine_batch(x, 1 - 0.5 * y)
    assert affine.tolist() == [ip.metrics.ssim_affine(a, b) for a, b in zip(x, 1 - 0.5 * y)]
    with pytest.raises(ValueError, match="must have the same shape"):
        ip.metrics.ssim_batch(x, y[:1])
    with pytest.raises(TypeError, match="float image"):
        ip.metrics.ssim_batch((x * 255).astype(np.uint8), y)
