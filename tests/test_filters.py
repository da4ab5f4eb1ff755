"""The provider's filters (section 6.3, Fig. 17): shape, range, zero strength, known answers, errors."""

import numpy as np
import pytest

from imgprivacy import attacks
from imgprivacy.attacks import FILTERS

SHAPES = [(13, 17), (13, 17, 1), (13, 17, 3)]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _strongest(spec):
    return spec.strengths[-1]


@pytest.mark.parametrize("name", list(FILTERS))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_filters_keep_shape_range_and_input(rng, name, shape, dtype):
    x = rng.random(shape).astype(dtype)
    before = x.copy()
    fn = FILTERS[name].function
    for strength in FILTERS[name].strengths:
        y = fn(x, strength=strength)
        assert y.shape == x.shape and y.dtype == np.float32
        assert 0.0 <= y.min() and y.max() <= 1.0
    assert np.array_equal(x, before)  # never in place


@pytest.mark.parametrize("name", list(FILTERS))
def test_zero_strength_is_an_exact_copy(rng, name):
    x = rng.random((9, 11, 3), dtype=np.float32)
    y = FILTERS[name].function(x, strength=0)
    assert np.array_equal(y, x) and y is not x
    assert np.array_equal(attacks.apply_filter(x[None], name, strength=0)[0], x)
    assert FILTERS[name].strengths[0] == 0  # every default sweep starts with the unfiltered control


@pytest.mark.parametrize("name", [n for n in FILTERS if n != "greyscale"])
def test_every_filter_changes_a_noisy_image(rng, name):
    x = rng.random((16, 16), dtype=np.float32)
    assert np.abs(FILTERS[name].function(x, strength=_strongest(FILTERS[name])) - x).mean() > 0.05


def test_smoothing_filters_keep_a_constant_image_and_reduce_noise(rng):
    flat = np.full((12, 12), 0.3, np.float32)
    noisy = np.clip(0.5 + 0.1 * rng.standard_normal((32, 32)), 0, 1).astype(np.float32)
    for fn, s in ((attacks.blur, 2), (attacks.median_filter, 2), (attacks.gaussian_blur, 1.5)):
        assert np.allclose(fn(flat, strength=s), flat, atol=1e-6)
        assert fn(noisy, strength=s).std() < 0.5 * noisy.std()


def test_blur_and_median_known_answers():
    x = np.zeros((7, 7), np.float32)
    x[3, 3] = 0.9
    b = attacks.blur(x, strength=1)
    assert np.allclose(b[2:5, 2:5], 0.1) and b[0, 0] == 0 and abs(b.sum() - 0.9) < 1e-6
    assert attacks.median_filter(x, strength=1).max() == 0.0  # an isolated speck disappears
    step = np.zeros((6, 6), np.float32)
    step[:, 3:] = 1.0
    assert np.array_equal(attacks.median_filter(step, strength=1), step)  # edges survive a median filter


def test_greyscale_known_answers(rng):
    grey = rng.random((5, 6), dtype=np.float32)
    assert np.array_equal(attacks.greyscale(grey, strength=1.0), grey)  # nothing to remove on grey faces
    assert np.array_equal(attacks.greyscale(grey[..., None], strength=1.0), grey[..., None])
    rgb = rng.random((5, 6, 3), dtype=np.float32)
    g = attacks.greyscale(rgb, strength=1.0)
    assert g.shape == rgb.shape and np.allclose(g[..., 0], g[..., 1]) and np.allclose(g[..., 1], g[..., 2])
    assert np.allclose(g[..., 0], rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-6)
    half = attacks.greyscale(rgb, strength=0.5)
    assert np.allclose(half, 0.5 * rgb + 0.5 * g, atol=1e-6)


def test_bit_depth_levels(rng):
    x = rng.random((40, 40), dtype=np.float32)
    for s in range(1, 8):
        y = attacks.reduce_bit_depth(x, strength=s)
        levels = 2 ** (8 - s)
        assert len(np.unique(y)) <= levels
        assert np.abs(y - x).max() <= 0.5 / (levels - 1) + 1e-6


