"""The privacy-utility frontier of both schemes, from the tables of :func:`sweep`.

:func:`frontier` turns the k-RTIO grid (alpha x k x block) and the UEP's
beta grid of :func:`imgprivacy.evaluate.sweep` into one tidy table: per
setting and recogniser, the utility (mean SSIM of the protected photo to the
original, what :func:`sweep` measures in its ``ssim`` column), the privacy
(one minus the recogniser's recognition rate) and whether the setting is on
its scheme's Pareto frontier for that recogniser.  :func:`best_settings`
reads the plain answer off it: the most private setting of each scheme that
keeps the SSIM at or above a threshold.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .._validation import _short, check_sequence
from ._sweeps import COLUMNS

__all__ = ["BEST_COLUMNS", "FRONTIER_COLUMNS", "best_settings", "frontier", "pareto_mask"]

#: Columns of the table :func:`frontier` returns, in order.
FRONTIER_COLUMNS = ("scheme", "alpha", "block", "k", "beta", "target", "ssim", "rate", "privacy", "n", "pareto")
#: Columns of the table :func:`best_settings` returns, in order.
BEST_COLUMNS = ("scheme", "min_ssim", "alpha", "block", "k", "beta", "ssim", "rate", "privacy", "n", "target")
_SETTING = ("scheme", "alpha", "block", "k", "beta")


def pareto_mask(utility, privacy) -> np.ndarray:
    """Which points no other point beats on both axes (higher is better on each).

    A point is dominated when another is at least as good on both axes and
    strictly better on one; equal points are both kept.

    Parameters
    ----------
    utility, privacy : array-like of shape (N,)

    Returns
    -------
    ndarray of bool, shape (N,)

    Examples
    --------
    >>> pareto_mask([0.9, 0.5, 0.4, 0.9], [0.1, 0.6, 0.5, 0.1]).tolist()
    [True, True, False, True]
    """
    u = np.asarray(utility, dtype=np.float64)
    p = np.asarray(privacy, dtype=np.float64)
    if u.ndim != 1 or u.shape != p.shape:
        raise ValueError(f"utility and privacy must be 1-D of the same length, got shapes {u.shape} and {p.shape}")
    if not (np.isfinite(u).all() and np.isfinite(p).all()):
        raise ValueError("utility and privacy must be finite (drop the settings that were not measured)")
    ge = (u[None, :] >= u[:, None]) & (p[None, :] >= p[:, None])  # [i, j]: j at least as good as i on both
    gt = (u[None, :] > u[:, None]) | (p[None, :] > p[:, None])
    return ~np.any(ge & gt, axis=1)


def _check_sweep(table: Any, name: str):
    import pandas as pd

    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame made by imgprivacy.evaluate.sweep, got {type(table).__name__}")
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{name} must have the columns of imgprivacy.evaluate.sweep, missing {missing}")
    return table


def frontier(*tables, targets: Sequence[str] | None = None):
    """The privacy-utility table of k-RTIO and UEP settings, with each recogniser's Pareto frontier.

    Parameters
    ----------
    *tables : pandas.DataFrame
        Tables of :func:`imgprivacy.evaluate.sweep`: e.g. the k-RTIO grid
        (``alphas x blocks x ks``) and the UEP's ``betas``.  Only unfiltered
        (``filter == "none"``) recognition rows are read; detectors and
        filtered rows are left out, and a clean row appears once.  UEP at
        ``beta = 0`` is the clean photo itself and is left out too.
    targets : sequence of str, optional
        The recognisers to keep, in this order; default every recogniser of
        the tables, in order of appearance.

    Returns
    -------
    pandas.DataFrame
        :data:`FRONTIER_COLUMNS`, one row per (setting, recogniser):
        ``ssim`` the utility (mean SSIM of the protected photos to the
        originals, 1 for ``scheme == "clean"``), ``rate`` the recognition
        rate on ``n`` faces, ``privacy = 1 - rate``, and ``pareto``: True
        where no other setting *of the same scheme* has both a higher or
        equal SSIM and a higher or equal privacy for this recogniser, one of
        them strictly (False for the clean row).

    Raises
    ------
    TypeError, ValueError
        If a table is not a sweep table, no table has a recognition row, or
        ``targets`` names a recogniser the tables lack.

    Notes
    -----
    SSIM stands in for "the photo still looks like itself to its owner's
    friends" as in the reproduction's Fig. 9 claim; the paper judges that
    by eye (its section 7 names the sweet spot k = 3, alpha = 0.45, blocks
    below 20 px).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [dict(scheme="krtio", alpha=a, block=8, k=3, beta=np.nan, filter="none", strength=0, target="r",
    ...              task="recognition", rate=r, n=10, ssim=s) for a, r, s in [(0.3, 0.1, 0.4), (0.45, 0.3, 0.6),
    ...                                                                       (0.6, 0.5, 0.55)]]
    >>> front = frontier(pd.DataFrame(rows))
    >>> front[["alpha", "privacy", "pareto"]].round(2).values.tolist()
    [[0.3, 0.9, True], [0.45, 0.7, True], [0.6, 0.5, False]]
    """
    import pandas as pd

    if not tables:
        raise TypeError("frontier needs at least one table of imgprivacy.evaluate.sweep")
    parts = [_check_sweep(t, f"tables[{i}]") for i, t in enumerate(tables)]
    rows = pd.concat(parts, ignore_index=True)
    rows = rows[(rows["filter"] == "none") & (rows["task"] == "recognition")]
    if not len(rows):
        raise ValueError("the tables hold no unfiltered recognition rows (filter 'none', task 'recognition')")
    found = list(dict.fromkeys(rows["target"]))
    if targets is None:
        targets = found
    else:
        targets = list(check_sequence(targets, "targets"))
        unknown = [t for t in targets if t not in found]
        if unknown:
            raise ValueError(f"targets must name recognisers of the tables ({', '.join(map(repr, found))}), got {_short(unknown)}")
    rows = rows[rows["target"].isin(targets)]
    rows = rows[~((rows["scheme"] == "uep") & np.isclose(rows["beta"].astype(float), 0.0))]  # beta 0: the clean photo
    # one clean row per recogniser, even when several tables carry one
    rows = rows.drop_duplicates([*_SETTING, "target"])  # pandas counts NaN equal to NaN here
    out = rows.loc[:, [c for c in FRONTIER_COLUMNS if c not in ("privacy", "pareto")]].copy()
    out.loc[out["scheme"] == "clean", "ssim"] = 1.0
    out["privacy"] = 1.0 - out["rate"].astype(float)
    out["pareto"] = False
    for (scheme, _), part in out[out["scheme"] != "clean"].groupby(["scheme", "target"], sort=False):
        ok = part["ssim"].notna() & part["rate"].notna()
        part = part[ok]
        out.loc[part.index, "pareto"] = pareto_mask(part["ssim"].to_numpy(), part["privacy"].to_numpy())
    order = {t: i for i, t in enumerate(targets)}
    out = out.sort_values("target", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
    return out.loc[:, list(FRONTIER_COLUMNS)]


def best_settings(table, *, target: str = "dlib ResNet", min_ssim: Sequence[float] = (0.5, 0.6, 0.7)):
    """The most private setting of each scheme that keeps the mean SSIM at or above each threshold.

    "At this resolution, the best setting with SSIM >= 0.6 lowers the
    recogniser's rate to X": one row per (scheme, threshold).

    Parameters
    ----------
    table : pandas.DataFrame
        A table of :func:`frontier`.
    target : str, default "dlib ResNet"
        The recogniser whose rate is lowered.
    min_ssim : sequence of float, default (0.5, 0.6, 0.7)
        The thresholds, each in [0, 1].

    Returns
    -------
    pandas.DataFrame
        :data:`BEST_COLUMNS`: for each scheme (k-RTIO, then UEP) and
        threshold, the setting with the lowest rate among those with
        ``ssim >= min_ssim`` (ties: the higher SSIM, then the first in the
        table), or a row of NaN settings and rate where none qualifies.
        The clean row is never chosen.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = [dict(scheme="krtio", alpha=a, block=8, k=3, beta=np.nan, filter="none", strength=0, target="r",
    ...              task="recognition", rate=r, n=10, ssim=s) for a, r, s in [(0.3, 0.1, 0.4), (0.45, 0.3, 0.6)]]
    >>> best = best_settings(frontier(pd.DataFrame(rows)), target="r", min_ssim=(0.3, 0.5, 0.9))
    >>> best[["min_ssim", "alpha", "rate"]].values.tolist()
    [[0.3, 0.3, 0.1], [0.5, 0.45, 0.3], [0.9, nan, nan]]
    """
    import pandas as pd

    if not isinstance(table, pd.DataFrame) or any(c not in table.columns for c in FRONTIER_COLUMNS):
        raise TypeError("table must be a pandas DataFrame made by imgprivacy.evaluate.frontier")
    if target not in set(table["target"]):
        raise ValueError(f"target must be a recogniser of the table ({', '.join(map(repr, dict.fromkeys(table['target'])))}), "
                         f"got {_short(target)}")
    thresholds = []
    for t in check_sequence(min_ssim, "min_ssim"):
        if isinstance(t, bool) or not isinstance(t, (int, float, np.floating)) or not 0.0 <= float(t) <= 1.0:
            raise ValueError(f"min_ssim must hold numbers in [0, 1], got {_short(t)}")
        thresholds.append(float(t))
    rows = table[(table["target"] == target) & (table["scheme"] != "clean")]
    out = []
    for scheme in dict.fromkeys(rows["scheme"]):
        part = rows[rows["scheme"] == scheme]
        for t in thresholds:
            ok = part[part["ssim"] >= t - 1e-12]
            if len(ok):
                pick = ok.sort_values(["rate", "ssim"], ascending=[True, False], kind="stable").iloc[0]
                row = {c: pick[c] for c in BEST_COLUMNS if c != "min_ssim"}
            else:
                row = {c: np.nan for c in BEST_COLUMNS}
                row.update(scheme=scheme, target=target)
            row["min_ssim"] = t
            out.append(row)
    return pd.DataFrame(out, columns=list(BEST_COLUMNS))
