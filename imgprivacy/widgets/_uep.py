"""The UEP explorer: a beta slider wired to apply and remove a learned UEP on one photo, with every target's answer."""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import metrics
from .._validation import check_labels
from ._base import (
    Explorer, FigureBuffers, check_targets, face_stack, fmt_psnr, image_grid, image_tile, imshow, label_text, title_at,
)

#: Range of the UEP explorer's beta slider (the paper's Fig. 6 and 8 go to 5).
BETA_RANGE = (0.0, 5.0)


@dataclass(frozen=True)
class UEPView:
    """What :class:`UEPExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    index : int
        Position of the photo in the stack.
    beta : float
        Strength of the UEP (Eq. 4).
    stored : bool
        Whether the perturbed photo went through 8-bit PNG storage
        (:func:`imgprivacy.data.storage_roundtrip`) before :func:`imgprivacy.uep.remove`.
    label : object or None
        The photo's true label, if known.
    original, perturbed, recovered : ndarray
        The photo, :func:`imgprivacy.uep.apply` (after storage when ``stored``)
        and :func:`imgprivacy.uep.remove` of it.
    psnr_perturbed, ssim_perturbed, psnr_recovered, ssim_recovered : float
        Perturbed and recovered photo against the original (:mod:`imgprivacy.metrics`).
    predictions : dict of str to ndarray of shape (3,)
        Each target's ``predict`` of the original, perturbed and recovered photo.
    """

    index: int
    beta: float
    stored: bool
    label: Any
    original: np.ndarray
    perturbed: np.ndarray
    recovered: np.ndarray
    psnr_perturbed: float
    ssim_perturbed: float
    psnr_recovered: float
    ssim_recovered: float
    predictions: dict

    def fooled(self, target: str) -> bool | None:
        """Whether ``target`` names the perturbed photo wrongly (``None`` without a label)."""
        return None if self.label is None else bool(self.predictions[target][1] != self.label)


class UEPExplorer(Explorer):
    """A β slider wired to apply and remove a learned UEP on one photo, with every target's answer.

    Build it with :func:`uep_explorer`.  Every change of a control redraws
    the panels (original, ``delta``, perturbed, recovered) and the table of
    the targets' predictions.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"index"`` (only for a stack), ``"beta"`` and ``"stored"``.
    status : ipywidgets.HTML
        The targets' predictions, or the library's message when a setting is refused.
    output : ipywidgets.Output
    figure : matplotlib.figure.Figure or None
    view : UEPView or None
    draws : int
    """

    def __init__(self, images, delta, *, targets, labels, names, beta: float, stored: bool, index: int):
        super().__init__()
        self._images, self._delta, self._targets = images, delta, targets
        self._labels, self._names = labels, names
        self._figures = FigureBuffers()
        style = {"description_width": "initial"}
        controls: dict[str, ipywidgets.Widget] = {}
        if len(images) > 1:
            controls["index"] = ipywidgets.IntSlider(
                value=index, min=0, max=len(images) - 1, description="photo", continuous_update=False, style=style
            )
        controls["beta"] = ipywidgets.FloatSlider(
            value=beta, min=BETA_RANGE[0], max=BETA_RANGE[1], step=0.25, description="β (strength)",
            continuous_update=False, style=style,
        )
        controls["stored"] = ipywidgets.Checkbox(
            value=stored, description="store as 8-bit PNG before removing", indent=False
        )
        self.wire(self._draw, controls)

    def _draw(self, beta: float, stored: bool, index: int = 0) -> None:
        from .. import data, uep

        beta = round(float(beta), 4)
        image = self._images[index]
        try:
            perturbed = uep.apply(image, self._delta, beta=beta)
            if stored:
                perturbed = data.storage_roundtrip(perturbed)
            recovered = uep.remove(perturbed, self._delta, beta=beta)
            trio = np.stack([image, perturbed, recovered])
            predictions = {name: np.asarray(t.predict(trio)) for name, t in self._targets.items()}
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
            return
        label = None if self._labels is None else self._labels[index]
        view = UEPView(
            index=int(index), beta=beta, stored=bool(stored), label=label, original=image, perturbed=perturbed,
            recovered=recovered, psnr_perturbed=metrics.psnr(image, perturbed), ssim_perturbed=metrics.ssim(image, perturbed),
            psnr_recovered=metrics.psnr(image, recovered), ssim_recovered=metrics.ssim(image, recovered),
            predictions=predictions,
        )
        self.status.value = self._table(view)
        fig = self._figure(view)
        self.publish(view, fig)

    def _answer(self, predicted: Any, label: Any) -> str:
        text = html.escape(label_text(predicted, self._names))
        if label is None:
            return text
        return f"✓ {text}" if predicted == label else f"<b>✗ {text}</b>"

    def _table(self, view: UEPView) -> str:
        who = "" if view.label is None else f" · true: {html.escape(label_text(view.label, self._names))}"
        head = f"photo {view.index}{who} · β = {view.beta:.2f}" + (" · stored as 8-bit PNG" if view.stored else "")
        if not view.predictions:
            return html.escape(head)
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{self._answer(p, view.label)}</td>" for p in preds) + "</tr>"
            for name, preds in view.predictions.items()
        )
        return (
            f"{html.escape(head)}<table><tr><th>target</th><th>original</th><th>perturbed</th><th>recovered</th></tr>"
            f"{rows}</table>"
        )

    def _figure(self, view: UEPView) -> Figure:
        fig, grid = self._figures.take("uep", lambda: image_grid(1, 4, title_lines=2, tile=2.7))
        axes = grid[0]
        delta = np.asarray(getattr(self._delta, "delta", self._delta), dtype=np.float32)
        imshow(axes[0], view.original, "original" + ("" if view.label is None else f"\n{label_text(view.label, self._names)}"))
        shown = delta if delta.ndim == 2 else delta.mean(axis=2)
        lim = max(float(np.abs(shown).max()), 1e-6)
        image_tile(axes[1], shown, cmap="RdBu_r", vmin=-lim, vmax=lim)
        title_at(axes[1], f"δ (tanh space, ±{lim:.2f})\n×β = {view.beta:.2f}")
        imshow(axes[2], view.perturbed, f"perturbed{' (8-bit)' if view.stored else ''}\n"
                f"{fmt_psnr(view.psnr_perturbed)} · SSIM {view.ssim_perturbed:.3f}")
        imshow(axes[3], view.recovered, f"recovered with δ\n{fmt_psnr(view.psnr_recovered)} · SSIM {view.ssim_recovered:.3f}")
        return fig


