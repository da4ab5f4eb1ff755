"""Adam / AdamW and the one-cycle schedule, the same bits as ``torch.optim``, without ``torch._dynamo``.

Why not ``torch.optim``: in torch 2.13 the first call of an optimiser method
(``zero_grad``, ``step``, ``add_param_group``: they are wrapped by
``torch._disable_dynamo``) imports ``torch._dynamo`` and ``torch._inductor``,
about 830 modules and 70 MB of memory that a notebook kernel then keeps for
good, although nothing here compiles.  On Binder's 2 GB that is a tenth of a
kernel's budget (issue 11).  The update below is the one
``torch.optim.Adam`` runs on the CPU (its single-tensor path: the same
operations in the same order), so training gives the same weights bit for
bit; ``tests/test_models.py`` checks that against ``torch.optim`` itself.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch


class Adam:
    """Adam, or AdamW with ``decoupled=True``: ``torch.optim.Adam`` / ``AdamW``'s update, bit for bit.

    Parameters
    ----------
    params : iterable of torch.Tensor
        The tensors to optimise (``requires_grad``).
    lr : float
        Learning rate; :meth:`step` may be given another one for each step
        (a schedule such as :func:`one_cycle`).
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the gradient's running mean and of its square's.
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 0.0
        L2 penalty (``decoupled=False``, Adam) or decoupled weight decay
        (``decoupled=True``, AdamW: ``p *= 1 - lr * weight_decay``).
    decoupled : bool, default False
        AdamW's decoupled weight decay.

    Notes
    -----
    As ``torch.optim`` on the CPU: ``step`` counts as a float32 tensor read
    back as a Python float, the bias corrections use the step's own ``beta1``,
    and a parameter whose gradient is ``None`` is skipped.  AMSGrad,
    ``maximize``, complex parameters and the fused / foreach kernels are not
    offered.

    References
    ----------
    Kingma and Ba, "Adam: a method for stochastic optimization", ICLR 2015;
    Loshchilov and Hutter, "Decoupled weight decay regularization", ICLR 2019.

    Examples
    --------
    >>> w = torch.zeros(3, requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w - torch.tensor([1.0, -1.0, 0.5])).square().sum().backward()
    >>> opt.step(); [round(v, 6) for v in w.detach().tolist()]  # the first step: lr towards each target
    [0.1, -0.1, 0.1]
    """

    def __init__(self, params: Iterable[torch.Tensor], *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        self.params = list(params)
        if not self.params:
            raise ValueError("params must hold at least one tensor, got an empty list")
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"betas must be in [0, 1), got {betas!r}")
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self.weight_decay, self.decoupled = float(weight_decay), bool(decoupled)
        self._state: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        """Drop every parameter's gradient (``set_to_none``, as ``torch.optim`` does by default)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self, *, lr: float | None = None, beta1: float | None = None) -> None:
        """One update of every parameter that has a gradient.

        Parameters
        ----------
        lr, beta1 : float, optional
            This step's learning rate and first beta (a schedule's); by default
            the optimiser's own.
        """
        lr = self.lr if lr is None else float(lr)
        beta1 = self.betas[0] if beta1 is None else float(beta1)
        beta2, eps, wd = self.betas[1], self.eps, self.weight_decay
        for i, param in enumerate(self.params):
            grad = param.grad
            if grad is None:
                continue
            state = self._state.get(i)
            if state is None:
                state = self._state[i] = (
                    torch.tensor(0.0, dtype=torch.get_default_dtype()),
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                    torch.zeros_like(param, memory_format=torch.preserve_format),
                )
            step_t, exp_avg, exp_avg_sq = state
            step_t += 1
            if wd != 0:
                if self.decoupled:
                    param.mul_(1 - lr * wd)
                else:
                    grad = grad.add(param, alpha=wd)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = step_t.item()
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            denom = (exp_avg_sq.sqrt() / bias_correction2**0.5).add_(eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)


def one_cycle(step: int, total_steps: int, *, max_lr: float, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, base_momentum: float = 0.85,
              max_momentum: float = 0.95) -> tuple[float, float]:
    """The learning rate and beta1 of step ``step`` (0-based) of a cosine one-cycle schedule.

    The values ``torch.optim.lr_scheduler.OneCycleLR`` (two phases, cosine,
    momentum cycled) gives an Adam optimiser for that step, bit for bit: the
    rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of the steps while beta1 falls from ``max_momentum`` to
    ``base_momentum``, then the rate falls to ``max_lr / div_factor /
    final_div_factor`` while beta1 rises back.

    Parameters
    ----------
    step : int
        The step, ``0 <= step <= total_steps``.
    total_steps : int
        Steps in the cycle.
    max_lr, pct_start, div_factor, final_div_factor, base_momentum, max_momentum : float
        As in ``OneCycleLR``.

    Returns
    -------
    (float, float)
        The learning rate and beta1.

    References
    ----------
    Smith and Topin, "Super-convergence: very fast training of neural networks
    using large learning rates", 2018.

    Examples
    --------
    >>> [tuple(round(v, 6) for v in one_cycle(s, 10, max_lr=0.01)) for s in (0, 2, 9)]
    [(0.0004, 0.95), (0.01, 0.85), (0.0, 0.95)]
    """
    if not 0 <= step <= total_steps:
        raise ValueError(f"step must be in [0, total_steps={total_steps}], got {step}")
    initial = max_lr / div_factor
    warm_end = float(pct_start * total_steps) - 1  # the last step of the warm-up phase
    if step <= warm_end:
        pct = step / warm_end
        return _cos(initial, max_lr, pct), _cos(max_momentum, base_momentum, pct)
    pct = (step - warm_end) / (total_steps - 1 - warm_end)
    return _cos(max_lr, initial / final_div_factor, pct), _cos(base_momentum, max_momentum, pct)


def _cos(start: float, end: float, pct: float) -> float:
    cos_out = math.cos(math.pi * pct) + 1
    return end + (start - end) / 2.0 * cos_out
