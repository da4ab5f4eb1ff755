"""The strip-wise resampler and the fitted-overlay store give format 1's bits, within bounded memory.

The fitting runs in the compiled kernel (imgprivacy/_cfit.c) where it was built and in numpy
otherwise; every bit-identity test of fitting runs on both (``backend``), the numpy one forced by
``IMGPRIVACY_NO_C=1``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgprivacy import _resample, krtio
from imgprivacy._resample import Resampler, clip01, resize, resize_reference
from imgprivacy.krtio._fitting import FittedStore, block_strips, fit_blocks, new_store

KEY = bytes(range(16))
BACKENDS = ["numpy", "c"]
LUMA = (0.2125, 0.7154, 0.0721)


@contextlib.contextmanager
def _using(backend):
    """Fit with ``backend`` ("numpy" forced by IMGPRIVACY_NO_C=1, or "c", skipped where it was not built)."""
    old = os.environ.get("IMGPRIVACY_NO_C")
    if backend == "numpy":
        os.environ["IMGPRIVACY_NO_C"] = "1"
    else:
        os.environ.pop("IMGPRIVACY_NO_C", None)
    try:
        if _resample.backend() != backend:
            pytest.skip("the compiled kernel imgprivacy._cfit was not built (test_the_compiled_kernel_is_built says why)")
        yield
    finally:
        if old is None:
            os.environ.pop("IMGPRIVACY_NO_C", None)
        else:
            os.environ["IMGPRIVACY_NO_C"] = old


@pytest.fixture(params=BACKENDS)
def backend(request):
    with _using(request.param):
        yield request.param


def _converted(full, channels):
    """The specification's fitted overlay (H, W, c_in) in the photo's channels: luminance (float64) or repeated grey."""
    if full.shape[2] == channels:
        return full
    if channels == 1:
        f = full.astype(np.float64)
        return np.clip(f[..., 0] * LUMA[0] + f[..., 1] * LUMA[1] + f[..., 2] * LUMA[2], 0, 1).astype(np.float32)[..., None]
    return np.repeat(full, 3, axis=2)


def _as_blocks(full, grid, block):
    (gh, gw), (bh, bw), c = grid, block, full.shape[2]
    return full.reshape(gh, bh, gw, bw, c).transpose(0, 2, 1, 3, 4).reshape(gh * gw, -1)


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


@pytest.mark.parametrize("backend_name", BACKENDS)
@settings(max_examples=120, deadline=None)
@given(h=st.integers(1, 60), w=st.integers(1, 60), gh=st.integers(1, 12), gw=st.integers(1, 12),
       bh=st.integers(1, 7), bw=st.integers(1, 7), channels=st.sampled_from([(0, 1), (1, 1), (3, 3), (3, 1), (1, 3), (0, 3)]),
       dtype=st.sampled_from([np.float32, np.float64]), eight_bit=st.booleans(), first=st.integers(0, 11),
       seed=st.integers(0, 2**16))
def test_fitted_blocks_have_the_bits_of_the_specification(backend_name, h, w, gh, gw, bh, bw, channels, dtype, eight_bit,
                                                          first, seed):
    """Any grid, block, channel conversion, float32 or float64 source, strips that start late: bound 0."""
    rng = np.random.default_rng(seed)
    c_in, c_out = channels
    img = rng.random((h, w) if c_in == 0 else (h, w, c_in))
    if eight_bit:
        img = np.round(img * 255) / 255
    img = img.astype(dtype)
    grid, block = (gh, gw), (bh, bw)
    full = _frozen_spec(img if img.ndim == 3 else img[..., None], (gh * bh, gw * bw))
    want = _as_blocks(_converted(full, c_out), grid, block)
    first = min(first, gh - 1)
    with _using(backend_name):
        assert _same_bits(fit_blocks(img, grid, block, c_out), want)
        parts = list(block_strips(img, grid, block, c_out, first))
        assert parts[0][0] == first and parts[-1][1] == gh
        assert _same_bits(np.concatenate([b for _, _, b in parts]), want[first * gw:])


@pytest.mark.parametrize("shape, out", [((40, 30, 3), (200, 150)), ((300, 211, 3), (64, 97)), ((37, 90), (120, 31))])
def test_strips_that_start_late_give_the_same_bits(shape, out, backend):
    """A strip may start anywhere (the two fitting threads each start half way): the running sum is carried."""
    rng = np.random.default_rng(3)
    img = rng.random(shape, dtype=np.float32)
    want = _frozen_spec(img, out)
    r = Resampler(img, out)
    c = 1 if img.ndim == 2 else 3
    for start in (1, out[0] // 2, out[0] - 1):
        parts = list(r.strips(rows=5, start=start))
        assert parts[0][0] == start and parts[-1][1] == out[0]
        assert _same_bits(np.concatenate([p for _, _, p in parts]), want[start:])
        # fitted to a grid of 1 x 1 blocks, in the backend under test
        blocks = np.concatenate([b for _, _, b in block_strips(img, out, (1, 1), c, start)])
        assert _same_bits(blocks, want[start:].reshape(-1, c))


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
def test_fitted_blocks_are_the_specified_overlay_cut_into_blocks(photo_channels, overlay_shape, backend):
    """Fitting into blocks = spec resize, then luminance (float64) or repeated grey, then the block split."""
    rng = np.random.default_rng(6)
    ov = rng.random(overlay_shape, dtype=np.float32)
    grid, block = (5, 4), (6, 5)
    full = _frozen_spec(ov if ov.ndim == 3 else ov[..., None], (30, 20))
    want = _as_blocks(_converted(full, photo_channels), grid, block)
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


def test_cache_bound_holds_over_a_folder_of_mixed_sizes(backend):
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
def test_streamed_mixing_gives_the_bits_of_the_held_overlays(shape, backend):
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
def test_default_set_fitted_as_specified(shape, backend):
    """The bundled overlays (8-bit values, exact 0 and 1; one of them 1411 x 1411, shrunk) fit as the specification says."""
    from imgprivacy.data import overlay_set

    S = overlay_set()
    prep = krtio.PreparedOverlays(S, shape, block=(4, 5))
    gh, gw = prep.grid
    for index in (2, 7, 10, 12):
        want = _converted(_frozen_spec(S[index], (gh * 4, gw * 5)), prep.channels)
        assert np.array_equal(prep.fitted(index), want)


# --------------------------------------------------------------------------- the compiled kernel
def test_the_compiled_kernel_is_built(monkeypatch):
    """CI (CI=true) must have built imgprivacy._cfit; elsewhere its absence is only a slower fitting."""
    monkeypatch.delenv("IMGPRIVACY_NO_C", raising=False)
    if _resample.backend() == "c":
        return
    try:
        from imgprivacy import _cfit  # noqa: F401
        why = "imgprivacy._cfit imports but failed its first-use check against the numpy fitting"
    except ImportError as exc:
        why = f"imgprivacy._cfit was not built ({exc}); a C compiler and the Python headers build it at install"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI must test the compiled kernel: pip install -e . builds it)")
    pytest.skip(why)


def test_backend_follows_the_environment(monkeypatch):
    monkeypatch.setenv("IMGPRIVACY_NO_C", "1")
    assert _resample.backend() == "numpy" and not Resampler(np.zeros((4, 4, 3)), (2, 2)).kernel_ready()
    with pytest.raises(RuntimeError, match="not in use"):
        next(Resampler(np.zeros((4, 4, 3)), (2, 2)).block_rows((1, 1), 3, LUMA))
    monkeypatch.setenv("IMGPRIVACY_NO_C", "0")
    assert _resample.backend() in ("c", "numpy")


def test_the_first_use_check_catches_a_wrong_kernel(monkeypatch):
    """A kernel one bit off (as a fused multiply-add would make it) is caught, and numpy is used instead, with a warning."""
    cfit = pytest.importorskip("imgprivacy._cfit", reason="the compiled kernel was not built")
    assert _resample._self_check(cfit) is None

    class OneBitOff:
        def fit(self, src, out, *args):
            row = cfit.fit(src, out, *args)
            np.asarray(out).view(np.uint32).reshape(-1)[-1] ^= 1
            return row

    assert "-> (29, 9), 3 -> 3 channels" in _resample._self_check(OneBitOff())
    monkeypatch.delenv("IMGPRIVACY_NO_C", raising=False)
    monkeypatch.setattr(_resample, "_self_check", lambda kernel: "float32 (13, 17, 3) -> (29, 9)")
    _resample._load_kernel.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match=r"does not give the numpy fitting's bits here \(float32"):
            assert _resample.backend() == "numpy"
    finally:
        _resample._load_kernel.cache_clear()


def test_sources_the_kernel_does_not_take_fall_back_to_numpy(backend):
    """float16 sources (numpy fits them) and -0.0 values: the same bits as numpy on both backends."""
    rng = np.random.default_rng(9)
    img = rng.random((23, 31, 3)).astype(np.float16)
    with _using("numpy"):
        want = fit_blocks(img, (5, 6), (4, 3), 1)
    assert _same_bits(fit_blocks(img, (5, 6), (4, 3), 1), want)
    zeros = np.full((9, 9, 3), -0.0, dtype=np.float32)
    for grid in ((3, 3), (9, 9), (2, 4)):  # same, shrink, mixed: -0.0 kept where numpy does not clip
        with _using("numpy"):
            want = fit_blocks(zeros, grid, (1, 1), 3)
        assert np.array_equal(fit_blocks(zeros, grid, (1, 1), 3).view(np.uint32), want.view(np.uint32))


def test_the_kernel_refuses_tables_that_do_not_fit():
    """Indices out of range or buffers too small are refused before anything is read or written."""
    cfit = pytest.importorskip("imgprivacy._cfit", reason="the compiled kernel was not built")
    img = np.zeros((4, 6, 3), dtype=np.float32)
    rows, cols = _resample._axis_table(4, 8), _resample._axis_table(6, 3)
    out, carry = np.empty((8 * 3, 3), dtype=np.float32), np.empty(18)
    layout = (8, 3, 1, 1, 3, 0, 8, True) + LUMA
    assert cfit.fit(img, out, rows, cols, layout, carry, 0) == 0
    bad = (1, rows[1] + 4) + rows[2:]
    with pytest.raises(ValueError, match="rows: index 4 at 0 is out of range"):
        cfit.fit(img, out, bad, cols, layout, carry, 0)
    with pytest.raises(ValueError, match="out is too small"):
        cfit.fit(img, out[:5], rows, cols, layout, carry, 0)
    with pytest.raises(TypeError, match="float32, float64 or uint8"):
        cfit.fit(img.astype(np.float16), out, rows, cols, layout, carry, 0)
    u8 = np.zeros((4, 6, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match="decode .* for a uint8 src, and only for one"):
        cfit.fit(u8, out, rows, cols, layout, carry, 0)  # 8-bit samples need their decoding
    with pytest.raises(TypeError, match="decode .* for a uint8 src, and only for one"):
        cfit.fit(img, out, rows, cols, layout, carry, 0, (0, 1, 2, False))
    with pytest.raises(ValueError, match="permutation of the channels"):
        cfit.fit(u8, out, rows, cols, layout, carry, 0, (0, 0, 2, False))
    with pytest.raises(TypeError, match="decode must be a tuple"):
        cfit.fit(u8, out, rows, cols, layout, carry, 0, [2, 1, 0, True])
    assert cfit.fit(u8, out, rows, cols, layout, carry, 0, (2, 1, 0, True)) == 0 and np.all(out == 1)
    with pytest.raises(ValueError, match="r1 \\* bh must not pass out_h"):
        cfit.fit(img, out, rows, cols, (8, 3, 1, 1, 3, 0, 9, True) + LUMA, carry, 0)


def test_the_compiled_scatter_is_numpys_and_refuses_what_does_not_fit():
    """scatter puts rows at their shuffled places (copied, then added in order) as numpy's fancy indexing
    does; out-of-range places and ragged rows are refused before anything is written; the first-use
    check catches a scatter whose sums are a rounding off."""
    cfit = pytest.importorskip("imgprivacy._cfit", reason="the compiled kernel was not built")
    rng = np.random.default_rng(11)
    parts = [rng.random((12, 7), dtype=np.float32) for _ in range(3)]
    where = rng.permutation(12).astype(np.int64)
    want, got = np.empty((12, 7), np.float32), np.empty((12, 7), np.float32)
    for j, part in enumerate(parts):
        if j == 0:
            want[where] = part
        else:
            want[where] += part
        for lo, hi in ((0, 5), (5, 12)):
            cfit.scatter(got, part[lo:hi], where, lo, j > 0)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    before = got.copy()
    with pytest.raises(ValueError, match="where: index 12 at 0 is out of range"):
        cfit.scatter(got, parts[0][:1], np.array([12] + list(range(11)), dtype=np.int64), 0, True)
    with pytest.raises(ValueError, match="whole rows"):
        cfit.scatter(got, parts[0].ravel()[:10], where, 0, False)
    with pytest.raises(ValueError, match="first \\+ n <= b"):
        cfit.scatter(got, parts[0][:5], where, 8, False)
    assert np.array_equal(got, before)

    class RoundingOff:  # what a reordered or fused sum would do: some float32 bits differ
        mix = staticmethod(cfit.mix)

        @staticmethod
        def scatter(total, blocks, where, first, add):
            if add:
                blocks = blocks * np.float32(1.0000001)
            cfit.scatter(total, blocks, where, first, add)

    assert _resample._mix_check(RoundingOff(), np.linspace(0, 1, 13 * 17 * 3).reshape(13, 17, 3)) == "the scatter"


@pytest.mark.parametrize("shape, block, k", [((37, 45, 3), (3, 4), 3), ((40, 33), (8, 8), 2), ((29, 31, 4), (5, 3), 1),
                                             ((704, 200, 3), (8, 8), 3)])
def test_the_compiled_mix_gives_the_bits_of_numpy(shape, block, k):
    """perturb and recover, with the k overlays held or streamed, on two threads or one: C and numpy agree bit for bit."""
    rng = np.random.default_rng(10)
    S = _random_set(rng)
    img = rng.random(shape, dtype=np.float32)
    for max_bytes in (1 << 30, 0):  # held: gathered from the fitted blocks; 0: summed while fitting
        got = {}
        for name in BACKENDS:
            with _using(name):
                prep = krtio.PreparedOverlays(S, shape, block=block, max_bytes=max_bytes)
                y = krtio.perturb(img, KEY, image_id="m", overlays=prep, block=block, k=k)
                got[name] = (y, krtio.recover(y, KEY, image_id="m", overlays=prep, block=block, k=k))
        for a, b in zip(got["numpy"], got["c"]):
            assert a.dtype == b.dtype == np.float32 and np.array_equal(a.view(np.uint32), b.view(np.uint32))
    zeros = [np.zeros((9, 9, 3), dtype=np.float32)]  # -0.0 in a photo: np.clip keeps it, and so does the kernel
    minus = np.full((9, 9, 3), -0.0, dtype=np.float32)
    got = []
    for name in BACKENDS:
        with _using(name):
            got.append(krtio.recover(minus, KEY, image_id="z", overlays=zeros, block=3, k=1).view(np.uint32))
    assert np.array_equal(got[0], got[1])


def test_the_first_use_check_catches_a_build_with_fused_multiply_adds(tmp_path):
    """The kernel compiled as GCC would on a machine with FMA by default (-ffp-contract=fast) is refused by the check."""
    cpu = Path("/proc/cpuinfo").read_text() if os.path.exists("/proc/cpuinfo") else ""
    if shutil.which("gcc") is None or platform.machine() != "x86_64" or " fma" not in cpu:
        pytest.skip("needs gcc on an x86-64 CPU with FMA")
    so = tmp_path / "_cfit.so"
    here = Path(_resample.__file__).parent
    sources = [str(here / "_cfit.c"), str(here / "_cfit_mix.c")]
    subprocess.run(["gcc", "-shared", "-fPIC", "-O3", "-mfma", "-mavx2", "-ffp-contract=fast",
                    f"-I{sysconfig.get_paths()['include']}", *sources, "-o", str(so)], check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location("_cfit", so)
    fused = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fused)
    assert _resample._self_check(fused) is not None


@pytest.mark.parametrize("channels_out", [3, 1])
@pytest.mark.parametrize("shape", [(16, 24), (80, 64), (40, 12), (37, 29)])
def test_eight_bit_views_fit_to_the_bits_of_their_float_images(monkeypatch, shape, channels_out):
    """A uint8 view (cut, turned, mirrored: any strides) with a channel order and inversion, read by the
    kernel as it is, gives the bits of fitting the float32 image it stands for (the numpy code, which
    decodes first, the reference)."""
    if _resample.backend() != "c":
        pytest.skip("the compiled kernel is not in use here; the numpy code decodes first (decode_u8)")
    from imgprivacy.krtio._fitting import fit_blocks

    rng = np.random.default_rng(sum(shape))
    u8 = rng.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    grid = (-(-shape[0] // 8), -(-shape[1] // 4))
    cases = [(view, order, invert) for view in (u8, np.rot90(u8, 1), np.rot90(u8, 3)[:, ::-1], u8[3:30, 2:20][::-1])
             for order, invert in (((0, 1, 2), False), ((2, 0, 1), True), ((1, 0, 2), False))]
    cases.append((u8[..., 1:2], (0,), True))  # grey
    for view, order, invert in cases:
        out = channels_out if view.shape[2] == 3 else 3
        r = _resample.Resampler(view, (grid[0] * 8, grid[1] * 4), decode=(order, invert))
        ((_, _, got),) = r.block_rows((8, 4), out, LUMA)
        with monkeypatch.context() as numpy_only:
            numpy_only.setenv("IMGPRIVACY_NO_C", "1")
            want = fit_blocks(_resample.decode_u8(view, order, invert), grid, (8, 4), out)
        assert np.array_equal(got.view(np.uint32), want.view(np.uint32)), (view.strides, order, invert)
    # without the kernel the Resampler decodes first: the numpy strips of the float image
    with monkeypatch.context() as numpy_only:
        numpy_only.setenv("IMGPRIVACY_NO_C", "1")
        r = _resample.Resampler(u8, shape, decode=((2, 0, 1), True))
        assert not r.kernel_ready() and r.x.dtype == np.float32
        assert np.array_equal(np.concatenate([p for *_, p in r.strips()]),
                              _resample.resize(_resample.decode_u8(u8, (2, 0, 1), True), shape))
