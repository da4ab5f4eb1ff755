"""Universal Ensemble Perturbation (UEP): learn one perturbation on the user's local CNNs, apply it, remove it.

UEP (section 5.1 of the paper) is the learning-based half of the paper.  The
user trains a few small local CNNs on the few people she knows
(:func:`imgprivacy.models.local_ensemble`) and learns **one** perturbation
``delta`` that makes all of them misclassify most of her faces, hoping it
transfers to the provider's unknown recogniser.  Because ``delta`` is added
in the arctanh ("tanh") space of the pixels rather than to the pixels, the
perturbed image stays in [0, 1] without clipping and the owner, who keeps
``delta``, can remove it again.

* :func:`learn` -- the search of Fig. 3: minimise Eq. 3 for a few values of
  ``c`` chosen by bisection on a log scale and keep the smallest ``delta``
  that fools every local model on at least ``p * N`` images.  Returns a
  :class:`UEPResult`.
* :func:`apply` / :func:`remove` -- Eq. 4 and its inverse, in numpy (no torch
  needed), for a grey or RGB image, a stack, a list of images of different
  sizes, or a face box inside a larger photo.  :func:`recovery_bound` is the
  proven worst-case error of :func:`remove` after quantised storage.
* :func:`fooling_rate` -- which local models a set of (perturbed) faces fools.
* :func:`save` / :func:`load` -- a learned UEP with its metadata (models,
  resolution, p, kappa, c, data split), atomic, never silently overwritten.

This module imports torch lazily: :func:`apply`, :func:`remove`,
:func:`recovery_bound`, :func:`save` and :func:`load` run without it; only
:func:`learn` and :func:`fooling_rate` load it (through
:mod:`imgprivacy.models`).

Measured (``benchmarks/bench_uep.py``; Olivetti, 64 x 64 grey; the cached
local ensemble ``vgg_a``, ``vgg_b``, ``facescrub_thumb`` on the first 10
subjects; a UEP learned with the defaults over the user's 100 faces, 42 s on
one torch thread of a 2-core CPU, 21 s on two, ``||delta|| = 9.9``).
Recognition rate of the user's faces by the provider's recognisers, and the
mean SSIM of perturbed against clean faces:

====  ============  ===============  ===============  ===========  =====
beta  local (all)   provider CNN     Eigenfaces       dlib ResNet  SSIM
      fooled        user/held-out    user/held-out    held-out
====  ============  ===============  ===============  ===========  =====
0     0.00          0.99 / 0.97      1.00 / 1.00      1.00         1.000
1     0.70          0.31 / 0.30      0.99 / 0.97      0.93         0.73
2     0.80          0.00 / 0.00      0.95 / 0.83      0.23         0.49
3     0.80          0.00 / 0.00      0.83 / 0.63      0.07         0.35
5     0.80          0.00 / 0.00      0.46 / 0.30      0.00         0.21
====  ============  ===============  ===============  ===========  =====

("held-out": the user's 30 faces no model was trained on; the provider CNN
also falls to 0.04 at beta = 2 on the 300 faces of the 30 people the user
does not know: the perturbation is universal.)  The UEP transfers to the
provider's CNN and to dlib's pretrained ResNet at beta >= 2, far less to
Eigenfaces, and it is very visible at those strengths.  The median attack
(:func:`imgprivacy.attacks.median_sweep`) undoes much of it for Eigenfaces
and dlib.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import publish
from ._validation import _short, check_image, check_int

__all__ = [
    "EPS",
    "UEP_FORMAT_VERSION",
    "CTrial",
    "UEPConvergenceWarning",
    "UEPResult",
    "apply",
    "fooling_rate",
    "learn",
    "load",
    "recovery_bound",
    "remove",
    "save",
]

#: Pixels are clipped to ``[EPS, 1 - EPS]`` before ``arctanh`` inside :func:`learn`
#: (torch, float32), so that no infinity enters the graph.  :func:`apply` and
#: :func:`remove` need no clipping (see their Notes).
EPS = 1e-6

#: Version of the file layout written by :func:`save`.
UEP_FORMAT_VERSION = 1
_FORMAT = "imgprivacy.uep"
_MAX_EXPONENT = 700.0  # exp(700) is finite in float64


class UEPConvergenceWarning(UserWarning):
    """:func:`learn` found no ``c`` in its range for which ``delta`` fools all models on ``p * N`` images."""


# =========================================================================== results
@dataclass(frozen=True)
class CTrial:
    """One value of ``c`` tried by the bisection of :func:`learn`.

    Attributes
    ----------
    c : float
        The coefficient of Eq. 3.
    succeeded : bool
        Some iterate fooled every local model on at least ``p * N`` images.
    fooling_rate : float
        Fraction of the images that fool *all* models with the ``delta``
        kept for this ``c``: the smallest successful one, or (without
        success) the iterate that fooled the most.
    norm : float
        ``||delta||_2`` of that ``delta``.
    steps : int
        Optimisation steps run for this ``c`` (early stopping included).
    seconds : float
        Wall time of this ``c``.
    trace_fooling : tuple of float
        All-models fooling rate at every step (for plotting convergence).
    trace_norm : tuple of float
        ``||delta||_2`` at every step.
    """

    c: float
    succeeded: bool
    fooling_rate: float
    norm: float
    steps: int
    seconds: float
    trace_fooling: tuple[float, ...] = ()
    trace_norm: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for :func:`save`)."""
        return {
            "c": self.c, "succeeded": self.succeeded, "fooling_rate": self.fooling_rate, "norm": self.norm,
            "steps": self.steps, "seconds": self.seconds, "trace_fooling": list(self.trace_fooling),
            "trace_norm": list(self.trace_norm),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CTrial:
        """Inverse of :meth:`to_dict`."""
        return cls(
            float(data["c"]), bool(data["succeeded"]), float(data["fooling_rate"]), float(data["norm"]),
            int(data["steps"]), float(data["seconds"]), tuple(map(float, data.get("trace_fooling", ()))),
            tuple(map(float, data.get("trace_norm", ()))),
        )


@dataclass(frozen=True, eq=False)
class UEPResult:
    """A learned Universal Ensemble Perturbation and how it was found.

    Attributes
    ----------
    delta : ndarray of shape (H, W) or (H, W, C), float32
        The perturbation in tanh space, at the learning resolution (the
        shape of the images :func:`learn` saw).  Unbounded values; apply it
        with :func:`apply` (``beta`` scales it).
    c : float
        The coefficient of Eq. 3 that produced ``delta`` (NaN if no trial ran).
    fooling_rate : dict of str to float
        Fraction of the learning images each local model misclassifies with
        ``delta`` at ``beta = 1``, by model name, and under ``"all"`` the
        fraction misclassified by every model at once (the quantity compared
        with ``p``).
    converged : bool
        ``fooling_rate["all"] >= p``: some ``c`` succeeded.  If False,
        ``delta`` is the iterate that fooled the most images.
    history : tuple of CTrial
        The ``c`` search in the order tried.
    p : float
        Requested fraction of images fooling all models.
    kappa : float
        Confidence margin of the loss.
    models : tuple of str
        Names of the local models.
    seconds : float
        Wall time of :func:`learn`.
    device : str
        Where it ran.
    metadata : dict
        JSON-able facts recorded by :func:`learn` (data split and data set of
        a :class:`~imgprivacy.models.LocalEnsemble`, a fingerprint of the
        images, settings) and by :func:`save`.
    """

    delta: np.ndarray
    c: float
    fooling_rate: dict[str, float]
    converged: bool
    history: tuple[CTrial, ...]
    p: float
    kappa: float
    models: tuple[str, ...]
    seconds: float = 0.0
    device: str = "cpu"
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def norm(self) -> float:
        """``||delta||_2`` (over all pixels and channels)."""
        return float(np.linalg.norm(self.delta.astype(np.float64)))

    @property
    def shape(self) -> tuple[int, ...]:
        """The learning resolution: the shape of one image."""
        return tuple(self.delta.shape)

    @property
    def steps(self) -> int:
        """Optimisation steps over the whole search."""
        return int(sum(t.steps for t in self.history))

    def search_table(self) -> dict[str, list]:
        """The ``c`` search as columns (``c``, ``succeeded``, ``fooling_rate``, ``norm``, ``steps``, ``seconds``), for plotting."""
        keys = ("c", "succeeded", "fooling_rate", "norm", "steps", "seconds")
        return {k: [getattr(t, k) for t in self.history] for k in keys}

    def apply(self, images, *, beta: float = 1.0, box=None):
        """:func:`apply` with this ``delta``."""
        return apply(images, self.delta, beta=beta, box=box)

    def remove(self, perturbed, *, beta: float = 1.0, box=None):
        """:func:`remove` with this ``delta``."""
        return remove(perturbed, self.delta, beta=beta, box=box)

    def __repr__(self) -> str:
        rates = ", ".join(f"{k}={v:.2f}" for k, v in self.fooling_rate.items())
        return (
            f"UEPResult(shape={self.shape}, c={self.c:.4g}, norm={self.norm:.3f}, converged={self.converged}, "
            f"fooling_rate: {rates}, trials={len(self.history)}, seconds={self.seconds:.1f})"
        )


# =========================================================================== apply / remove (numpy only)
def _check_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, accepted: str = "") -> float:
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


