"""Static figures of the evaluation tables: the paper's Fig. 8-13, 16 and 17.

``plot_*`` draw the tables of :mod:`imgprivacy.evaluate`: examples of k-RTIO
faces (Fig. 9, 10), rates against block size (Fig. 11, 12), alpha x block heat
maps (Fig. 16), rates against beta (Fig. 8), rates against filter strength
(Fig. 17) and SSIM histograms (Fig. 13).  pandas is imported only when a
table is read; never imports ipywidgets or torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from .. import _prf, attacks, krtio
from .._validation import _short, check_alpha, check_image, check_int, check_sequence
from ..evaluate import COLUMNS, EVALUATION_KEY, PARAMS, SCHEME_PARAMS, SCHEMES
from ._display import enable_notebook_display, fit_width

__all__ = ["plot_beta", "plot_filters", "plot_heatmaps", "plot_krtio_examples", "plot_rates", "plot_ssim_histograms"]

_SCHEME_LABEL = {"clean": "clean", "krtio": "k-RTIO", "uep": "UEP"}
_SYMBOL = {"alpha": "α", "block": "block", "k": "k", "beta": "β"}
_AXIS = {"alpha": "α (weight of the photo)", "block": "block side (px)", "k": "k (overlays)", "beta": "β (weight of delta)"}

#: Panels per row of the one-panel-per-target (or filter) figures: more go on further rows.
_PANELS_PER_ROW = 3


def _figure(nrows: int, ncols: int, *, width: float, height: float):
    """A bare constrained-layout Figure and its (nrows, ncols) axes; registers Jupyter's display if inline.

    Panels are narrowed so that the figure is at most :data:`MAX_WIDTH` inches wide.
    """
    from matplotlib.figure import Figure

    enable_notebook_display()
    fig = Figure(figsize=(fit_width(width, ncols) * ncols, height * nrows + 0.5), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _panels(n: int, *, width: float, height: float):
    """A figure with ``n`` axes, :data:`_PANELS_PER_ROW` to a row, and that list of axes (unused cells removed)."""
    ncols = min(n, _PANELS_PER_ROW)
    fig, grid = _figure(-(-n // ncols), ncols, width=width, height=height)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


def _check_table(table: Any):
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame made by imgprivacy.evaluate.sweep, got {type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(
            f"table must have the columns of imgprivacy.evaluate.sweep, missing {missing}; it has {list(table.columns)}"
        )
    return table


def _values(series) -> list:
    """Distinct non-missing values in order of appearance, as plain Python numbers or strings."""
    out = []
    for v in series.dropna().tolist():
        v = v.item() if isinstance(v, np.generic) else v
        if v not in out:
            out.append(v)
    return out


def _eq(series, value) -> np.ndarray:
    if isinstance(value, str):
        return (series.astype(object) == value).to_numpy(dtype=bool)
    return np.isclose(series.astype("float64").to_numpy(), float(value), rtol=1e-9, atol=1e-12)


def _where(rows, what: str, column: str, value) -> Any:
    picked = rows[_eq(rows[column], value)]
    if picked.empty:
        raise ValueError(f"no rows with {column}={value!r} {what}; the table has {column} {_values(rows[column])}")
    return picked


def _select(table, *, scheme: str, filter: str, strength, fixed: Mapping[str, Any], free: Sequence[str],
            targets, task=None, point: Sequence[str] = ()):
    """Rows of ``table`` for one plot, each (target, *free, *point) at most once, with the targets to draw."""
    table = _check_table(table)
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {_short(scheme)}")
    rows = table[_eq(table["scheme"], scheme)]
    if rows.empty:
        raise ValueError(f"no rows with scheme={scheme!r}; the table has schemes {_values(table['scheme'])}")
    if filter is not None:
        rows = _where(rows, f"for scheme={scheme!r}", "filter", filter)
        strengths = _values(rows["strength"])
        if strength is None and len(strengths) > 1:
            raise ValueError(f"filter {filter!r} was applied at strengths {strengths}; pass strength= one of them")
        rows = _where(rows, f"for filter={filter!r}", "strength", strengths[0] if strength is None else strength)
    for param in free:
        if param not in SCHEME_PARAMS[scheme]:
            raise ValueError(
                f"{param!r} is not a parameter of scheme {scheme!r}, whose parameters are {list(SCHEME_PARAMS[scheme])}"
                + ("; use x='beta' and by=None for UEP" if scheme == "uep" else "")
            )
    for param, value in fixed.items():  # a parameter the scheme does not have is ignored (k = 3 for UEP)
        if value is not None and param not in free and param in SCHEME_PARAMS[scheme]:
            rows = _where(rows, f"for scheme={scheme!r}, filter={filter!r}", param, value)
    if task is not None:
        if task not in ("recognition", "detection"):
            raise ValueError(f"task must be 'recognition', 'detection' or None, got {_short(task)}")
        rows = _where(rows, "here", "task", task)
    available = _values(rows["target"])
    if targets is None:
        names = available
    else:
        if isinstance(targets, str):
            targets = [targets]
        names = list(targets)
        for name in names:
            if name not in available:
                raise ValueError(f"no rows for target {_short(name)}; the targets available here are {available}")
        rows = rows[rows["target"].isin(names)]
    key = ["target", *free, *point]
    if rows.duplicated(subset=key).any():
        loose = {p: _values(rows[p]) for p in PARAMS if p not in free and len(_values(rows[p])) > 1}
        raise ValueError(
            f"several rows per point of the plot; fix the other parameters, which take the values {loose} "
            "(pass e.g. alpha=..., block=..., k=..., beta=...)"
        )
    return rows, names


def _clean_rates(table, filter: str, strength) -> dict[str, float]:
    """Clean rate per target under ``filter`` (falling back to the unfiltered clean cell)."""
    clean = table[_eq(table["scheme"], "clean")]
    for name, s in ((filter, strength), ("none", 0)):
        if name is None:
            continue
        rows = clean[_eq(clean["filter"], name)]
        if s is not None:
            rows = rows[_eq(rows["strength"], s)]
        if not rows.empty:
            return dict(zip(rows["target"], rows["rate"].astype(float)))
    return {}


def _line_label(by: str | None, value) -> str:
    return "rate" if by is None else f"{_SYMBOL[by]} = {value:g}"


def plot_rates(
    table,
    *,
    scheme: str = "krtio",
    x: str = "block",
    by: str | None = "alpha",
    k: int | None = 3,
    alpha: float | None = None,
    block: int | None = None,
    beta: float | None = None,
    task: str | None = None,
    targets: Sequence[str] | None = None,
    filter: str = "none",
    strength: float | None = None,
):
    """Rate against one parameter, one panel per target and one line per value of another (Fig. 11, 12).

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`sweep`.
    scheme : {"krtio", "uep"}, default "krtio"
    x : {"block", "alpha", "k", "beta"}, default "block"
        The horizontal axis (a log2 axis for ``"block"``).
    by : {"alpha", "block", "k", None}, default "alpha"
        One line per value of this parameter (None: one line).
    k, alpha, block, beta : optional
        Keep only rows with this value (ignored for ``x`` and ``by``, and
        for a scheme without this parameter); ``k = 3`` by default, the
        paper's setting.
    task : {"recognition", "detection"}, optional
        Only targets of this task.
    targets : sequence of str, optional
        Target names, in panel order; default every target in the table.
    filter : str, default "none"
        Rows of this filter (``strength`` picks one strength when it was
        applied at several).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per target.  The target's clean rate (same filter, or
        unfiltered) is drawn as a dashed line.

    Raises
    ------
    ValueError
        For a table without the columns of :func:`sweep`, an unknown target,
        or no matching rows (the message lists what is available).

    References
    ----------
    Fig. 11 (face detection against block size for k = 3 and k = 8) and
    Fig. 12 (recognition and detection, k = 3) of the paper.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scheme": ["clean"] + ["krtio"] * 4, "alpha": [np.nan, 0.3, 0.3, 0.6, 0.6],
    ...                   "block": [pd.NA, 4, 8, 4, 8], "k": [pd.NA, 3, 3, 3, 3], "beta": np.nan, "filter": "none",
    ...                   "strength": 0.0, "target": "toy", "task": "recognition",
    ...                   "rate": [0.9, 0.1, 0.2, 0.4, 0.6], "n": 10, "ssim": 1.0})
    >>> fig = plot_rates(t)
    >>> len(fig.axes)
    1
    """
    for name, value, accepted in (("x", x, ("alpha", "block", "k", "beta")), ("by", by, ("alpha", "block", "k", "beta", None))):
        if value not in accepted:
            raise ValueError(f"{name} must be one of {list(accepted)}, got {_short(value)}")
    if by is not None and by == x:
        raise ValueError(f"by must differ from x, got x = by = {x!r}")
    free = [p for p in (x, by) if p is not None]
    rows, names = _select(
        table, scheme=scheme, filter=filter, strength=strength, fixed={"k": k, "alpha": alpha, "block": block, "beta": beta},
        free=free, targets=targets, task=task,
    )
    clean = _clean_rates(table, filter, strength)
    fig, axes = _panels(len(names), width=4.0, height=3.4)
    lines = _values(rows[by]) if by is not None else [None]
    for ax, name in zip(axes, names):
        mine = rows[rows["target"] == name]
        for value in sorted(lines):
            part = mine if by is None else mine[_eq(mine[by], value)]
            part = part.sort_values(x)
            ax.plot(part[x].astype(float), part["rate"].astype(float), marker="o", label=_line_label(by, value))
        if name in clean:
            ax.axhline(clean[name], color="0.3", linestyle="--", label="clean")
        if x == "block":
            ax.set_xscale("log", base=2)
            ticks = sorted(float(v) for v in _values(mine[x]))
            ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(_AXIS[x])
        ax.set_ylabel(f"{mine['task'].iloc[0]} rate")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    # the same lines in every panel: one legend, below them (beside them, it would take a panel's width)
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize="small")
    fixed = ", ".join(f"{_SYMBOL[p]} = {v:g}" for p, v in (("k", k), ("alpha", alpha), ("block", block), ("beta", beta))
                      if v is not None and p not in free)
    figure_ref = "paper Fig. 11 (detection) and Fig. 12" if scheme == "krtio" else "paper Fig. 8"
    fig.suptitle(f"{_SCHEME_LABEL[scheme]}: rate against {x}" + (f", {fixed}" if fixed else "")
                 + (f", filter {filter}" if filter != "none" else "") + f" ({figure_ref})")
    return fig


def plot_heatmaps(
    table,
    *,
    targets: Sequence[str] | None = None,
    k: int | None = 3,
    filter: str = "none",
    strength: float | None = None,
):
    """One alpha x block heat map of k-RTIO rates per target, each cell annotated (Fig. 16).

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`sweep` with k-RTIO rows.
    targets : sequence of str, optional
        Target names, side by side (e.g. the plain and the robust CNN).
    k : int, default 3
    filter : str, default "none"
    strength : float, optional
        Which strength of ``filter`` when it was applied at several.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per target plus one shared colour bar.

    References
    ----------
    Fig. 16 of the paper: the CNN trained on clean images (left) and the
    robust CNN trained on k-RTIO images too (right), k = 3.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scheme": "krtio", "alpha": [0.3, 0.3, 0.6, 0.6], "block": [4, 8, 4, 8], "k": 3,
    ...                   "beta": np.nan, "filter": "none", "strength": 0.0, "target": "toy", "task": "recognition",
    ...                   "rate": [0.1, 0.2, 0.4, 0.6], "n": 10, "ssim": 0.5})
    >>> len(plot_heatmaps(t).axes)  # the heat map and the colour bar
    2
    """
    rows, names = _select(table, scheme="krtio", filter=filter, strength=strength, fixed={"k": k},
                          free=("alpha", "block"), targets=targets)
    alphas = sorted(_values(rows["alpha"]))
    blocks = sorted(_values(rows["block"]))
    fig, axes = _panels(len(names), width=3.2 + 0.35 * len(blocks), height=0.5 * len(alphas) + 1.4)
    image = None
    for ax, name in zip(axes, names):
        mine = rows[rows["target"] == name]
        grid = np.full((len(alphas), len(blocks)), np.nan)
        for a, b, r in zip(mine["alpha"], mine["block"], mine["rate"]):
            grid[alphas.index(float(a)), blocks.index(int(b))] = float(r)
        image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower", aspect="auto")
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if value < 0.5 else "black")
        ax.set_xticks(range(len(blocks)), [str(b) for b in blocks])
        ax.set_yticks(range(len(alphas)), [f"{a:g}" for a in alphas])
        ax.set_xlabel("block (px)")
        ax.set_ylabel("α")
        ax.set_title(f"{name} ({mine['task'].iloc[0]})")
    fig.colorbar(image, ax=axes, label="rate", shrink=0.9)
    fig.suptitle(f"k-RTIO rate by α and block size, k = {k}" + (f", filter {filter}" if filter != "none" else "")
                 + " (paper Fig. 16)")
    return fig


def plot_beta(table, *, targets: Sequence[str] | None = None, filter: str = "none", strength: float | None = None):
    """UEP rate against beta, one line per target, with the mean SSIM of what a human sees (Fig. 8, 6).

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`sweep` with UEP rows.
    targets : sequence of str, optional
    filter : str, default "none"
    strength : float, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes: solid lines for recognisers, dash-dotted for detectors,
        dotted markers for each target's clean rate at beta = 0 (the clean
        cell, when the table has one), and the mean SSIM as a black dashed
        line.

    References
    ----------
    Fig. 8 (rates against beta) and Fig. 6 (what the faces look like) of
    the paper.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scheme": "uep", "alpha": np.nan, "block": pd.NA, "k": pd.NA, "beta": [1.0, 2.0, 3.0],
    ...                   "filter": "none", "strength": 0.0, "target": "toy", "task": "recognition",
    ...                   "rate": [0.9, 0.5, 0.1], "n": 10, "ssim": [0.8, 0.6, 0.4]})
    >>> len(plot_beta(t).axes)
    1
    """
    rows, names = _select(table, scheme="uep", filter=filter, strength=strength, fixed={}, free=("beta",), targets=targets)
    clean = _clean_rates(table, filter, strength)
    fig, axes = _figure(1, 1, width=8.0, height=4.0)  # the legend goes beside the axes
    ax = axes[0, 0]
    for i, name in enumerate(names):
        mine = rows[rows["target"] == name].sort_values("beta")
        colour = f"C{i}"
        style = "-" if mine["task"].iloc[0] == "recognition" else "-."
        ax.plot(mine["beta"], mine["rate"], style, marker="o", color=colour, label=f"{name} ({mine['task'].iloc[0]})")
        if name in clean:
            ax.plot([0.0, float(mine["beta"].iloc[0])], [clean[name], float(mine["rate"].iloc[0])], ":", color=colour)
            ax.plot([0.0], [clean[name]], marker="s", color=colour)
    ssim = rows.drop_duplicates("beta").sort_values("beta")
    ax.plot(ssim["beta"], ssim["ssim"], "--", marker="x", color="black", label="mean SSIM (human view)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("β")
    ax.set_ylabel("rate / SSIM")
    ax.grid(alpha=0.3)
    # beside the axes: the lines fill every corner; a fixed place also spares matplotlib's timed loc="best"
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("UEP: rate and SSIM against β" + (f", filter {filter}" if filter != "none" else "")
                 + " (paper Fig. 8; faces: Fig. 6)")
    return fig


def plot_filters(
    table,
    *,
    scheme: str = "krtio",
    targets: Sequence[str] | None = None,
    filters: Sequence[str] | None = None,
    alpha: float | None = None,
    block: int | None = None,
    k: int | None = None,
    beta: float | None = None,
):
    """Rate against filter strength, one panel per filter and one line per target (Fig. 17).

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`sweep` with filtered rows (``filters=``).
    scheme : {"krtio", "uep", "clean"}, default "krtio"
    targets : sequence of str, optional
    filters : sequence of str, optional
        Filter names, in panel order; default every filter in the table
        other than ``"none"``.
    alpha, block, k, beta : optional
        Pick one cell when the table has several for ``scheme`` (ignored
        for a scheme without this parameter).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per filter; the x axis is the filter's strength in its unit
        (:data:`imgprivacy.attacks.FILTERS`).  Strength 0 is the unfiltered
        rate.  Dashed lines: the clean faces under the same filter, when the
        table has them.

    References
    ----------
    Fig. 17 of the paper (alpha = 0.45, k = 3): blurring, median, greyscale
    and Gaussian filters against DeepFace.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scheme": "krtio", "alpha": 0.45, "block": 8, "k": 3, "beta": np.nan,
    ...                   "filter": ["none", "median", "median"], "strength": [0.0, 1.0, 2.0], "target": "toy",
    ...                   "task": "recognition", "rate": [0.1, 0.2, 0.15], "n": 10, "ssim": 0.5})
    >>> len(plot_filters(t).axes)
    1
    """
    base, names = _select(table, scheme=scheme, filter=None, strength=None,
                          fixed={"alpha": alpha, "block": block, "k": k, "beta": beta}, free=(), targets=targets,
                          point=("filter", "strength"))
    present = [f for f in _values(base["filter"]) if f != "none"]
    if filters is None:
        chosen = present
    else:
        chosen = [filters] if isinstance(filters, str) else list(filters)
        for f in chosen:
            if f not in present:
                raise ValueError(f"no rows for filter {_short(f)}; the filters available here are {present}")
    if not chosen:
        raise ValueError("the table has no filtered rows (only filter 'none'); run sweep with filters=[('median', 1), ...]")
    clean = table[_eq(table["scheme"], "clean")] if scheme != "clean" else None
    fig, axes = _panels(len(chosen), width=3.6, height=3.2)
    for ax, fname in zip(axes, chosen):
        for i, name in enumerate(names):
            colour = f"C{i}"
            for rows, style, suffix in ((base, "-", ""), (clean, "--", " (clean)")):
                if rows is None:
                    continue
                mine = rows[(rows["target"] == name) & rows["filter"].isin([fname, "none"])]
                if not (mine["filter"] == fname).any():
                    continue
                mine = mine[(mine["filter"] == fname) | (mine["strength"] == 0)]
                mine = mine.sort_values(["strength", "filter"]).drop_duplicates("strength", keep="last")
                ax.plot(mine["strength"], mine["rate"], style, marker="o", color=colour, label=name + suffix)
        spec = attacks.FILTERS.get(fname)
        ax.set_xlabel(spec.unit if spec is not None else "strength")
        ax.set_ylabel("rate")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(fname)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    # one legend, below the panels: every panel has the same lines
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize="small")
    cell = ", ".join(f"{_SYMBOL[p]} = {v:g}" for p in PARAMS
                     for v in _values(base[p])[:1] if len(_values(base[p])) == 1)
    fig.suptitle(f"{_SCHEME_LABEL[scheme]}" + (f" ({cell})" if cell else "")
                 + ": rate against filter strength (paper Fig. 17)")
    return fig


def plot_krtio_examples(
    image,
    key: bytes | str | None = None,
    *,
    overlays=None,
    alphas: Sequence[float] = (0.3, 0.45, 0.6, 0.7),
    blocks: Sequence[int] = (4, 8, 16, 32),
    k: int = 3,
    ks: Sequence[int] | None = None,
    alpha: float = 0.6,
    image_id: str | bytes = "example.png",
    size: float = 1.8,
):
    """One face under k-RTIO on a grid: rows alpha (Fig. 9) or k (Fig. 10), columns block size.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        A face, float in [0, 1].
    key : bytes or str, optional
        Default :data:`EVALUATION_KEY`.
    overlays : sequence of ndarray, optional
        Default :func:`imgprivacy.data.overlay_set`.
    alphas : sequence of float, default (0.3, 0.45, 0.6, 0.7)
        One row each, at ``k`` overlays (Fig. 9), unless ``ks`` is given.
    blocks : sequence of int, default (4, 8, 16, 32)
        One column each (block side in pixels).
    k : int, default 3
    ks : sequence of int, optional
        If given, one row per ``k`` at the fixed ``alpha`` (Fig. 10).
    alpha : float, default 0.6
        The ``alpha`` of the rows of ``ks``.
    image_id : str or bytes, default "example.png"
        The same id everywhere, so every panel uses the same overlays (the
        first ``k`` chosen are shared between values of ``k``).
    size : float, default 1.8
        Inches per panel.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(rows) * len(blocks)`` axes.

    References
    ----------
    Fig. 9 (alpha against block size, k = 3) and Fig. 10 (k against block
    size, alpha = 0.6) of the paper.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((16, 16), dtype=np.float32)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> len(plot_krtio_examples(x, overlays=S, alphas=(0.3, 0.6), blocks=(4, 8), k=2).axes)
    4
    """
    img = check_image(image, "image")
    key = _prf.check_key(EVALUATION_KEY if key is None else key)
    S = krtio.resolve_overlays(overlays)
    blocks = [check_int(b, "blocks", minimum=1) for b in check_sequence(blocks, "blocks")]
    if not blocks:
        raise ValueError("blocks must hold at least one block size, got none")
    if ks is None:
        k = check_int(k, "k", minimum=1, maximum=len(S))
        rows = [(check_alpha(a, "alphas"), k) for a in check_sequence(alphas, "alphas")]
        label, title = (lambda a, _k: f"α = {a:g}"), f"k-RTIO, k = {k}: α (rows) against block size (paper Fig. 9)"
    else:
        alpha = check_alpha(alpha)
        rows = [(alpha, check_int(v, "ks", minimum=1, maximum=len(S))) for v in check_sequence(ks, "ks")]
        label, title = (lambda _a, v: f"k = {v}"), f"k-RTIO, α = {alpha:g}: k (rows) against block size (paper Fig. 10)"
    if not rows:
        raise ValueError("alphas (or ks) must hold at least one value, got none")
    grey = img.ndim == 2 or img.shape[2] in (1, 2)
    fig, axes = _figure(len(rows), len(blocks), width=size, height=size + 0.25)
    for j, b in enumerate(blocks):
        prep = krtio.prepare_overlays(S, img.shape, block=b)
        for i, (a, kk) in enumerate(rows):
            y = krtio.perturb(img, key, image_id=image_id, overlays=prep, k=kk, alpha=a, block=b)
            ax = axes[i, j]
            shown = y[..., 0] if y.ndim == 3 and grey else (y[..., :3] if y.ndim == 3 else y)
            ax.imshow(shown, cmap="gray" if grey else None, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"block {b}", fontsize="small")
            if j == 0:
                ax.set_ylabel(label(a, kk))
    fig.suptitle(title)
    return fig


def plot_ssim_histograms(ssims: Mapping[str, Any], *, bins: int = 30):
    """Overlaid histograms of recovery SSIM, mean and SD in the legend (Fig. 13).

    Parameters
    ----------
    ssims : mapping of str to array-like
        Label to SSIM values, e.g. ``{"UEP": uep_recovery_ssim(...),
        "k-RTIO": krtio_recovery_ssim(...)}``.
    bins : int, default 30
        Bins, shared by every histogram.

    Returns
    -------
    matplotlib.figure.Figure
        One axes.

    References
    ----------
    Fig. 13 of the paper: UEP 0.99 (SD 0.0038), k-RTIO 0.96 (SD 0.07).

    Examples
    --------
    >>> fig = plot_ssim_histograms({"UEP": np.array([0.99, 0.995, 1.0]), "k-RTIO": np.array([0.9, 0.95, 0.97])})
    >>> len(fig.axes), fig.axes[0].get_legend().get_texts()[0].get_text()
    (1, 'UEP: mean 0.9950, SD 0.005 (n = 3)')
    """
    if not isinstance(ssims, Mapping) or not ssims:
        raise TypeError(
            "ssims must be a non-empty mapping of label to SSIM values, e.g. {'k-RTIO': krtio_recovery_ssim(X)}, "
            f"got {_short(ssims)}"
        )
    bins = check_int(bins, "bins", minimum=1)
    values = {}
    for label, v in ssims.items():
        arr = np.asarray(v, dtype=np.float64).ravel()
        if arr.size == 0 or not np.all(np.isfinite(arr)):
            raise ValueError(f"ssims[{label!r}] must hold finite SSIM values, got {arr.size} values")
        values[str(label)] = arr
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    fig, axes = _figure(1, 1, width=6.0, height=3.6)
    ax = axes[0, 0]
    for label, arr in values.items():
        ax.hist(arr, bins=edges, alpha=0.55,
                label=f"{label}: mean {arr.mean():.4f}, SD {arr.std(ddof=1) if arr.size > 1 else 0.0:.2g} (n = {arr.size})")
    ax.set_xlabel("SSIM(original, recovered)")
    ax.set_ylabel("images")
    ax.legend(fontsize="small", loc="upper left")  # SSIM piles up near 1; matplotlib warns (an error in the tests)
    # when loc="best" takes over a second to place, which a loaded machine makes it do
    fig.suptitle("SSIM of original and recovered images after storage (paper Fig. 13)")
    return fig
