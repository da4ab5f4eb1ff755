"""Small shared input checks used at every public boundary.

Every message names the parameter, the value received and what would be
accepted, e.g. ``alpha must be in (0, 1], got 1.5``.  Keys are the one
exception: their value is never echoed (only their type and length).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = [
    "check_alpha",
    "check_block",
    "check_image",
    "check_images",
    "check_int",
    "check_range_01",
    "check_same_shape",
]

_CHANNEL_NAMES = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_int(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking type and bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_short(value)} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    if maximum is not None and value > maximum:
        bound = f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_alpha(alpha: Any, name: str = "alpha") -> float:
    """Check a mixing weight in (0, 1] and return it as a float."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"{name} must be a real number in (0, 1], got {_short(alpha)}")
    alpha = float(alpha)
    if not (0.0 < alpha <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {alpha}")
    return alpha


def check_block(block: Any, name: str = "block") -> tuple[int, int]:
    """Normalise a block size (int or ``(h, w)``) to a pair of positive ints."""
    if isinstance(block, numbers.Integral) and not isinstance(block, bool):
        pair = (block, block)
    elif isinstance(block, (tuple, list)) and len(block) == 2:
        pair = tuple(block)
    else:
        raise TypeError(f"{name} must be an int or a pair (h, w) of ints, got {_short(block)}")
    out = []
    for part in pair:
        if isinstance(part, bool) or not isinstance(part, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair (h, w) of ints, got {_short(block)}")
        if part < 1:
            raise ValueError(f"{name} must be >= 1 pixel on each side, got {_short(block)}")
        out.append(int(part))
    return out[0], out[1]


def check_image(
    image: Any, name: str = "image", *, channels: tuple[int, ...] = (1, 2, 3, 4), check_range: bool = True
) -> np.ndarray:
    """Check a canonical image and return it as a float32 array.

    Canonical images are floating point with values in [0, 1] and shape
    (H, W) or (H, W, C).  Integer images are refused rather than guessed:
    convert them with :func:`imgprivacy.data.to_float` first.  With
    ``check_range=False`` the caller promises to call :func:`check_range`.
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array of shape (H, W) or (H, W, C), got {type(image).__name__}"
        )
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(
            f"{name} must be a floating-point image with values in [0, 1], got dtype {image.dtype}; "
            "convert integer images with imgprivacy.data.to_float(image)"
        )
    if image.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C), got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"{name} must be at least 1x1 pixels, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in channels:
        accepted = ", ".join(f"{c} ({_CHANNEL_NAMES.get(c, c)})" for c in channels)
        raise ValueError(f"{name} must have {accepted} channels, got shape {image.shape}")
    out = image.astype(np.float32, copy=False)
    if check_range:
        check_range_01(out, name)
    return out


def check_range_01(image: np.ndarray, name: str = "image") -> None:
    """Raise unless every value of ``image`` is finite and in [0, 1]."""
    if image.size:
        lo, hi = float(np.min(image)), float(np.max(image))
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise ValueError(f"{name} must be finite, got NaN or infinite values")
        if lo < 0.0 or hi > 1.0:
            raise ValueError(
                f"{name} values must be in [0, 1], got range [{lo:.4g}, {hi:.4g}]; "
                "scale 8-bit data with imgprivacy.data.to_float(image)"
            )


def check_images(images: Any, name: str = "images", *, channels: tuple[int, ...] = (1, 2, 3, 4)) -> list[np.ndarray]:
    """Check a stack (ndarray of shape (N, H, W[, C])) or a sequence of images."""
    if isinstance(images, np.ndarray):
        if images.ndim not in (3, 4):
            raise ValueError(f"{name} must be a stack of shape (N, H, W) or (N, H, W, C), got shape {images.shape}")
        return [check_image(im, f"{name}[{i}]", channels=channels) for i, im in enumerate(images)]
    if isinstance(images, (list, tuple)):
        return [check_image(im, f"{name}[{i}]", channels=channels) for i, im in enumerate(images)]
    raise TypeError(f"{name} must be an ndarray stack or a list of images, got {type(images).__name__}")


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise if two arrays differ in shape."""
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}")


def check_stack(images, name: str) -> np.ndarray:
    """``images`` (a stack or a list of grey/RGB images of one shape) as one float32 stack (N, H, W[, C])."""
    items = check_images(images, name, channels=(1, 3))
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"{name} must all have the same shape, got {sorted(shapes)}; resize or crop them first")
    return np.stack(items)
