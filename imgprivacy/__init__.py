"""imgprivacy: adversarial perturbation as a privacy defence for photos.

Implements and attacks the two schemes of "On the (Im)Practicality of
Adversarial Perturbation for Image Privacy" (PoPETS 2021): k-Randomized
Transparent Image Overlays (:mod:`imgprivacy.krtio`) and Universal Ensemble Perturbation
(:mod:`imgprivacy.uep`).

Importing this package is cheap: it never imports torch or pandas, and the
widget, command-line, model, UEP, evaluation and reproduction modules load
on first use.
"""

from __future__ import annotations

import importlib

from . import attacks, data, krtio, metrics, targets
from ._prf import FORMAT_VERSION, generate_key, key_check_value, read_key, write_key

__version__ = "0.1.0"

__all__ = [
    "FORMAT_VERSION",
    "__version__",
    "attacks",
    "cli",
    "data",
    "evaluate",
    "generate_key",
    "key_check_value",
    "krtio",
    "metrics",
    "models",
    "plotting",
    "read_key",
    "reproduce",
    "targets",
    "uep",
    "widgets",
    "write_key",
]

_LAZY = {"widgets", "cli", "models", "uep", "evaluate", "plotting", "reproduce"}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'imgprivacy' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY)
