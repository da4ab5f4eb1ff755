"""Real face detectors of the provider's side: LBP (scikit-image) and Haar (OpenCV) cascades.

Both are Viola-Jones style cascades trained on photos with some context
around the face.  Olivetti faces (64 x 64, cropped at the hairline and the
chin) give them none, so every detector pads a border around the image
(replicated edge pixels by default) before scanning; the boxes are mapped
back to the input image.  Measured on the 400 clean Olivetti faces (see
``tests/test_targets_real.py``): without a border the LBP cascade finds 37
of the first 100 faces and the Haar cascade 4 of 400; with the defaults
below, 400/400 and 397/400; on the 400 ORL faces (112 x 92, a wider
crop), 400/400 each.
"""

from __future__ import annotations

import os

import numpy as np

from .._validation import _short, check_int
from ._common import FaceDetector, require

__all__ = ["HaarDetector", "LBPDetector"]


def _check_scale_factor(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"scale_factor must be a number > 1 such as 1.1, got {_short(value)}")
    value = float(value)
    if not (1.0 < value <= 4.0):
        raise ValueError(f"scale_factor must be in (1, 4] (1.1 scans sizes 10% apart), got {value}")
    return value


class LBPDetector(FaceDetector):
    """scikit-image's bundled LBP frontal-face cascade (no optional package needed).

    Parameters
    ----------
    upscale : float, default 1.0
        Bicubic resampling factor applied first.  Olivetti's 64-pixel faces
        are already larger than the cascade's 24 x 24 window.
    border : float, default 0.25
        Padding on each side, as a fraction of the (resampled) image size.
    border_mode : {"edge", "reflect", "symmetric", "constant"}, default "edge"
        ``np.pad`` mode of the border; ``"edge"`` replicates the outer pixels.
    scale_factor : float, default 1.1
        Ratio between successive window sizes scanned.
    step_ratio : float, default 1.0
        Window step as a fraction of the window size at each scale (larger
        is faster and misses more).
    min_size : int, optional
        Smallest face searched, in pixels of the input image; default the
        cascade's window (24 pixels of the prepared image).  Raising it (to
        32 for Olivetti) makes detection about three times faster.
    min_neighbors : int, default 1
        Overlapping detections needed to report a face.

    Attributes
    ----------
    name : str
        ``"lbp-cascade"``.

    Notes
    -----
    Measured on the 400 clean Olivetti faces (replicated border of 0.25,
    no upscaling): ``scale_factor=1.2`` finds 394, ``1.1`` finds 400;
    ``min_neighbors=3`` finds 373; a border of 0.125 finds 358; a constant
    (black) border 394 with ``scale_factor=1.2``.  It finds nothing in a
    uniform grey image.

    Examples
    --------
    >>> from skimage import color, data, transform
    >>> face = transform.resize(color.rgb2gray(data.astronaut())[60:180, 165:285], (64, 64))
    >>> LBPDetector().detect(face[None])  # doctest: +ELLIPSIS
    [[(..., ..., ..., ...)]]
    >>> LBPDetector().detect(np.full((1, 64, 64), 0.5))
    [[]]
    """

    name = "lbp-cascade"
    _repr_params = ("upscale", "border", "scale_factor", "min_neighbors")

    def __init__(
        self,
        *,
        upscale: float = 1.0,
        border: float = 0.25,
        border_mode: str = "edge",
        scale_factor: float = 1.1,
        step_ratio: float = 1.0,
        min_size: int | None = None,
        min_neighbors: int = 1,
    ):
        super().__init__(upscale=upscale, border=border, border_mode=border_mode)
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade

        self.scale_factor = _check_scale_factor(scale_factor)
        if isinstance(step_ratio, bool) or not isinstance(step_ratio, (int, float, np.floating, np.integer)):
            raise TypeError(f"step_ratio must be a number in (0, 4] such as 1.0, got {_short(step_ratio)}")
        if not 0 < step_ratio <= 4:
            raise ValueError(f"step_ratio must be in (0, 4] (a fraction of the window size), got {step_ratio}")
        self.step_ratio = float(step_ratio)
        self.min_size = None if min_size is None else check_int(min_size, "min_size", minimum=1)
        self.min_neighbors = check_int(min_neighbors, "min_neighbors", minimum=1)
        self._cascade = Cascade(lbp_frontal_face_cascade_filename())

    def _detect_prepared(self, pixels):
        h, w = pixels.shape
        window = 24 if self.min_size is None else max(24, round(self.min_size * self.upscale))
        if min(h, w) < window:
            return []
        found = self._cascade.detect_multi_scale(
            pixels.astype(np.float32) / 255.0,
            scale_factor=self.scale_factor,
            step_ratio=self.step_ratio,
            min_size=(window, window),
            max_size=(h, w),
            min_neighbor_number=self.min_neighbors,
        )
        return [(d["r"], d["c"], d["r"] + d["height"], d["c"] + d["width"]) for d in found]