def uep_explorer(
    faces: Any,
    delta: Any,
    *,
    targets: Mapping[str, Any] | None = None,
    labels: Any = None,
    beta: float = 2.0,
    stored: bool = True,
    index: int = 0,
) -> UEPExplorer:
    """Explore a learned UEP: perturbed and recovered photo for any β, and what every target answers.

    The photo is perturbed with :func:`imgprivacy.uep.apply`, optionally
    stored as an 8-bit PNG (:func:`imgprivacy.data.storage_roundtrip`) and
    recovered with :func:`imgprivacy.uep.remove`; the titles give PSNR and
    SSIM against the original, the table each target's ``predict`` of the
    original, perturbed and recovered photo (✗: wrong person).

    Controls: the photo (for a stack), β (0 to 5, step 0.25) and "store as
    8-bit PNG before removing".

    Parameters
    ----------
    faces : ndarray of shape (N, H, W) or (N, H, W, 3), one photo, list of photos, or FaceSet
        Float photos in [0, 1] of one shape.  A face set (anything with
        ``images``, ``labels`` and ``names``) gives the true labels and names.
    delta : ndarray or UEPResult
        The learned perturbation (:func:`imgprivacy.uep.learn`); resized to
        the photos by :func:`imgprivacy.uep.apply` when the sizes differ.
    targets : dict of str to recogniser, optional
        Fitted recognisers with ``predict(images)`` (:mod:`imgprivacy.targets`),
        by display name.  Each is called once per redraw on three photos.
    labels : array-like of shape (N,), optional
        True labels (default: the face set's), as the targets predict them.
    beta : float, default 2.0
        Initial strength, in [0, 5].
    stored : bool, default True
        Whether storage is initially on.
    index : int, default 0
        Initial photo.

    Returns
    -------
    UEPExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, ``delta``, targets or labels, or an initial
        setting outside the controls' range.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_widgets.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> faces = rng.random((3, 8, 8), dtype=np.float32)
    >>> w = uep_explorer(faces, rng.normal(size=(8, 8)).astype(np.float32))  # doctest: +SKIP
    >>> w.controls["beta"].value = 1.0  # redraws  # doctest: +SKIP
    >>> w.view.beta, w.view.ssim_recovered > 0.99  # doctest: +SKIP
    (1.0, True)
    """
    from .. import uep

    images, set_labels, names = face_stack(faces, "faces")
    labels = check_labels(set_labels if labels is None else labels, len(images), required=False)
    targets = check_targets(targets)
    beta = float(beta) if isinstance(beta, numbers.Real) and not isinstance(beta, bool) else beta
    if not isinstance(beta, float) or not BETA_RANGE[0] <= beta <= BETA_RANGE[1]:
        raise ValueError(f"beta must be a number in [{BETA_RANGE[0]}, {BETA_RANGE[1]}] for the explorer, got {beta!r}")
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(images):
        raise ValueError(f"index must be an integer in [0, {len(images) - 1}], got {index!r}")
    uep.apply(images[0], delta, beta=1.0)  # the library's own checks of delta, before any widget is built
    return UEPExplorer(images, delta, targets=targets, labels=labels, names=names, beta=beta, stored=bool(stored),
                       index=int(index))

