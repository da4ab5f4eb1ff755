"""The median explorer: the median attack of section 6.3, with every target's recognition."""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import attacks, metrics
from .._validation import check_alpha, check_labels, check_limits
from ._base import (
    Explorer, FigureBuffers, check_targets, face_stack, head, image_grid, imshow, label_text,
)

#: Range of the median explorer's lambda slider (the paper's Fig. 15 sweeps 0.40-0.56).
LAM_RANGE = (0.30, 0.70)


@dataclass(frozen=True)
class MedianView:
    """What :class:`MedianExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    lam : float
        Weight of the photo in :func:`imgprivacy.attacks.median_removal`.
    n : int
        Perturbed photos the attacker holds (the median is taken over them).
    seed : int
        Seed of the draw, :func:`imgprivacy.attacks.median_pick`.
    held : ndarray of int, shape (n,)
        Their positions in the stack, sorted (the photos
        :func:`imgprivacy.attacks.median_sweep` holds for the same ``n`` and ``seed``).
    estimate : ndarray of shape (H, W[, C])
        :func:`imgprivacy.attacks.median_estimate` of the photos held.
    attacked : ndarray of shape (N, H, W[, C])
        :func:`imgprivacy.attacks.median_removal` of **all** photos.
    baseline, recognition : dict of str to float
        Each target's recognition rate on the perturbed and on the attacked photos
        (empty without labels); over the first ``limits[name]`` photos for a
        target with a limit.
    predictions : dict of str to ndarray of shape (N,) or (limits[name],)
        Each target's ``predict`` of the attacked photos (the first
        ``limits[name]`` of them for a target with a limit).
    ssim_perturbed, ssim_attacked : ndarray of shape (N,) or None
        SSIM to the clean photos, when they were given.
    """

    lam: float
    n: int
    seed: int
    held: np.ndarray
    estimate: np.ndarray
    attacked: np.ndarray
    baseline: dict
    recognition: dict
    predictions: dict
    ssim_perturbed: np.ndarray | None
    ssim_attacked: np.ndarray | None


