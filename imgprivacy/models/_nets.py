"""The networks: the thumbnail and standardisation layers, the four architectures and :func:`build_model`."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import _short, check_int
from ._torch import CHANNELS

__all__ = ["ARCHITECTURES", "LOCAL_ARCHITECTURES", "SPECS", "FaceCNN", "Standardize", "Thumbnail", "build_model",
           "check_arch"]

_MIN_SIZE = 16  # every architecture divides the input by at most 16 before its adaptive pooling


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
#: name -> description and builder settings (``"epochs"``: the default of
#: :func:`local_ensemble`); in ``"convs"``, ``"M"`` is a 2 x 2 max pooling.
SPECS: dict[str, dict[str, Any]] = {
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
ARCHITECTURES: tuple[str, ...] = tuple(SPECS)
#: The user's three local CNNs, in the order of :func:`local_ensemble`.
LOCAL_ARCHITECTURES: tuple[str, ...] = ("vgg_a", "vgg_b", "facescrub_thumb")


def check_arch(arch: Any, name: str = "arch") -> str:
    """``arch`` if it names one of the :data:`ARCHITECTURES`, else ``ValueError`` naming ``name``."""
    if not isinstance(arch, str) or arch not in SPECS:
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
        self.arch = check_arch(arch)
        self.in_channels = _check_channels(in_channels)
        self.n_classes = check_int(n_classes, "n_classes", minimum=2)
        spec = SPECS[arch]
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
        return SPECS[self.arch]["description"]

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
    if channels not in CHANNELS:
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
    check_arch(arch)
    if seed is None:
        return FaceCNN(arch, in_channels=in_channels, n_classes=n_classes)
    seed = check_int(seed, "seed", minimum=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return FaceCNN(arch, in_channels=in_channels, n_classes=n_classes)
