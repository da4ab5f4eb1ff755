"""A face of one's own in a face set's format: detect it in a photo and crop it the way the face set is framed.

A detector's box and a face set's frame are not the same rectangle: the
Olivetti faces are cut at the hairline and the chin, inside the box a Haar
cascade draws around the same face.  :func:`crop_face` measures where the
face set's frame lies relative to the detector's box (on some of the face
set's own images), finds the largest face in the photo, cuts out the same
region around it, and gives it the face set's size and colour.
"""

from __future__ import annotations

import importlib.util
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import _short, check_image, check_images, check_int

__all__ = ["FaceCrop", "crop_face"]

_PAD = 0.5  # face-set images are padded by this fraction of their size (replicated edges) when the frame is measured
_DETECT_SIDE = 640  # photos whose longer side exceeds this are searched at this size (the crop is cut from the full one)


@dataclass(frozen=True)
class FaceCrop:
    """A face found in a photo, in a face set's format (:func:`crop_face`).

    Attributes
    ----------
    face : ndarray of shape (H, W) or (H, W, C), float32 in [0, 1]
        The face, the shape (and grey or colour) of the face set's images.
    box : (int, int, int, int)
        ``(top, left, bottom, right)``: the detector's box in the photo
        (half-open pixels); the largest one when it found several.
    frame : (int, int, int, int)
        The region cut out, in the photo's pixels: the box grown or shrunk to
        the face set's framing.  It may reach past the photo's edges, which
        are then replicated.
    faces_found : int
        How many faces the detector found (the largest is used).
    """

    face: np.ndarray
    box: tuple[int, int, int, int]
    frame: tuple[int, int, int, int]
    faces_found: int


def _detector(detector: Any):
    if detector is None:
        from ._detectors import HaarDetector, LBPDetector

        return HaarDetector() if importlib.util.find_spec("cv2") is not None else LBPDetector()
    if isinstance(detector, str):
        if detector in ("haar-cascade", "lbp-cascade"):
            from ._detectors import HaarDetector, LBPDetector

            return HaarDetector() if detector == "haar-cascade" else LBPDetector()
        if detector == "dlib-hog":
            from ._dlib import DlibHOGDetector

            return DlibHOGDetector()
        raise ValueError(f"detector must be 'haar-cascade', 'lbp-cascade', 'dlib-hog', a detector or None, got "
                         f"{detector!r}")
    if not callable(getattr(detector, "detect", None)):
        raise TypeError(f"detector must be None, a detector's short name or an object with detect(images), got "
                        f"{_short(detector)}")
    return detector


def _relative_frame(detector, images: list[np.ndarray]) -> np.ndarray:
    """Median position of the images' frame in units of the detector's box: (top, left, bottom, right)."""
    found = []
    for image in images:
        h, w = image.shape[:2]
        ph, pw = round(_PAD * h), round(_PAD * w)
        pad = ((ph, ph), (pw, pw)) + (((0, 0),) if image.ndim == 3 else ())
        boxes = detector.detect([np.pad(image, pad, mode="edge")])[0]
        if boxes:
            top, left, bottom, right = boxes[0]
            bh, bw = bottom - top, right - left
            top, left = top - ph, left - pw
            found.append((-top / bh, -left / bw, (h - top) / bh, (w - left) / bw))
    if not found:
        raise ValueError(
            f"the detector {detector!r} finds no face in any of the {len(images)} images of like, so the face set's "
            "framing cannot be measured; pass a detector that finds these faces (e.g. 'lbp-cascade')"
        )
    return np.median(np.asarray(found), axis=0)


def _to_colour(image: np.ndarray, channels: int) -> np.ndarray:
    """Drop alpha and convert to grey (the luminance 0.2125 R + 0.7154 G + 0.0721 B) or to RGB."""
    if image.ndim == 3:
        image = image[..., :1] if image.shape[2] in (1, 2) else image[..., :3]
        if image.shape[2] == 1:
            image = image[..., 0]
    if channels == 1:
        if image.ndim == 3:
            image = image @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
        return image.astype(np.float32)
    return (np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image).astype(np.float32)