class MedianExplorer(Explorer):
    """λ and n sliders wired to the median attack of section 6.3, with every target's recognition.

    Build it with :func:`median_explorer`.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"lam"``, ``"n"`` and ``"seed"``.
    status : ipywidgets.HTML
        Recognition per target, without and with the attack.
    output : ipywidgets.Output
    figure : matplotlib.figure.Figure or None
    view : MedianView or None
    draws : int
    """

    def __init__(self, perturbed, *, originals, targets, labels, names, lam, n, seed, show, limits):
        super().__init__()
        self._perturbed, self._originals, self._targets = perturbed, originals, targets
        self._labels, self._names, self._show = labels, names, show
        self._limits = limits
        self._asked = {name: limits.get(name, len(perturbed)) for name in targets}  # photos each target is asked
        self._figures = FigureBuffers()
        self._baseline: dict[str, float] | None = None
        self._ssim_perturbed = None
        if originals is not None:
            self._ssim_perturbed = metrics.ssim_batch(originals, perturbed)
        style = {"description_width": "initial"}
        controls = {
            "lam": ipywidgets.FloatSlider(
                value=lam, min=LAM_RANGE[0], max=LAM_RANGE[1], step=0.01, description="λ (photo weight)",
                continuous_update=False, style=style,
            ),
            "n": ipywidgets.IntSlider(
                value=n, min=1, max=len(perturbed), description="n (photos held)", continuous_update=False, style=style
            ),
            "seed": ipywidgets.IntSlider(
                value=seed, min=0, max=max(99, seed), description="draw (seed)", continuous_update=False, style=style
            ),
        }
        self.wire(self._draw, controls)

    def _draw(self, lam: float, n: int, seed: int) -> None:
        lam = round(float(lam), 4)
        try:
            held = attacks.median_pick(len(self._perturbed), n, seed=seed)
            estimate = attacks.median_estimate(self._perturbed[held])
            attacked = attacks.median_removal(self._perturbed, estimate, lam=lam)
            asked = self._asked
            predictions = {name: np.asarray(t.predict(attacked[: asked[name]])) for name, t in self._targets.items()}
            if self._baseline is None and self._labels is not None:
                self._baseline = {
                    name: metrics.recognition_rate(t, self._perturbed[: asked[name]], self._labels[: asked[name]])
                    for name, t in self._targets.items()
                }
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
            return
        recognition = {} if self._labels is None else {
            k: metrics.accuracy(p, self._labels[: asked[k]]) for k, p in predictions.items()
        }
        ssim_attacked = None
        if self._originals is not None:
            ssim_attacked = metrics.ssim_batch(self._originals, attacked)
        view = MedianView(
            lam=lam, n=int(n), seed=int(seed), held=held, estimate=estimate, attacked=attacked,
            baseline=dict(self._baseline or {}), recognition=recognition, predictions=predictions,
            ssim_perturbed=self._ssim_perturbed, ssim_attacked=ssim_attacked,
        )
        self.status.value = html.escape(self._status_text(view))
        fig = self._figure(view)
        self.publish(view, fig)

    def _status_text(self, view: MedianView) -> str:
        parts = [f"median of {view.n} of the {len(self._perturbed)} perturbed photos (seed {view.seed}), λ = {view.lam:.2f}"]
        for name in view.recognition:
            parts.append(f"{name}: {view.baseline[name]:.2f} → {view.recognition[name]:.2f}{self._on(name)}")
        if view.ssim_attacked is not None:
            parts.append(f"mean SSIM to the clean photos {view.ssim_perturbed.mean():.3f} → {view.ssim_attacked.mean():.3f}")
        return " · ".join(parts)

    def _on(self, name: str) -> str:
        """`` (first 3 photos)`` (or `` (first photo)``) for a target asked about fewer photos than there are."""
        n = self._asked[name]
        return "" if n == len(self._perturbed) else " (first photo)" if n == 1 else f" (first {n} photos)"

    def _mark(self, view: MedianView, name: str, j: int) -> str:
        """✓ or ✗ for target ``name`` on attacked photo ``j``; · where it was not asked (``limits``)."""
        answers = view.predictions[name]
        if j >= len(answers):
            return "·"
        return "✓" if answers[j] == self._labels[j] else "✗"

    def _figure(self, view: MedianView) -> Figure:
        m = min(self._show, len(self._perturbed))
        rows = [("perturbed", self._perturbed, view.ssim_perturbed), ("attacked", view.attacked, view.ssim_attacked)]
        if self._originals is not None:
            rows.insert(0, ("clean", self._originals, None))
        marks = list(view.predictions)
        lines = [
            1 + (ssim is not None) + (what == "clean" and self._labels is not None)
            + (what == "attacked" and self._labels is not None and bool(marks))
            for what, _, ssim in rows
        ]
        lines[0], lines[1] = max(lines[0], 2), max(lines[1], 2)  # the median column's two-line titles
        head_text = f"x = λ·x' + (1 − λ)·(1 − median), λ = {view.lam:.2f}"
        if view.recognition:
            head_text += "\nrecognised, perturbed → attacked: " + ", ".join(
                f"{k} {view.baseline[k]:.2f} → {v:.2f}{self._on(k)}" for k, v in view.recognition.items()
            )
            unasked = "; · not asked" if self._limits else ""
            head_text += f"\n(✓/✗ under each attacked photo: {', '.join(marks)}{unasked})"
        n_head = head_text.count("\n") + 1
        fig, axes = self._figures.take(
            (len(rows), m, tuple(lines), n_head),
            lambda: image_grid(len(rows), m + 1, title_lines=lines, head_lines=n_head, tile=1.9),
        )
        for r, (what, stack, ssim) in enumerate(rows):
            for j in range(m):
                title = what if ssim is None else f"{what}\nSSIM {ssim[j]:.2f}"
                if what == "clean" and self._labels is not None:
                    title += f"\n{label_text(self._labels[j], self._names)}"
                if what == "attacked" and self._labels is not None and marks:
                    title += "\n" + " ".join(self._mark(view, k, j) for k in marks)
                imshow(axes[r, j], stack[j], title)
        imshow(axes[0, m], view.estimate, f"median of {view.n}\n(the estimate δ')")
        imshow(axes[1, m], 1.0 - view.estimate, "its inverse\n1 − median")
        head(fig, head_text)
        return fig