def test_jpeg_error_grows_as_quality_falls(rng):
    x = np.clip(np.add.outer(np.linspace(0, 1, 32), np.linspace(0, 0.5, 32)) / 1.5
                + 0.05 * rng.standard_normal((32, 32)), 0, 1).astype(np.float32)
    errors = [np.abs(attacks.jpeg(x, strength=s) - x).mean() for s in (10, 50, 90)]
    assert errors[0] < errors[1] < errors[2]
    rgb = np.repeat(x[..., None], 3, axis=2)
    assert attacks.jpeg(rgb, strength=50).shape == rgb.shape
    assert np.abs(attacks.jpeg(x, strength=1) - x).max() < 0.05  # quality 99: nearly lossless


def test_apply_filter_stack_and_list(rng):
    X = rng.random((4, 10, 10), dtype=np.float32)
    out = attacks.apply_filter(X, "gaussian", strength=1.0)
    assert isinstance(out, np.ndarray) and out.shape == X.shape
    assert np.array_equal(out[2], attacks.gaussian_blur(X[2], strength=1.0))
    as_list = attacks.apply_filter(list(X), "gaussian", strength=1.0)
    assert isinstance(as_list, list) and all(np.array_equal(a, b) for a, b in zip(as_list, out))
    assert np.array_equal(attacks.apply_filter(X, "none", strength=0), X)


def test_filter_specs_are_consistent():
    assert list(FILTERS) == ["blur", "median", "greyscale", "gaussian", "jpeg", "bit-depth"]
    assert [n for n, s in FILTERS.items() if s.in_paper] == ["blur", "median", "greyscale", "gaussian"]
    for name, spec in FILTERS.items():
        assert spec.name == name and spec.unit
        assert all(0 <= s <= spec.maximum for s in spec.strengths) and list(spec.strengths) == sorted(spec.strengths)
        assert all(isinstance(s, int) for s in spec.strengths) == spec.integer
        spec.function(np.zeros((4, 4), np.float32), strength=spec.maximum)  # the maximum is accepted


@pytest.mark.parametrize("name", list(FILTERS))
def test_strength_out_of_range_names_the_parameter(name):
    spec = FILTERS[name]
    x = np.zeros((4, 4), np.float32)
    too_big = spec.maximum + 1
    with pytest.raises(ValueError, match=r"strength must be .*got"):
        spec.function(x, strength=too_big)
    with pytest.raises(ValueError, match=r"strength must be .*got -1"):
        spec.function(x, strength=-1)
    with pytest.raises(TypeError, match="strength must be"):
        spec.function(x, strength="1")


def test_integer_filters_refuse_fractional_strength():
    with pytest.raises(TypeError, match="strength must be an integer, got 1.5"):
        attacks.blur(np.zeros((4, 4), np.float32), strength=1.5)


def test_bad_images_and_names_are_refused():
    with pytest.raises(TypeError, match="floating-point image"):
        attacks.blur(np.zeros((4, 4), np.uint8), strength=1)
    with pytest.raises(ValueError, match=r"values must be in \[0, 1\]"):
        attacks.median_filter(np.full((4, 4), 2.0, np.float32), strength=1)
    with pytest.raises(ValueError, match="channels"):
        attacks.jpeg(np.zeros((4, 4, 4), np.float32), strength=10)
    with pytest.raises(ValueError, match="name must be 'none' or one of 'blur'"):
        attacks.apply_filter(np.zeros((1, 4, 4), np.float32), "sharpen", strength=1)
    with pytest.raises(ValueError, match="strength must be 0 for the filter 'none', got 2"):
        attacks.apply_filter(np.zeros((1, 4, 4), np.float32), "none", strength=2)
    with pytest.raises(ValueError, match="stack"):
        attacks.apply_filter(np.zeros((4, 4), np.float32), "blur", strength=1)
