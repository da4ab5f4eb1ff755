"""Shared plumbing of the real detectors and the dlib recogniser.

Optional imports with a message that says how to install them, the
preprocessing that makes tiny, tightly cropped faces (Olivetti's 64 x 64)
visible to detectors trained on photos (upscaling, then a border), and the
mapping of the boxes found back to the input image.
"""

from __future__ import annotations

import importlib
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import _short, check_images

__all__ = ["BORDER_MODES", "Prepared", "FaceDetector", "check_border", "check_upscale", "prepare", "require"]

#: ``np.pad`` modes accepted for the border ("edge" is OpenCV's BORDER_REPLICATE).
BORDER_MODES = ("edge", "reflect", "symmetric", "constant")

EXTRA_HINT = 'pip install -e ".[recognizer]"'


def require(module: str, *, package: str, purpose: str):
    """Import ``module`` or raise ``ModuleNotFoundError`` saying how to install it.

    >>> require("numpy", package="numpy", purpose="arrays").__name__
    'numpy'
    >>> try:
    ...     require("no_such_module_xyz", package="no-such", purpose="a test")
    ... except ModuleNotFoundError as err:
    ...     print(err)  # doctest: +ELLIPSIS
    a test needs the optional package 'no-such' (...): install the extra with  pip install -e ".[recognizer]" ...
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ModuleNotFoundError(
            f"{purpose} needs the optional package {package!r} (module {module!r} is not installed): "
            f'install the extra with  {EXTRA_HINT}  (or pip install "imgprivacy[recognizer]")',
            name=module,
        ) from err


def check_upscale(value: Any, name: str = "upscale") -> float:
    """A positive, finite resampling factor as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number (1.0 keeps the size), got {_short(value)}")
    value = float(value)
    if not (np.isfinite(value) and 0.0 < value <= 16.0):
        raise ValueError(f"{name} must be in (0, 16] (1.0 keeps the size), got {value}")
    return value


def check_border(value: Any, mode: Any) -> tuple[float, str]:
    """Border fraction in [0, 2] and an ``np.pad`` mode from :data:`BORDER_MODES`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"border must be a fraction of the image size such as 0.25, got {_short(value)}")
    value = float(value)
    if not (np.isfinite(value) and 0.0 <= value <= 2.0):
        raise ValueError(f"border must be in [0, 2] (a fraction of the image size on each side), got {value}")
    if mode not in BORDER_MODES:
        raise ValueError(f"border_mode must be one of {', '.join(map(repr, BORDER_MODES))}, got {_short(mode)}")
    return value, mode


@dataclass(frozen=True)
class Prepared:
    """An image ready for a detector, and how to map its coordinates back.

    ``pixels`` is uint8, (H', W') grey or (H', W', 3) RGB.  A point ``(y, x)``
    of the input image is at ``(y * sy + top, x * sx + left)`` in ``pixels``.
    """

    pixels: np.ndarray
    sy: float
    sx: float
    top: int
    left: int
    shape: tuple[int, int]  # (H, W) of the input image

    def inner_box(self) -> tuple[int, int, int, int]:
        """The input image's area in ``pixels`` as ``(top, left, bottom, right)``, half-open."""
        h, w = self.shape
        return self.top, self.left, self.top + round(h * self.sy), self.left + round(w * self.sx)

    def to_input(self, boxes) -> list[tuple[int, int, int, int]]:
        """Map half-open boxes of ``pixels`` to the input image, clipped; empty boxes dropped."""
        h, w = self.shape
        out = []
        for t, l, b, r in boxes:
            top = min(max(int(np.floor((t - self.top) / self.sy)), 0), h)
            left = min(max(int(np.floor((l - self.left) / self.sx)), 0), w)
            bottom = min(max(int(np.ceil((b - self.top) / self.sy)), 0), h)
            right = min(max(int(np.ceil((r - self.left) / self.sx)), 0), w)
            if bottom > top and right > left:
                out.append((top, left, bottom, right))
        return out

    def from_input(self, box) -> tuple[int, int, int, int]:
        """Map a half-open box of the input image to ``pixels``."""
        t, l, b, r = box
        return (
            round(t * self.sy) + self.top,
            round(l * self.sx) + self.left,
            round(b * self.sy) + self.top,
            round(r * self.sx) + self.left,
        )


