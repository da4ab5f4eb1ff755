"""imgprivacy: adversarial perturbation as a privacy defence for photos.

Implements and attacks the two schemes of "On the (Im)Practicality of
Adversarial Perturbation for Image Privacy" (PoPETS 2021): k-Randomized
Transparent Image Overlays (:mod:`imgprivacy.krtio`) and Universal Ensemble Perturbation
(:mod:`imgprivacy.uep`).

Importing this package is cheap (about a millisecond, issue 13): every
subpackage and the key functions load on first attribute access (PEP 562),
so ``import imgprivacy`` imports neither numpy nor torch, pandas or
matplotlib, and ``imgprivacy --help`` answers without loading numpy.
``ip.krtio`` loads numpy and the k-RTIO modules, ``ip.evaluate`` pandas,
``ip.models`` torch, each when first used.
"""

from __future__ import annotations

import importlib

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
    "lab",
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

_LAZY = {"attacks", "data", "krtio", "metrics", "targets", "widgets", "cli", "models", "uep", "evaluate", "plotting",
         "reproduce", "lab"}
_FROM_PRF = {"FORMAT_VERSION", "generate_key", "key_check_value", "read_key", "write_key"}


def __getattr__(name: str):
    if name in _LAZY:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _FROM_PRF:
        value = getattr(importlib.import_module("._prf", __name__), name)
    else:
        raise AttributeError(f"module 'imgprivacy' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | _LAZY | _FROM_PRF)
