"""Interactive explorers (ipywidgets) the notebooks use.

Wiring only: every number and image shown here comes from
:mod:`imgprivacy.krtio`, :mod:`imgprivacy.uep`, :mod:`imgprivacy.attacks`,
:mod:`imgprivacy.metrics` and the targets' ``predict``; this package holds
no algorithm.  Figures are plain :class:`matplotlib.figure.Figure` objects
that are not registered with pyplot, so building one never opens a window,
works under any backend (Agg in tests) and is freed with the last
reference; static figures (``show_images``, ``training_curves``) live in
:mod:`imgprivacy.plotting`.

One explorer per private module, on the shared base of ``_base.py``:
``_krtio`` (:func:`krtio_explorer`), ``_bss`` (:func:`bss_explorer`),
``_uep`` (:func:`uep_explorer`), ``_median`` (:func:`median_explorer`) and
``_filters`` (:func:`filter_explorer`), ``_cycle`` (:func:`cycle_explorer`: one
photo protected, attacked and recovered, with every recogniser's verdict) and
``_frontier`` (:func:`frontier_explorer`: a setting of the privacy-utility
frontier picked, its photos protected and attacked);
every public name is re-exported here.

Importing this package imports ipywidgets and matplotlib, never torch.
"""

from __future__ import annotations

from ._base import ALPHA_RANGE
from ._bss import N_RANGE, BSSExplorer, BSSView, bss_explorer
from ._cycle import ATTACKS, DEFENCES, CycleExplorer, CycleView, cycle_explorer
from ._filters import FILTER_STEPS, FilterExplorer, FilterView, filter_explorer
from ._frontier import FRONTIER_ATTACKS, FrontierExplorer, FrontierView, frontier_explorer
from ._krtio import BLOCK_CHOICES, ExplorerView, KRTIOExplorer, krtio_explorer
from ._median import LAM_RANGE, MedianExplorer, MedianView, median_explorer
from ._uep import BETA_RANGE, UEPExplorer, UEPView, uep_explorer

__all__ = [
    "ALPHA_RANGE",
    "ATTACKS",
    "BETA_RANGE",
    "BLOCK_CHOICES",
    "BSSExplorer",
    "BSSView",
    "CycleExplorer",
    "CycleView",
    "DEFENCES",
    "ExplorerView",
    "FILTER_STEPS",
    "FRONTIER_ATTACKS",
    "FilterExplorer",
    "FilterView",
    "FrontierExplorer",
    "FrontierView",
    "KRTIOExplorer",
    "LAM_RANGE",
    "MedianExplorer",
    "MedianView",
    "N_RANGE",
    "UEPExplorer",
    "UEPView",
    "bss_explorer",
    "cycle_explorer",
    "filter_explorer",
    "frontier_explorer",
    "krtio_explorer",
    "median_explorer",
    "uep_explorer",
]
