"""Evaluation of section 6 of the paper: sweeps into tidy tables and recovery SSIM.

The sweeps, the known-S sweep and the recovery SSIM live in ``_sweeps.py``
(see its docstring); this package re-exports them.  ``import imgprivacy``
loads it lazily, and it imports pandas only when a function needs it; it
never imports torch or matplotlib itself.
"""

from __future__ import annotations

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
    "BSS_COLUMNS",
    "COLUMNS",
    "EVALUATION_KEY",
    "KNOWN_S_COLUMNS",
    "PARAMS",
    "SCHEMES",
    "SCHEME_PARAMS",
    "bss_sweep",
    "known_overlay_sweep",
    "krtio_recovery_ssim",
    "sweep",
    "uep_recovery_ssim",
]
