"""The user's side: small face CNNs, the thumbnail layer, training, devices and checkpoints.

In the paper's threat model (section 3, section 6.1) the user cannot query the
provider's recogniser.  To learn a Universal Ensemble Perturbation (UEP) she
trains a few *small local CNNs* on the few identities she has (10 people) and
attacks them instead, hoping the perturbation transfers.  This module builds
and trains those networks:

* **Architectures** (:func:`build_model`, names in :data:`ARCHITECTURES`):
  two VGG-style networks of different depth and width (``"vgg_a"``, 5 conv +
  2 FC layers like the paper's "VGG-16" of appendix C; ``"vgg_b"``, 7
  narrower conv layers) and the paper's "FaceScrub CNN" (3 conv + 2 FC)
  behind a :class:`Thumbnail` layer (``"facescrub_thumb"``: it sees the
  input at half resolution, paper Fig. 19).  ``"provider_resnet"`` is a
  small residual network used only by the provider's
  :class:`imgprivacy.targets.ProviderCNN`; the user's ensemble never uses it.
  Every network takes float32 tensors (N, C, H, W) in [0, 1] (grey C = 1 or
  RGB C = 3, any size from 16 x 16 pixels up: a final adaptive pooling fixes
  the classifier's input) and returns logits (N, n_classes).
* **The torch boundary**: :func:`to_tensor` / :func:`from_tensor` are the
  only converters between canonical numpy images (N, H, W[, C]) and tensors.
* **Training**: :func:`train` (augmentation for tiny face sets, one-cycle
  learning rate, progress bar, seeded and restartable), :func:`predict`,
  :func:`accuracy`, :func:`pick_device` (CUDA, else Apple MPS, else CPU) and
  :func:`torch_threads`.
* **The user's ensemble**: :func:`split_per_subject` and
  :func:`local_ensemble` (three networks trained on 10 subjects, 7 images
  each, the other 3 held out), returning a :class:`LocalEnsemble`.
* **Checkpoints**: :func:`save_checkpoint` / :func:`load_checkpoint` /
  :func:`load_ensemble` (weights, architecture, settings, data split,
  dataset name and library version; atomic, never silently overwritten,
  loaded with ``torch.load(weights_only=True)``), and :func:`cached_ensemble`,
  a ready-trained ensemble shipped in ``data/checkpoints/`` for the
  notebooks' fast mode.

CPU threads
-----------
Training runs with **one** torch thread on the CPU by default
(:data:`DEFAULT_CPU_THREADS`), set only inside :func:`train` (by
:func:`torch_threads`), never globally.  Measured on the 2-core machine
(``benchmarks/bench_models.py``, torch 2.13 CPU, the three local CNNs,
batches of 16 faces of 64 x 64), time with 2 threads / time with 1 thread:

* machine otherwise idle: 0.79 (2 threads 21% faster, 2.1 s vs 2.7 s for
  15 epochs of all three);
* one other CPU-bound process (another engineer's job): 1.11 (2 threads
  1.71x slower for the thumbnail CNN, slightly faster for the VGGs);
* one busy process started by the benchmark on the idle machine: 3.07;
* two busy processes (that job + the benchmark's): 14.7 (one network took
  38x longer: 35.5 s vs 0.9 s);
* an early prototype at load ~4: 5.9 to 7x slower with 2 threads.

So a second thread buys at best ~20% on an idle machine and costs several
times over as soon as anything else runs (a notebook kernel next to a test
run, a second notebook): these convolutions (a few MFLOP per image) are too
small for intra-op parallelism to pay for its synchronisation, and a
descheduled worker stalls every step.  Pass ``threads=2`` (or more on
larger machines) to :func:`train` when the cores are free.

Importing :mod:`imgprivacy` does not import this module (nor torch); it is
loaded on first access to ``imgprivacy.models``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import numbers
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._atomic import publish
from ._validation import _short, check_images, check_int, check_range_01

__all__ = [
    "ARCHITECTURES",
    "CACHED_FILES",
    "CHECKPOINT_FORMAT_VERSION",
    "DEFAULT_CPU_THREADS",
    "LOCAL_ARCHITECTURES",
    "Checkpoint",
    "FaceCNN",
    "LocalEnsemble",
    "Split",
    "Standardize",
    "Thumbnail",
    "TrainHistory",
    "accuracy",
    "build_model",
    "cached_ensemble",
    "checkpoint_dir",
    "from_tensor",
    "load_checkpoint",
    "load_ensemble",
    "local_ensemble",
    "pick_device",
    "predict",
    "save_checkpoint",
    "split_per_subject",
    "to_tensor",
    "torch_threads",
    "train",
]

#: Torch threads used by :func:`train` on the CPU unless ``threads=`` says
#: otherwise.  Decided by measurement (``benchmarks/bench_models.py``, 2 cores):
#: 2 threads / 1 thread = 0.79 idle, 1.11 with one other job running, 3.07
#: with one busy process, 14.7 with two; see the module docstring.
DEFAULT_CPU_THREADS = 1

#: Version of the checkpoint file layout written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT_VERSION = 1
_CHECKPOINT_FORMAT = "imgprivacy.models checkpoint"

_BATCH_SIZE = 16  # train() defaults, recorded by local_ensemble
_LR = 3e-3
_MIN_SIZE = 16  # every architecture divides the input by at most 16 before its adaptive pooling
_CHANNELS = (1, 3)


# =========================================================================== layers
class Thumbnail(nn.Module):
    """Resolution reduction: a fixed 2 x 2 convolution with weights 1/4 and stride 2.

    Each output pixel is the mean of a 2 x 2 block of the input, channel by
    channel (a grouped convolution); a trailing odd row or column is
    dropped.  The kernel is a constant buffer, not a parameter: training
    never changes it, and it is not stored in checkpoints.

    Parameters
    ----------
    channels : int, default 1
        Channels of the input (1 for grey, 3 for RGB).

    References
    ----------
    Paper, section 6.1 and Fig. 19: "an additional convolutional layer size
    of 2x2 with values of 1/(2x2) = 0.25 [...] by setting up the stride value
    to 2x2 we can have a thumbnail function".

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> Thumbnail()(x)
    tensor([[[[ 2.5000,  4.5000],
              [10.5000, 12.5000]]]])
    """

    def __init__(self, channels: int = 1):
        super().__init__()
        self.channels = check_int(channels, "channels", minimum=1)
        self.register_buffer("weight", torch.full((self.channels, 1, 2, 2), 0.25), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, stride=2, groups=self.channels)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel=2x2 of 1/4, stride=2"


class Standardize(nn.Module):
    """Per-image standardisation: subtract each image's mean, divide by its standard deviation.

    The usual illumination normalisation of face recognisers (also done by
    :class:`imgprivacy.targets.Eigenfaces`): the networks see the content of
    a face, not its brightness or contrast.  Differentiable, no parameters.

    Examples
    --------
    >>> x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])
    >>> torch.allclose(Standardize()(x), Standardize()(0.5 * x + 0.1), atol=0.01)
    True
    """

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / (std + self.eps)


def _conv_bn(cin: int, cout: int, *, stride: int = 1, norm: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.ReLU(inplace=True))
    return layers


class _BasicBlock(nn.Module):
    """Residual block (He et al., 2016): two 3 x 3 conv + batch norm, identity or 1 x 1 shortcut."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x), inplace=True)


