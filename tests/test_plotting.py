"""imgprivacy.plotting: the figures drawn from the tables of imgprivacy.evaluate.

show_images and training_curves are tested in test_widgets.py, beside the explorers that draw with them.
"""

from __future__ import annotations

import io
import subprocess
import sys
from types import SimpleNamespace

import matplotlib
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


# --------------------------------------------------------------------------- readable in a 930-px notebook column
COLUMN_PX = 930  # the width of JupyterLab's notebook column; a wider image is scaled down to it
MIN_TEXT_PX = 9


def _as_shown(fig: Figure) -> tuple[int, float]:
    """(PNG width in px, height in px of its smallest text as JupyterLab shows it).

    Rendered as the inline backend renders a figure (matplotlib's default dpi, a tight bounding box); a 9-pt
    font at 100 dpi is 12.5 px, scaled by min(1, 930 / width) where the figure is wider than the column.
    """
    from matplotlib.text import Text

    dpi = matplotlib.rcParamsDefault["figure.dpi"]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    width = int.from_bytes(buf.getvalue()[16:20], "big")  # the PNG's IHDR
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    plt.close(fig)
    return width, min(sizes) * dpi / 72 * min(1.0, COLUMN_PX / width)


@pytest.fixture(scope="module")
def wide_table(tiny_table):
    """Six targets and every filter of imgprivacy.attacks.FILTERS: the widest figures the helpers draw."""
    import pandas as pd

    smooth = tiny_table[tiny_table["target"] == "smooth"]
    table = pd.concat([tiny_table, *(smooth.assign(target=f"smooth {i}") for i in range(4))], ignore_index=True)
    median = table[table["filter"] == "median"]
    others = (median.assign(filter=name) for name in ip.attacks.FILTERS if name != "median")
    return pd.concat([table, *others], ignore_index=True)


def _default_figures(tiny, wide_table):
    X, _, S, _ = tiny
    rng = np.random.default_rng(0)
    faces = rng.random((12, 64, 64), dtype=np.float32)
    run = {name: SimpleNamespace(loss=[2.3, 1.1, 0.4], accuracy=[0.1, 0.6, 0.9], val_accuracy=[0.1, 0.5, 0.8])
           for name in ("vgg_a", "vgg_b", "facescrub_thumb", "provider_resnet")}
    return {
        "show_images, 12 titled faces": lambda: P.show_images(faces, [f"face {i}\nSSIM 0.123" for i in range(12)],
                                                              suptitle="Twelve faces, six to a row"),
        "show_images, 10 to a row": lambda: P.show_images(faces[:10], [f"s{i}" for i in range(10)], ncols=10, size=1.3),
        "show_images, 4 large": lambda: P.show_images(faces[:4], ["a", "b", "c", "d"], size=3.6),
        "training_curves, 4 networks": lambda: P.training_curves(run, reference=run, suptitle="Training on cpu"),
        "plot_rates, 6 targets": lambda: P.plot_rates(wide_table, k=2),
        "plot_heatmaps, 6 targets": lambda: P.plot_heatmaps(wide_table, k=2),
        "plot_beta": lambda: P.plot_beta(wide_table),
        "plot_filters, 6 filters": lambda: P.plot_filters(wide_table, alpha=0.3, block=4),
        "plot_krtio_examples": lambda: P.plot_krtio_examples(X[0], overlays=S, k=2),
        "plot_ssim_histograms": lambda: P.plot_ssim_histograms({"UEP": [0.99, 1.0], "k-RTIO": [0.9, 0.97]}),
        "plot_frontier, every recogniser": lambda: P.plot_frontier(ip.evaluate.frontier(wide_table)),
    }


def test_default_figures_fit_a_notebook_column(tiny, wide_table):
    assert len(wide_table["target"].unique()) == 6 and len(wide_table["filter"].unique()) == 1 + len(ip.attacks.FILTERS)
    for name, make in _default_figures(tiny, wide_table).items():
        width, text_px = _as_shown(make())
        assert width <= COLUMN_PX, f"{name}: {width} px wide, JupyterLab shows it at {COLUMN_PX / width:.0%}"
        assert text_px >= MIN_TEXT_PX, f"{name}: its smallest text is {text_px:.1f} px high"


def test_the_readability_check_catches_a_wide_figure():
    fig = Figure(figsize=(16, 3), layout="constrained")
    fig.subplots().set_title("a 9-pt title", fontsize=9)
    width, text_px = _as_shown(fig)
    assert width > COLUMN_PX and text_px < MIN_TEXT_PX  # 16 in at 100 dpi: shown at 58%, 9 pt -> 7.2 px
    fig = P.show_images(np.zeros((6, 8, 8), np.float32), ["x"] * 6, size=3.0, max_width=None)
    assert _as_shown(fig)[0] > COLUMN_PX  # without the limit, six 3-in panels overflow the column