def _to_uint8(image: np.ndarray, rgb: bool) -> np.ndarray:
    """Canonical float image -> uint8 grey (H, W) or RGB (H, W, 3); alpha is dropped."""
    if image.ndim == 3:
        image = image[..., :1] if image.shape[2] in (1, 2) else image[..., :3]
        if image.shape[2] == 1:
            image = image[..., 0]
    if image.ndim == 3 and not rgb:  # ITU-R 601 luma, as OpenCV and PIL do
        image = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    u8 = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    if rgb and u8.ndim == 2:  # grey -> RGB by repetition
        u8 = np.repeat(u8[..., None], 3, axis=2)
    return u8


def prepare(image: np.ndarray, *, upscale: float, border: float, border_mode: str, rgb: bool) -> Prepared:
    """Resample a canonical image (bicubic) by ``upscale``, then pad ``border`` of its size on each side.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        Canonical float image in [0, 1] (already validated).
    upscale : float
        Resampling factor (bicubic, on 8-bit values).
    border : float
        Padding on each side, as a fraction of the resampled height (top and
        bottom) and width (left and right).
    border_mode : str
        ``np.pad`` mode, one of :data:`BORDER_MODES`; ``"constant"`` pads black.
    rgb : bool
        Return (H', W', 3) RGB (grey repeated) instead of grey (H', W').

    Returns
    -------
    Prepared

    Examples
    --------
    >>> p = prepare(np.ones((8, 6), np.float32), upscale=2.0, border=0.25, border_mode="edge", rgb=True)
    >>> p.pixels.shape, p.pixels.dtype.name, p.inner_box()
    ((24, 18, 3), 'uint8', (4, 3, 20, 15))
    >>> p.to_input([(0, 0, 24, 18), (4, 3, 12, 9)])
    [(0, 0, 8, 6), (0, 0, 4, 3)]
    """
    from PIL import Image

    u8 = _to_uint8(image, rgb)
    h, w = u8.shape[:2]
    nh, nw = max(1, round(h * upscale)), max(1, round(w * upscale))
    if (nh, nw) != (h, w):
        u8 = np.asarray(Image.fromarray(u8).resize((nw, nh), Image.Resampling.BICUBIC))
    ph, pw = round(border * nh), round(border * nw)
    if ph or pw:
        pad = ((ph, ph), (pw, pw)) + (((0, 0),) if u8.ndim == 3 else ())
        u8 = np.pad(u8, pad, mode=border_mode)
    return Prepared(np.ascontiguousarray(u8), nh / h, nw / w, ph, pw, (h, w))


class FaceDetector:
    """Base of the detectors: validation, preprocessing, boxes mapped back.

    Subclasses set ``name``, ``_rgb`` and ``_repr_params`` and implement
    ``_detect_prepared(pixels) -> list of (top, left, bottom, right)`` in the
    coordinates of the prepared image (half-open).
    """

    name = "detector"
    _rgb = False
    _repr_params: tuple[str, ...] = ("upscale", "border")

    def __init__(self, *, upscale: float, border: float, border_mode: str):
        self.upscale = check_upscale(upscale)
        self.border, self.border_mode = check_border(border, border_mode)

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._repr_params)
        return f"{type(self).__name__}({args})"

    def _prepare(self, image: np.ndarray) -> Prepared:
        return prepare(image, upscale=self.upscale, border=self.border, border_mode=self.border_mode, rgb=self._rgb)

    def _detect_prepared(self, pixels: np.ndarray) -> list[tuple[int, int, int, int]]:
        raise NotImplementedError

    def detect(self, images) -> list[list[tuple[int, int, int, int]]]:
        """Find faces in each image.

        Parameters
        ----------
        images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images
            Canonical float images in [0, 1]; grey or RGB(A), sizes may differ
            in a list.

        Returns
        -------
        list of N lists of (top, left, bottom, right)
            Integer boxes in the input image's pixels, half-open
            (``image[top:bottom, left:right]`` is the face), clipped to the
            image; largest first.  An empty list where no face was found.
        """
        out = []
        for image in check_images(images, "images"):
            prepared = self._prepare(image)
            boxes = prepared.to_input(self._detect_prepared(prepared.pixels))
            out.append(sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True))
        return out
