"""The strip-wise resampler and the fitted-overlay store give format 1's bits, within bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgprivacy import _resample, krtio
from imgprivacy._resample import Resampler, clip01, resize, resize_reference
from imgprivacy.krtio._fitting import FittedStore, block_strips, fit_blocks, new_store

KEY = bytes(range(16))


def _frozen_spec(image, shape):
    """The format-1 resampling exactly as it was first written (whole axes, float64), kept verbatim."""

    def axis(x, size, ax):
        n = x.shape[ax]
        if size == n:
            return x
        x = np.moveaxis(x, ax, 0)
        if size > n:
            src = np.clip((np.arange(size, dtype=np.float64) + 0.5) * (n / size) - 0.5, 0.0, n - 1)
            i0 = np.floor(src).astype(np.intp)
            i1 = np.minimum(i0 + 1, n - 1)
            w = (src - i0).reshape((-1,) + (1,) * (x.ndim - 1))
            out = x[i0] * (1.0 - w) + x[i1] * w
        else:
            cum = np.concatenate([np.zeros((1,) + x.shape[1:]), np.cumsum(x, axis=0)], axis=0)
            edges = np.arange(size + 1, dtype=np.float64) * (n / size)
            edges[-1] = n
            whole = np.floor(edges).astype(np.intp)
            frac = (edges - whole).reshape((-1,) + (1,) * (x.ndim - 1))
            integral = cum[whole] + frac * x[np.minimum(whole, n - 1)]
            out = (integral[1:] - integral[:-1]) * (size / n)
        return np.moveaxis(out, 0, ax)

    x = axis(np.asarray(image, dtype=np.float64), shape[0], 0)
    return np.clip(axis(x, shape[1], 1), 0.0, 1.0).astype(np.float32)


def _same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype == np.float32 and np.array_equal(a, b)


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 70), w=st.integers(1, 70), out_h=st.integers(1, 110), out_w=st.integers(1, 110),
       channels=st.sampled_from([0, 1, 3]), rows=st.integers(1, 9), eight_bit=st.booleans(), seed=st.integers(0, 2**16))
def test_fast_resize_has_the_bits_of_the_specification(h, w, out_h, out_w, channels, rows, eight_bit, seed):
    """Grow, shrink, mixed and odd sizes; any strip height: bound 0 (bit for bit), not just <= 1e-6."""
    rng = np.random.default_rng(seed)
    img = rng.random((h, w) if channels == 0 else (h, w, channels), dtype=np.float32)
    if eight_bit:  # the overlay sets' values n / 255, with exact 0 and 1
        img = (np.round(img * 255) / np.float32(255)).astype(np.float32)
    want = _frozen_spec(img, (out_h, out_w))
    assert _same_bits(resize_reference(img, (out_h, out_w)), want)
    assert _same_bits(resize(img, (out_h, out_w)), want)
    got = np.empty_like(want)
    for y0, y1, part in Resampler(img, (out_h, out_w)).strips(rows):
        got[y0:y1] = part
    assert _same_bits(got, want)


@pytest.mark.parametrize("shape, out", [((40, 30, 3), (200, 150)), ((300, 211, 3), (64, 97)), ((37, 90), (120, 31))])
def test_strips_that_start_late_give_the_same_bits(shape, out):
    """A strip may start anywhere (the two fitting threads each start half way): the running sum is carried."""
    rng = np.random.default_rng(3)
    img = rng.random(shape, dtype=np.float32)
    want = _frozen_spec(img, out)
    r = Resampler(img, out)
    for start in (1, out[0] // 2, out[0] - 1):
        parts = list(r.strips(rows=5, start=start))
        assert parts[0][0] == start and parts[-1][1] == out[0]
        assert _same_bits(np.concatenate([p for _, _, p in parts]), want[start:])


def test_growing_needs_no_clipping_and_stays_in_range():
    rng = np.random.default_rng(4)
    ones = np.ones((7, 5, 3), dtype=np.float32)
    r = Resampler(ones, (61, 33))
    assert not r.needs_clip and Resampler(ones, (6, 33)).needs_clip
    raw = np.concatenate([g for _, _, g in r.raw_strips(rows=4)])
    assert raw.max() <= 1.0 and raw.min() >= 0.0
    mixed = rng.random((9, 13, 3), dtype=np.float32)
    mixed[::2] = 1.0
    raw = np.concatenate([g for _, _, g in Resampler(mixed, (50, 70)).raw_strips()])
    assert raw.max() <= 1.0 and raw.min() >= 0.0
    assert clip01(np.array([-1.0, 0.5, 3.0], dtype=np.float32)).tolist() == [0.0, 0.5, 1.0]


def test_strip_size_changes_no_bit(monkeypatch):
    rng = np.random.default_rng(5)
    img = rng.random((123, 77, 3), dtype=np.float32)
    want = _frozen_spec(img, (200, 60))
    for strip in (8, 1 << 12, 1 << 40):
        monkeypatch.setattr(_resample, "_STRIP_BYTES", strip)
        assert _same_bits(resize(img, (200, 60)), want)


@pytest.mark.parametrize("photo_channels", [1, 3])
@pytest.mark.parametrize("overlay_shape", [(13, 29, 3), (30, 11), (64, 80, 3)])
def test_fitted_blocks_are_the_specified_overlay_cut_into_blocks(photo_channels, overlay_shape):
    """Fitting into blocks = spec resize, then luminance (float64) or repeated grey, then the block split."""
    rng = np.random.default_rng(6)
    ov = rng.random(overlay_shape, dtype=np.float32)
    grid, block = (5, 4), (6, 5)
    full = _frozen_spec(ov if ov.ndim == 3 else ov[..., None], (30, 20))
    if full.shape[2] != photo_channels:
        if photo_channels == 1:
            f = full.astype(np.float64)
            full = np.clip(f[..., 0] * 0.2125 + f[..., 1] * 0.7154 + f[..., 2] * 0.0721, 0, 1).astype(np.float32)[..., None]
        else:
            full = np.repeat(full, 3, axis=2)
    want = full.reshape(5, 6, 4, 5, photo_channels).transpose(0, 2, 1, 3, 4).reshape(20, -1)
    assert np.array_equal(fit_blocks(ov, grid, block, photo_channels), want)
    assert np.array_equal(np.concatenate([b for _, _, b in block_strips(ov, grid, block, photo_channels, 2)]), want[8:])


def test_store_is_a_byte_bounded_lru():
    store = FittedStore(250)
    for name in "abc":
        store.put(name, np.zeros(10))  # 80 bytes each
    assert store.keys() == ["a", "b", "c"] and store.nbytes == 240
    assert store.get("a") is not None  # now the most recently used
    store.put("d", np.zeros(10))
    assert store.keys() == ["c", "a", "d"] and store.nbytes <= 250
    store.put("big", np.zeros(100))  # larger than the bound: never held, nothing evicted for it
    assert store.get("big") is None and len(store) == 3
    with pytest.raises(ValueError, match="max_bytes must be a whole number of bytes >= 0, got -1"):
        new_store(-1)


def test_fit_bytes_from_the_environment(monkeypatch):
    monkeypatch.setenv("IMGPRIVACY_FIT_BYTES", "1234")
    assert new_store().max_bytes == 1234
    monkeypatch.setenv("IMGPRIVACY_FIT_BYTES", "lots")
    with pytest.raises(ValueError, match="IMGPRIVACY_FIT_BYTES must be a whole number of bytes >= 0, got 'lots'"):
        new_store()


def _random_set(rng, m=6):
    return [rng.random((int(rng.integers(9, 40)), int(rng.integers(9, 40)), 3), dtype=np.float32) for _ in range(m)]


def test_cache_bound_holds_over_a_folder_of_mixed_sizes():
    rng = np.random.default_rng(7)
    S = _random_set(rng)
    one = 40 * 40 * 3 * 4
    cache = krtio.OverlayCache(S, max_bytes=4 * one)
    unbounded = krtio.OverlayCache(S, max_bytes=1 << 40)
    for i in range(12):
        shape = (int(rng.integers(20, 41)), int(rng.integers(20, 41)), 3)
        img = rng.random(shape, dtype=np.float32)
        a = krtio.perturb(img, KEY, image_id=f"p{i}", overlays=cache.get(shape, block=4), block=4)
        b = krtio.perturb(img, KEY, image_id=f"p{i}", overlays=unbounded.get(shape, block=4), block=4)
        assert np.array_equal(a, b)
        assert cache.store.nbytes <= 4 * one  # one store for every geometry
    assert unbounded.store.nbytes > 4 * one


@pytest.mark.parametrize("shape", [(37, 45, 3), (40, 33), (29, 31, 4)])
def test_streamed_mixing_gives_the_bits_of_the_held_overlays(shape):
    """When the k chosen overlays cannot all be held they are fitted strip by strip and scattered: same bits."""
    rng = np.random.default_rng(8)
    S = _random_set(rng)
    img = rng.random(shape, dtype=np.float32)
    held = krtio.PreparedOverlays(S, shape, block=(3, 4), max_bytes=1 << 30)
    streamed = krtio.PreparedOverlays(S, shape, block=(3, 4), max_bytes=0)
    part = krtio.PreparedOverlays(S, shape, block=(3, 4), max_bytes=held.overlay_nbytes)
    part.blocks(krtio.plan(KEY, "s", k=3, m=len(S), b=part.b).selection[1])  # one of the k is held, two are not
    for prep in (streamed, part):
        y = krtio.perturb(img, KEY, image_id="s", overlays=prep, block=(3, 4))
        assert np.array_equal(y, krtio.perturb(img, KEY, image_id="s", overlays=held, block=(3, 4)))
        r = krtio.recover(y, KEY, image_id="s", overlays=prep, block=(3, 4))
        assert np.array_equal(r, krtio.recover(y, KEY, image_id="s", overlays=held, block=(3, 4)))
    assert streamed.cached_indices() == [] and len(part.cached_indices()) == 1


@pytest.mark.parametrize("shape", [(61, 93, 3), (200, 150), (1030, 40, 3)])
def test_default_set_fitted_as_specified(shape):
    """The bundled overlays (8-bit values, exact 0 and 1; one of them 1411 x 1411, shrunk) fit as the specification says."""
    from imgprivacy.data import overlay_set

    S = overlay_set()
    prep = krtio.PreparedOverlays(S, shape, block=(4, 5))
    gh, gw = prep.grid
    for index in (2, 7, 10, 12):
        want = _frozen_spec(S[index], (gh * 4, gw * 5))
        if prep.channels == 1:
            f = want.astype(np.float64)
            want = np.clip(f[..., 0] * 0.2125 + f[..., 1] * 0.7154 + f[..., 2] * 0.0721, 0, 1).astype(np.float32)[..., None]
        assert np.array_equal(prep.fitted(index), want)
