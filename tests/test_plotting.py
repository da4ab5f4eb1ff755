"""imgprivacy.plotting: the figures drawn from the tables of imgprivacy.evaluate.

show_images and training_curves are tested in test_widgets.py, beside the explorers that draw with them.
"""

from __future__ import annotations

import io
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

import imgprivacy as ip
from imgprivacy import plotting as P
from sweep_fakes import make_tiny, make_tiny_table

# --------------------------------------------------------------------------- a tiny table to draw
@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


@pytest.fixture(scope="module")
def tiny_table(tiny):
    return make_tiny_table(tiny)


# --------------------------------------------------------------------------- the paper's figures
def _check(fig, n_axes):
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    fig.savefig(io.BytesIO(), format="png", dpi=40)  # draws it: layout or font warnings would fail here
    plt.close(fig)


def test_plot_rates(tiny_table):
    _check(P.plot_rates(tiny_table, k=2), 2)
    _check(P.plot_rates(tiny_table, k=2, task="detection"), 1)
    _check(P.plot_rates(tiny_table, k=2, x="alpha", by="block", targets=["exact"]), 1)
    _check(P.plot_rates(tiny_table, k=2, filter="median"), 2)
    _check(P.plot_rates(tiny_table, scheme="uep", x="beta", by=None), 2)
    fig = P.plot_rates(tiny_table, k=2, targets=["smooth"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 3  # two alphas and the dashed clean rate
    assert "Fig. 11" in fig.get_suptitle() and "Fig. 12" in fig.get_suptitle()
    _check(fig, 1)


def test_plot_heatmaps(tiny_table):
    fig = P.plot_heatmaps(tiny_table, k=2)
    assert "Fig. 16" in fig.get_suptitle()
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 4 and set(texts) == {"0.00"}  # the exact recogniser never recognises a k-RTIO face
    _check(fig, 3)  # two heat maps and the colour bar
    _check(P.plot_heatmaps(tiny_table, k=2, targets=["smooth"], filter="median"), 2)


def test_plot_beta(tiny_table):
    fig = P.plot_beta(tiny_table)
    assert "Fig. 8" in fig.get_suptitle()
    assert any("SSIM" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    _check(fig, 1)


def test_plot_filters(tiny_table):
    fig = P.plot_filters(tiny_table, alpha=0.3, block=4)
    assert fig.axes[0].get_xlabel() == ip.attacks.FILTERS["median"].unit
    assert "Fig. 17" in fig.get_suptitle()
    # per target: strengths 0 (unfiltered) and 1, for k-RTIO and for the clean faces (dashed)
    assert [len(line.get_xdata()) for line in fig.axes[0].get_lines()] == [2, 2, 2, 2]
    _check(fig, 1)
    _check(P.plot_filters(tiny_table, scheme="uep", targets=["exact"]), 1)


def test_plot_krtio_examples(tiny):
    X, _, S, _ = tiny
    fig = P.plot_krtio_examples(X[0], overlays=S, alphas=(0.3, 0.45, 0.6), blocks=(4, 8), k=2)
    assert "Fig. 9" in fig.get_suptitle() and fig.axes[0].get_ylabel() == "α = 0.3"
    _check(fig, 6)
    fig = P.plot_krtio_examples(X[0], overlays=S, ks=(1, 2, 3, 4), blocks=(2, 4, 8))
    assert "Fig. 10" in fig.get_suptitle() and fig.axes[3].get_ylabel() == "k = 2"
    _check(fig, 12)
    rgb = np.repeat(X[0][..., None], 3, axis=2)
    _check(P.plot_krtio_examples(rgb, overlays=S, alphas=(0.5,), blocks=(4,), k=1), 1)


def test_plot_ssim_histograms():
    fig = P.plot_ssim_histograms({"UEP": [0.99, 0.995, 1.0], "k-RTIO": np.array([0.9, 0.95, 0.97, 1.0])}, bins=5)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0] == "UEP: mean 0.9950, SD 0.005 (n = 3)" and labels[1].startswith("k-RTIO: mean 0.9550,")
    assert "Fig. 13" in fig.get_suptitle()
    _check(fig, 1)
    _check(P.plot_ssim_histograms({"same": np.ones(4)}), 1)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda t: P.plot_rates(t.drop(columns=["ssim", "n"])), ValueError, r"missing \['n', 'ssim'\]; it has \["),
        (lambda t: P.plot_rates(t.to_dict()), TypeError, r"table must be a pandas DataFrame"),
        (lambda t: P.plot_rates(t, k=2, targets=["deepface"]), ValueError,
         r"no rows for target 'deepface'; the targets available here are \['exact', 'smooth'\]"),
        (lambda t: P.plot_rates(t), ValueError, r"no rows with k=3 .*; the table has k \[2\]"),
        (lambda t: P.plot_rates(t, k=2, filter="blur"), ValueError, r"no rows with filter='blur' .*\['none', 'median'\]"),
        (lambda t: P.plot_rates(t, k=2, by=None), ValueError, r"several rows per point .*'alpha': \[0.3, 0.6\]"),
        (lambda t: P.plot_rates(t, scheme="uep"), ValueError, r"'block' is not a parameter of scheme 'uep'.*x='beta'"),
        (lambda t: P.plot_rates(t, x="size"), ValueError, r"x must be one of"),
        (lambda t: P.plot_rates(t, k=2, task="both"), ValueError, r"task must be 'recognition', 'detection' or None"),
        (lambda t: P.plot_rates(t[t.scheme != "krtio"], k=2), ValueError,
         r"no rows with scheme='krtio'; the table has schemes \['clean', 'uep'\]"),
        (lambda t: P.plot_heatmaps(t, k=5), ValueError, r"no rows with k=5"),
        (lambda t: P.plot_beta(t, targets=["nobody"]), ValueError, r"no rows for target 'nobody'"),
        (lambda t: P.plot_filters(t), ValueError, r"several rows per point"),
        (lambda t: P.plot_filters(t, alpha=0.3, block=4, filters=["jpeg"]), ValueError,
         r"no rows for filter 'jpeg'; the filters available here are \['median'\]"),
        (lambda t: P.plot_filters(t[t["filter"] == "none"], alpha=0.3, block=4), ValueError, r"no filtered rows"),
        (lambda t: P.plot_ssim_histograms([0.9]), TypeError, r"ssims must be a non-empty mapping"),
        (lambda t: P.plot_ssim_histograms({"x": []}), ValueError, r"ssims\['x'\] must hold finite SSIM values"),
        (lambda t: P.plot_krtio_examples(np.zeros((8, 8), np.float32), overlays=[np.zeros((8, 8, 3), np.float32)],
                                         k=2), ValueError, r"k must be in \[1, 1\], got 2"),
    ],
)
def test_plot_errors(tiny_table, call, error, match):
    with pytest.raises(error, match=match):
        call(tiny_table)


def test_plots_leave_pyplot_alone(tiny_table):
    before = plt.get_fignums()
    fig = P.plot_rates(tiny_table, k=2)
    assert plt.get_fignums() == before  # a bare Figure: nothing registered, no window
    plt.close(fig)


# --------------------------------------------------------------------------- the layer
def test_plotting_never_imports_ipywidgets_or_torch():
    code = (
        "import sys, numpy as np, imgprivacy as ip; "
        "ip.plotting.show_images([np.zeros((4, 4), np.float32)]); "
        "ip.plotting.plot_ssim_histograms({'x': [0.9, 1.0]}); "
        "print('ipywidgets' in sys.modules, 'torch' in sys.modules, 'imgprivacy.widgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False False False"
