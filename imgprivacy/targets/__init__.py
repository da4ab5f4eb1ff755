"""The provider's side: recognisers and detectors the user never sees.

Every recogniser shares one scikit-learn-like interface: ``fit(images, labels)``,
``predict(images)``, ``score(images, labels)``; every detector has
``detect(images)`` returning, for each image, a list of face boxes
``(top, left, bottom, right)`` in pixels.  Notebooks can loop over them.
Images are canonical float arrays (N, H, W[, C]) in [0, 1].

Classes that need heavy or optional packages (torch, dlib, OpenCV) are
imported on first use, so ``import imgprivacy.targets`` stays light.

An estimator owns its (re)training, as in scikit-learn: :class:`RobustCNN`
is the provider's CNN retrained on clean plus k-RTIO faces (section 6.3,
Fig. 16 of the paper), and :func:`robust_retrain` fits one in one call.

:func:`crop_face` puts a face of one's own photo into a face set's format
(a detector finds it; the crop takes the face set's framing, size and
colour), so that it can be protected and recognised like the set's faces.
"""

from __future__ import annotations

import importlib

from ._eigenfaces import Eigenfaces

__all__ = [
    "NAMES",
    "DlibHOGDetector",
    "DlibRecognizer",
    "Eigenfaces",
    "FaceCrop",
    "HaarDetector",
    "LBPDetector",
    "ProviderCNN",
    "RobustCNN",
    "crop_face",
    "make",
    "robust_retrain",
]

# public name -> private module that defines it (loaded on first access)
_LAZY = {
    "ProviderCNN": "._provider_cnn",
    "RobustCNN": "._robust_cnn",
    "robust_retrain": "._robust_cnn",
    "DlibRecognizer": "._dlib",
    "DlibHOGDetector": "._dlib",
    "LBPDetector": "._detectors",
    "HaarDetector": "._detectors",
    "FaceCrop": "._crop",
    "crop_face": "._crop",
}


#: Short names of every target, for loops and configuration files.
NAMES = {
    "eigenfaces": "Eigenfaces",
    "provider-cnn": "ProviderCNN",
    "robust-cnn": "RobustCNN",
    "dlib-resnet": "DlibRecognizer",
    "dlib-hog": "DlibHOGDetector",
    "lbp-cascade": "LBPDetector",
    "haar-cascade": "HaarDetector",
}


def make(name: str, **options):
    """A new target by its short name (see :data:`NAMES`), with ``options`` for its constructor.

    Examples
    --------
    >>> make("eigenfaces", n_components=20)
    Eigenfaces(n_components=20)
    >>> make("deepface")
    Traceback (most recent call last):
    ...
    ValueError: name must be one of 'eigenfaces', 'provider-cnn', 'robust-cnn', 'dlib-resnet', 'dlib-hog', 'lbp-cascade', 'haar-cascade', got 'deepface'
    """
    if name not in NAMES:
        accepted = ", ".join(repr(n) for n in NAMES)
        raise ValueError(f"name must be one of {accepted}, got {name!r}")
    return _cls(NAMES[name])(**options)


def _cls(class_name: str):
    return globals()[class_name] if class_name in globals() else __getattr__(class_name)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imgprivacy.targets' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
