"""Training and inference: :func:`train` (augmentation, one-cycle schedule), :func:`predict`, :func:`accuracy`."""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._memory import release_free_memory
from .._validation import _short, check_int, check_labels
from ._torch import eval_mode, model_device, pick_device, to_tensor, torch_threads
from ._optim import Adam, one_cycle

__all__ = ["BATCH_SIZE", "DEFAULT_CPU_THREADS", "LR", "TrainHistory", "accuracy", "predict", "train"]


#: Torch threads used by :func:`train` on the CPU unless ``threads=`` says
#: otherwise.  Decided by measurement (``benchmarks/bench_models.py``, 2 cores):
#: 2 threads / 1 thread = 0.79 idle, 1.11 with one other job running, 3.07
#: with one busy process, 14.7 with two; see the :mod:`imgprivacy.models` docstring.
DEFAULT_CPU_THREADS = 1

BATCH_SIZE = 16  # train() defaults, recorded by local_ensemble
LR = 3e-3


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



def _check_model(model: Any, name: str = "model") -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module (e.g. from imgprivacy.models.build_model), got {type(model).__name__}")
    return model


def _logits(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    device = model_device(model)
    with torch.no_grad(), eval_mode(model, False):
        return torch.cat([model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])


def predict(model: nn.Module, images, *, batch_size: int = 64) -> np.ndarray:
    """Class index (argmax of the logits) for each image, on the model's own device.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier taking (N, C, H, W) in [0, 1].  Its train/eval mode is
        restored afterwards (it predicts in eval mode).
    images : ndarray of shape (N, H, W[, C]), float in [0, 1]
    batch_size : int, default 64
        Images per forward pass: it bounds memory (the logits do not depend on
        it: bit for bit the same with 64 and 256 here).  Measured
        (the provider's ResNet, 900 faces of 64 x 64, one CPU thread): 256
        took 106 MB of activations at its peak and 1.07 s, 64 took 18 MB
        and 0.66 s.

    Returns
    -------
    ndarray of shape (N,), int64

    Examples
    --------
    >>> from imgprivacy.models import build_model
    >>> net = build_model("facescrub_thumb", n_classes=3, seed=0)
    >>> predict(net, np.zeros((2, 32, 32), np.float32)).shape
    (2,)
    """
    model = _check_model(model)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    return _logits(model, to_tensor(images), batch_size).argmax(1).numpy()


def accuracy(model: nn.Module, images, labels, *, batch_size: int = 64) -> float:
    """Fraction of ``images`` whose predicted class index equals ``labels``.

    Examples
    --------
    >>> from imgprivacy.models import build_model
    >>> net = build_model("vgg_b", n_classes=2, seed=0)
    >>> 0.0 <= accuracy(net, np.zeros((4, 16, 16), np.float32), [0, 1, 0, 1]) <= 1.0
    True
    """
    x = to_tensor(images)
    y = torch.from_numpy(check_labels(labels, len(x), class_indices=True, n_classes=getattr(model, "n_classes", None)))
    return float((torch.from_numpy(predict(model, images, batch_size=batch_size)) == y).float().mean())


def train(
    model: nn.Module,
    images,
    labels,
    *,
    epochs: int,
    batch_size: int = BATCH_SIZE,
    lr: float = LR,
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
        :func:`imgprivacy.models.build_model`.  Trained in place and **moved to** ``device``.
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
        these small networks, see the :mod:`imgprivacy.models` docstring).

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
    >>> from imgprivacy.models import build_model
    >>> net = build_model("facescrub_thumb", n_classes=2, seed=0)
    >>> hist = train(net, x, [0, 1] * 4, epochs=2, device="cpu", progress=False)
    >>> hist.epochs, net.training
    (2, False)
    """
    model = _check_model(model)
    x = to_tensor(images)
    y = torch.from_numpy(check_labels(labels, len(x), class_indices=True, n_classes=getattr(model, "n_classes", None)))
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
        yv = torch.from_numpy(check_labels(val[1], len(xv), name="val labels", class_indices=True,
                                        n_classes=getattr(model, "n_classes", None)))
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
        # AdamW with a one-cycle rate, as torch.optim's AdamW and OneCycleLR (the same bits), but without the
        # 70 MB of torch._dynamo that their first call imports into the kernel (see _optim.py)
        optimiser = Adam(model.parameters(), lr=lr, weight_decay=float(weight_decay), decoupled=True)
        total_steps, done_steps = epochs * steps_per_epoch, 0
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
                optimiser.zero_grad()
                loss.backward()
                step_lr, step_beta1 = one_cycle(done_steps, total_steps, max_lr=lr)
                optimiser.step(lr=step_lr, beta1=step_beta1)
                done_steps += 1
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
    release_free_memory()  # the batches' and gradients' temporaries: a notebook kernel would keep them
    return TrainHistory(tuple(losses), tuple(accs), tuple(val_accs), time.perf_counter() - start, str(dev), n_threads)
