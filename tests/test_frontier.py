"""The privacy-utility frontier (imgprivacy.evaluate.frontier, best_settings, pareto_mask) and its figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sweep_fakes import make_tiny, make_tiny_table

import imgprivacy as ip
from imgprivacy import evaluate as E


def _row(scheme, rate, ssim, *, alpha=np.nan, block=np.nan, k=np.nan, beta=np.nan, target="dlib ResNet",
         task="recognition", filter="none"):
    return dict(scheme=scheme, alpha=alpha, block=block, k=k, beta=beta, filter=filter, strength=0, target=target,
                task=task, rate=rate, n=10, ssim=ssim)


def _tables():
    krtio = pd.DataFrame([
        _row("clean", 0.9, np.nan),
        _row("krtio", 0.1, 0.45, alpha=0.3, block=4, k=3),
        _row("krtio", 0.3, 0.62, alpha=0.45, block=4, k=3),
        _row("krtio", 0.4, 0.61, alpha=0.45, block=8, k=3),   # dominated by the row above
        _row("krtio", 0.6, 0.75, alpha=0.6, block=8, k=3),
        _row("krtio", 0.2, 0.62, alpha=0.45, block=4, k=3, filter="median"),  # filtered: left out
        _row("krtio", 0.0, 0.62, alpha=0.45, block=4, k=3, target="Haar", task="detection"),  # a detector
        _row("krtio", 0.5, 0.62, alpha=0.45, block=4, k=3, target="eigenfaces"),
    ])
    uep = pd.DataFrame([
        _row("clean", 0.9, np.nan),
        _row("uep", 0.9, 1.0, beta=0.0),  # the clean photo: no setting
        _row("uep", 0.7, 0.9, beta=1.0),
        _row("uep", 0.5, 0.8, beta=3.0),
        _row("uep", 0.5, 0.7, beta=5.0),  # dominated: same privacy, less SSIM
        _row("uep", 0.6, 0.8, beta=3.0, target="eigenfaces"),
    ])
    return krtio, uep


def test_pareto_mask_keeps_exactly_the_undominated_points():
    assert E.pareto_mask([0.9, 0.5, 0.4, 0.9], [0.1, 0.6, 0.5, 0.1]).tolist() == [True, True, False, True]
    rng = np.random.default_rng(0)
    u, p = rng.random(60).round(1), rng.random(60).round(1)  # rounded: many ties
    keep = E.pareto_mask(u, p)
    dominated = lambda i, j: u[j] >= u[i] and p[j] >= p[i] and (u[j] > u[i] or p[j] > p[i])  # noqa: E731
    for i in range(60):
        assert keep[i] == (not any(dominated(i, j) for j in range(60)))
    with pytest.raises(ValueError, match="utility and privacy must be 1-D of the same length"):
        E.pareto_mask([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match="must be finite"):
        E.pareto_mask([0.1, np.nan], [0.1, 0.2])


def test_frontier_is_tidy_with_one_pareto_set_per_scheme_and_recogniser():
    front = E.frontier(*_tables())
    assert tuple(front.columns) == E.FRONTIER_COLUMNS
    assert list(dict.fromkeys(front.target)) == ["dlib ResNet", "eigenfaces"]  # no detector
    dlib = front[front.target == "dlib ResNet"]
    assert (dlib.scheme == "clean").sum() == 1  # the two tables' clean rows, once
    clean = dlib[dlib.scheme == "clean"].iloc[0]
    assert clean.ssim == 1.0 and clean.privacy == pytest.approx(0.1) and not clean.pareto
    np.testing.assert_allclose(front.privacy, 1 - front.rate)
    k = dlib[dlib.scheme == "krtio"].set_index(["alpha", "block"])
    assert len(k) == 4  # the median-filtered row is not a setting
    assert k.pareto.to_dict() == {(0.3, 4): True, (0.45, 4): True, (0.45, 8): False, (0.6, 8): True}
    u = dlib[dlib.scheme == "uep"].set_index("beta").pareto.to_dict()
    assert u == {1.0: True, 3.0: True, 5.0: False}
    eig = front[(front.target == "eigenfaces") & (front.scheme != "clean")]
    assert eig.pareto.all() and len(eig) == 2
    only = E.frontier(*_tables(), targets=["eigenfaces"])
    assert set(only.target) == {"eigenfaces"}


def test_frontier_refuses_what_is_not_a_sweep_table():
    with pytest.raises(TypeError, match="at least one table"):
        E.frontier()
    with pytest.raises(TypeError, match=r"tables\[0\] must be a pandas DataFrame made by imgprivacy.evaluate.sweep"):
        E.frontier([1, 2])
    with pytest.raises(ValueError, match=r"tables\[1\] must have the columns of imgprivacy.evaluate.sweep"):
        E.frontier(_tables()[0], pd.DataFrame({"scheme": ["uep"]}))
    with pytest.raises(ValueError, match="no unfiltered recognition rows"):
        E.frontier(_tables()[0].iloc[[6]])
    with pytest.raises(ValueError, match=r"targets must name recognisers of the tables .* got \['dlib'\]"):
        E.frontier(*_tables(), targets=["dlib"])


def test_frontier_of_a_real_sweep():
    table = make_tiny_table(make_tiny())
    front = E.frontier(table)
    assert set(front.target) == {"exact"}  # the detector "smooth" is left out
    k = front[front.scheme == "krtio"]
    assert len(k) == 4 and k.ssim.between(-1, 1).all() and (k.privacy == 1.0).all()  # Exact never names a k-RTIO face
    assert k.pareto.sum() == 1 and k[k.pareto].ssim.iloc[0] == k.ssim.max()  # equal privacy: the best SSIM wins
    assert front[front.scheme == "clean"].privacy.iloc[0] == 0.0


def test_best_settings_reads_the_answer_off_the_frontier():
    front = E.frontier(*_tables())
    best = E.best_settings(front, min_ssim=(0.5, 0.6, 0.7, 0.95))
    assert tuple(best.columns) == E.BEST_COLUMNS
    k = best[best.scheme == "krtio"].set_index("min_ssim")
    assert k.loc[0.5, ["alpha", "block", "rate"]].tolist() == [0.45, 4, 0.3]  # alpha 0.3 (rate 0.1) has SSIM 0.45
    assert k.loc[0.6, "rate"] == 0.3 and k.loc[0.7, ["alpha", "rate"]].tolist() == [0.6, 0.6]
    assert np.isnan(k.loc[0.95, "rate"]) and np.isnan(k.loc[0.95, "alpha"])  # nothing keeps SSIM 0.95
    u = best[best.scheme == "uep"].set_index("min_ssim")
    assert u.loc[0.7, ["beta", "rate", "ssim"]].tolist() == [3.0, 0.5, 0.8]  # the tie at 0.5: the higher SSIM
    assert E.best_settings(front, target="eigenfaces", min_ssim=(0.6,)).rate.tolist() == [0.5, 0.6]
    assert (best.min_ssim.to_numpy() <= best.ssim.fillna(1).to_numpy()).all()
    with pytest.raises(TypeError, match="table must be a pandas DataFrame made by imgprivacy.evaluate.frontier"):
        E.best_settings(_tables()[0])
    with pytest.raises(ValueError, match=r"target must be a recogniser of the table .* got 'provider CNN'"):
        E.best_settings(front, target="provider CNN")
    with pytest.raises(ValueError, match=r"min_ssim must hold numbers in \[0, 1\], got 1.5"):
        E.best_settings(front, min_ssim=(1.5,))


def test_plot_frontier_draws_each_recogniser_with_the_marks():
    front = E.frontier(*_tables())
    fig = ip.plotting.plot_frontier(front)
    axes = fig.get_axes()
    assert len(axes) == 2 and [ax.get_title() for ax in axes] == ["dlib ResNet", "eigenfaces"]
    assert fig.get_size_inches()[0] <= ip.plotting.MAX_WIDTH + 1e-9
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("sweet spot" in t for t in labels) and any("β = 3" in t for t in labels)
    assert any("frontier" in t for t in labels)
    # the k-RTIO frontier line of dlib's panel runs through its three Pareto settings, by SSIM
    line = next(ln for ln in axes[0].get_lines() if ln.get_label() == "k-RTIO frontier")
    np.testing.assert_allclose(line.get_xdata(), [0.45, 0.62, 0.75])
    np.testing.assert_allclose(line.get_ydata(), [0.9, 0.7, 0.4])
    one = ip.plotting.plot_frontier(front, targets=["eigenfaces"], min_ssim=(0.6,))
    assert len(one.get_axes()) == 1
    with pytest.raises(TypeError, match="made by imgprivacy.evaluate.frontier"):
        ip.plotting.plot_frontier(_tables()[0])