# =========================================================================== architectures
# name -> (description, builder settings).  "M" is a 2 x 2 max pooling.
_SPECS: dict[str, dict[str, Any]] = {
    "vgg_a": {
        "description": "VGG-style, 5 conv (16-32-48-48-64, the first with stride 2) + 2 FC, batch norm",
        "kind": "vgg", "convs": (16, "M", 32, "M", 48, 48, "M", 64), "first_stride": 2, "norm": True,
        "pool": 2, "hidden": 64, "dropout": 0.3, "thumbnail": False, "epochs": 60,
    },
    "vgg_b": {
        "description": "VGG-style, deeper and narrower: 7 conv (8-8-16-16-32-32-64, the first with stride 2) + 2 FC, batch norm",
        "kind": "vgg", "convs": (8, 8, "M", 16, 16, "M", 32, 32, "M", 64), "first_stride": 2, "norm": True,
        "pool": 2, "hidden": 64, "dropout": 0.3, "thumbnail": False, "epochs": 60,
    },
    "facescrub_thumb": {
        "description": "thumbnail (2x2 mean, stride 2), then the FaceScrub CNN: 3 conv (16-32-64) + 2 FC, no norm",
        "kind": "vgg", "convs": (16, "M", 32, "M", 64, "M"), "first_stride": 1, "norm": False,
        "pool": 4, "hidden": 64, "dropout": 0.3, "thumbnail": True, "epochs": 40,
    },
    "provider_resnet": {
        "description": "the provider's network: small ResNet, stem conv (stride 2) + 3 residual blocks (16-32-64), 2x2 average pooling, 1 FC",
        "kind": "resnet", "widths": (16, 32, 64), "pool": 2, "dropout": 0.2, "thumbnail": False, "epochs": 40,
    },
}

#: Every architecture :func:`build_model` knows.
ARCHITECTURES: tuple[str, ...] = tuple(_SPECS)
#: The user's three local CNNs, in the order of :func:`local_ensemble`.
LOCAL_ARCHITECTURES: tuple[str, ...] = ("vgg_a", "vgg_b", "facescrub_thumb")


def _check_arch(arch: Any, name: str = "arch") -> str:
    if not isinstance(arch, str) or arch not in _SPECS:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, ARCHITECTURES))}, got {_short(arch)}")
    return arch


class FaceCNN(nn.Module):
    """A face classifier of one of the :data:`ARCHITECTURES`; build it with :func:`build_model`.

    ``forward`` takes float32 (N, C, H, W) in [0, 1] (convert numpy images
    with :func:`to_tensor`) and returns logits (N, n_classes).  The layers
    are: an optional :class:`Thumbnail`, :class:`Standardize`, the
    convolutional ``features``, an adaptive pooling (so any input of at
    least 16 x 16 pixels works) and the ``classifier``.

    Attributes
    ----------
    arch : str
        Architecture name (a key of :data:`ARCHITECTURES`).
    in_channels : int
        1 (grey) or 3 (RGB).
    n_classes : int
        Number of outputs.
    """

    def __init__(self, arch: str, *, in_channels: int = 1, n_classes: int = 10):
        super().__init__()
        self.arch = _check_arch(arch)
        self.in_channels = _check_channels(in_channels)
        self.n_classes = check_int(n_classes, "n_classes", minimum=2)
        spec = _SPECS[arch]
        self.thumbnail = Thumbnail(self.in_channels) if spec["thumbnail"] else nn.Identity()
        self.standardize = Standardize()
        if spec["kind"] == "vgg":
            layers: list[nn.Module] = []
            cin, first = self.in_channels, True
            for item in spec["convs"]:
                if item == "M":
                    layers.append(nn.MaxPool2d(2))
                    continue
                layers += _conv_bn(cin, item, stride=spec["first_stride"] if first else 1, norm=spec["norm"])
                cin, first = item, False
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(spec["pool"])
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(cin * spec["pool"] ** 2, spec["hidden"]),
                nn.ReLU(inplace=True),
                nn.Dropout(spec["dropout"]),
                nn.Linear(spec["hidden"], self.n_classes),
            )
        else:  # resnet
            w1, w2, w3 = spec["widths"]
            self.features = nn.Sequential(
                *_conv_bn(self.in_channels, w1, stride=2),
                _BasicBlock(w1, w1, 1),
                _BasicBlock(w1, w2, 2),
                _BasicBlock(w2, w3, 2),
            )
            self.pool = nn.AdaptiveAvgPool2d(spec["pool"])
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Dropout(spec["dropout"]), nn.Linear(w3 * spec["pool"] ** 2, self.n_classes)
            )
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
                nn.init.zeros_(module.bias)

    @property
    def config(self) -> dict[str, Any]:
        """What :func:`build_model` needs to rebuild this network (JSON-able)."""
        return {"arch": self.arch, "in_channels": self.in_channels, "n_classes": self.n_classes}

    @property
    def description(self) -> str:
        """One line describing the architecture."""
        return _SPECS[self.arch]["description"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"input must be a tensor of shape (N, {self.in_channels}, H, W) for this {self.arch} network "
                f"built for {self.in_channels} channel(s), got shape {tuple(x.shape)}; convert numpy images with "
                "imgprivacy.models.to_tensor"
            )
        if x.shape[2] < _MIN_SIZE or x.shape[3] < _MIN_SIZE:
            raise ValueError(
                f"input must be at least {_MIN_SIZE}x{_MIN_SIZE} pixels, got {x.shape[2]}x{x.shape[3]}; upscale small faces first"
            )
        x = self.standardize(self.thumbnail(x))
        return self.classifier(self.pool(self.features(x)))

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, in_channels={self.in_channels}, n_classes={self.n_classes}"


def _check_channels(channels: Any, name: str = "in_channels") -> int:
    channels = check_int(channels, name)
    if channels not in _CHANNELS:
        raise ValueError(f"{name} must be 1 (grey) or 3 (RGB), got {channels}")
    return channels


