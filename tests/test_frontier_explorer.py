"""The frontier explorer (imgprivacy.widgets.frontier_explorer): wiring over evaluate.frontier's table."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sweep_fakes import Exact, make_tiny, make_tiny_table  # noqa: E402

from imgprivacy import evaluate, krtio, metrics, uep, widgets  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    return make_tiny()


@pytest.fixture(scope="module")
def front(tiny):
    return evaluate.frontier(make_tiny_table(tiny))


def _explorer(tiny, front, **kw):
    X, y, S, delta = tiny
    return widgets.frontier_explorer(X[:3], front, targets={"exact": Exact(X, y)}, target="exact", labels=y[:3],
                                     key=evaluate.EVALUATION_KEY, overlays=S, delta=delta,
                                     image_ids=[f"face_{i:04d}.png" for i in range(3)], **kw)


def test_the_explorer_protects_with_the_chosen_setting(tiny, front):
    X, y, S, delta = tiny
    w = _explorer(tiny, front)
    options = [label for label, _ in w.controls["setting"].options]
    assert len(options) == len(front[(front.target == "exact") & (front.scheme != "clean")])
    assert w.draws == 1 and w.view.setting["scheme"] == "krtio"
    row = w.view.setting
    expected = krtio.perturb_batch(X[:3], evaluate.EVALUATION_KEY, image_ids=[f"face_{i:04d}.png" for i in range(3)],
                                   overlays=S, k=int(row["k"]), alpha=row["alpha"], block=int(row["block"]), progress=False)
    np.testing.assert_array_equal(w.view.protected, expected)  # the library's own perturbation, same ids
    assert w.view.rates["exact"] == (0.0, 0.0)  # Exact names only the clean faces themselves
    uep_at = next(i for i, (_, v) in enumerate(w.controls["setting"].options) if "UEP" in options[i])
    w.controls["setting"].value = uep_at
    assert w.draws == 2 and w.view.setting["scheme"] == "uep"
    np.testing.assert_allclose(w.view.protected, uep.apply(X[:3], delta, beta=float(w.view.setting["beta"])))
    assert w.view.ssim_protected == pytest.approx(np.mean([metrics.ssim(a, b) for a, b in zip(X[:3], w.view.protected)]))


def test_the_attacks_and_their_refusal(tiny, front):
    w = _explorer(tiny, front)
    w.controls["attack"].value = widgets.FRONTIER_ATTACKS[1]  # blur
    assert not np.array_equal(w.view.attacked, w.view.protected)
    w.controls["attack"].value = widgets.FRONTIER_ATTACKS[3]  # known-S on k-RTIO
    assert w.view.attacked.shape == w.view.protected.shape
    uep_at = next(v for label, v in w.controls["setting"].options if "UEP" in label)
    draws = w.draws
    w.controls["setting"].value = uep_at  # known-S on a UEP setting: refused, not raised
    assert w.draws == draws and "known-S attack finds k-RTIO" in w.status.value


def test_frontier_explorer_checks_its_inputs(tiny, front):
    X, y, S, delta = tiny
    with pytest.raises(TypeError, match="made by imgprivacy.evaluate.frontier"):
        widgets.frontier_explorer(X[:2], front.drop(columns="pareto"), key=evaluate.EVALUATION_KEY, overlays=S)
    with pytest.raises(ValueError, match="target must be a recogniser of the table"):
        widgets.frontier_explorer(X[:2], front, key=evaluate.EVALUATION_KEY, overlays=S, delta=delta)
    with pytest.raises(ValueError, match="pass the UEP as delta"):
        widgets.frontier_explorer(X[:2], front, target="exact", key=evaluate.EVALUATION_KEY, overlays=S)
    with pytest.raises(ValueError, match=r"setting must be an integer in \[0, 4\]"):
        _explorer(tiny, front, setting=9)