def _check_beta(beta: Any) -> float:
    return _check_real(beta, "beta", low=0.0, accepted=" >= 0 (the weight of delta, 1.0 as learned)")


def _check_delta(delta: Any) -> np.ndarray:
    if isinstance(delta, UEPResult):
        delta = delta.delta
    if not isinstance(delta, np.ndarray):
        raise TypeError(f"delta must be a numpy array of shape (H, W) or (H, W, C) (UEPResult.delta), got {type(delta).__name__}")
    if not np.issubdtype(delta.dtype, np.floating):
        raise TypeError(f"delta must be a floating-point array (a perturbation in tanh space), got dtype {delta.dtype}")
    if delta.ndim not in (2, 3) or delta.shape[0] < 1 or delta.shape[1] < 1 or (delta.ndim == 3 and delta.shape[2] not in (1, 3)):
        raise ValueError(f"delta must have shape (H, W) or (H, W, C) with C = 1 or 3, got shape {delta.shape}")
    if not np.all(np.isfinite(delta)):
        raise ValueError("delta must be finite, got NaN or infinite values")
    return delta.astype(np.float64)


def _resize_delta(delta: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (h, w[, C]) float64 array to ``shape`` (half-pixel centres, edges replicated).

    When an axis shrinks, a Gaussian low-pass (scikit-image's anti-aliasing,
    sigma = (factor - 1) / 2) is applied first.
    """
    if tuple(delta.shape[:2]) == tuple(shape):
        return delta
    from skimage.transform import resize

    shrink = shape[0] < delta.shape[0] or shape[1] < delta.shape[1]
    out_shape = tuple(shape) + delta.shape[2:]
    return resize(delta, out_shape, order=1, mode="edge", anti_aliasing=shrink, preserve_range=True).astype(np.float64)


def _shift(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Eq. 4 with ``beta * delta = t``, as ``x / (x + (1 - x) exp(-2 t))``, in float64."""
    e = np.exp(np.clip(-2.0 * t, -_MAX_EXPONENT, _MAX_EXPONENT))
    return x / (x + (1.0 - x) * e)


def _check_box(box: Any, shape: tuple[int, int], name: str) -> tuple[int, int, int, int]:
    if not (isinstance(box, (tuple, list)) and len(box) == 4):
        raise TypeError(f"{name} must be (top, left, bottom, right) in pixels (half-open, as the detectors return), got {_short(box)}")
    t, l, b, r = (check_int(v, name) for v in box)
    h, w = shape
    if not (0 <= t < b <= h and 0 <= l < r <= w):
        raise ValueError(
            f"{name} must satisfy 0 <= top < bottom <= {h} and 0 <= left < right <= {w} for an image of {h}x{w} pixels, "
            f"got {(t, l, b, r)}"
        )
    return t, l, b, r


def _transform_one(image: np.ndarray, delta: np.ndarray, sign: float, beta: float, box, name: str) -> np.ndarray:
    h, w = image.shape[:2]
    t, l, b, r = (0, 0, h, w) if box is None else _check_box(box, (h, w), "box")
    if delta.ndim == 3 and delta.shape[2] == 3 and (image.ndim == 2 or image.shape[2] != 3):
        raise ValueError(
            f"delta is RGB (shape {delta.shape}) but {name} is not (shape {image.shape}); "
            "learn a grey delta for grey images, or convert the image to RGB"
        )
    d = _resize_delta(delta, (b - t, r - l))
    region = image[t:b, l:r].astype(np.float64)
    if d.ndim == 3 and d.shape[2] == 1:
        d = d[..., 0]
    if region.ndim == 3 and d.ndim == 2:  # a grey delta perturbs every channel alike
        d = d[..., None]
    out = image.astype(np.float32, copy=True)
    out[t:b, l:r] = np.clip(_shift(region, sign * beta * d), 0.0, 1.0).astype(np.float32)
    return out


def _boxes_for(box, n: int):
    """``box`` for every image: one box for all, or a sequence of one box (or None) per image."""
    if box is None:
        return [None] * n
    if isinstance(box, (tuple, list)) and len(box) and isinstance(box[0], (tuple, list, type(None))):
        if len(box) != n:
            raise ValueError(
                f"box must be one (top, left, bottom, right) for every image, or one box per image; "
                f"got {len(box)} boxes for {n} images"
            )
        return list(box)
    return [box] * n


def _transform(images: Any, delta: Any, *, beta: Any, box: Any, sign: float, name: str):
    delta = _check_delta(delta)
    beta = _check_beta(beta)
    if isinstance(images, np.ndarray):
        single = images.ndim == 2 or (
            images.ndim == 3 and images.shape[2] in (1, 3) and images.shape[1:] != delta.shape[:2]
        )
        if single:
            one = check_image(images, name, channels=(1, 3))
            return _transform_one(one, delta, sign, beta, _boxes_for(box, 1)[0], name)
        if images.ndim in (3, 4):
            if images.ndim == 4 and images.shape[3] not in (1, 3):
                raise ValueError(f"{name} must have 1 (grey) or 3 (RGB) channels, got shape {images.shape}")
            items = [check_image(im, f"{name}[{i}]", channels=(1, 3)) for i, im in enumerate(images)]
            boxes = _boxes_for(box, len(items))
            out = [_transform_one(im, delta, sign, beta, bx, f"{name}[{i}]") for i, (im, bx) in enumerate(zip(items, boxes))]
            return np.stack(out) if out else images.astype(np.float32, copy=True)
        raise ValueError(f"{name} must be an image (H, W[, C]) or a stack (N, H, W[, C]), got shape {images.shape}")
    if isinstance(images, (list, tuple)):
        items = [check_image(im, f"{name}[{i}]", channels=(1, 3)) for i, im in enumerate(images)]
        boxes = _boxes_for(box, len(items))
        return [_transform_one(im, delta, sign, beta, bx, f"{name}[{i}]") for i, (im, bx) in enumerate(zip(items, boxes))]
    raise TypeError(f"{name} must be a numpy image, a stack or a list of images, got {type(images).__name__}")


def apply(images, delta, *, beta: float = 1.0, box=None):
    """Perturb images with a UEP: Eq. 4, ``x' = (tanh(arctanh(2x - 1) + beta * delta) + 1) / 2``.

    Parameters
    ----------
    images : ndarray of shape (H, W), (H, W, C), (N, H, W) or (N, H, W, C), or list of images
        float in [0, 1]; grey or RGB (C = 1 or 3); a list may mix sizes.  A
        3-D array is a stack of grey images when its last two axes are
        ``delta``'s height and width or its last axis is not 1 or 3, and
        otherwise one image (H, W, C); pass a list or a 4-D stack where
        that would be ambiguous.
    delta : ndarray of shape (h, w) or (h, w, C), or UEPResult
        The perturbation (``UEPResult.delta``).  Resized to the image (or to
        the box) when the sizes differ: bilinear interpolation with
        half-pixel centres and replicated edges (scikit-image ``resize``,
        ``order=1``), with a Gaussian anti-aliasing low-pass first when an
        axis shrinks.  A grey ``delta`` perturbs every channel of an RGB
        image alike; an RGB ``delta`` needs RGB images.
    beta : float, default 1.0
        Weight of ``delta`` (the paper's beta, >= 0): larger fools more
        recognisers and is more visible; ``delta`` is learned at 1.
    box : (top, left, bottom, right) or sequence of boxes, optional
        Perturb only this region (half-open pixel box, as
        :mod:`imgprivacy.targets` detectors return faces in a photo), with
        ``delta`` resized to the box; one box for every image or one per
        image (``None`` entries perturb a whole image).

    Returns
    -------
    ndarray or list
        float32 in [0, 1], the shape of ``images`` (a list for a list).  The
        input is not modified.

    Raises
    ------
    TypeError, ValueError
        For a malformed image, delta, beta or box.

    Notes
    -----
    Eq. 4 is evaluated in float64 in its equivalent logistic form
    ``x' = x / (x + (1 - x) exp(-2 beta delta))`` (since
    ``(tanh(u) + 1) / 2 = sigmoid(2u)`` and ``2 arctanh(2x - 1) = logit(x)``).
    It involves no ``arctanh`` of 0 or 1, so pixels need no clipping here
    (epsilon = 0): 0 and 1 stay 0 and 1, the limits of Eq. 4, and any pixel
    in (0, 1) stays in (0, 1).  (:func:`learn` clips to ``[EPS, 1 - EPS]``,
    ``EPS = 1e-6``, because it evaluates ``logit`` in float32.)

    Image quality, measured on the 100 faces of the user's 10 subjects with
    the UEP learned by :func:`learn`'s defaults (``benchmarks/bench_uep.py``):
    mean SSIM against the clean face 0.73, 0.49, 0.35, 0.26, 0.21 at
    beta = 1, 2, 3, 4, 5 (transfer: see the module docstring).

    References
    ----------
    Section 5.1 ("Perturbation Addition"), Eq. 4 of the paper.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((8, 8), dtype=np.float32)
    >>> delta = rng.normal(0, 0.5, (4, 4)).astype(np.float32)
    >>> y = apply(x, delta, beta=2.0)
    >>> y.shape, y.dtype.name, bool(0 <= y.min() and y.max() <= 1)
    ((8, 8), 'float32', True)
    >>> bool(np.abs(remove(y, delta, beta=2.0) - x).max() < 1e-5)
    True
    >>> edge = apply(np.array([[0.0, 0.5, 1.0]], np.float32), np.ones((1, 3), np.float32))
    >>> np.round(edge.astype(np.float64), 4).tolist()
    [[0.0, 0.8808, 1.0]]
    """
    return _transform(images, delta, beta=beta, box=box, sign=1.0, name="images")


def remove(perturbed, delta, *, beta: float = 1.0, box=None):
    """Undo :func:`apply`: ``x = (tanh(arctanh(2x' - 1) - beta * delta) + 1) / 2``.

    Parameters are those of :func:`apply` (``perturbed`` in place of
    ``images``); ``delta``, ``beta`` and ``box`` must be those used to perturb.

    Returns
    -------
    ndarray or list
        float32 in [0, 1], the shape of ``perturbed``.

    Notes
    -----
    Evaluated as ``x = x' / (x' + (1 - x') exp(2 beta delta))`` in float64:
    on float32 images the round trip is exact to about 1e-6 wherever the
    perturbed pixel is not within float32 resolution of 1 (see Examples of
    :func:`apply`).

    **Storage.**  A perturbed photo stored in 8 bits is rounded by up to
    ``1 / 510``.  The removal map has slope
    ``exp(2 beta delta) / (x' + (1 - x') exp(2 beta delta)) ** 2``, at most
    ``exp(2 beta |delta|)``, so each recovered pixel is within
    ``exp(2 beta |delta|) / 510`` of the original (:func:`recovery_bound`).
    The bound is reached only where the perturbed pixel is near saturation
    (x' near 0 or 1 while x was not): there, one 8-bit step spans a wide
    range of tanh-space values.  Mid-tone pixels recover to about the
    rounding error itself.  Measured on the 100 faces of the user's 10
    subjects with the UEP learned by :func:`learn`'s defaults
    (``||delta|| = 9.9``, max ``|delta|`` 1.04; ``benchmarks/bench_uep.py``,
    8-bit PNG through :func:`imgprivacy.data.storage_roundtrip`):

    ====  =============  =============  ===============
    beta  recovered      smallest SSIM  largest pixel
          PSNR (dB)      of a face      error
    ====  =============  =============  ===============
    0     58.9           0.9996         0.002
    1     58.6           0.9995         0.010
    2     56.8           0.9993         0.062
    3     45.2           0.992          0.50
    4     33.2           0.964          0.82
    5     28.0           0.922          0.88
    ====  =============  =============  ===============

    Every pixel stayed within :func:`recovery_bound`.  From beta = 3 on, a
    few saturated pixels per face are lost (stored 16-bit, they would not be).

    Examples
    --------
    >>> x = np.full((4, 4), 0.5, np.float32)
    >>> d = np.full((4, 4), 3.0, np.float32)
    >>> y = apply(x, d, beta=1.0)
    >>> float(y[0, 0]) > 0.997                     # near saturation
    True
    >>> stored = np.round(y * 255) / 255           # 8-bit storage
    >>> err = float(np.abs(remove(stored.astype(np.float32), d) - x).max())
    >>> err <= float(recovery_bound(d, beta=1.0).max())
    True
    """
    return _transform(perturbed, delta, beta=beta, box=box, sign=-1.0, name="perturbed")


def recovery_bound(delta, *, beta: float = 1.0, depth: int = 8, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Worst-case error of :func:`remove` per pixel after storing the perturbed image with ``depth`` bits.

    ``exp(2 beta |delta|) / (2 (2**depth - 1))``: the rounding error of the
    storage, ``1 / (2 (2**depth - 1))``, times the largest slope of the
    removal map (see :func:`remove`).  Proven, not measured; add about
    1e-6 for float32 arithmetic.

    Parameters
    ----------
    delta : ndarray of shape (h, w) or (h, w, C), or UEPResult
    beta : float, default 1.0
    depth : {8, 16}, default 8
    shape : (H, W), optional
        Image size ``delta`` is resized to (as :func:`apply` does).

    Returns
    -------
    ndarray, float64, the shape of (the resized) ``delta``

    Examples
    --------
    >>> recovery_bound(np.zeros((2, 2)), beta=2.0).round(5).tolist()
    [[0.00196, 0.00196], [0.00196, 0.00196]]
    >>> float(recovery_bound(np.full((2, 2), 0.5), beta=2.0)[0, 0] * 510).__round__(3)  # e**2
    7.389
    """
    delta = _check_delta(delta)
    beta = _check_beta(beta)
    depth = check_int(depth, "depth")
    if depth not in (8, 16):
        raise ValueError(f"depth must be 8 or 16 (bits per sample), got {depth}")
    if shape is not None:
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
            raise TypeError(f"shape must be (H, W) or None, got {_short(shape)}")
        delta = _resize_delta(delta, (check_int(shape[0], "shape", minimum=1), check_int(shape[1], "shape", minimum=1)))
    return np.exp(np.minimum(2.0 * beta * np.abs(delta), _MAX_EXPONENT)) / (2.0 * (2**depth - 1))


# =========================================================================== learning (torch)
def _model_dict(models: Any) -> dict[str, Any]:
    from torch import nn

    from .models import LocalEnsemble

    if isinstance(models, LocalEnsemble):
        out = dict(models.models)
    elif isinstance(models, Mapping):
        out = {str(k): v for k, v in models.items()}
    elif isinstance(models, nn.Module):
        out = {getattr(models, "arch", "model"): models}
    elif isinstance(models, (list, tuple)):
        out = {}
        for i, m in enumerate(models):
            name = getattr(m, "arch", f"model{i}")
            out[name if name not in out else f"{name}_{i}"] = m
    else:
        raise TypeError(
            "models must be a LocalEnsemble (imgprivacy.models.cached_ensemble()), a dict of name to torch.nn.Module "
            f"or a list of modules, got {type(models).__name__}"
        )
    if not out:
        raise ValueError("models must hold at least one local model, got none")
    for name, m in out.items():
        if not isinstance(m, nn.Module):
            raise TypeError(f"models[{name!r}] must be a torch.nn.Module returning logits, got {type(m).__name__}")
    return out


def _labels_for(labels: Any, n: int, models: dict[str, Any]) -> np.ndarray:
    from .models import _check_labels

    arr = None
    for name, m in models.items():
        arr = _check_labels(labels, n, getattr(m, "n_classes", None), f"labels (for model {name!r})").numpy()
    return arr


@contextlib.contextmanager
def _frozen(models: dict[str, Any], device):
    """Models on ``device``, in eval mode, without parameter gradients; everything restored afterwards."""
    from .models import _model_device

    saved = []
    try:
        for m in models.values():
            saved.append((m, _model_device(m), m.training, [p.requires_grad for p in m.parameters()]))
            m.to(device)
            m.eval()
            m.requires_grad_(False)
        yield
    finally:
        for m, dev, training, flags in saved:
            for p, flag in zip(m.parameters(), flags):
                p.requires_grad_(flag)
            m.train(training)
            m.to(dev)


def _onehots(named: dict[str, Any], x1, y, y_max: int) -> dict[str, Any]:
    """Per model, the one-hot mask of the true class, sized by the model's own output (one forward pass of ``x1``)."""
    import torch

    out = {}
    with torch.no_grad():
        for name, m in named.items():
            z = m(x1)
            if z.ndim != 2:
                raise ValueError(f"models[{name!r}] must return logits of shape (N, n_classes), got shape {tuple(z.shape)}")
            if y_max >= z.shape[1]:
                raise ValueError(
                    f"labels must be class indices in [0, {z.shape[1] - 1}] for model {name!r}, got up to {y_max}; "
                    "map subject labels with ensemble.split.class_index"
                )
            out[name] = torch.nn.functional.one_hot(y, int(z.shape[1])).bool()
    return out


def _margins(model, x, y_onehot, y):
    """Untargeted Carlini-Wagner margin ``Z_y - max_{j != y} Z_j`` for a batch (negative = fooled)."""
    import torch

    z = model(x)
    if z.ndim != 2 or z.shape[1] != y_onehot.shape[1]:
        raise ValueError(f"each model must return logits of shape (N, {y_onehot.shape[1]}), got shape {tuple(z.shape)}")
    true = z.gather(1, y[:, None])[:, 0]
    other = z.masked_fill(y_onehot, -torch.inf).amax(dim=1)
    return true - other


def learn(
    models,
    images,
    labels,
    *,
    p: float = 0.7,
    kappa: float = 5.0,
    c_range: tuple[float, float] = (1e-3, 10.0),
    search_steps: int = 6,
    steps: int = 100,
    lr: float = 0.03,
    batch_size: int = 256,
    patience: int = 10,
    warm_start: bool = True,
    device=None,
    threads: int | None = None,
    progress: bool = True,
) -> UEPResult:
    """Learn one perturbation that fools every local CNN on at least ``p * N`` faces (Fig. 3).

    For each ``c`` tried, Adam minimises Eq. 3 from ``delta = 0``::

        ||delta||_2 + c * sum_models sum_images f,   f = max(Z_y - max_{j != y} Z_j, -kappa)

    on the images perturbed by Eq. 4 with ``beta = 1``, where ``Z`` are a
    model's logits and ``y`` the true class.  Every iterate is scored; the
    smallest ``delta`` (L2) that makes *all* models misclassify at least
    ``p * N`` images is kept.  ``c`` is then chosen by bisection on a log
    scale in ``c_range``: after a success the next ``c`` is smaller, after a
    failure larger, and the smallest successful ``delta`` over the whole
    search is returned.

    Parameters
    ----------
    models : LocalEnsemble, dict of str to torch.nn.Module, or list of modules
        The user's local CNNs (e.g. :func:`imgprivacy.models.cached_ensemble`).
        Each maps (N, C, H, W) in [0, 1] to logits.  They are moved to
        ``device`` for the search and put back, with their train/eval mode
        and ``requires_grad`` flags restored; their weights are not changed.
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        The faces to learn on, float in [0, 1] (grey or RGB); ``delta`` gets
        the shape of one image.
    labels : array-like of int, shape (N,)
        True **class indices** of the local models (``0 .. n_classes - 1``),
        not subject labels: map them with ``ensemble.split.class_index``.
    p : float, default 0.7
        Required fraction of images fooling all models, in (0, 1].
    kappa : float, default 5.0
        Confidence margin on the logits (>= 0): an image stops pulling on
        ``delta`` once its true logit is ``kappa`` below the best other one.
    c_range : (float, float), default (1e-3, 10.0)
        Bounds of the bisection (exclusive: the first ``c`` tried is their
        geometric mean, 0.1).
    search_steps : int, default 6
        Values of ``c`` tried.
    steps : int, default 100
        Maximum Adam steps per ``c``.
    lr : float, default 0.03
        Adam's learning rate on ``delta`` (Adam moves each pixel of
        ``delta`` by about ``lr`` per step).
    batch_size : int, default 256
        Images per forward pass; gradients are accumulated over the batches
        of a step, so every step uses the full objective (the result does not
        depend on it, only memory does).
    patience : int, default 10
        Early stopping for one ``c``.  After a success, the optimisation
        goes on while it keeps shrinking the successful ``delta`` and stops
        once the smallest successful ``||delta||`` has not improved by 1%
        for ``patience`` steps.  Without success, it gives up (this ``c``
        fails) once the loss has fallen by less than 1% over ``2 * patience``
        steps, or once, over ``3 * patience`` steps, the all-models fooling
        rate has not risen while the summed margin loss fell by less than 10%.
    warm_start : bool, default True
        Start each ``c`` from the final ``delta`` of the largest ``c`` that
        failed so far (``delta = 0`` until one has failed), instead of from
        0 as Fig. 3 does.  That point fooled fewer than ``p * N`` images, so
        success is never inherited.  Measured on the user's 100 faces: 274
        steps instead of 330 (42 s instead of 47 s on one thread) for a 2%
        larger ``delta`` (``||delta||`` 9.91 instead of 9.74), the same
        ``c``.  ``False`` restarts every ``c`` from 0, as Fig. 3 does.
    device : torch.device or str, optional
        Default :func:`imgprivacy.models.pick_device` (CUDA, else Apple MPS,
        else CPU).
    threads : int, optional
        Torch threads on the CPU for this call (:func:`imgprivacy.models.torch_threads`);
        default :data:`imgprivacy.models.DEFAULT_CPU_THREADS` (1).
    progress : bool, default True
        A tqdm bar over the values of ``c``.

    Returns
    -------
    UEPResult

    Raises
    ------
    TypeError, ValueError
        For bad models, images, labels or settings.

    Warns
    -----
    UEPConvergenceWarning
        If no ``c`` succeeded; ``delta`` is then the iterate that fooled the
        most images (``converged`` is False).

    Notes
    -----
    **Sign of the loss.**  The paper's Eq. 2 (and Eq. 8 of its appendix)
    writes ``max(max_{j != y} Y_j - Y_y, -kappa)``; minimising that *raises*
    the true class's score.  Carlini and Wagner's untargeted loss, used
    here, is its opposite, ``max(Z_y - max_{j != y} Z_j, -kappa)``, which
    is low when the image is misclassified with margin ``kappa``.

    **Logits, not probabilities.**  The paper writes ``Y`` (probabilities);
    softmax saturates, which flattens the gradient of confidently classified
    faces.  Logits with ``kappa = 5`` behave far better (as Carlini and
    Wagner advise), and ``c`` in [1e-3, 10] with 5-6 bisection steps is
    enough for these networks where the paper searched [1e-3, 1e5].

    **Eq. 4 in torch** is ``sigmoid(logit(x) + 2 delta)`` with ``x`` clipped
    to ``[EPS, 1 - EPS]`` (:data:`EPS` = 1e-6); it differs from
    :func:`apply` by at most 1e-6 at saturated pixels.

    **Labels.**  Fig. 3 takes each image's label from the models
    (``argmax Y(x)``); here the caller gives the true labels.  An image a
    model already misclassifies counts as fooled for that model.

    **Universal means one class.**  A single ``delta`` fools a network
    most cheaply by driving every face to the same class (here ``vgg_a``
    sends all 100 faces to subject 1, ``facescrub_thumb`` 99 of them to
    subject 5 at beta = 2), so that class's own faces are never fooled:
    with 10 subjects of 10 faces each, "all models fooled" tops out near
    0.8 and ``p`` much above 0.8 cannot be reached.

    **Measured** (``benchmarks/bench_uep.py``, the user's 100 faces, the
    cached ensemble, defaults): ``c`` tried 0.1 (success), 0.01 (failure),
    0.032, 0.018, 0.013, 0.0116 (successes); kept ``c = 0.0116``,
    ``||delta|| = 9.91`` (0.155 per pixel, max ``|delta|`` 1.04), fooling
    rates ``vgg_a`` 0.90, ``vgg_b`` 0.98, ``facescrub_thumb`` 0.80, all
    0.70, in 274 Adam steps: 42 s with one torch thread (154 ms per step,
    at load average 0.2 and at 2 alike), with two threads 21 s on the idle
    2-core CPU and 28 s at load 2 (another job running).  The result does
    not depend on the thread count.  Without the warm start: 47 s, 330
    steps, ``||delta|| = 9.74``.  The default stays at
    :data:`imgprivacy.models.DEFAULT_CPU_THREADS` (one thread), the
    library's policy for shared machines; pass ``threads=2`` on free cores.
    Transfer, image quality and recovery: module docstring, :func:`apply`
    and :func:`remove`.

    References
    ----------
    Section 5.1, Eq. 2-4 and Fig. 3 of the paper; N. Carlini and D. Wagner,
    "Towards evaluating the robustness of neural networks", IEEE S&P 2017.

    Examples
    --------
    A toy "model" that calls a face bright (class 0) when its mean is above
    0.5; the UEP learns to darken:

    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    >>> with torch.no_grad():  # logits +-(mean - 0.5) * 8
    ...     _ = net[1].weight.copy_(torch.stack([torch.ones(64), -torch.ones(64)]) / 8)
    ...     _ = net[1].bias.copy_(torch.tensor([-4.0, 4.0]))
    >>> x = np.full((4, 8, 8), 0.6, np.float32)
    >>> r = learn([net], x, [0, 0, 0, 0], p=1.0, progress=False, device="cpu")
    >>> r.delta.shape, r.converged, r.fooling_rate, bool(r.delta.mean() < 0)
    ((8, 8), True, {'model0': 1.0, 'all': 1.0}, True)
    """
    import torch

    from .models import DEFAULT_CPU_THREADS, pick_device, to_tensor, torch_threads

    named = _model_dict(models)
    x = to_tensor(images)
    n = len(x)
    y_np = _labels_for(labels, n, named)
    p = _check_real(p, "p", low=0.0, high=1.0, low_open=True, accepted=" in (0, 1]")
    kappa = _check_real(kappa, "kappa", low=0.0, accepted=" >= 0")
    if not (isinstance(c_range, (tuple, list)) and len(c_range) == 2):
        raise TypeError(f"c_range must be a pair (low, high) with 0 < low < high, got {_short(c_range)}")
    c_low = _check_real(c_range[0], "c_range", low=0.0, low_open=True, accepted=" pair (low, high) with 0 < low < high")
    c_high = _check_real(c_range[1], "c_range", low=0.0, low_open=True, accepted=" pair (low, high) with 0 < low < high")
    if not c_low < c_high:
        raise ValueError(f"c_range must be a pair (low, high) with 0 < low < high, got {_short(c_range)}")
    search_steps = check_int(search_steps, "search_steps", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    lr = _check_real(lr, "lr", low=0.0, low_open=True, accepted=" > 0")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    patience = check_int(patience, "patience", minimum=1)
    for flag, flag_name in ((progress, "progress"), (warm_start, "warm_start")):
        if not isinstance(flag, bool):
            raise TypeError(f"{flag_name} must be True or False, got {_short(flag)}")
    dev = pick_device(device)
    n_threads = DEFAULT_CPU_THREADS if threads is None else check_int(threads, "threads", minimum=1)

    from tqdm.auto import tqdm

    need = math.ceil(p * n - 1e-9)
    start = time.perf_counter()
    trials: list[CTrial] = []
    best: dict[str, Any] = {"delta": None, "norm": math.inf, "c": math.nan}
    fallback: dict[str, Any] = {"delta": None, "fooled": -1, "norm": math.inf, "c": math.nan}
    with torch_threads(n_threads if dev.type == "cpu" else None), _frozen(named, dev):
        clipped = x.clamp(EPS, 1.0 - EPS)
        base = torch.logit(clipped).to(dev)  # 2 * arctanh(2x - 1)
        y = torch.from_numpy(y_np).to(dev)
        onehot = _onehots(named, x[:1].to(dev), y, int(y_np.max()))
        batches = [slice(i, i + batch_size) for i in range(0, n, batch_size)]
        lo, hi = math.log10(c_low), math.log10(c_high)
        start_from = None  # final delta of the largest failed c (warm start)
        bar = tqdm(range(search_steps), desc="UEP c search", disable=not progress, leave=True)
        for _ in bar:
            c = 10.0 ** ((lo + hi) / 2)
            t0 = time.perf_counter()
            if warm_start and start_from is not None:
                delta = start_from.clone().requires_grad_(True)
            else:
                delta = torch.zeros((1,) + tuple(x.shape[1:]), device=dev, requires_grad=True)
            opt = torch.optim.Adam([delta], lr=lr)
            run_best: tuple[float, torch.Tensor | None, int] = (math.inf, None, 0)  # norm, delta, fooled
            run_most: tuple[int, float, torch.Tensor | None] = (-1, math.inf, None)  # fooled, norm, delta
            since_norm = 0
            losses: list[float] = []
            hinges: list[float] = []  # sum of f over models and images
            trace_f: list[float] = []
            trace_n: list[float] = []
            step = 0
            for step in range(1, steps + 1):
                opt.zero_grad(set_to_none=True)
                fooled_all = torch.ones(n, dtype=torch.bool, device=dev)
                total = torch.zeros((), device=dev)
                for sl in batches:
                    xp = torch.sigmoid(base[sl] + 2.0 * delta)
                    f_sum = torch.zeros((), device=dev)
                    for name, m in named.items():
                        margin = _margins(m, xp, onehot[name][sl], y[sl])
                        fooled_all[sl] &= margin.detach() < 0
                        f_sum = f_sum + margin.clamp(min=-kappa).sum()
                    (c * f_sum).backward()
                    total = total + c * f_sum.detach()
                norm = torch.sqrt((delta * delta).sum() + 1e-20)
                norm.backward()
                norm_v = float(norm.detach())
                fooled = int(fooled_all.sum())
                loss_v = float(total) + norm_v
                trace_f.append(fooled / n)
                trace_n.append(norm_v)
                if fooled >= need and norm_v < run_best[0]:
                    improved = norm_v < 0.99 * run_best[0]
                    run_best = (norm_v, delta.detach().clone(), fooled)
                    since_norm = 0 if improved else since_norm + 1
                elif run_best[1] is not None:
                    since_norm += 1
                if fooled > run_most[0] or (fooled == run_most[0] and norm_v < run_most[1]):
                    run_most = (fooled, norm_v, delta.detach().clone())
                losses.append(loss_v)
                hinges.append(float(total) / c)
                if run_best[1] is not None and since_norm >= patience:
                    break
                if run_best[1] is None and _stalled(losses, trace_f, hinges, patience):
                    break  # no success and no progress: this c fails
                if step < steps:  # the last delta stays the one just scored (a warm start never inherits success)
                    opt.step()
            succeeded = run_best[1] is not None
            if succeeded:
                kept_norm, kept_fooled = run_best[0], run_best[2]
                if kept_norm < best["norm"]:
                    best = {"delta": run_best[1], "norm": kept_norm, "c": c}
                hi = math.log10(c)
            else:
                kept_norm, kept_fooled = run_most[1], run_most[0]
                lo = math.log10(c)
                start_from = delta.detach().clone()
            if run_most[0] > fallback["fooled"] or (run_most[0] == fallback["fooled"] and run_most[1] < fallback["norm"]):
                fallback = {"delta": run_most[2], "fooled": run_most[0], "norm": run_most[1], "c": c}
            trials.append(CTrial(c, succeeded, kept_fooled / n, kept_norm, step, time.perf_counter() - t0,
                                 tuple(trace_f), tuple(trace_n)))
            bar.set_postfix({"c": f"{c:.3g}", "fooled": f"{kept_fooled / n:.2f}", "norm": f"{kept_norm:.2f}",
                             "ok": succeeded}, refresh=False)
        bar.close()
        chosen = best if best["delta"] is not None else fallback
        final = chosen["delta"]
        rates = _rates(named, torch.sigmoid(base + 2.0 * final), y, onehot, batch_size)
    converged = best["delta"] is not None
    delta_np = final[0].detach().to("cpu", torch.float32).numpy()
    delta_np = np.array(delta_np[0] if delta_np.shape[0] == 1 else delta_np.transpose(1, 2, 0), dtype=np.float32)
    metadata = _learn_metadata(models, images, c_range, search_steps, steps, lr, patience, warm_start, n_threads)
    if not converged:
        warnings.warn(
            f"no c in c_range={tuple(c_range)} gave a delta fooling all {len(named)} models on p={p} of the {n} images "
            f"in {search_steps} trials (best: {rates['all']:.2f}); raise c_range's upper end, steps or lr",
            UEPConvergenceWarning,
            stacklevel=2,
        )
    return UEPResult(delta_np, float(chosen["c"]), rates, converged, tuple(trials), p, kappa, tuple(named),
                     time.perf_counter() - start, str(dev), metadata)


def _stalled(losses: list[float], fooled: list[float], hinge: list[float], patience: int) -> bool:
    """No progress towards success: the loss fell by less than 1% over the last ``2 * patience`` steps,
    or, over the last ``3 * patience`` steps, the all-models fooling rate did not rise while the
    summed margin loss fell by less than 10%."""
    window = 2 * patience
    if len(losses) > window and losses[-1] > 0.99 * losses[-1 - window]:
        return True
    window = 3 * patience
    if len(fooled) <= window or max(fooled[-window:]) > fooled[-1 - window]:
        return False
    before, now = hinge[-1 - window], hinge[-1]
    return before - now < 0.1 * abs(before)


def _rates(named, xp, y, onehot, batch_size) -> dict[str, float]:
    import torch

    n = len(xp)
    fooled_all = torch.ones(n, dtype=torch.bool, device=xp.device)
    out = {}
    with torch.no_grad():
        for name, m in named.items():
            fooled = torch.cat([
                _margins(m, xp[i : i + batch_size], onehot[name][i : i + batch_size], y[i : i + batch_size]) < 0
                for i in range(0, n, batch_size)
            ])
            out[name] = float(fooled.float().mean())
            fooled_all &= fooled
    out["all"] = float(fooled_all.float().mean())
    return out


def _learn_metadata(models, images, c_range, search_steps, steps, lr, patience, warm_start, threads) -> dict[str, Any]:
    import hashlib

    from . import __version__
    from .models import LocalEnsemble

    stack = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
    digest = hashlib.sha256(repr(stack.shape).encode() + stack.tobytes()).hexdigest()
    meta: dict[str, Any] = {
        "resolution": list(stack.shape[1:]),
        "n_images": int(stack.shape[0]),
        "images_sha256": digest,
        "settings": {"c_range": [float(c) for c in c_range], "search_steps": search_steps, "steps": steps, "lr": lr,
                     "patience": patience, "warm_start": warm_start, "threads": threads, "eps": EPS},
        "library_version": __version__,
    }
    if isinstance(models, LocalEnsemble):
        meta["split"] = models.split.to_dict()
        meta["dataset"] = models.dataset
    return meta


def fooling_rate(models, images, labels, *, batch_size: int = 256) -> dict[str, float]:
    """Fraction of (perturbed) ``images`` that each local model, and all at once, misclassify.

    Parameters
    ----------
    models : LocalEnsemble, dict of str to torch.nn.Module, or list of modules
        Evaluated on their own devices, in eval mode (restored afterwards).
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        float in [0, 1], e.g. ``apply(faces, result.delta, beta=2.0)``.
    labels : array-like of int, shape (N,)
        True class indices of the models.
    batch_size : int, default 256

    Returns
    -------
    dict of str to float
        By model name, and ``"all"``: misclassified by every model.

    Examples
    --------
    >>> from imgprivacy.models import build_model
    >>> nets = {"a": build_model("vgg_b", n_classes=2, seed=0)}
    >>> sorted(fooling_rate(nets, np.zeros((4, 16, 16), np.float32), [0, 1, 0, 1]))
    ['a', 'all']
    """
    import torch

    from .models import _mode, _model_device, to_tensor

    named = _model_dict(models)
    x = to_tensor(images)
    y_np = _labels_for(labels, len(x), named)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    fooled_all = np.ones(len(x), dtype=bool)
    out = {}
    for name, m in named.items():
        dev = _model_device(m)
        y = torch.from_numpy(y_np).to(dev)
        with torch.no_grad(), _mode(m, False):
            onehot = _onehots({name: m}, x[:1].to(dev), y, int(y_np.max()))[name]
            fooled = torch.cat([
                _margins(m, x[i : i + batch_size].to(dev), onehot[i : i + batch_size], y[i : i + batch_size]) < 0
                for i in range(0, len(x), batch_size)
            ]).cpu().numpy()
        out[name] = float(fooled.mean())
        fooled_all &= fooled
    out["all"] = float(fooled_all.mean())
    return out


# =========================================================================== files
def _check_path(path: Any) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got {type(path).__name__}")
    return Path(path)


def save(path, result: UEPResult, *, metadata: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Save a learned UEP with its metadata, atomically (conventionally ``*.uep.npz``).

    The file is a numpy ``.npz`` archive holding ``delta`` (float32) and one
    JSON text: the format marker and version, ``c``, ``p``, ``kappa``, the
    fooling rates, the model names, the resolution, the ``c`` search, and
    whatever :func:`learn` recorded (data split and data set of a
    :class:`~imgprivacy.models.LocalEnsemble`, a SHA-256 of the learning
    images, settings) merged with ``metadata``.

    Parameters
    ----------
    path : str or path
        Written through a temporary file in the same folder, then linked (or,
        with ``overwrite``, renamed) into place: an existing file is never
        replaced unless asked, even by a concurrent writer.
    result : UEPResult
    metadata : dict, optional
        Extra JSON-able facts (e.g. ``{"split": ens.split.to_dict(), "images": idx.tolist()}``);
        merged over ``result.metadata``.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder does not exist.
    TypeError, ValueError
        For a non-UEPResult or metadata that is not JSON-able.

    Examples
    --------
    >>> import tempfile
    >>> r = UEPResult(np.zeros((4, 4), np.float32), 0.1, {"all": 0.8}, True, (), 0.7, 5.0, ("vgg_a",))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = save(os.path.join(tmp, "me.uep.npz"), r, metadata={"dataset": "olivetti"})
    ...     back = load(f)
    >>> back.c, back.metadata["dataset"], back.delta.shape
    (0.1, 'olivetti', (4, 4))
    """
    path = _check_path(path)
    if not isinstance(result, UEPResult):
        raise TypeError(f"result must be a UEPResult (from imgprivacy.uep.learn), got {type(result).__name__}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    meta = dict(result.metadata)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of JSON-able values or None, got {type(metadata).__name__}")
        meta.update(metadata)
    from . import __version__

    payload = {
        "format": _FORMAT, "format_version": UEP_FORMAT_VERSION, "library_version": __version__,
        "c": result.c, "p": result.p, "kappa": result.kappa, "converged": result.converged,
        "fooling_rate": result.fooling_rate, "models": list(result.models), "resolution": list(result.shape),
        "seconds": result.seconds, "device": result.device, "history": [t.to_dict() for t in result.history],
        "metadata": meta,
    }
    try:
        text = json.dumps(payload, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-able (str, numbers, lists, dicts), got {err}") from None
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} of UEP file {path} does not exist; create it first")
    buffer = io.BytesIO()
    np.savez(buffer, delta=np.asarray(result.delta, dtype=np.float32), info=np.array(text))
    publish(buffer.getvalue(), path, overwrite=overwrite,
            exists_message=f"UEP file {path} already exists; pass overwrite=True to replace it")
    return path


def load(path) -> UEPResult:
    """Read a UEP written by :func:`save` (no pickled code is loaded).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable UEP file (corrupt, another format, a newer
        layout version).

    Examples
    --------
    >>> try:
    ...     load("no/such/file.uep.npz")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(";")[0])
    UEP file no/such/file.uep.npz does not exist
    """
    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UEP file {path} does not exist; learn one with imgprivacy.uep.learn and save it")
    try:
        with np.load(path, allow_pickle=False) as archive:
            delta = np.array(archive["delta"], dtype=np.float32)
            info = json.loads(str(archive["info"][()]))
    except Exception as err:  # zipfile, KeyError, ValueError, JSON errors...
        raise ValueError(f"UEP file {path} is corrupt or not a UEP file ({type(err).__name__}: {err})") from None
    if not isinstance(info, dict) or info.get("format") != _FORMAT:
        raise ValueError(f"UEP file {path} is not an imgprivacy UEP file (no {_FORMAT!r} marker)")
    version = info.get("format_version")
    if not isinstance(version, int) or version > UEP_FORMAT_VERSION:
        raise ValueError(
            f"UEP file {path} has layout version {version!r}, this imgprivacy reads up to {UEP_FORMAT_VERSION}; "
            "upgrade imgprivacy"
        )
    try:
        return UEPResult(
            delta, float(info["c"]), {str(k): float(v) for k, v in info["fooling_rate"].items()}, bool(info["converged"]),
            tuple(CTrial.from_dict(t) for t in info.get("history", [])), float(info["p"]), float(info["kappa"]),
            tuple(info["models"]), float(info.get("seconds", 0.0)), str(info.get("device", "cpu")),
            dict(info.get("metadata", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"UEP file {path} is corrupt: missing or malformed field ({err})") from None
