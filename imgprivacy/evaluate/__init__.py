"""Evaluation of section 6 of the paper: sweeps into tidy tables, recovery SSIM, the privacy-utility frontier.

The sweeps, the known-S sweep and the recovery SSIM live in ``_sweeps.py``
(see its docstring); the privacy-utility frontier of both schemes
(:func:`frontier`, :func:`best_settings`, :func:`pareto_mask`) in
``_frontier.py``; this package re-exports them.  ``import imgprivacy``
loads it lazily, and it imports pandas only when a function needs it; it
never imports torch or matplotlib itself.
"""

from __future__ import annotations

from ._frontier import BEST_COLUMNS, FRONTIER_COLUMNS, best_settings, frontier, pareto_mask
from ._sweeps import (
    BSS_COLUMNS,
    COLUMNS,
    EVALUATION_KEY,
    KNOWN_S_COLUMNS,
    PARAMS,
    SCHEME_PARAMS,
    SCHEMES,
    bss_sweep,
    known_overlay_sweep,
    krtio_recovery_ssim,
    sweep,
    uep_recovery_ssim,
)

__all__ = [
    "BEST_COLUMNS",
    "BSS_COLUMNS",
    "COLUMNS",
    "EVALUATION_KEY",
    "FRONTIER_COLUMNS",
    "KNOWN_S_COLUMNS",
    "PARAMS",
    "SCHEMES",
    "SCHEME_PARAMS",
    "best_settings",
    "bss_sweep",
    "frontier",
    "known_overlay_sweep",
    "krtio_recovery_ssim",
    "pareto_mask",
    "sweep",
    "uep_recovery_ssim",
]
