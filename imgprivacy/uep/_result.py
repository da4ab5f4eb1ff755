"""What :func:`imgprivacy.uep.learn` returns: :class:`UEPResult` and the trials of its ``c`` search (:class:`CTrial`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._transform import apply, remove

__all__ = ["CTrial", "UEPResult"]


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
