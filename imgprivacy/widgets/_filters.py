"""The filter explorer: the provider's filters (Fig. 17) applied live to k-RTIO or UEP faces."""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import _prf, attacks, krtio, metrics
from .._validation import check_labels, check_limits
from ._base import (
    Explorer, FigureBuffers, check_targets, face_stack, head, image_grid, imshow, label_text,
)

#: Strengths offered by the filter explorer's slider, per filter of :data:`imgprivacy.attacks.FILTERS`.
FILTER_STEPS = {
    "blur": (0, 1, 2, 3, 4, 5),
    "median": (0, 1, 2, 3, 4, 5),
    "greyscale": (0.0, 0.25, 0.5, 0.75, 1.0),
    "gaussian": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    "jpeg": (0, 25, 50, 75, 90, 95),
    "bit-depth": (0, 1, 2, 3, 4, 5, 6, 7),
}


def _start_strength(name: str):
    """The strength the slider moves to when filter ``name`` is picked: the step nearest the middle of its
    default sweep (:data:`imgprivacy.attacks.FILTERS`), where the filter visibly acts."""
    sweep = attacks.FILTERS[name].strengths
    return min(FILTER_STEPS[name], key=lambda s: abs(s - sweep[len(sweep) // 2]))


def _first(asked: int, n: int) -> str:
    """`` (first 3 photos)`` (or `` (first photo)``) for a target rated on fewer photos than the ``n`` there are."""
    return "" if asked == n else " (first photo)" if asked == 1 else f" (first {asked} photos)"


@dataclass(frozen=True)
class FilterView:
    """What :class:`FilterExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    scheme : str
        ``"k-RTIO"`` or ``"UEP"``: how the photos were protected.
    filter : str
        A name of :data:`imgprivacy.attacks.FILTERS`.
    strength : int or float
        Its strength (0: unfiltered).
    index : int
        The photo drawn.
    original, protected, filtered : ndarray
        That photo clean, protected and protected then filtered.
    ssim_protected, ssim_filtered : float
        Mean SSIM to the clean photos over the whole stack.
    rates : dict of str to tuple of float
        Each target's recognition rate on the clean, protected and filtered
        stack (empty without labels); on its first ``limits[name]`` photos
        for a target with a limit.
    predictions : dict of str to ndarray of shape (3,)
        Each target's answer for the photo drawn: clean, protected, filtered.
    """

    scheme: str
    filter: str
    strength: Any
    index: int
    original: np.ndarray
    protected: np.ndarray
    filtered: np.ndarray
    ssim_protected: float
    ssim_filtered: float
    rates: dict
    predictions: dict


class FilterExplorer(Explorer):
    """The provider's filters (Fig. 17) applied live to k-RTIO or UEP faces, with each target's recognition.

    Build it with :func:`filter_explorer`.  The protected stacks are made
    once per scheme; each change of filter or strength re-filters the whole
    stack and asks every target again (a target with a limit, about its
    first photos only).

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"scheme"``, ``"filter"``, ``"strength"`` and ``"index"``.
    status : ipywidgets.HTML
    output : ipywidgets.Output
    figure : matplotlib.figure.Figure or None
    view : FilterView or None
    draws : int
    """

    def __init__(self, images, *, protected, targets, labels, names, scheme, filter_name, strength, index, limits):
        super().__init__()
        self._images, self._protected, self._targets = images, protected, targets
        self._labels, self._names = labels, names
        self._asked = {name: limits.get(name, len(images)) for name in targets}  # photos each target is rated on
        self._clean_rates = {} if labels is None else {name: self._rate(name, images) for name in targets}
        # per scheme, made once here (the scheme toggle then costs what a strength does): the protected stacks
        # do not change, nor do their rates and SSIM
        self._protected_rates = {} if labels is None else {
            scheme: {name: self._rate(name, stack) for name in targets} for scheme, stack in protected.items()
        }
        self._protected_ssim = {scheme: float(np.mean(metrics.ssim_batch(images, stack)))
                                for scheme, stack in protected.items()}
        self._figures = FigureBuffers()
        self._switching = False  # True while a new filter's steps are put on the strength slider
        style = {"description_width": "initial"}
        controls: dict[str, ipywidgets.Widget] = {
            "scheme": ipywidgets.ToggleButtons(options=list(protected), value=scheme, description="protected by",
                                               style=style),
            "filter": ipywidgets.Dropdown(options=list(FILTER_STEPS), value=filter_name, description="provider's filter",
                                          style=style),
            "strength": ipywidgets.SelectionSlider(options=FILTER_STEPS[filter_name], value=strength,
                                                   description="strength", continuous_update=False, style=style),
        }
        if len(images) > 1:
            controls["index"] = ipywidgets.IntSlider(value=index, min=0, max=len(images) - 1, description="photo",
                                                     continuous_update=False, style=style)
        controls["filter"].observe(self._new_filter, names="value")
        self.wire(self._draw, controls)

    def _new_filter(self, change) -> None:
        # the strength slider offers the new filter's steps, at one where it acts (unfiltered, it seemed to do
        # nothing); the slider's own moves are not drawn: the filter's change draws once, with the new strength
        slider = self.controls["strength"]
        self._switching = True
        try:
            slider.options = FILTER_STEPS[change["new"]]
            slider.value = _start_strength(change["new"])
        finally:
            self._switching = False

    def _rate(self, name: str, stack: np.ndarray) -> float:
        """Target ``name``'s recognition rate on ``stack`` (its first ``limits[name]`` photos)."""
        n = self._asked[name]
        return metrics.recognition_rate(self._targets[name], stack[:n], self._labels[:n])

    def _draw(self, scheme: str, filter: str, strength, index: int = 0) -> None:
        if self._switching or strength not in FILTER_STEPS[filter]:  # the slider is catching up with a new filter
            return
        protected = self._protected[scheme]
        try:
            filtered = attacks.apply_filter(protected, filter, strength=strength)
            rates: dict[str, tuple[float, float, float]] = {}
            if self._labels is not None:
                rates = {
                    name: (self._clean_rates[name], self._protected_rates[scheme][name], self._rate(name, filtered))
                    for name in self._targets
                }
            photo = np.stack([self._images[index], protected[index], filtered[index]])
            predictions = {name: np.asarray(t.predict(photo)) for name, t in self._targets.items()}
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
            return
        view = FilterView(
            scheme=scheme, filter=filter, strength=strength, index=int(index), original=self._images[index],
            protected=protected[index], filtered=filtered[index], ssim_protected=self._protected_ssim[scheme],
            ssim_filtered=float(np.mean(metrics.ssim_batch(self._images, filtered))),
            rates=rates, predictions=predictions,
        )
        self.status.value = self._table(view)
        fig = self._figure(view)
        self.publish(view, fig)

    def _table(self, view: FilterView) -> str:
        unit = attacks.FILTERS[view.filter].unit
        head = (f"{len(self._images)} photos protected by {view.scheme}, then {view.filter} at strength "
                f"{view.strength:g} ({unit}) · mean SSIM to the clean photos {view.ssim_protected:.3f} → "
                f"{view.ssim_filtered:.3f}")
        if not view.rates:
            return html.escape(head)
        n = len(self._images)
        rows = "".join(
            f"<tr><td>{html.escape(name)}"
            + _first(self._asked[name], n)
            + "</td>" + "".join(f"<td>{r:.2f}</td>" for r in trio) + "</tr>"
            for name, trio in view.rates.items()
        )
        return (f"{html.escape(head)}<table><tr><th>recognised</th><th>clean</th><th>protected</th>"
                f"<th>protected + filter</th></tr>{rows}</table>")

    def _figure(self, view: FilterView) -> Figure:
        heading = bool(view.predictions) and self._labels is not None
        fig, grid = self._figures.take(
            heading, lambda: image_grid(1, 3, title_lines=2, head_lines=int(heading), tile=2.7)
        )
        axes = grid[0]
        label = None if self._labels is None else self._labels[view.index]

        def marks(column: int) -> str:
            if label is None or not view.predictions:
                return ""
            return "\n" + " ".join("✓" if p[column] == label else "✗" for p in view.predictions.values())

        imshow(axes[0], view.original, "clean" + ("" if label is None else f" ({label_text(label, self._names)})") + marks(0))
        imshow(axes[1], view.protected, f"{view.scheme}" + marks(1))
        imshow(axes[2], view.filtered, f"+ {view.filter} ({view.strength:g})" + marks(2))
        if heading:
            head(fig, f"✓/✗: {', '.join(view.predictions)}")
        return fig


def filter_explorer(
    faces: Any,
    *,
    targets: Mapping[str, Any] | None = None,
    labels: Any = None,
    key: bytes | None = None,
    overlays: Any = None,
    alpha: float = 0.45,
    k: int = 3,
    block: int = 8,
    delta: Any = None,
    beta: float = 3.0,
    filter: str = "median",
    strength: Any = 1,
    index: int = 0,
    limits: Mapping[str, int] | None = None,
) -> FilterExplorer:
    """Apply the provider's filters (section 6.3, Fig. 17) to protected faces and watch each target's recognition.

    The faces are protected once with k-RTIO
    (:func:`imgprivacy.krtio.perturb_batch`, ids ``face-0``, ``face-1``, ...)
    and, when ``delta`` is given, with the UEP (:func:`imgprivacy.uep.apply`);
    the chosen filter (:func:`imgprivacy.attacks.apply_filter`) is then run
    on the whole stack and every target asked again
    (:func:`imgprivacy.metrics.recognition_rate`).

    Controls: the scheme, the filter (:data:`FILTER_STEPS`), its strength and
    the photo drawn.

    Parameters
    ----------
    faces : ndarray of shape (N, H, W) or (N, H, W, 3), list of photos, or FaceSet
        Clean float photos in [0, 1] of one shape.
    targets : dict of str to recogniser, optional
        Fitted recognisers with ``predict(images)``, by display name; each is
        called on all N photos at every redraw: give slow ones a ``limits``.
    labels : array-like of shape (N,), optional
        True labels (default: the face set's).
    key : bytes, optional
        16-byte k-RTIO key; default a new random one.
    overlays : sequence of images, optional
        The overlay set; default :func:`imgprivacy.data.overlay_set`.
    alpha, k, block :
        k-RTIO parameters (:func:`imgprivacy.krtio.perturb`).
    delta : ndarray or UEPResult, optional
        A learned UEP; adds the scheme "UEP".
    beta : float, default 3.0
        Its strength.
    filter : str, default "median"
        Initial filter.
    strength : int or float, default 1
        Initial strength, one of ``FILTER_STEPS[filter]``.
    index : int, default 0
        Initial photo.
    limits : dict of str to int, optional
        For slow targets (dlib's ResNet takes about 0.1 s a photo on one
        CPU): rate the named target on the first ``limits[name]`` photos
        only (clean, protected and filtered), so that the explorer answers
        within half a second; the table says so.  Every target still judges
        the photo drawn.  Default: every target is rated on every photo.

    Returns
    -------
    FilterExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, labels, targets or parameters, or an initial
        setting the controls do not offer.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_widgets.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((4, 16, 16), dtype=np.float32)
    >>> w = filter_explorer(x, block=4)  # doctest: +SKIP
    >>> w.controls["strength"].value = 2  # redraws  # doctest: +SKIP
    >>> w.view.filter, w.view.strength, w.view.filtered.shape  # doctest: +SKIP
    ('median', 2, (16, 16))
    """
    from .. import data, uep

    images, set_labels, names = face_stack(faces, "faces")
    labels = check_labels(set_labels if labels is None else labels, len(images), required=False)
    targets = check_targets(targets)
    limits = check_limits(limits, targets, len(images), unit="photos")
    if filter not in FILTER_STEPS:
        raise ValueError(f"filter must be one of {', '.join(repr(f) for f in FILTER_STEPS)}, got {filter!r}")
    if strength not in FILTER_STEPS[filter]:
        raise ValueError(f"strength must be one of {FILTER_STEPS[filter]} for the filter {filter!r}, got {strength!r}")
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(images):
        raise ValueError(f"index must be an integer in [0, {len(images) - 1}], got {index!r}")
    key = _prf.generate_key() if key is None else _prf.check_key(key)
    overlays = data.overlay_set() if overlays is None else overlays
    ids = [f"face-{i}" for i in range(len(images))]
    fitted = krtio.prepare_overlays(overlays, images.shape[1:], block=block)  # what perturb_batch fits, once
    protected = {"k-RTIO": krtio.perturb_batch(images, key, image_ids=ids, overlays=fitted, k=k, alpha=alpha,
                                               block=block, progress=False)}
    if delta is not None:
        protected["UEP"] = uep.apply(images, delta, beta=beta)
    return FilterExplorer(images, protected=protected, targets=targets, labels=labels, names=names, scheme="k-RTIO",
                          filter_name=filter, strength=strength, index=int(index), limits=limits)
