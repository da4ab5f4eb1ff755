"""Reproduce the paper's evaluation in one run: ``imgprivacy reproduce [--fast] --out DIR``.

:func:`run` (in ``_run.py``, whose docstring says what a run writes) and
the paper's claims it checks (:data:`PAPER`), at the resolution of a face
set (``faces=``: Olivetti, ORL, LFW; :func:`scaled_blocks`), with the
privacy-utility frontier of both schemes; this package re-exports them.
"""

from __future__ import annotations

from ._faces import FACE_SETS, scaled_blocks
from ._frontier import FaceSetFrontier, face_set_frontier
from ._run import FRONTIER_TARGETS, MIN_SSIM, PAPER, Report, Settings, check_output_dir, read_earlier, run

__all__ = ["FACE_SETS", "FRONTIER_TARGETS", "MIN_SSIM", "PAPER", "FaceSetFrontier", "Report", "Settings",
           "check_output_dir", "face_set_frontier", "read_earlier", "run", "scaled_blocks"]