def median_explorer(
    perturbed: Any,
    *,
    labels: Any = None,
    targets: Mapping[str, Any] | None = None,
    originals: Any = None,
    lam: float = 0.5,
    n_images: int = 10,
    seed: int = 0,
    show: int = 5,
    limits: Mapping[str, int] | None = None,
) -> MedianExplorer:
    """Explore the median attack (section 6.3): estimate a shared perturbation from ``n`` photos, remove it with λ.

    The attacker holds ``n`` of the perturbed photos (drawn with ``seed`` by
    :func:`imgprivacy.attacks.median_pick`, as :func:`imgprivacy.attacks.median_sweep`
    draws them), takes their median (:func:`imgprivacy.attacks.median_estimate`) and
    blends its inverse into **all** photos
    (:func:`imgprivacy.attacks.median_removal`).  The figure shows the
    median, its inverse and a few photos before and after; the status line
    and the title give each target's recognition rate without and with the
    attack (:func:`imgprivacy.metrics.recognition_rate` on all photos; with
    the attack, :func:`imgprivacy.metrics.accuracy` of the answers that also
    mark each photo, so a target is asked once per redraw).

    Controls: λ (0.30 to 0.70, step 0.01), n (1 to the number of photos)
    and the seed of the draw.

    Parameters
    ----------
    perturbed : ndarray of shape (N, H, W) or (N, H, W, 3), or list of photos
        Float photos in [0, 1] of one shape believed to share one perturbation.
    labels : array-like of shape (N,), optional
        True labels, as the targets predict them; without them no rate is shown.
    targets : dict of str to recogniser, optional
        Fitted recognisers with ``predict(images)``, by display name.  Each is
        called once per redraw on all ``N`` photos (and once more, the first
        time, on the perturbed photos): give slow ones a ``limits``.
    originals : ndarray of shape (N, H, W[, C]), optional
        The clean photos, for a row of them and SSIM in the titles (the
        attacker does not have them).
    lam : float, default 0.5
        Initial λ, in [0.30, 0.70].
    n_images : int, default 10
        Initial number of photos held, in [1, N].
    seed : int, default 0
        Initial seed of the draw.
    show : int, default 5
        Photos drawn in the figure.
    limits : dict of str to int, optional
        For slow targets (dlib's ResNet takes about 0.1 s a photo on one
        CPU): ask the named target about the first ``limits[name]`` photos
        only, at every redraw, so that the explorer answers within half a
        second; its rates are over those photos (the status and the title
        say so), and the photos drawn beyond them get ``·`` instead of ✓/✗.
        The median is still taken over the ``n`` photos held and the attack
        applied to all.  Default: every target is asked about every photo.

    Returns
    -------
    MedianExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, labels, targets or limits, or an initial
        setting outside the controls' range.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_widgets.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((6, 8, 8), dtype=np.float32)
    >>> w = median_explorer(x, n_images=4)  # doctest: +SKIP
    >>> w.controls["lam"].value = 0.45  # redraws  # doctest: +SKIP
    >>> w.view.lam, w.view.attacked.shape  # doctest: +SKIP
    (0.45, (6, 8, 8))
    """
    images, set_labels, names = face_stack(perturbed, "perturbed")
    labels = check_labels(set_labels if labels is None else labels, len(images), required=False)
    targets = check_targets(targets)
    limits = check_limits(limits, targets, len(images), unit="photos")
    if originals is not None:
        clean, _, _ = face_stack(originals, "originals")
        if clean.shape != images.shape:
            raise ValueError(f"originals must have the shape of perturbed, {images.shape}, got {clean.shape}")
        originals = clean
    lam = check_alpha(lam, "lam")
    if not LAM_RANGE[0] <= lam <= LAM_RANGE[1]:
        raise ValueError(f"lam must be in [{LAM_RANGE[0]}, {LAM_RANGE[1]}] for the explorer, got {lam}")
    if isinstance(n_images, bool) or not isinstance(n_images, numbers.Integral) or not 1 <= n_images <= len(images):
        raise ValueError(f"n_images must be an integer in [1, {len(images)}], got {n_images!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(show, bool) or not isinstance(show, numbers.Integral) or show < 1:
        raise ValueError(f"show must be a positive integer, got {show!r}")
    return MedianExplorer(images, originals=originals, targets=targets, labels=labels, names=names, lam=float(lam),
                          n=int(n_images), seed=int(seed), show=int(show), limits=limits)

