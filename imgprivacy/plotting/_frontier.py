"""The privacy-utility figure: :func:`plot_frontier` draws a table of :func:`imgprivacy.evaluate.frontier`."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .._validation import _short, check_sequence
from ..evaluate import FRONTIER_COLUMNS
from ._display import MAX_WIDTH, enable_notebook_display, fit_width

__all__ = ["plot_frontier"]

_PANEL = 3.0
_MARKER = {3: "o", 8: "^"}


def plot_frontier(table, *, targets: Sequence[str] | None = None, min_ssim: Sequence[float] = (0.5, 0.6, 0.7)):
    """Privacy against utility for every k-RTIO and UEP setting, one panel per recogniser, frontiers drawn.

    x: mean SSIM of the protected photos to the originals (utility); y:
    ``1 - recognition rate`` (privacy).  k-RTIO settings are coloured by
    alpha (circles k = 3, triangles k = 8, squares other k), UEP settings
    are squares, the clean photos a cross at SSIM 1.  Each scheme's Pareto
    frontier (the ``pareto`` column) is a line through its settings; the
    paper's sweet spot (k = 3, alpha = 0.45, blocks below 20 px, section 7)
    is ringed, UEP at beta = 3 (section 6.1) starred, and the thresholds
    ``min_ssim`` are dotted vertical lines.

    Parameters
    ----------
    table : pandas.DataFrame
        A table of :func:`imgprivacy.evaluate.frontier`.
    targets : sequence of str, optional
        The recognisers, one panel each; default all of the table's.
    min_ssim : sequence of float, default (0.5, 0.6, 0.7)
        Where to draw the SSIM thresholds.

    Returns
    -------
    matplotlib.figure.Figure
        At most :data:`MAX_WIDTH` inches wide, 3 panels to a row.

    Examples
    --------
    >>> import pandas as pd
    >>> from imgprivacy.evaluate import frontier
    >>> rows = [dict(scheme="krtio", alpha=a, block=8, k=3, beta=np.nan, filter="none", strength=0, target="r",
    ...              task="recognition", rate=r, n=10, ssim=s) for a, r, s in [(0.3, 0.1, 0.4), (0.45, 0.3, 0.6)]]
    >>> fig = plot_frontier(frontier(pd.DataFrame(rows)))
    >>> [ax.get_title() for ax in fig.get_axes()]
    ['r']
    """
    import pandas as pd
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    if not isinstance(table, pd.DataFrame) or any(c not in table.columns for c in FRONTIER_COLUMNS):
        raise TypeError(f"table must be a pandas DataFrame made by imgprivacy.evaluate.frontier, got {type(table).__name__}")
    found = list(dict.fromkeys(table["target"]))
    targets = found if targets is None else list(check_sequence(targets, "targets"))
    unknown = [t for t in targets if t not in found]
    if unknown or not targets:
        raise ValueError(f"targets must name recognisers of the table ({', '.join(map(repr, found))}), got {_short(targets)}")
    thresholds = [float(t) for t in check_sequence(min_ssim, "min_ssim")]

    enable_notebook_display()
    ncols = min(len(targets), 3)
    nrows = -(-len(targets) // ncols)
    width = fit_width(_PANEL, ncols, max_width=MAX_WIDTH)
    fig = Figure(figsize=(width * ncols, _PANEL * nrows + 0.9), layout="constrained")
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[len(targets):]:
        fig.delaxes(ax)
    krtio_all = table[table["scheme"] == "krtio"]
    alphas = sorted(set(krtio_all["alpha"].dropna().astype(float)))
    cmap = colormaps["viridis"]
    colour = {a: cmap(i / max(len(alphas) - 1, 1) * 0.9) for i, a in enumerate(alphas)}
    for ax, target in zip(axes, targets):
        rows = table[table["target"] == target]
        kr, ue, cl = (rows[rows["scheme"] == s] for s in ("krtio", "uep", "clean"))
        for r in kr.itertuples():
            ax.scatter(r.ssim, r.privacy, s=22, color=colour[float(r.alpha)], marker=_MARKER.get(int(r.k), "s"),
                       alpha=0.85, linewidths=0)
        if len(ue):
            ax.scatter(ue["ssim"], ue["privacy"], s=26, color="tab:orange", marker="s", alpha=0.85, linewidths=0)
        if len(cl):
            ax.scatter(cl["ssim"], cl["privacy"], s=40, color="0.3", marker="x")
        for part, name, style in ((kr, "k-RTIO frontier", "-"), (ue, "UEP frontier", "--")):
            front = part[part["pareto"].astype(bool)].sort_values(["ssim", "privacy"], ascending=[True, False])
            if len(front):
                ax.plot(front["ssim"], front["privacy"], style, color="0.15" if part is kr else "tab:orange",
                        lw=1.2, label=name)
        spot = kr[np.isclose(kr["alpha"].astype(float), 0.45) & (kr["k"] == 3) & (kr["block"] < 20)]
        ax.scatter(spot["ssim"], spot["privacy"], s=110, facecolors="none", edgecolors="tab:red", linewidths=1.3)
        for r in spot.itertuples():
            ax.annotate(f"{int(r.block)}", (r.ssim, r.privacy), xytext=(5, -3), textcoords="offset points",
                        fontsize=7, color="tab:red")
        b3 = ue[np.isclose(ue["beta"].astype(float), 3.0)]
        ax.scatter(b3["ssim"], b3["privacy"], s=140, marker="*", color="tab:red", linewidths=0)
        for t in thresholds:
            ax.axvline(t, color="0.6", lw=0.8, ls=":")
        ax.set_title(str(target), fontsize=9)
        ax.set_xlabel("utility: mean SSIM to the original", fontsize=8)
        ax.set_ylabel("privacy: 1 - recognition rate", fontsize=8)
        ax.set_ylim(-0.03, 1.03)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], ls="", marker="o", color=colour[a], label=f"k-RTIO α = {a:g}") for a in alphas]
    handles += [
        Line2D([], [], ls="", marker="^", color="0.4", label="k = 8 (circles: k = 3)"),
        Line2D([], [], ls="", marker="s", color="tab:orange", label="UEP"),
        Line2D([], [], ls="", marker="x", color="0.3", label="clean"),
        Line2D([], [], ls="-", color="0.15", label="k-RTIO frontier"),
        Line2D([], [], ls="--", color="tab:orange", label="UEP frontier"),
        Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor="tab:red", markersize=9,
               label="sweet spot: k = 3, α = 0.45, block < 20 (px labelled)"),
        Line2D([], [], ls="", marker="*", color="tab:red", markersize=10, label="UEP β = 3"),
        Line2D([], [], ls=":", color="0.6", label="SSIM " + ", ".join(f"{t:g}" for t in thresholds)),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=7, frameon=False)
    return fig