def crop_face(photo: np.ndarray, *, like: Any, detector: Any = None, sample: int = 20) -> FaceCrop:
    """Find the largest face in a photo and crop it to a face set's framing, size and colour.

    1. *The face set's framing*: the detector is run on up to ``sample`` of
       the face set's images (each padded by half its size with replicated
       edges, so that a box may reach past the frame); the median position
       of the frame relative to the box found is kept.  For Olivetti and a
       Haar cascade the frame is the inner 80% of the box: Olivetti's crop is
       tighter than the box the detector draws.
    2. *The face*: the detector is run on the photo (a copy at most 640
       pixels on its longer side for large photos; the box is scaled back).
       The largest box found is taken.
    3. *The crop*: the same relative frame around that box is cut out of the
       full photo (edges replicated where it reaches past them), converted
       to grey (the luminance ``0.2125 R + 0.7154 G + 0.0721 B``, as k-RTIO
       uses) or RGB like the face set, and resized to the face set's size
       (bilinear, with a Gaussian anti-aliasing blur when shrinking).

    Nothing is sent anywhere: every step runs on the arrays given.

    Parameters
    ----------
    photo : ndarray of shape (H, W) or (H, W, C)
        The photo, float in [0, 1], grey or RGB(A) (read it with
        :func:`imgprivacy.data.read_image`).
    like : FaceSet, ndarray of shape (N, h, w[, C]) or list of images of one shape
        The face set whose format the crop takes (anything with ``images``,
        e.g. :func:`imgprivacy.data.load_faces`).
    detector : str, detector or None, default None
        A detector's short name (``"haar-cascade"``, ``"lbp-cascade"`` or
        ``"dlib-hog"``, with its defaults, as :func:`imgprivacy.targets.make`
        makes it) or an object with ``detect(images)``.  Default: the Haar cascade when OpenCV is
        installed (the ``recognizer`` extra), else the LBP cascade.
    sample : int, default 20
        Face-set images the framing is measured on (evenly spaced through the set).

    Returns
    -------
    FaceCrop

    Raises
    ------
    ValueError
        If the detector finds no face in the photo (the message says so and
        what photo to try), or none in the face set; for a malformed photo or
        face set.
    TypeError
        For a photo that is not a float array, or a detector without ``detect``.

    Examples
    --------
    The astronaut photo (NASA, public domain) in Olivetti's format:

    >>> from skimage import data
    >>> from imgprivacy.data import load_faces, to_float
    >>> faces = load_faces("olivetti")
    >>> crop = crop_face(to_float(data.astronaut()), like=faces)
    >>> crop.face.shape, crop.face.dtype.name, crop.faces_found
    ((64, 64), 'float32', 1)
    >>> crop_face(np.full((64, 64), 0.5, np.float32), like=faces)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: no face found in the photo (64 x 64 pixels) by HaarDetector(...): try a photo with one face ...
    """
    from skimage.transform import resize

    photo = check_image(photo, "photo")
    stack = getattr(like, "images", like)
    if isinstance(stack, (list, tuple, np.ndarray)) and len(stack) == 0:
        raise ValueError("like must hold at least one face image, got none")
    items = check_images(stack, "like", channels=(1, 3))
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"like must be images of one shape (a face set), got {sorted(shapes)}")
    if isinstance(sample, bool) or not isinstance(sample, numbers.Integral):
        raise TypeError(f"sample must be a positive integer, got {_short(sample)}")
    sample = check_int(sample, "sample", minimum=1)
    detector = _detector(detector)
    shape = items[0].shape
    channels = 1 if len(shape) == 2 else shape[2]

    picks = np.unique(np.linspace(0, len(items) - 1, min(sample, len(items))).round().astype(int))
    rel = _relative_frame(detector, [items[i] for i in picks])

    h, w = photo.shape[:2]
    scale = min(1.0, _DETECT_SIDE / max(h, w))
    search = photo if scale == 1.0 else resize(photo, (max(1, round(h * scale)), max(1, round(w * scale))),
                                               order=1, anti_aliasing=True).astype(np.float32)
    boxes = detector.detect([search])[0]
    if not boxes:
        raise ValueError(
            f"no face found in the photo ({h} x {w} pixels) by {detector!r}: try a photo with one face seen from "
            "the front, evenly lit, filling at least a tenth of the photo's width"
        )
    t, l, b, r = (round(v / scale) for v in boxes[0])
    bh, bw = b - t, r - l
    frame = (round(t + rel[0] * bh), round(l + rel[1] * bw), round(t + rel[2] * bh), round(l + rel[3] * bw))
    top, left, bottom, right = frame
    if bottom - top < 1 or right - left < 1:
        raise ValueError(f"the face found in the photo at {(t, l, b, r)} is too small to crop; try a larger photo")
    rows = np.clip(np.arange(top, bottom), 0, h - 1)
    cols = np.clip(np.arange(left, right), 0, w - 1)
    cut = _to_colour(photo[np.ix_(rows, cols)], channels)
    face = np.clip(resize(cut, shape, order=1, anti_aliasing=True), 0.0, 1.0).astype(np.float32)
    return FaceCrop(face, (t, l, b, r), frame, len(boxes))
