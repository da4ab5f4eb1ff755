"""Test-session set-up shared by the unit tests, the doctests and the notebooks.

* Face data the project cannot ship is read from ``../shared/data`` (beside
  the repository, as in CI) unless ``SCIKIT_LEARN_DATA`` / ``IMGPRIVACY_ORL``
  already say where it is.
* Notebooks run in their fast mode (``IMGPRIVACY_FAST=1``) unless the caller
  set the variable (``IMGPRIVACY_FAST=0 python -m pytest`` runs them in full).
* Matplotlib never opens a window.

These are set in ``os.environ`` so that the notebook kernels started by
nbmake inherit them.
"""

import os
from pathlib import Path

_SHARED = Path(__file__).resolve().parent.parent / "shared" / "data"

if (_SHARED / "scikit_learn_data").is_dir():
    os.environ.setdefault("SCIKIT_LEARN_DATA", str(_SHARED / "scikit_learn_data"))
if (_SHARED / "orl_faces").is_dir():
    os.environ.setdefault("IMGPRIVACY_ORL", str(_SHARED / "orl_faces"))
os.environ.setdefault("IMGPRIVACY_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
