"""The torch boundary: numpy images to tensors and back, devices, threads, a model's mode and device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .._validation import _short, check_images, check_int, check_range_01

__all__ = ["CHANNELS", "eval_mode", "from_tensor", "model_device", "pick_device", "to_tensor", "torch_threads"]

#: Channel counts the networks take: grey or RGB.
CHANNELS = (1, 3)


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
        if images.ndim == 4 and images.shape[3] not in CHANNELS:
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
        items = check_images(images, name, channels=CHANNELS)
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
    if tensor.ndim != 4 or tensor.shape[1] not in CHANNELS:
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


# =========================================================================== a model's mode and device
@contextlib.contextmanager
def eval_mode(model: nn.Module, training: bool = False) -> Iterator[None]:
    """Run a block with ``model`` in eval mode (or train mode with ``training=True``), restoring its mode afterwards.

    Parameters
    ----------
    model : torch.nn.Module
    training : bool, default False
        The mode inside the block: False is eval mode (dropout off, batch
        norm on its running statistics), True is train mode.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Dropout(0.5))
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    before = model.training
    model.train(training)
    try:
        yield
    finally:
        model.train(before)


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` lives: the device of its first parameter (or buffer); the CPU for a model with neither.

    Examples
    --------
    >>> model_device(torch.nn.Linear(2, 2))
    device(type='cpu')
    >>> model_device(torch.nn.Identity())
    device(type='cpu')
    """
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")