def build_model(arch: str, *, in_channels: int = 1, n_classes: int = 10, seed: int | None = None) -> FaceCNN:
    """Build an untrained network of one of the :data:`ARCHITECTURES`.

    Parameters
    ----------
    arch : {"vgg_a", "vgg_b", "facescrub_thumb", "provider_resnet"}
        ``"vgg_a"``: 5 conv + 2 FC (VGG-style, like the paper's "VGG-16" of
        appendix C, scaled down); ``"vgg_b"``: 7 narrower conv + 2 FC;
        ``"facescrub_thumb"``: a :class:`Thumbnail` layer, then the
        "FaceScrub CNN" (3 conv + 2 FC); ``"provider_resnet"``: the provider's
        small ResNet (see :class:`imgprivacy.targets.ProviderCNN`).
    in_channels : {1, 3}, default 1
        Grey or RGB input.
    n_classes : int, default 10
        Number of identities (outputs), at least 2.
    seed : int, optional
        Seed of the initial weights.  Torch's global random state is left
        untouched (a forked generator is used); without a seed the global
        generator draws them.

    Returns
    -------
    FaceCNN
        In training mode, on the CPU.

    Raises
    ------
    ValueError
        For an unknown architecture, channel count or class count.

    Examples
    --------
    >>> net = build_model("facescrub_thumb", n_classes=5, seed=0)
    >>> net(torch.rand(2, 1, 64, 64)).shape
    torch.Size([2, 5])
    >>> build_model("vgg_a", in_channels=3, seed=0)(torch.rand(1, 3, 112, 92)).shape
    torch.Size([1, 10])
    """
    _check_arch(arch)
    if seed is None:
        return FaceCNN(arch, in_channels=in_channels, n_classes=n_classes)
    seed = check_int(seed, "seed", minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FaceCNN(arch, in_channels=in_channels, n_classes=n_classes)


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# =========================================================================== the torch boundary
def to_tensor(images, *, device: torch.device | str | None = None, name: str = "images") -> torch.Tensor:
    """Convert canonical numpy images to a float32 tensor (N, C, H, W) in [0, 1].

    The one door from numpy images into the networks (:func:`from_tensor` is
    the way back).

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or a list of images
        Floating point in [0, 1]; C is 1 (grey) or 3 (RGB); all images the
        same shape.  Integer images are refused: convert them with
        :func:`imgprivacy.data.to_float`.
    device : torch.device or str, optional
        Where to put the tensor (default: CPU).
    name : str, default "images"
        Parameter name used in error messages.

    Returns
    -------
    torch.Tensor of shape (N, C, H, W), float32
        Always a copy: the input array is never shared or modified.

    Raises
    ------
    TypeError
        For a non-array or a non-floating dtype.
    ValueError
        For a wrong shape, channel count or value range.

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 8, 8), dtype=np.float32)
    >>> to_tensor(x).shape
    torch.Size([2, 1, 8, 8])
    >>> bool(np.array_equal(from_tensor(to_tensor(x)), x))
    True
    >>> to_tensor(np.zeros((2, 8, 8, 3), np.float32)).shape
    torch.Size([2, 3, 8, 8])
    """
    if isinstance(images, np.ndarray):
        if not np.issubdtype(images.dtype, np.floating):
            raise TypeError(
                f"{name} must be floating-point images with values in [0, 1], got dtype {images.dtype}; "
                "convert integer images with imgprivacy.data.to_float(images)"
            )
        if images.ndim not in (3, 4):
            raise ValueError(
                f"{name} must be a stack of shape (N, H, W) or (N, H, W, C), got shape {images.shape}; "
                "wrap a single image as images[None]"
            )
        if images.ndim == 4 and images.shape[3] not in _CHANNELS:
            raise ValueError(
                f"{name} must have 1 (grey) or 3 (RGB) channels, got shape {images.shape}; "
                "drop an alpha channel with images[..., :3]"
            )
        if images.shape[0] < 1:
            raise ValueError(f"{name} must hold at least one image, got shape {images.shape}")
        stack = images.astype(np.float32, copy=True)
        check_range_01(stack, name)
    elif isinstance(images, (list, tuple)):
        if not images:
            raise ValueError(f"{name} must hold at least one image, got an empty {type(images).__name__}")
        items = check_images(images, name, channels=_CHANNELS)
        shapes = {im.shape for im in items}
        if len(shapes) > 1:
            raise ValueError(f"{name} must all have the same shape, got {sorted(shapes)}")
        stack = np.stack(items).astype(np.float32, copy=False)
    else:
        raise TypeError(f"{name} must be an ndarray of shape (N, H, W[, C]) or a list of images, got {type(images).__name__}")
    tensor = torch.from_numpy(np.ascontiguousarray(stack))
    tensor = tensor[:, None] if tensor.ndim == 3 else tensor.permute(0, 3, 1, 2).contiguous()
    return tensor if device is None else tensor.to(device)


def from_tensor(tensor: torch.Tensor, *, name: str = "tensor") -> np.ndarray:
    """Convert a tensor (N, C, H, W) in [0, 1] back to canonical numpy images.

    Parameters
    ----------
    tensor : torch.Tensor of shape (N, C, H, W)
        C is 1 or 3; values in [0, 1]; any device, detached or not.

    Returns
    -------
    ndarray of shape (N, H, W) for C = 1, (N, H, W, 3) for C = 3
        float32, a new array on the host.

    Raises
    ------
    TypeError, ValueError
        For a non-tensor, a wrong shape or values outside [0, 1].

    Examples
    --------
    >>> from_tensor(torch.full((2, 3, 4, 5), 0.5)).shape
    (2, 4, 5, 3)
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(tensor).__name__}")
    if tensor.ndim != 4 or tensor.shape[1] not in _CHANNELS:
        raise ValueError(f"{name} must have shape (N, C, H, W) with C = 1 or 3, got shape {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor in [0, 1], got dtype {tensor.dtype}")
    out = tensor.detach().to("cpu", torch.float32).numpy()
    out = out[:, 0] if out.shape[1] == 1 else out.transpose(0, 2, 3, 1)
    out = np.array(out, dtype=np.float32, copy=True)
    check_range_01(out, name)
    return out


# =========================================================================== devices and threads
def pick_device(prefer: torch.device | str | None = None) -> torch.device:
    """Choose where to run: CUDA when present, else Apple MPS, else the CPU.

    Parameters
    ----------
    prefer : torch.device or str, optional
        Overrides the choice (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``);
        ``None`` or ``"auto"`` chooses.  An accelerator that is not available
        is an error rather than a silent fallback.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        For a device string torch does not know, or an accelerator that is
        not available here.

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    >>> pick_device().type in ("cuda", "mps", "cpu")
    True
    """
    if prefer is None or (isinstance(prefer, str) and prefer == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(prefer, (str, torch.device)):
        raise TypeError(f"prefer must be a torch.device, a string such as 'cpu' or 'cuda', or None, got {_short(prefer)}")
    try:
        device = torch.device(prefer)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"prefer must name a torch device such as 'cpu', 'cuda', 'cuda:0' or 'mps', got {_short(prefer)} ({err})") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"prefer={_short(prefer)} asks for CUDA, but CUDA is not available here; use prefer=None (automatic) or 'cpu'")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"prefer={_short(prefer)} names GPU {device.index}, but only {torch.cuda.device_count()} GPU(s) are visible"
            )
    elif device.type == "mps":
        if not _mps_available():
            raise ValueError(f"prefer={_short(prefer)} asks for Apple MPS, but MPS is not available here; use prefer=None or 'cpu'")
    elif device.type != "cpu":
        raise ValueError(f"prefer must be 'cpu', 'cuda[:N]' or 'mps', got {_short(prefer)}")
    return device


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads, restoring the previous count afterwards.

    Parameters
    ----------
    n : int or None
        Threads to use (at least 1); None leaves the setting alone.

    Examples
    --------
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    if n is None:
        yield
        return
    n = check_int(n, "threads", minimum=1)
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# =========================================================================== training
@dataclass(frozen=True)
class TrainHistory:
    """What :func:`train` measured, one entry per epoch.

    Attributes
    ----------
    loss : tuple of float
        Mean training loss (cross-entropy with label smoothing, on augmented batches).
    accuracy : tuple of float
        Training accuracy on the augmented batches, as they were seen.
    val_accuracy : tuple of float
        Accuracy on ``val`` after each epoch (empty without ``val``).
    seconds : float
        Wall time of the whole training, evaluation included.
    device : str
        Where it ran.
    threads : int
        Torch intra-op threads used (meaningful on the CPU).
    """

    loss: tuple[float, ...]
    accuracy: tuple[float, ...]
    val_accuracy: tuple[float, ...] = ()
    seconds: float = 0.0
    device: str = "cpu"
    threads: int = 1

    @property
    def epochs(self) -> int:
        """Number of epochs trained."""
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for checkpoints)."""
        return {
            "loss": list(self.loss), "accuracy": list(self.accuracy), "val_accuracy": list(self.val_accuracy),
            "seconds": self.seconds, "device": self.device, "threads": self.threads,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainHistory:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(map(float, data["loss"])), tuple(map(float, data["accuracy"])),
            tuple(map(float, data.get("val_accuracy", ()))), float(data.get("seconds", 0.0)),
            str(data.get("device", "cpu")), int(data.get("threads", 1)),
        )


def _check_labels(labels: Any, n: int, n_classes: int | None, name: str = "labels") -> torch.Tensor:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have one entry per image, shape ({n},), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes)):
        hi = "" if n_classes is None else f", {n_classes - 1}"
        raise ValueError(
            f"{name} must be class indices in [0{hi}] for this model, got range [{arr.min()}, {arr.max()}]; "
            "map subject labels to 0..n_classes-1 first (Split.class_index does this)"
        )
    return torch.from_numpy(arr.astype(np.int64))


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (float(value) > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive number, got {_short(value)}")
    return float(value)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Random small affine warp, horizontal flip, brightness and contrast, for a batch (N, C, H, W).

    Rotation up to +-8.6 degrees, zoom by a factor in [0.86, 1.16], shift up
    to +-5% of the size, flip with probability 1/2 (one ``grid_sample`` call
    for the whole batch, borders replicated), then contrast x [0.8, 1.2] and
    brightness +-0.1, clipped to [0, 1].  Parameters are drawn on the CPU
    from ``gen`` (reproducible on any device).
    """
    n = x.shape[0]

    def uniform(scale: float, *shape: int) -> torch.Tensor:
        return ((torch.rand(n, *shape, generator=gen) * 2 - 1) * scale).to(x.device)

    angle, zoom = uniform(0.15), torch.exp(uniform(0.15))
    tx, ty = uniform(0.1), uniform(0.1)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(x.device)
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1), torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast, brightness = 1 + uniform(0.2, 1, 1, 1), uniform(0.1, 1, 1, 1)
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    return ((out - mean) * contrast + mean + brightness).clamp_(0, 1)


@contextlib.contextmanager
def _mode(model: nn.Module, training: bool) -> Iterator[None]:
    before = model.training
    model.train(training)
    try:
        yield
    finally:
        model.train(before)


def _model_device(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (e.g. from imgprivacy.models.build_model), got {type(model).__name__}")
    return model


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = _model_device(model)
    with torch.no_grad(), _mode(model, False):
        return torch.cat([model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])


def predict(model: nn.Module, images, *, batch_size: int = 256) -> np.ndarray:
    """Class index (argmax of the logits) for each image, on the model's own device.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier taking (N, C, H, W) in [0, 1].  Its train/eval mode is
        restored afterwards (it predicts in eval mode).
    images : ndarray of shape (N, H, W[, C]), float in [0, 1]
    batch_size : int, default 256

    Returns
    -------
    ndarray of shape (N,), int64

    Examples
    --------
    >>> net = build_model("facescrub_thumb", n_classes=3, seed=0)
    >>> predict(net, np.zeros((2, 32, 32), np.float32)).shape
    (2,)
    """
    model = _check_model(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    return _logits(model, to_tensor(images), batch_size).argmax(1).numpy()


def accuracy(model: nn.Module, images, labels, *, batch_size: int = 256) -> float:
    """Fraction of ``images`` whose predicted class index equals ``labels``.

    Examples
    --------
    >>> net = build_model("vgg_b", n_classes=2, seed=0)
    >>> 0.0 <= accuracy(net, np.zeros((4, 16, 16), np.float32), [0, 1, 0, 1]) <= 1.0
    True
    """
    x = to_tensor(images)
    y = _check_labels(labels, len(x), getattr(model, "n_classes", None))
    return float((torch.from_numpy(predict(model, images, batch_size=batch_size)) == y).float().mean())


def train(
    model: nn.Module,
    images,
    labels,
    *,
    epochs: int,
    batch_size: int = _BATCH_SIZE,
    lr: float = _LR,
    weight_decay: float = 5e-4,
    label_smoothing: float = 0.1,
    augment: bool = True,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = True,
    val: tuple[Any, Any] | None = None,
    threads: int | None = None,
) -> TrainHistory:
    """Train a classifier on a small set of faces.

    AdamW with a one-cycle learning-rate schedule (peak ``lr``), cross-entropy
    with label smoothing, mini-batches reshuffled each epoch, and, with
    ``augment``, random small rotations, zooms and shifts, horizontal flips,
    brightness and contrast changes drawn anew for every batch (suited to a
    few photos per person: they teach pose and lighting, not new faces).

    Parameters
    ----------
    model : torch.nn.Module
        Takes (N, C, H, W) in [0, 1] and returns logits; e.g. from
        :func:`build_model`.  Trained in place and **moved to** ``device``.
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        float in [0, 1].  Never modified.
    labels : array-like of int, shape (N,)
        Class indices in ``[0, model.n_classes)``.
    epochs : int
        Passes over the data (at least 1).
    batch_size : int, default 16
    lr : float, default 3e-3
        Peak learning rate of the one-cycle schedule.
    weight_decay : float, default 5e-4
    label_smoothing : float, default 0.1
    augment : bool, default True
    device : torch.device or str, optional
        Where to train; default :func:`pick_device` (CUDA, else MPS, else CPU).
    seed : int, default 0
        Seeds shuffling, augmentation and dropout; torch's global random
        state is restored afterwards.  On the CPU with the same thread count
        the result is reproducible.
    progress : bool, default True
        Show a tqdm progress bar (one step per epoch, with loss and accuracy).
    val : (images, labels), optional
        Held-out faces scored after every epoch (``TrainHistory.val_accuracy``).
    threads : int, optional
        Torch threads on the CPU, set for this call only; default
        :data:`DEFAULT_CPU_THREADS` (1, measured faster than 2 on 2 cores for
        these small networks, see the module docstring).

    Returns
    -------
    TrainHistory

    Raises
    ------
    TypeError, ValueError
        For a non-module model, bad images or labels (wrong shape, range,
        dtype, class index out of range) or bad settings.

    Notes
    -----
    The model is left in eval mode (ready for inference and for learning a
    perturbation against it), on ``device``.  Inputs are copied to tensors
    once and never modified.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((8, 16, 16), dtype=np.float32)
    >>> net = build_model("facescrub_thumb", n_classes=2, seed=0)
    >>> hist = train(net, x, [0, 1] * 4, epochs=2, device="cpu", progress=False)
    >>> hist.epochs, net.training
    (2, False)
    """
    model = _check_model(model)
    x = to_tensor(images)
    y = _check_labels(labels, len(x), getattr(model, "n_classes", None))
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = _check_positive(lr, "lr")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, numbers.Real) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0, got {_short(weight_decay)}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) or not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {_short(label_smoothing)}")
    if not isinstance(augment, bool):
        raise TypeError(f"augment must be True or False, got {_short(augment)}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {_short(progress)}")
    seed = check_int(seed, "seed", minimum=0)
    if val is not None:
        if not (isinstance(val, (tuple, list)) and len(val) == 2):
            raise TypeError(f"val must be a pair (images, labels) or None, got {type(val).__name__}")
        xv = to_tensor(val[0], name="val images")
        yv = _check_labels(val[1], len(xv), getattr(model, "n_classes", None), "val labels")
    dev = pick_device(device)
    n_threads = (DEFAULT_CPU_THREADS if threads is None else check_int(threads, "threads", minimum=1))

    from tqdm.auto import tqdm

    steps_per_epoch = math.ceil(len(x) / batch_size)
    losses: list[float] = []
    accs: list[float] = []
    val_accs: list[float] = []
    fork = {"devices": [dev.index or 0], "device_type": "cuda"} if dev.type == "cuda" else {"devices": []}
    start = time.perf_counter()
    with torch_threads(n_threads if dev.type == "cpu" else None), torch.random.fork_rng(**fork):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        model.to(dev)
        xd, yd = x.to(dev), y.to(dev)
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=float(weight_decay))
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=epochs * steps_per_epoch)
        bar = tqdm(range(epochs), desc=f"training {getattr(model, 'arch', type(model).__name__)}", disable=not progress, leave=True)
        for _ in bar:
            model.train()
            order = torch.randperm(len(x), generator=gen).to(dev)
            total_loss = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev)
            for i in range(0, len(x), batch_size):
                idx = order[i : i + batch_size]
                xb, yb = xd[idx], yd[idx]
                if augment:
                    xb = _augment(xb, gen)
                out = model(xb)
                loss = F.cross_entropy(out, yb, label_smoothing=float(label_smoothing))
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
                total_loss += loss.detach() * len(idx)
                correct += (out.detach().argmax(1) == yb).sum()
            losses.append(float(total_loss) / len(x))
            accs.append(float(correct) / len(x))
            postfix = {"loss": f"{losses[-1]:.3f}", "acc": f"{accs[-1]:.2f}"}
            if val is not None:
                val_accs.append(float((_logits(model, xv, 256).argmax(1) == yv).float().mean()))
                postfix["val"] = f"{val_accs[-1]:.2f}"
            bar.set_postfix(postfix, refresh=False)
        bar.close()
    model.eval()
    return TrainHistory(tuple(losses), tuple(accs), tuple(val_accs), time.perf_counter() - start, str(dev), n_threads)


# =========================================================================== data split
def _fingerprint(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> str:
    digest = hashlib.sha256()
    chosen = np.ascontiguousarray(np.asarray(images)[indices], dtype=np.float32)
    digest.update(repr(chosen.shape).encode())
    digest.update(chosen.tobytes())
    digest.update(np.ascontiguousarray(np.asarray(labels)[indices], dtype=np.int64).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Split:
    """Which images of a face set trained a model and which were held out.

    Attributes
    ----------
    subjects : tuple of int
        The subject labels used, in class order: class ``i`` is subject
        ``subjects[i]``.
    train, test : ndarray of int
        Indices into the whole face set (sorted).
    train_per_subject : int
        Training images per subject.
    seed : int
        Seed of the per-subject choice.
    n_images : int
        Size of the face set the indices refer to.
    fingerprint : str
        SHA-256 of the chosen images and labels (``""`` if unknown): proves
        that a checkpoint meets the same faces when it is reloaded.
    """

    subjects: tuple[int, ...]
    train: np.ndarray
    test: np.ndarray
    train_per_subject: int
    seed: int
    n_images: int
    fingerprint: str = ""

    def class_index(self, labels) -> np.ndarray:
        """Map subject labels to class indices ``0 .. len(subjects) - 1``.

        Examples
        --------
        >>> s = split_per_subject(np.repeat([3, 5], 4), subjects=2, train_per_subject=3)
        >>> s.class_index([5, 3, 5]).tolist()
        [1, 0, 1]
        """
        arr = np.asarray(labels)
        lookup = {s: i for i, s in enumerate(self.subjects)}
        missing = sorted({int(v) for v in arr.ravel()} - set(lookup))
        if missing:
            raise ValueError(f"labels must be among this split's subjects {list(self.subjects)}, got {missing[:5]}")
        return np.array([lookup[int(v)] for v in arr.ravel()], dtype=np.int64).reshape(arr.shape)

    def check(self, images, labels) -> None:
        """Raise ``ValueError`` unless ``images``/``labels`` are the face set this split was made on."""
        labels = np.asarray(labels)
        if len(labels) != self.n_images or len(images) != self.n_images:
            raise ValueError(
                f"this split was made on a face set of {self.n_images} images, got {len(images)} images and "
                f"{len(labels)} labels; load the same data set or retrain"
            )
        if self.fingerprint:
            both = np.concatenate([self.train, self.test])
            if _fingerprint(images, labels, both) != self.fingerprint:
                raise ValueError(
                    "the images or labels at this split's indices differ from those the model was trained on "
                    "(fingerprint mismatch): the face loader changed; retrain with imgprivacy.models.local_ensemble "
                    "(or ProviderCNN.fit) and save new checkpoints"
                )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for checkpoints)."""
        return {
            "subjects": [int(s) for s in self.subjects], "train": self.train.tolist(), "test": self.test.tolist(),
            "train_per_subject": self.train_per_subject, "seed": self.seed, "n_images": self.n_images,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(int(s) for s in data["subjects"]), np.asarray(data["train"], dtype=np.int64),
            np.asarray(data["test"], dtype=np.int64), int(data["train_per_subject"]), int(data["seed"]),
            int(data["n_images"]), str(data.get("fingerprint", "")),
        )


def split_per_subject(
    labels, *, subjects: int | None = 10, train_per_subject: int = 7, seed: int = 0, images=None
) -> Split:
    """Choose training and held-out images per subject.

    The first ``subjects`` subjects (in sorted label order) are kept; for
    each, ``train_per_subject`` of its images are drawn for training, the
    rest held out.  The draw for subject ``s`` depends only on ``(seed, s)``,
    so splits of different sizes agree on the subjects they share: the
    user's 10-subject split and the provider's 40-subject split hold out the
    same faces of the first 10 people.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        Subject label of every image of the face set.
    subjects : int or None, default 10
        How many subjects to keep; None keeps all.
    train_per_subject : int, default 7
        At most the smallest image count among the kept subjects.
    seed : int, default 0
    images : ndarray of shape (N, H, W[, C]), optional
        If given, the split records a fingerprint of the chosen images.

    Returns
    -------
    Split

    Examples
    --------
    >>> labels = np.repeat(np.arange(4), 10)
    >>> s = split_per_subject(labels, subjects=2, train_per_subject=7)
    >>> s.subjects, len(s.train), len(s.test)
    ((0, 1), 14, 6)
    >>> bool(set(s.test) <= set(range(20)))
    True
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integer subject labels, got shape {labels.shape} and dtype {labels.dtype}")
    unique = np.unique(labels)
    if subjects is None:
        subjects = len(unique)
    subjects = check_int(subjects, "subjects", minimum=2, maximum=max(2, len(unique)))
    if subjects > len(unique):
        raise ValueError(f"subjects must be at most the {len(unique)} subjects in labels, got {subjects}")
    kept = unique[:subjects]
    groups = [np.flatnonzero(labels == s) for s in kept]
    smallest = min(len(g) for g in groups)
    train_per_subject = check_int(train_per_subject, "train_per_subject", minimum=1, maximum=smallest)
    seed = check_int(seed, "seed", minimum=0)
    train, test = [], []
    for subject, group in zip(kept, groups):
        order = np.random.default_rng([seed, int(subject)]).permutation(len(group))
        train.append(group[np.sort(order[:train_per_subject])])
        test.append(group[np.sort(order[train_per_subject:])])
    train_idx, test_idx = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    fingerprint = ""
    if images is not None:
        if len(images) != len(labels):
            raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
        fingerprint = _fingerprint(images, labels, np.concatenate([train_idx, test_idx]))
    return Split(tuple(int(s) for s in kept), train_idx, test_idx, train_per_subject, seed, len(labels), fingerprint)


# =========================================================================== the user's ensemble
@dataclass(frozen=True, eq=False)
class LocalEnsemble:
    """The user's trained local CNNs, with the data they saw.

    Attributes
    ----------
    models : dict of str to FaceCNN
        The trained networks in eval mode, in :data:`LOCAL_ARCHITECTURES`
        order (``"vgg_a"``, ``"vgg_b"``, ``"facescrub_thumb"``).  Each maps
        (N, C, H, W) in [0, 1] to logits over ``len(split.subjects)`` classes.
    split : Split
        Training and held-out images (indices into the face set) and the
        subjects (class ``i`` is subject ``split.subjects[i]``).
    history : dict of str to TrainHistory
    accuracy : dict of str to float
        Held-out accuracy of each model (NaN with no held-out images).
    settings : dict
        The training settings (JSON-able).
    dataset : str or None
        Name of the face set (``"olivetti"``), if known.
    """

    models: dict[str, FaceCNN]
    split: Split
    history: dict[str, TrainHistory] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Model names, in order."""
        return tuple(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __iter__(self) -> Iterator[FaceCNN]:
        return iter(self.models.values())

    def __repr__(self) -> str:
        acc = ", ".join(f"{k}={v:.3f}" for k, v in self.accuracy.items())
        return (
            f"LocalEnsemble(models={list(self.models)}, subjects={len(self.split.subjects)}, "
            f"train={len(self.split.train)}, held_out={len(self.split.test)}, accuracy: {acc})"
        )

    def to(self, device: torch.device | str) -> LocalEnsemble:
        """Move every model to ``device`` (in place) and return the ensemble."""
        dev = pick_device(device)
        for model in self.models.values():
            model.to(dev)
        return self

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save with :func:`save_checkpoint`."""
        return save_checkpoint(path, self, overwrite=overwrite)


def local_ensemble(
    images,
    labels,
    *,
    subjects: int = 10,
    train_per_subject: int = 7,
    seed: int = 0,
    epochs: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    dataset: str | None = None,
    architectures: tuple[str, ...] = LOCAL_ARCHITECTURES,
) -> LocalEnsemble:
    """Pick the user's subset of a face set and train her three local CNNs on it.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        The whole face set, float in [0, 1] (e.g. ``load_faces().images``).
    labels : array-like of int, shape (N,)
        Subject labels.
    subjects : int, default 10
        The user knows the first ``subjects`` people (paper, section 6.1: 10).
    train_per_subject : int, default 7
        Images per person used for training (drawn with ``seed``, see
        :func:`split_per_subject`); the others are held out to measure accuracy.
    seed : int, default 0
        Seeds the split, the initial weights and the training.
    epochs : int, optional
        Epochs for every model; default: each architecture's own (60 for the
        two VGG-style networks, 40 for the thumbnail FaceScrub CNN).
    device : torch.device or str, optional
        Default :func:`pick_device`.
    progress : bool, default True
    dataset : str, optional
        Name of the face set, recorded for checkpoints.
    architectures : tuple of str, default LOCAL_ARCHITECTURES

    Returns
    -------
    LocalEnsemble

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((12, 16, 16), dtype=np.float32), np.repeat([0, 1, 2], 4)
    >>> ens = local_ensemble(x, y, subjects=2, train_per_subject=3, epochs=1, device="cpu", progress=False)
    >>> ens.names, ens.split.test.tolist()
    (('vgg_a', 'vgg_b', 'facescrub_thumb'), [3, 5])
    """
    x = to_tensor(images)  # validates
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValueError(f"labels must have one entry per image, shape ({len(x)},), got shape {labels.shape}")
    if not isinstance(architectures, (tuple, list)) or not architectures:
        raise ValueError(f"architectures must be a non-empty tuple of names from {ARCHITECTURES}, got {_short(architectures)}")
    for arch in architectures:
        _check_arch(arch, "architectures")
    if len(set(architectures)) != len(architectures):
        raise ValueError(f"architectures must not repeat a name, got {_short(architectures)}")
    if epochs is not None:
        epochs = check_int(epochs, "epochs", minimum=1)
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a string naming the face set or None, got {_short(dataset)}")
    images = np.asarray(images)  # a list of same-shaped images becomes a stack (validated above)
    split = split_per_subject(labels, subjects=subjects, train_per_subject=train_per_subject, seed=seed, images=images)
    xtr, ytr = images[split.train], split.class_index(labels[split.train])
    xte, yte = images[split.test], split.class_index(labels[split.test])
    val = (xte, yte) if len(split.test) else None
    channels = int(x.shape[1])
    models, history, acc = {}, {}, {}
    for arch in architectures:
        model = build_model(arch, in_channels=channels, n_classes=len(split.subjects), seed=seed)
        n_epochs = epochs if epochs is not None else _SPECS[arch]["epochs"]
        history[arch] = train(model, xtr, ytr, epochs=n_epochs, device=device, seed=seed, progress=progress, val=val)
        acc[arch] = history[arch].val_accuracy[-1] if val is not None else float("nan")
        models[arch] = model
    settings = {
        "subjects": len(split.subjects), "train_per_subject": split.train_per_subject, "seed": split.seed,
        "epochs": {a: history[a].epochs for a in architectures}, "batch_size": _BATCH_SIZE, "lr": _LR,
        "augment": True, "image_shape": list(np.asarray(images).shape[1:]),
    }
    return LocalEnsemble(models, split, history, acc, settings, dataset)


# =========================================================================== checkpoints
@dataclass(frozen=True, eq=False)
class Checkpoint:
    """What :func:`load_checkpoint` read.

    Attributes
    ----------
    kind : str
        ``"ensemble"`` (a :class:`LocalEnsemble`) or ``"model"``.
    models : dict of str to FaceCNN
        Rebuilt networks in eval mode.
    metadata : dict
        JSON-able metadata: ``split``, ``settings``, ``accuracy``,
        ``history``, ``dataset`` and whatever the writer added.
    library_version : str
        imgprivacy version that wrote the file.
    path : pathlib.Path
    """

    kind: str
    models: dict[str, FaceCNN]
    metadata: dict[str, Any]
    library_version: str
    path: Path

    @property
    def model(self) -> FaceCNN:
        """The only model of a single-model checkpoint."""
        if len(self.models) != 1:
            raise ValueError(f"this checkpoint holds {len(self.models)} models ({list(self.models)}); pick one from .models")
        return next(iter(self.models.values()))

    @property
    def split(self) -> Split | None:
        """The data split, if recorded."""
        data = self.metadata.get("split")
        return None if data is None else Split.from_dict(data)


def _library_version() -> str:
    from . import __version__

    return __version__


def _check_path(path: Any, name: str = "path") -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path (str or os.PathLike), got {type(path).__name__}")
    return Path(path)


def save_checkpoint(
    path: str | os.PathLike,
    obj: nn.Module | LocalEnsemble,
    *,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save trained networks with the settings and data split they were trained on.

    Parameters
    ----------
    path : str or path
        The file to write (conventionally ``*.pt``).  Written atomically: a
        temporary file in the same folder is renamed over it.
    obj : FaceCNN or LocalEnsemble
        A single network (from :func:`build_model`) or the user's ensemble
        (its split, history, accuracy, settings and dataset are saved too).
    metadata : dict, optional
        Extra JSON-able information (split, settings, accuracy, dataset, ...);
        for an ensemble it is merged over the ensemble's own.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    TypeError, ValueError
        For an object that is not one of this module's networks, or
        metadata that is not JSON-able.

    Notes
    -----
    The file holds only tensors, strings and numbers (the metadata as one
    JSON string), so it loads with ``torch.load(weights_only=True)``: no
    pickled code runs on loading.  Layout version
    :data:`CHECKPOINT_FORMAT_VERSION`.

    Examples
    --------
    >>> import tempfile
    >>> net = build_model("facescrub_thumb", n_classes=3, seed=0).eval()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = save_checkpoint(os.path.join(tmp, "net.pt"), net, metadata={"dataset": "toy"})
    ...     back = load_checkpoint(p)
    ...     x = torch.rand(2, 1, 32, 32)
    ...     bool(torch.equal(back.model(x), net(x))), back.metadata["dataset"]
    (True, 'toy')
    """
    path = _check_path(path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    if isinstance(obj, LocalEnsemble):
        kind, models = "ensemble", dict(obj.models)
        meta: dict[str, Any] = {
            "split": obj.split.to_dict(), "settings": obj.settings, "accuracy": obj.accuracy,
            "history": {k: h.to_dict() for k, h in obj.history.items()}, "dataset": obj.dataset,
        }
    elif isinstance(obj, FaceCNN):
        kind, models, meta = "model", {obj.arch: obj}, {}
    else:
        raise TypeError(
            f"obj must be a FaceCNN (from imgprivacy.models.build_model) or a LocalEnsemble, got {type(obj).__name__}"
        )
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of JSON-able values or None, got {type(metadata).__name__}")
        meta.update(metadata)
    try:
        meta_json = json.dumps(meta, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-able (str, numbers, lists, dicts), got {err}") from None
    if path.exists() and not overwrite:
        raise FileExistsError(f"checkpoint {path} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} of checkpoint {path} does not exist; create it first")
    payload = {
        "format": _CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "library_version": _library_version(),
        "torch_version": str(torch.__version__),
        "kind": kind,
        "models": [
            {"name": name, "config": dict(m.config), "state_dict": {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}}
            for name, m in models.items()
        ],
        "metadata_json": meta_json,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    publish(
        buffer.getvalue(),
        path,
        overwrite=overwrite,
        exists_message=f"checkpoint {path} already exists; pass overwrite=True to replace it",
    )
    return path


def load_checkpoint(path: str | os.PathLike, *, device: torch.device | str | None = "cpu") -> Checkpoint:
    """Load a file written by :func:`save_checkpoint`; rebuild and validate its networks.

    Parameters
    ----------
    path : str or path
    device : torch.device or str, default "cpu"
        Where to put the networks (``None``: :func:`pick_device`).

    Returns
    -------
    Checkpoint
        Networks in eval mode.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable checkpoint (corrupt, truncated, another
        format or a newer layout version) or names an unknown architecture,
        or its weights do not fit the architecture.

    Examples
    --------
    >>> try:
    ...     load_checkpoint("no/such/file.pt")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(";")[0])
    checkpoint no/such/file.pt does not exist
    """
    path = _check_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; train and save one (imgprivacy.models.save_checkpoint) "
            "or use the cached ones (imgprivacy.models.cached_ensemble)"
        )
    dev = pick_device(device)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise ValueError(f"checkpoint {path} is corrupt or not a torch checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not an imgprivacy.models checkpoint (no {_CHECKPOINT_FORMAT!r} marker)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has layout version {version!r}, this imgprivacy reads up to {CHECKPOINT_FORMAT_VERSION}; "
            "upgrade imgprivacy"
        )
    try:
        metadata = json.loads(payload["metadata_json"])
        entries = payload["models"]
        kind = str(payload["kind"])
        library_version = str(payload["library_version"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path} is corrupt: missing or malformed field ({err})") from None
    models: dict[str, FaceCNN] = {}
    for entry in entries:
        config = entry.get("config", {}) if isinstance(entry, dict) else {}
        arch = config.get("arch")
        if arch not in _SPECS:
            raise ValueError(
                f"checkpoint {path} holds an unknown architecture {arch!r}; this imgprivacy knows {', '.join(ARCHITECTURES)}"
            )
        model = FaceCNN(arch, in_channels=config["in_channels"], n_classes=config["n_classes"])
        try:
            model.load_state_dict(entry["state_dict"], strict=True)
        except (RuntimeError, KeyError) as err:
            raise ValueError(f"checkpoint {path}: the weights of {entry.get('name')!r} do not fit architecture {arch!r} ({err})") from None
        models[str(entry["name"])] = model.to(dev).eval()
    return Checkpoint(kind, models, metadata, library_version, path)


def _ensemble_from(ckpt: Checkpoint) -> LocalEnsemble:
    if ckpt.kind != "ensemble":
        raise ValueError(f"checkpoint {ckpt.path} holds a single {ckpt.kind}, not a LocalEnsemble; use load_checkpoint")
    meta = ckpt.metadata
    history, acc = meta.get("history", {}), meta.get("accuracy", {})
    return LocalEnsemble(
        ckpt.models,
        Split.from_dict(meta["split"]),
        {k: TrainHistory.from_dict(history[k]) for k in ckpt.models if k in history},
        {k: float(acc[k]) for k in ckpt.models if k in acc},
        dict(meta.get("settings", {})),
        meta.get("dataset"),
    )


def load_ensemble(path: str | os.PathLike, *, device: torch.device | str | None = "cpu") -> LocalEnsemble:
    """Load a :class:`LocalEnsemble` saved with :meth:`LocalEnsemble.save` / :func:`save_checkpoint`."""
    return _ensemble_from(load_checkpoint(path, device=device))


# =========================================================================== cached checkpoints
_CHECKPOINT_ENV = "IMGPRIVACY_CHECKPOINTS"
#: File names of the shipped checkpoints in :func:`checkpoint_dir`.
CACHED_FILES = {
    "ensemble": "local_ensemble_olivetti.pt",
    "provider": "provider_cnn_olivetti.pt",
    "robust": "robust_cnn_olivetti.pt",
}


def checkpoint_dir() -> Path:
    """Folder of the shipped checkpoints: ``$IMGPRIVACY_CHECKPOINTS`` or the repository's ``data/checkpoints``."""
    env = os.environ.get(_CHECKPOINT_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent / "data" / "checkpoints"


def _cached_path(name: str) -> Path:
    path = checkpoint_dir() / CACHED_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(
            f"the cached {name} checkpoint {path} is missing; it ships in the repository's data/checkpoints "
            f"(install with pip install -e . from a clone), set {_CHECKPOINT_ENV} to its folder, or regenerate it "
            "with python benchmarks/bench_models.py --write-checkpoints data/checkpoints"
        )
    return path


def _faces_for(dataset: str | None, faces):
    if faces is not None:
        return faces
    from .data import load_faces

    return load_faces(dataset or "olivetti")


def cached_ensemble(*, faces=None, device: torch.device | str | None = "cpu") -> LocalEnsemble:
    """The default user ensemble, trained once on Olivetti and shipped in ``data/checkpoints``.

    Made with ``local_ensemble(faces.images, faces.labels, dataset="olivetti")``
    (10 subjects, 7 training images each, seed 0) on the CPU; reloading
    checks that the face loader still gives the same images at the split's
    indices.

    Parameters
    ----------
    faces : FaceSet, optional
        The face set to check the split against; default
        ``imgprivacy.data.load_faces("olivetti")``.
    device : torch.device or str, default "cpu"

    Returns
    -------
    LocalEnsemble

    Raises
    ------
    FileNotFoundError
        If the checkpoint (or the Olivetti faces) are missing.
    ValueError
        If the faces differ from those it was trained on.

    Examples
    --------
    >>> ens = cached_ensemble()
    >>> ens.names, ens.accuracy
    (('vgg_a', 'vgg_b', 'facescrub_thumb'), {'vgg_a': 1.0, 'vgg_b': 1.0, 'facescrub_thumb': 1.0})
    >>> from imgprivacy.data import load_faces
    >>> faces = load_faces("olivetti")
    >>> held_out = faces.images[ens.split.test]
    >>> accuracy(ens.models["vgg_a"], held_out, ens.split.class_index(faces.labels[ens.split.test]))
    1.0
    """
    ensemble = load_ensemble(_cached_path("ensemble"), device=device)
    faces = _faces_for(ensemble.dataset, faces)
    ensemble.split.check(faces.images, faces.labels)
    return ensemble
