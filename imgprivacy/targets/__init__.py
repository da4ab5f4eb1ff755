"""The provider's side: recognisers and detectors the user never sees.

Every recogniser shares one scikit-learn-like interface: ``fit(images, labels)``,
``predict(images)``, ``score(images, labels)``; every detector has
``detect(images)`` returning, for each image, a list of face boxes
``(top, left, bottom, right)`` in pixels.  Notebooks can loop over them.
Images are canonical float arrays (N, H, W[, C]) in [0, 1].

Classes that need heavy or optional packages (torch, dlib, OpenCV) are
imported on first use, so ``import imgprivacy.targets`` stays light.
"""

from __future__ import annotations

import importlib

from ._eigenfaces import Eigenfaces

__all__ = [
    "DlibHOGDetector",
    "DlibRecognizer",
    "Eigenfaces",
    "HaarDetector",
    "LBPDetector",
    "ProviderCNN",
]

# public name -> private module that defines it (loaded on first access)
_LAZY = {
    "ProviderCNN": "._provider_cnn",
    "DlibRecognizer": "._dlib",
    "DlibHOGDetector": "._dlib",
    "LBPDetector": "._detectors",
    "HaarDetector": "._detectors",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imgprivacy.targets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
