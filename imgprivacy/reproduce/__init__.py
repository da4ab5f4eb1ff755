"""Reproduce the paper's evaluation in one run: ``imgprivacy reproduce [--fast] --out DIR``.

:func:`run` (in ``_run.py``, whose docstring says what a run writes) and
the paper's claims it checks (:data:`PAPER`); this package re-exports them.
"""

from __future__ import annotations

from ._run import PAPER, Report, Settings, check_output_dir, run

__all__ = ["PAPER", "Report", "Settings", "check_output_dir", "run"]
