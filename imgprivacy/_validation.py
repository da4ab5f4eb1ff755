"""Small shared input checks used at every public boundary.

Every message names the parameter, the value received and what would be
accepted, e.g. ``alpha must be in (0, 1], got 1.5``.  Keys are the one
exception: their value is never echoed (only their type and length).
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_alpha",
    "check_beta",
    "check_block",
    "check_delta",
    "check_depth",
    "check_id",
    "check_ids",
    "check_image",
    "check_images",
    "check_int",
    "check_labels",
    "check_path",
    "check_range_01",
    "check_real",
    "check_same_shape",
    "check_sequence",
    "check_stack",
    "is_single_image",
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


def check_limits(limits: Any, names: Sequence[str], n: int, *, unit: str = "images") -> dict[str, int]:
    """``limits`` as a dict of target name to a number of ``unit`` in [1, n] (``{}`` for None).

    Examples
    --------
    >>> check_limits({"dlib": 500}, ["dlib", "cnn"], 60)
    {'dlib': 60}
    >>> check_limits({"vgg": 5}, ["dlib"], 60)
    Traceback (most recent call last):
    ...
    ValueError: limits names the unknown target 'vgg'; the targets are ['dlib']
    """
    if limits is None:
        return {}
    if not isinstance(limits, Mapping):
        raise TypeError(f"limits must be a dict of target name to a number of {unit}, got {type(limits).__name__}")
    names = [str(name) for name in names]
    out = {}
    for name, value in limits.items():
        if name not in names:
            raise ValueError(f"limits names the unknown target {_short(name)}; the targets are {names}")
        out[str(name)] = min(check_int(value, f"limits[{name!r}]", minimum=1), n)
    return out


def check_choice(value: Any, name: str, choices: tuple) -> Any:
    """Return ``value`` if it is one of ``choices``, else name them all in the error."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {_short(value)}")
    return value


def check_search(search: Any, beam_width: Any, *, default_width: int) -> int:
    """The known-S attack's ``search`` and ``beam_width``: how many partial overlay sets it keeps (1: greedy)."""
    search = check_choice(search, "search", ("greedy", "beam"))
    if search == "greedy":
        if beam_width is not None:
            raise ValueError(f"beam_width applies to search='beam' only, got beam_width={_short(beam_width)} with "
                             "search='greedy'; pass search='beam' or leave beam_width out")
        return 1
    return default_width if beam_width is None else check_int(beam_width, "beam_width", minimum=1)


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


def check_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, accepted: str = "") -> float:
    """Return ``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    ``accepted`` is appended to the messages, e.g. ``" >= 0 (the weight of delta)"``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number{accepted}, got {_short(value)}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad = bad or (value <= low if low_open else value < low)
    if high is not None:
        bad = bad or value > high
    if bad:
        raise ValueError(f"{name} must be a finite number{accepted}, got {value}")
    return value


def check_beta(beta: Any, name: str = "beta") -> float:
    """A UEP weight ``beta >= 0`` (1.0 is the perturbation as learned)."""
    return check_real(beta, name, low=0.0, accepted=" >= 0 (the weight of delta, 1.0 as learned)")


def check_delta(delta: Any, name: str = "delta") -> np.ndarray:
    """A UEP perturbation in tanh space (an array, or anything with a ``.delta`` array) as float64."""
    if not isinstance(delta, np.ndarray) and isinstance(getattr(delta, "delta", None), np.ndarray):
        delta = delta.delta
    if not isinstance(delta, np.ndarray):
        raise TypeError(
            f"{name} must be a numpy array of shape (H, W) or (H, W, C) (UEPResult.delta), got {type(delta).__name__}"
        )
    if not np.issubdtype(delta.dtype, np.floating):
        raise TypeError(f"{name} must be a floating-point array (a perturbation in tanh space), got dtype {delta.dtype}")
    if delta.ndim not in (2, 3) or delta.shape[0] < 1 or delta.shape[1] < 1 or (delta.ndim == 3 and delta.shape[2] not in (1, 3)):
        raise ValueError(f"{name} must have shape (H, W) or (H, W, C) with C = 1 or 3, got shape {delta.shape}")
    if not np.all(np.isfinite(delta)):
        raise ValueError(f"{name} must be finite, got NaN or infinite values")
    return delta.astype(np.float64)


def check_depth(depth: Any, name: str = "depth") -> int:
    """Bits per stored sample: 8 or 16."""
    depth = check_int(depth, name)
    if depth not in (8, 16):
        raise ValueError(f"{name} must be 8 or 16 (bits per sample), got {depth}")
    return depth


def check_path(path: Any, name: str = "path") -> Path:
    """A file path (str or os.PathLike) as a Path; the file itself is not looked at."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {type(path).__name__}")
    return Path(path)


def check_labels(labels: Any, n: int, *, name: str = "labels", required: bool = True,
                 n_classes: int | None = None, class_indices: bool = False) -> np.ndarray | None:
    """One label per image, as an array of shape (n,).

    ``None`` is refused when ``required`` (a recogniser needs the subjects) and
    returned otherwise.  With ``class_indices`` the labels must be integers in
    ``[0, n_classes - 1]`` (a CNN's output indices) and come back as int64.
    """
    if labels is None:
        if required:
            raise ValueError(f"{name} must give the subject of every image (one entry per image), got None")
        return None
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one entry per image, shape ({n},), got shape {arr.shape}")
    if not class_indices:
        return arr
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes)):
        hi = "" if n_classes is None else f", {n_classes - 1}"
        raise ValueError(
            f"{name} must be class indices in [0{hi}] for this model, got range [{arr.min()}, {arr.max()}]; "
            "map subject labels to 0..n_classes-1 first (Split.class_index does this)"
        )
    return arr.astype(np.int64)


def check_id(image_id: object, name: str = "image_id") -> str | bytes:
    """A photo's k-RTIO id: a non-empty str or bytes."""
    if not isinstance(image_id, (str, bytes)):
        raise TypeError(f"{name} must be a str or bytes (e.g. the file name), got {type(image_id).__name__}")
    if len(image_id) == 0:
        raise ValueError(f"{name} must not be empty: every photo needs its own id (e.g. its file name)")
    return image_id


def check_ids(image_ids: Any, n: int, name: str = "image_ids") -> list:
    """``image_ids`` as a list of ``n`` valid, unique ids (a repeated id would reuse one overlay)."""
    if isinstance(image_ids, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of one id per image, got a single string")
    ids = list(image_ids)
    if len(ids) != n:
        raise ValueError(f"{name} must have one id per image, got {len(ids)} ids for {n} images")
    for i in ids:
        check_id(i)
    seen: dict = {}
    for pos, i in enumerate(ids):
        if i in seen:
            raise ValueError(
                f"{name} must be unique, got {i!r} at positions {seen[i]} and {pos}; a repeated id "
                "reuses one overlay, which blind signal separation can remove"
            )
        seen[i] = pos
    return ids


def is_single_image(arr: np.ndarray) -> bool:
    """An (H, W) or (H, W, C) image rather than a stack (N, H, W)."""
    return arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4))


def check_sequence(values: Any, name: str) -> list:
    """A sequence (tuple, list, range or 1-D array) of distinct values, as a list."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, range)):
        raise TypeError(f"{name} must be a sequence (tuple or list) of values, got {_short(values)}")
    out = list(values)
    for i, v in enumerate(out):
        if v in out[:i]:
            raise ValueError(f"{name} must not repeat a value, got {_short(v)} twice in {_short(values)}")
    return out
