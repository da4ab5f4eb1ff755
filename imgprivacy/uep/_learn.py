"""Learning a UEP on the user's local CNNs: :func:`learn` (the ``c`` search of Fig. 3) and :func:`fooling_rate`.

torch is imported inside the functions (through :mod:`imgprivacy.models`),
so importing :mod:`imgprivacy.uep` stays torch-free.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validation import _short, check_int, check_labels, check_real
from ._result import CTrial, UEPResult

__all__ = ["EPS", "UEPConvergenceWarning", "fooling_rate", "learn"]

#: Pixels are clipped to ``[EPS, 1 - EPS]`` before ``arctanh`` inside :func:`learn`
#: (torch, float32), so that no infinity enters the graph.  :func:`apply` and
#: :func:`remove` need no clipping (see their Notes).
EPS = 1e-6


class UEPConvergenceWarning(UserWarning):
    """:func:`learn` found no ``c`` in its range for which ``delta`` fools all models on ``p * N`` images."""



def _model_dict(models: Any) -> dict[str, Any]:
    from torch import nn

    from ..models import LocalEnsemble

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
    arr = None
    for name, m in models.items():
        arr = check_labels(labels, n, name=f"labels (for model {name!r})", class_indices=True,
                           n_classes=getattr(m, "n_classes", None))
    return arr


@contextlib.contextmanager
def _frozen(models: dict[str, Any], device):
    """Models on ``device``, in eval mode, without parameter gradients; everything restored afterwards."""
    from ..models import model_device

    saved = []
    try:
        for m in models.values():
            saved.append((m, model_device(m), m.training, [p.requires_grad for p in m.parameters()]))
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
        of a step, so every step uses the full objective and the batch size
        changes only memory and float rounding.  Rounding can tip a
        borderline ``c``: on the user's 100 faces ``batch_size=50`` keeps
        ``c = 0.0115`` (``||delta|| = 9.87``), 256 fails it and keeps 0.0133
        (10.80).  Memory: all models' activations for one batch are kept
        for the backward pass (100 faces of 64 x 64 in one batch: about
        145 MB with the cached ensemble; 50 faces: about 85 MB).
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

    from ..models import DEFAULT_CPU_THREADS, Adam, pick_device, to_tensor, torch_threads

    named = _model_dict(models)
    x = to_tensor(images)
    n = len(x)
    y_np = _labels_for(labels, n, named)
    p = check_real(p, "p", low=0.0, high=1.0, low_open=True, accepted=" in (0, 1]")
    kappa = check_real(kappa, "kappa", low=0.0, accepted=" >= 0")
    if not (isinstance(c_range, (tuple, list)) and len(c_range) == 2):
        raise TypeError(f"c_range must be a pair (low, high) with 0 < low < high, got {_short(c_range)}")
    c_low = check_real(c_range[0], "c_range", low=0.0, low_open=True, accepted=" pair (low, high) with 0 < low < high")
    c_high = check_real(c_range[1], "c_range", low=0.0, low_open=True, accepted=" pair (low, high) with 0 < low < high")
    if not c_low < c_high:
        raise ValueError(f"c_range must be a pair (low, high) with 0 < low < high, got {_short(c_range)}")
    search_steps = check_int(search_steps, "search_steps", minimum=1)
    steps = check_int(steps, "steps", minimum=1)
    lr = check_real(lr, "lr", low=0.0, low_open=True, accepted=" > 0")
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
            opt = Adam([delta], lr=lr)  # torch.optim.Adam's bits, without importing torch._dynamo (70 MB)
            run_best: tuple[float, torch.Tensor | None, int] = (math.inf, None, 0)  # norm, delta, fooled
            run_most: tuple[int, float, torch.Tensor | None] = (-1, math.inf, None)  # fooled, norm, delta
            since_norm = 0
            losses: list[float] = []
            hinges: list[float] = []  # sum of f over models and images
            trace_f: list[float] = []
            trace_n: list[float] = []
            step = 0
            for step in range(1, steps + 1):
                opt.zero_grad()
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

    from .. import __version__
    from ..models import LocalEnsemble

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


def fooling_rate(models, images, labels, *, batch_size: int = 64) -> dict[str, float]:
    """Fraction of (perturbed) ``images`` that each local model, and all at once, misclassify.

    Parameters
    ----------
    models : LocalEnsemble, dict of str to torch.nn.Module, or list of modules
        Evaluated on their own devices, in eval mode (restored afterwards).
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        float in [0, 1], e.g. ``apply(faces, result.delta, beta=2.0)``.
    labels : array-like of int, shape (N,)
        True class indices of the models.
    batch_size : int, default 64
        Images per forward pass (memory; the logits do not depend on it).

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

    from ..models import eval_mode, model_device, to_tensor

    named = _model_dict(models)
    x = to_tensor(images)
    y_np = _labels_for(labels, len(x), named)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    fooled_all = np.ones(len(x), dtype=bool)
    out = {}
    for name, m in named.items():
        dev = model_device(m)
        y = torch.from_numpy(y_np).to(dev)
        with torch.no_grad(), eval_mode(m, False):
            onehot = _onehots({name: m}, x[:1].to(dev), y, int(y_np.max()))[name]
            fooled = torch.cat([
                _margins(m, x[i : i + batch_size].to(dev), onehot[i : i + batch_size], y[i : i + batch_size]) < 0
                for i in range(0, len(x), batch_size)
            ]).cpu().numpy()
        out[name] = float(fooled.mean())
        fooled_all &= fooled
    out["all"] = float(fooled_all.mean())
    return out