class HaarDetector(FaceDetector):
    """OpenCV's Haar frontal-face cascade (optional extra ``recognizer``).

    Parameters
    ----------
    cascade : str, default "haarcascade_frontalface_alt2.xml"
        A file name in ``cv2.data.haarcascades`` or a path to a cascade XML.
    upscale : float, default 1.0
        Bicubic resampling factor applied first (1.5 finds no more faces
        on Olivetti and takes twice as long).
    border : float, default 0.25
        Padding on each side, as a fraction of the (resampled) image size.
    border_mode : {"edge", "reflect", "symmetric", "constant"}, default "edge"
        ``np.pad`` mode of the border; ``"edge"`` is OpenCV's BORDER_REPLICATE.
    scale_factor : float, default 1.1
        OpenCV's ``scaleFactor``.
    min_neighbors : int, default 3
        OpenCV's ``minNeighbors``.
    min_size : int, optional
        Smallest face searched, in pixels of the input image; default the
        cascade's own window.

    Attributes
    ----------
    name : str
        ``"haar-cascade"``.

    Raises
    ------
    ModuleNotFoundError
        If OpenCV is not installed; install the extra with
        ``pip install -e ".[recognizer]"``.
    FileNotFoundError
        If the cascade file does not exist (opencv-python 5 no longer ships
        them: the extra pins ``opencv-python-headless<5``).

    Notes
    -----
    Measured on the 400 clean Olivetti faces, no upscaling:
    ``haarcascade_frontalface_default.xml`` finds 4 without a border, 384
    with a replicated border of 0.25, 391 with 0.375 or with a black
    (``"constant"``) border of 0.25; ``alt2`` finds 397 with the defaults
    and 399 with a border of 0.375.

    Examples
    --------
    >>> from skimage import color, data, transform
    >>> face = transform.resize(color.rgb2gray(data.astronaut())[60:180, 165:285], (64, 64))
    >>> HaarDetector().detect(face[None])  # doctest: +ELLIPSIS
    [[(..., ..., ..., ...)]]
    """

    name = "haar-cascade"
    _repr_params = ("cascade", "upscale", "border", "min_neighbors")

    def __init__(
        self,
        cascade: str = "haarcascade_frontalface_alt2.xml",
        *,
        upscale: float = 1.0,
        border: float = 0.25,
        border_mode: str = "edge",
        scale_factor: float = 1.1,
        min_neighbors: int = 3,
        min_size: int | None = None,
    ):
        super().__init__(upscale=upscale, border=border, border_mode=border_mode)
        cv2 = require("cv2", package="opencv-python-headless<5", purpose="HaarDetector")
        if not isinstance(cascade, (str, os.PathLike)):
            raise TypeError(f"cascade must be a file name or path to a cascade XML, got {_short(cascade)}")
        path = os.fspath(cascade)
        if not os.path.isabs(path) and not os.path.exists(path):
            path = os.path.join(cv2.data.haarcascades, path)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"cascade file {os.fspath(cascade)!r} not found (looked in {cv2.data.haarcascades!r}); "
                'opencv-python 5 no longer ships the cascades: pip install "opencv-python-headless<5"'
            )
        self.cascade = os.fspath(cascade)
        self.scale_factor = _check_scale_factor(scale_factor)
        self.min_neighbors = check_int(min_neighbors, "min_neighbors", minimum=0)
        self.min_size = None if min_size is None else check_int(min_size, "min_size", minimum=1)
        self._classifier = cv2.CascadeClassifier(path)
        if self._classifier.empty():
            raise ValueError(f"cascade {path!r} could not be loaded by OpenCV")

    def _detect_prepared(self, pixels):
        size = (0, 0) if self.min_size is None else (round(self.min_size * self.upscale),) * 2
        found = self._classifier.detectMultiScale(
            pixels, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors, minSize=size
        )
        return [(int(y), int(x), int(y + h), int(x + w)) for x, y, w, h in found]
