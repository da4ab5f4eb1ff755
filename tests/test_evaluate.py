"""imgprivacy.evaluate: the sweep returns the documented table for a tiny grid; recovery SSIM; the BSS sweep.

The figures drawn from these tables are tested in test_plotting.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import imgprivacy as ip
from imgprivacy import evaluate as E
from sweep_fakes import N, SIDE, Exact, Smooth, make_tiny, make_tiny_table

# --------------------------------------------------------------------------- fakes
class Counting:
    """Recogniser that records how many images it is shown per call (always answers 0)."""

    def __init__(self):
        self.seen = []

    def predict(self, images):
        self.seen.append(len(images))
        return np.zeros(len(images), dtype=int)


@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


@pytest.fixture(scope="module")
def tiny_table(tiny):
    return make_tiny_table(tiny)


# --------------------------------------------------------------------------- the table
def test_columns_dtypes_and_row_count(tiny_table):
    t = tiny_table
    assert list(t.columns) == list(E.COLUMNS) == [
        "scheme", "alpha", "block", "k", "beta", "filter", "strength", "target", "task", "rate", "n", "ssim",
    ]
    cells = 1 + 2 * 2 * 1 + 1  # clean + alphas x blocks x ks + betas
    assert len(t) == cells * 2 * 2  # x filters x targets
    for col in ("alpha", "beta", "strength", "rate", "ssim"):
        assert t[col].dtype == np.float64, col
    assert str(t["block"].dtype) == str(t["k"].dtype) == "Int64"
    assert t["n"].dtype == np.int64
    assert t["rate"].between(0, 1).all() and t["ssim"].between(-1, 1).all()


def test_row_order_and_nan_pattern(tiny_table):
    t = tiny_table
    assert t["scheme"].tolist() == ["clean"] * 4 + ["krtio"] * 16 + ["uep"] * 4
    krtio_rows = t[t.scheme == "krtio"].iloc[::4]
    assert list(zip(krtio_rows.alpha, krtio_rows.block, krtio_rows.k)) == [(0.3, 4, 2), (0.3, 8, 2), (0.6, 4, 2), (0.6, 8, 2)]
    assert t["filter"].tolist()[:4] == ["none", "none", "median", "median"]
    assert t["target"].tolist()[:4] == ["exact", "smooth"] * 2
    assert t["task"].tolist()[:2] == ["recognition", "detection"]
    params = ["alpha", "block", "k", "beta"]
    applies = {"clean": [], "krtio": ["alpha", "block", "k"], "uep": ["beta"]}
    for scheme, rows in t.groupby("scheme"):
        for p in params:
            assert (rows[p].notna() if p in applies[scheme] else rows[p].isna()).all(), (scheme, p)
    assert (t.loc[t["filter"] == "none", "strength"] == 0).all()
    assert (t.loc[t["filter"] == "median", "strength"] == 1).all()
    assert (t["n"] == N).all()


def test_rates_and_ssim_of_the_fake_targets(tiny_table):
    t = tiny_table.set_index(["scheme", "filter", "target"])
    # the exact recogniser knows only the clean, unfiltered faces
    assert t.loc[("clean", "none", "exact"), "rate"] == 1.0
    assert (t.loc[("clean", "median", "exact"), "rate"] == 0.0)
    assert (t.loc[("krtio", "none", "exact"), "rate"] == 0.0).all()
    assert (t.loc[("uep", "none", "exact"), "rate"] == 0.0).all()
    # the smooth ramps are detected, shuffled overlay blocks are not
    assert t.loc[("clean", "none", "smooth"), "rate"] == 1.0
    assert (t.loc[("krtio", "none", "smooth"), "rate"] == 0.0).all()
    # SSIM: 1 for the clean unfiltered view; the median filter changes every view
    assert t.loc[("clean", "none", "exact"), "ssim"] == 1.0
    assert t.loc[("clean", "median", "exact"), "ssim"] < 1.0
    none = tiny_table[tiny_table["filter"] == "none"]["ssim"].to_numpy()
    median = tiny_table[tiny_table["filter"] == "median"]["ssim"].to_numpy()
    assert np.all(none != median)
    # a higher alpha shows more of the face
    k = tiny_table[(tiny_table.scheme == "krtio") & (tiny_table["filter"] == "none") & (tiny_table.target == "exact")]
    assert (k[k.alpha == 0.6].ssim.to_numpy() > k[k.alpha == 0.3].ssim.to_numpy()).all()


def test_limits_are_honoured_and_recorded(tiny):
    X, y, S, _ = tiny
    counting, other = Counting(), Counting()
    t = E.sweep(X, y, {"count": counting, "other": other, "big": Counting()}, alphas=(0.5,), blocks=(4,), ks=(1,),
                overlays=S, limits={"count": 2, "big": 100}, progress=False)
    assert counting.seen == [2, 2] and other.seen == [N, N]
    assert t.set_index(["scheme", "target"])["n"].to_dict() == {
        ("clean", "count"): 2, ("clean", "other"): N, ("clean", "big"): N,
        ("krtio", "count"): 2, ("krtio", "other"): N, ("krtio", "big"): N,
    }


def test_only_the_requested_cells(tiny):
    X, y, S, delta = tiny
    t = E.sweep(X, y, {"exact": Exact(X, y)}, betas=(0.0, 2.0), delta=delta, clean=False, progress=False)
    assert t["scheme"].tolist() == ["uep", "uep"] and t["beta"].tolist() == [0.0, 2.0]
    assert t["rate"].tolist() == [1.0, 0.0] and t["ssim"].iloc[0] == 1.0  # beta = 0 leaves the faces untouched
    t = E.sweep(X, y, {"exact": Exact(X, y)}, progress=False)
    assert t["scheme"].tolist() == ["clean"] and t["rate"].tolist() == [1.0]


def test_detectors_need_no_labels_and_a_uep_result_is_accepted(tiny):
    X, _, _, delta = tiny
    result = ip.uep.UEPResult(delta, 1.0, {"all": 1.0}, True, (), 0.7, 5.0, ("m",))
    a = E.sweep(X, None, {"smooth": Smooth()}, betas=(1.0,), delta=result, progress=False)
    b = E.sweep(X, None, {"smooth": Smooth()}, betas=(1.0,), delta=delta, progress=False)
    pd.testing.assert_frame_equal(a, b)


def test_the_key_matters_and_the_default_is_the_evaluation_key(tiny):
    X, y, S, _ = tiny
    run = lambda key: E.sweep(X, y, {"exact": Exact(X, y)}, alphas=(0.5,), blocks=(4,), ks=(2,), overlays=S,
                              key=key, clean=False, progress=False)
    default, same, other = run(None), run(bytes(range(16))), run(bytes(16))
    pd.testing.assert_frame_equal(default, same)
    assert default["ssim"].iloc[0] != other["ssim"].iloc[0]


def test_progress_bar_runs_without_warnings(tiny, capsys):
    X, y, S, _ = tiny
    E.sweep(X, y, {"exact": Exact(X, y)}, alphas=(0.5,), blocks=(4,), ks=(2,), overlays=S, progress=True)
    said = capsys.readouterr()
    assert "sweep" in said.err + said.out  # tqdm.auto writes to stdout once an earlier test has set up IPython


class NotATarget:
    name = "nothing"


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(betas=(1.0,), delta=None), ValueError, r"delta must be given when betas is not empty"),
        (dict(targets={"bad": NotATarget()}), TypeError, r"targets\['bad'\] must be a fitted recogniser .* got NotATarget"),
        (dict(targets={}), ValueError, r"targets must name at least one"),
        (dict(targets=[Smooth()]), TypeError, r"targets must be a mapping"),
        (dict(labels=np.zeros(N - 1)), ValueError, rf"labels must have one entry per image, shape \({N},\), got shape \({N - 1},\)"),
        (dict(labels=None), ValueError, r"labels must give the subject"),
        (dict(alphas=(1.5,)), ValueError, r"alphas must be in \(0, 1\], got 1.5"),
        (dict(alphas=(0.5, 0.5)), ValueError, r"alphas must not repeat a value"),
        (dict(alphas=0.5), TypeError, r"alphas must be a sequence"),
        (dict(alphas=(0.5,), ks=(5,)), ValueError, r"ks must be in \[1, 4\], got 5"),
        (dict(alphas=(0.5,), blocks=(0,)), ValueError, r"blocks must be >= 1, got 0"),
        (dict(betas=(-1.0,)), ValueError, r"betas must be a finite number >= 0 \(the weight of delta, 1.0 as learned\), got -1.0"),
        (dict(filters=(("sharpen", 1),)), ValueError, r"filters\[0\] = \('sharpen', 1\): name must be 'none' or one of"),
        (dict(filters=(("median", 99),)), ValueError, r"filters\[0\] = \('median', 99\): strength must be in \[0, 15\]"),
        (dict(filters=(("none", 1),)), ValueError, r"strength must be 0 for the filter 'none'"),
        (dict(filters=("median",)), TypeError, r"filters\[0\] must be a \(name, strength\) pair"),
        (dict(filters=()), ValueError, r"filters must hold at least one"),
        (dict(limits={"nobody": 3}), ValueError, r"limits names the unknown target 'nobody'; the targets are \['exact'\]"),
        (dict(limits={"exact": 0}), ValueError, r"limits\['exact'\] must be >= 1, got 0"),
        (dict(clean=False), ValueError, r"the sweep has no cell"),
        (dict(alphas=(0.5,), image_ids=["a"] * N), ValueError, r"image_ids must be unique, got 'a' at positions 0 and 1"),
        (dict(alphas=(0.5,), image_ids=["a"]), ValueError, rf"image_ids must have one id per image, got 1 ids for {N}"),
        (dict(alphas=(0.5,), key=b"short"), ValueError, r"key must be 16 bytes"),
        (dict(images="faces"), TypeError, r"images must be an ndarray stack or a list"),
    ],
)
def test_sweep_errors(tiny, change, error, match):
    X, y, S, delta = tiny
    kwargs = dict(images=X, labels=y, targets={"exact": Exact(X, y)}, overlays=S, progress=False)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        E.sweep(kwargs.pop("images"), kwargs.pop("labels"), kwargs.pop("targets"), **kwargs)


def test_integer_images_are_refused(tiny):
    X, y, _, _ = tiny
    with pytest.raises(TypeError, match=r"images\[0\].*float"):
        E.sweep((X * 255).astype(np.uint8), y, {"exact": Exact(X, y)}, progress=False)


# --------------------------------------------------------------------------- a real recogniser
@pytest.fixture(scope="module")
def olivetti(faces):
    position = np.arange(len(faces.images)) % 10
    train, test = position < 7, position == 7  # 7 faces of each of the 40 people to train, one held out
    eig = ip.targets.Eigenfaces().fit(faces.images[train], faces.labels[train])
    return faces.images[test], faces.labels[test], eig


OLIVETTI_GRID = dict(alphas=(0.3, 0.6), blocks=(4, 16), ks=(3,), filters=(("none", 0), ("median", 1)))


@pytest.fixture(scope="module")
def olivetti_table(olivetti):
    X, y, eig = olivetti
    return E.sweep(X, y, {"eigenfaces": eig, "smooth": Smooth()}, limits={"smooth": 10}, progress=False, **OLIVETTI_GRID)


def test_olivetti_eigenfaces_sweep(olivetti_table):
    t = olivetti_table
    assert list(t.columns) == list(E.COLUMNS)
    assert len(t) == (1 + 4) * 2 * 2
    assert t["rate"].between(0, 1).all()
    eig = t[(t.target == "eigenfaces") & (t["filter"] == "none")].set_index(["scheme", "alpha", "block"])["rate"]
    clean = eig.xs("clean").iloc[0]
    assert clean >= 0.85  # measured 0.925 (37 of the 40 held-out faces)
    for block in (4, 16):
        assert eig.loc[("krtio", 0.3, block)] <= clean - 0.25  # measured 0.475 (block 4) and 0.425 (block 16)
        assert eig.loc[("krtio", 0.3, block)] < eig.loc[("krtio", 0.6, block)]  # measured 0.925 and 0.875 at alpha 0.6
    assert (t.loc[t.target == "smooth", "n"] == 10).all() and (t.loc[t.target == "eigenfaces", "n"] == 40).all()
    assert (t.loc[t.target == "smooth", "rate"] == 1.0).all()  # Olivetti faces are smooth enough even under k-RTIO
    k = t[(t.scheme == "krtio") & (t.target == "eigenfaces")]
    assert (k.loc[k["filter"] == "none", "ssim"].to_numpy() != k.loc[k["filter"] == "median", "ssim"].to_numpy()).all()


def test_olivetti_sweep_is_deterministic(olivetti, olivetti_table):
    X, y, eig = olivetti
    again = E.sweep(X, y, {"eigenfaces": eig, "smooth": Smooth()}, limits={"smooth": 10}, progress=False, **OLIVETTI_GRID)
    pd.testing.assert_frame_equal(olivetti_table, again)


def test_olivetti_uep_rows(olivetti):
    X, y, eig = olivetti
    delta = np.random.default_rng(0).normal(0, 0.5, (16, 16)).astype(np.float32)
    t = E.sweep(X, y, {"eigenfaces": eig}, betas=(1.0, 3.0), delta=delta, progress=False)
    assert t["scheme"].tolist() == ["clean", "uep", "uep"]
    assert t[["alpha", "block", "k"]].iloc[1:].isna().all().all() and t["beta"].iloc[1:].tolist() == [1.0, 3.0]
    rate, ssim = t["rate"].to_numpy(), t["ssim"].to_numpy()
    assert rate[2] < rate[1] < rate[0]  # measured 0.925, 0.525, 0.05
    assert 1.0 == ssim[0] > ssim[1] > ssim[2]  # measured 1.0, 0.48, 0.14


# --------------------------------------------------------------------------- recovery SSIM (Fig. 13)
def test_krtio_recovery_ssim_on_faces(olivetti):
    X = olivetti[0][:20]
    s8 = E.krtio_recovery_ssim(X, progress=False)
    assert s8.shape == (20,) and s8.dtype == np.float64
    assert s8.mean() > 0.99 and s8.min() > 0.99  # measured mean 0.9988, min 0.9982 (paper: 0.96, SD 0.07)
    s16 = E.krtio_recovery_ssim(X, depth=16, progress=False)
    assert (s16 > s8).all() and s16.min() > 0.9999  # measured min 0.99999997
    other_ids = E.krtio_recovery_ssim(X[:3], progress=False, image_ids=["x", "y", "z"])
    assert other_ids.min() > 0.99  # any unique ids, used to perturb and to recover


def test_uep_recovery_ssim_on_faces(olivetti):
    X = olivetti[0][:20]
    delta = np.random.default_rng(0).normal(0, 0.5, (16, 16)).astype(np.float32)
    s = E.uep_recovery_ssim(X, delta, beta=1.0, progress=False)
    assert s.shape == (20,) and s.mean() > 0.999  # measured 0.9996, min 0.9994 (paper: 0.99, SD 0.0038)
    assert E.uep_recovery_ssim(X, delta, beta=3.0, progress=False).mean() < s.mean()  # measured 0.97


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda X: E.krtio_recovery_ssim(X, depth=12, progress=False), ValueError, r"depth must be 8 or 16"),
        (lambda X: E.krtio_recovery_ssim(X, alpha=0, progress=False), ValueError, r"alpha must be in \(0, 1\]"),
        (lambda X: E.krtio_recovery_ssim(X, k=99, progress=False), ValueError, r"k must be in \[1, 30\], got 99"),
        (lambda X: E.uep_recovery_ssim(X, [[0.1]], progress=False), TypeError, r"delta must be a numpy array"),
        (lambda X: E.uep_recovery_ssim(X, np.zeros((4, 4)), beta=-1, progress=False), ValueError, r"beta must be a finite number >= 0"),
    ],
)
def test_recovery_errors(olivetti, call, error, match):
    with pytest.raises(error, match=match):
        call(olivetti[0][:2])


# --------------------------------------------------------------------------- bss_sweep
@pytest.fixture(scope="module")
def china(faces):
    S = ip.data.overlay_set()
    fitted = ip.krtio.prepare_overlays(S, faces.images[0].shape, block=8)
    return fitted, fitted.fitted(S.names.index("china"))[..., 0]


def test_bss_sweep_naive_overlay_on_faces(faces, china):
    _, overlay = china
    t, runs = E.bss_sweep(faces.images, {"china": overlay}, ns=(2, 20), seeds=(0,), return_images=True, progress=False)
    assert list(t.columns) == list(E.BSS_COLUMNS) and len(t) == len(runs) == 2
    assert t[["scheme", "alpha", "n", "seed", "overlay", "draw"]].values.tolist() == [
        ["naive", 0.45, 2, 0, "china", 0], ["naive", 0.45, 20, 0, "china", 0]]
    pair, many = t.iloc[0], t.iloc[1]
    # 20 photos under one shared overlay: it is found and removed (measured gain +0.32, |corr| 0.9 in notebook 01)
    assert many.gain > 0.15 and many.overlay_corr > 0.7
    # 2 photos: both "recovered" photos are one image, mostly the difference of the two faces
    assert pair.recovered_corr > 0.95 and pair.gain < many.gain
    # the draw is the BSS explorer's, and the scores are those of the attack itself
    pick, x, result = runs[1]
    np.testing.assert_array_equal(pick, np.random.default_rng(0).choice(len(faces), 20, replace=False))
    f = faces.images[pick]
    np.testing.assert_array_equal(x, ip.attacks.naive_overlay(f, overlay, alpha=0.45))
    np.testing.assert_array_equal(result.recovered, ip.attacks.bss_fastica(x).recovered)
    expected = np.mean([ip.metrics.ssim_affine(a, b) for a, b in zip(f, result.recovered)]) - np.mean(
        [ip.metrics.ssim_affine(a, b) for a, b in zip(f, x)])
    assert many.gain == expected and many.gain == many.ssim_recovered - many.ssim_perturbed


def test_bss_sweep_grid_order_and_draws(faces, china):
    _, overlay = china
    shared = {"china": overlay, "flat": np.full_like(overlay, 0.5)}
    t, runs = E.bss_sweep(faces.images[:60], shared, alphas=(0.3, 0.6), ns=(4,), seeds=(0, 1), draws=2, highpass=None,
                          return_images=True, progress=False)
    assert len(t) == 2 * 2 * 2 * 2
    assert t["alpha"].tolist() == [0.3] * 8 + [0.6] * 8 and t["seed"].tolist()[:8] == [0] * 4 + [1] * 4
    assert t["overlay"].tolist()[:4] == ["china", "china", "flat", "flat"] and t["draw"].tolist()[:4] == [0, 1, 0, 1]
    # one generator per (seed, n, alpha) draws in turn for every overlay and draw: every alpha sees the same faces
    picks = [pick.tolist() for pick, _, _ in runs]
    assert picks[:8] == picks[8:] and len({tuple(p) for p in picks[:4]}) == 4
    rng = np.random.default_rng(1)
    assert picks[4:8] == [rng.choice(60, 4, replace=False).tolist() for _ in range(4)]
    a, b = t[t.alpha == 0.3], t[t.alpha == 0.6]
    assert (b.ssim_perturbed.to_numpy() > a.ssim_perturbed.to_numpy()).all()


def test_bss_sweep_against_krtio(faces, china):
    fitted, _ = china
    ids = [f"face_{i:04d}.png" for i in range(len(faces))]
    t, runs = E.bss_sweep(faces.images, fitted, scheme="krtio", key=bytes(range(16)), image_ids=ids, ns=(20,),
                          draws=2, return_images=True, progress=False)
    assert t["overlay"].tolist() == ["k-RTIO"] * 2 and t["scheme"].tolist() == ["krtio"] * 2
    assert (t.gain < 0).all() and (t.overlay_corr < 0.3).all()  # no shared overlay to find (notebook 01, section 5)
    pick, x, _ = runs[0]
    chosen = [ids[i] for i in pick]
    np.testing.assert_array_equal(x, ip.krtio.perturb_batch(faces.images[pick], bytes(range(16)), image_ids=chosen,
                                                            overlays=fitted, progress=False))


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(scheme="both"), ValueError, r"scheme must be 'naive' or 'krtio', got 'both'"),
        (dict(ns=(1,)), ValueError, r"ns must be in \[2, 6\], got 1"),
        (dict(ns=(7,)), ValueError, r"ns must be in \[2, 6\], got 7"),
        (dict(ns=(2, 2)), ValueError, r"ns must not repeat a value"),
        (dict(alphas=(0,)), ValueError, r"alphas must be in \(0, 1\]"),
        (dict(seeds=(-1,)), ValueError, r"seeds must be >= 0, got -1"),
        (dict(draws=0), ValueError, r"draws must be >= 1, got 0"),
        (dict(overlays=[np.zeros((16, 16), np.float32)]), TypeError, r"overlays must be a non-empty mapping of name"),
        (dict(overlays={"small": np.zeros((8, 8), np.float32)}), ValueError,
         r"overlays\['small'\] must have the shape of one image, \(16, 16\), got \(8, 8\)"),
        (dict(scheme="krtio", overlays=None, k=99), ValueError, r"k must be in \[1, 30\], got 99"),
        (dict(scheme="krtio", overlays=None, image_ids=["a"] * 6), ValueError, r"image_ids must be unique"),
        (dict(images=np.zeros((1, 16, 16), np.float32)), ValueError, r"images must hold at least 2 faces"),
    ],
)
def test_bss_sweep_errors(tiny, change, error, match):
    X, *_ = tiny
    kwargs = dict(images=X, overlays={"flat": np.full((SIDE, SIDE), 0.5, np.float32)}, ns=(4,), progress=False)
    kwargs.update(change)
    with pytest.raises(error, match=match):
        E.bss_sweep(kwargs.pop("images"), kwargs.pop("overlays"), **kwargs)


# --------------------------------------------------------------------------- packaging
def test_lazy_module_does_not_load_pandas_or_torch():
    code = (
        "import sys, imgprivacy as ip; a = ('pandas' in sys.modules, 'torch' in sys.modules); "
        "ip.evaluate.sweep; print(a, 'torch' in sys.modules, 'evaluate' in ip.__all__, 'evaluate' in dir(ip))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "(False, False) False True True"


# --------------------------------------------------------------------------- known_overlay_sweep
def test_known_overlay_sweep_table(tiny):
    X, y, S, _ = tiny
    counting = Counting()
    targets = {"smooth": Smooth(), "counting": counting}
    settings = [(0.5, 2, 4), (0.45, 1, 8)]
    table, shown = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, limits={"counting": 3},
                                         progress=False, return_images=True)
    assert list(table.columns) == list(E.KNOWN_S_COLUMNS)
    assert len(table) == len(settings) * len(targets)
    assert table[["alpha", "k", "block"]].drop_duplicates().values.tolist() == [[0.5, 2, 4], [0.45, 1, 8]]
    assert table.loc[table.target == "counting", "n"].tolist() == [3, 3] and counting.seen == [3, 3, 3, 3]
    assert table[["overlays_found", "all_found", "rate_protected", "rate_attacked"]].stack().between(0, 1).all()
    protected, attacked = shown[0.5, 2, 4]
    assert protected.shape == attacked.shape == X.shape
    # what the provider gets: the user's k-RTIO photo, as stored in an 8-bit PNG
    ids = [f"face-{i}" for i in range(len(X))]
    expected = ip.krtio.perturb_batch(X, E.EVALUATION_KEY, image_ids=ids, overlays=S, k=2, alpha=0.5, block=4, progress=False)
    np.testing.assert_array_equal(protected, np.stack([ip.data.to_float(ip.data.to_uint(p)) for p in expected]))
    np.testing.assert_array_equal(attacked, ip.attacks.known_overlay_attack(protected, S, alpha=0.5, k=2, block=4).recovered)
    again = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, limits={"counting": 3}, progress=False)
    assert again.drop(columns="seconds").equals(table.drop(columns="seconds"))  # deterministic
    few, first = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, limits={"counting": 3},
                                       progress=False, return_images=2)  # the first 2 photos of each setting
    assert set(first) == set(shown) and few.drop(columns="seconds").equals(table.drop(columns="seconds"))
    for cell, (p2, a2) in first.items():
        assert len(p2) == len(a2) == 2
        np.testing.assert_array_equal(p2, shown[cell][0][:2])
        np.testing.assert_array_equal(a2, shown[cell][1][:2])
    with pytest.raises(ValueError, match="return_images"):
        E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False, return_images=0)


def test_known_overlay_sweep_search_column_and_pass_through(tiny):
    X, y, S, _ = tiny
    targets = {"smooth": Smooth()}
    settings = [(0.5, 2, 4)]
    greedy, shown = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False,
                                          return_images=True)
    assert greedy.search.tolist() == ["greedy"]  # the default
    beam, beam_shown = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False,
                                             return_images=True, search="beam", beam_width=3)
    assert beam.search.tolist() == ["beam"]
    protected = shown[0.5, 2, 4][0]
    expected = ip.attacks.known_overlay_attack(protected, S, alpha=0.5, k=2, block=4, search="beam", beam_width=3)
    np.testing.assert_array_equal(beam_shown[0.5, 2, 4][1], expected.recovered)
    one = E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False, search="beam",
                                beam_width=1)
    cols = [c for c in E.KNOWN_S_COLUMNS if c not in ("search", "seconds")]
    assert one[cols].equals(greedy[cols])  # a beam of width 1 is the greedy search
    with pytest.raises(ValueError, match="search must be one of 'greedy', 'beam', got 'wide'"):
        E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False, search="wide")
    with pytest.raises(ValueError, match="beam_width applies to search='beam' only"):
        E.known_overlay_sweep(X, y, targets, settings=settings, overlays=S, progress=False, beam_width=2)


def test_known_overlay_sweep_attacks_with_another_set(tiny):
    X, y, S, _ = tiny
    rng = np.random.default_rng(1)
    guess = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(3)]  # the provider does not know S
    settings = [(0.5, 2, 4)]
    table, shown = E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=settings, overlays=S,
                                         attack_overlays=guess, progress=False, return_images=True)
    protected, attacked = shown[0.5, 2, 4]
    ids = [f"face-{i}" for i in range(len(X))]
    expected = ip.krtio.perturb_batch(X, E.EVALUATION_KEY, image_ids=ids, overlays=S, k=2, alpha=0.5, block=4, progress=False)
    np.testing.assert_array_equal(protected, np.stack([ip.data.to_float(ip.data.to_uint(p)) for p in expected]))
    np.testing.assert_array_equal(attacked, ip.attacks.known_overlay_attack(protected, guess, alpha=0.5, k=2, block=4).recovered)
    assert table[["overlays_found", "all_found"]].isna().all().all()  # indices into another set name nothing
    known = E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=settings, overlays=S, progress=False)
    assert not known[["overlays_found", "all_found"]].isna().any().any()
    assert (table.ssim_attacked < known.ssim_attacked).all()  # the wrong set undoes less
    # the same set given again (a copy, equal by fingerprint) is the known-S attack
    same = E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=settings, overlays=S,
                                 attack_overlays=[s.copy() for s in S], progress=False)
    assert same.drop(columns="seconds").equals(known.drop(columns="seconds"))
    with pytest.raises(ValueError, match=r"settings\[0\] k must be in \[1, 3\], got 4"):
        E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=[(0.5, 4, 4)], overlays=S, attack_overlays=guess)


def test_known_overlay_sweep_refuses_bad_settings(tiny):
    X, y, S, _ = tiny
    with pytest.raises(TypeError, match=r"settings\[0\] must be an \(alpha, k, block\) triple"):
        E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=[(0.5, 2)], overlays=S)
    with pytest.raises(ValueError, match=r"settings\[0\] k must be in \[1, 4\], got 5"):
        E.known_overlay_sweep(X, y, {"smooth": Smooth()}, settings=[(0.5, 5, 4)], overlays=S)
    with pytest.raises(ValueError, match="labels must give the subject"):
        E.known_overlay_sweep(X, None, {"counting": Counting()}, overlays=S)
