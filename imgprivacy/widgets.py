"""Interactive explorers (ipywidgets) and the figure helpers the notebooks use.

Wiring only: every number and image shown here comes from
:mod:`imgprivacy.krtio`, :mod:`imgprivacy.uep`, :mod:`imgprivacy.attacks`,
:mod:`imgprivacy.metrics` and the targets' ``predict`` (training curves: from the histories that
:mod:`imgprivacy.models` records); this module holds no algorithm.  Figures are
plain :class:`matplotlib.figure.Figure` objects that are not registered
with pyplot, so building one never opens a window, works under any backend
(Agg in tests) and is freed with the last reference.  In
Jupyter a returned figure is displayed when it is the value of a cell.

Importing this module imports ipywidgets and matplotlib, never torch.
"""

from __future__ import annotations

import html
import io
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Sequence

import ipywidgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from . import _prf, attacks, krtio, metrics
from ._validation import check_alpha, check_image, check_images, check_int, is_single_image
from .plotting import in_ipython, show_images

__all__ = [
    "ALPHA_RANGE",
    "BETA_RANGE",
    "BLOCK_CHOICES",
    "BSSExplorer",
    "BSSView",
    "ExplorerView",
    "FILTER_STEPS",
    "FilterExplorer",
    "FilterView",
    "KRTIOExplorer",
    "LAM_RANGE",
    "MedianExplorer",
    "MedianView",
    "N_RANGE",
    "UEPExplorer",
    "UEPView",
    "bss_explorer",
    "filter_explorer",
    "krtio_explorer",
    "median_explorer",
    "uep_explorer",
]

#: Block sides (pixels) offered by the explorer.
BLOCK_CHOICES = (2, 4, 8, 16, 32)
#: Range of the explorer's alpha slider.
ALPHA_RANGE = (0.05, 1.0)
#: Range of the BSS explorer's slider for the number of photos sharing an overlay.
N_RANGE = (2, 40)


def _fmt_psnr(value: float) -> str:
    return "PSNR ∞" if math.isinf(value) else f"PSNR {value:.1f} dB"


class _Explorer(ipywidgets.VBox):
    """What every explorer shares: controls wired to ``_draw``, a status line, an output area, the last drawing.

    A subclass builds its controls, calls :meth:`_wire` (which draws once),
    and in ``_draw`` ends with :meth:`_publish` or, when the library refuses a
    setting, :meth:`_refuse` (the message is shown, nothing is raised).
    """

    def __init__(self):
        super().__init__()
        self.figure: Figure | None = None
        self.view: Any = None
        self.draws = 0

    def _wire(self, controls: dict[str, ipywidgets.Widget], rows: Sequence[Sequence[str]] | None = None) -> None:
        """Register ``controls`` with :func:`ipywidgets.interactive_output`, laid out in ``rows`` of names (default one)."""
        self.controls = controls
        self.status = ipywidgets.HTML()
        self.output = ipywidgets.interactive_output(self._draw, controls)
        wrap = ipywidgets.Layout(flex_flow="row wrap")
        rows = [list(controls)] if rows is None else rows
        boxes = [ipywidgets.HBox([controls[n] for n in row if n in controls], layout=wrap) for row in rows]
        self.children = (*boxes, self.status, self.output)

    def _publish(self, view: Any, fig: Figure) -> None:
        self.figure, self.view = fig, view
        self.draws += 1
        _display(fig)

    def _refuse(self, exc: Exception) -> None:
        self.status.value = f"<b>Not drawn:</b> {html.escape(str(exc))}"


# --------------------------------------------------------------------------- k-RTIO explorer
@dataclass(frozen=True)
class ExplorerView:
    """What :class:`KRTIOExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    index : int
        Position of the photo in the stack (0 for a single photo).
    image_id, alpha, k, block
        The k-RTIO parameters used.
    wrong_key : bool
        Whether recovery used a wrong key.
    original, overlay, perturbed, recovered : ndarray
        The photo, the combined overlay (:func:`imgprivacy.krtio.overlay_for`),
        :func:`imgprivacy.krtio.perturb` and :func:`imgprivacy.krtio.recover` outputs.
    psnr_perturbed, ssim_perturbed, psnr_recovered, ssim_recovered : float
        Perturbed and recovered photo against the original.
    """

    index: int
    image_id: str
    alpha: float
    k: int
    block: int
    wrong_key: bool
    original: np.ndarray
    overlay: np.ndarray
    perturbed: np.ndarray
    recovered: np.ndarray
    psnr_perturbed: float
    ssim_perturbed: float
    psnr_recovered: float
    ssim_recovered: float


class KRTIOExplorer(_Explorer):
    """Sliders for k-RTIO's parameters wired to perturb and recover one photo.

    Build it with :func:`krtio_explorer`.  The four panels are drawn by a
    callback registered with :func:`ipywidgets.interactive_output`; every
    change of a control redraws them.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"index"`` (only for a stack), ``"alpha"``, ``"k"``, ``"block"``,
        ``"image_id"`` and ``"wrong_key"``.
    status : ipywidgets.HTML
        Key check value, the overlays chosen and the block grid, or the
        library's message when a setting is refused.
    output : ipywidgets.Output
        Where the figure is displayed.
    figure : matplotlib.figure.Figure or None
        The last figure drawn.
    view : ExplorerView or None
        The settings and results behind :attr:`figure`.
    draws : int
        How many times the panels were drawn.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        key: bytes,
        *,
        overlays: Sequence[np.ndarray],
        image_id: str,
        alpha: float,
        k: int,
        block: int,
        labels: list[str] | None = None,
    ):
        super().__init__()
        self._images = images
        self._labels = labels
        self._key = key
        self._wrong = _prf.generate_key()
        self._overlays = overlays
        self._names = list(getattr(overlays, "names", [])) or None
        self._prepared: dict = {}
        style = {"description_width": "initial"}
        controls: dict[str, ipywidgets.Widget] = {}
        if len(images) > 1:
            controls["index"] = ipywidgets.IntSlider(
                value=0, min=0, max=len(images) - 1, description="photo", continuous_update=False, style=style
            )
        controls["alpha"] = ipywidgets.FloatSlider(
            value=alpha,
            min=ALPHA_RANGE[0],
            max=ALPHA_RANGE[1],
            step=0.05,
            description="α (photo weight)",
            continuous_update=False,
            style=style,
        )
        controls["k"] = ipywidgets.IntSlider(
            value=k, min=1, max=len(overlays), description="k (overlays)", continuous_update=False, style=style
        )
        controls["block"] = ipywidgets.SelectionSlider(
            options=list(BLOCK_CHOICES), value=block, description="block (px)", continuous_update=False, style=style
        )
        controls["image_id"] = ipywidgets.Text(
            value=image_id, description="image id", continuous_update=False, style=style
        )
        controls["wrong_key"] = ipywidgets.Checkbox(value=False, description="recover with a wrong key", indent=False)
        self._wire(controls, rows=(("index", "alpha", "k"), ("block", "image_id", "wrong_key")))

    def _prepared_for(self, shape: tuple[int, ...], block: int) -> krtio.PreparedOverlays:
        geo = (shape[:2], len(shape) == 3 and shape[2] in (3, 4), block)
        if geo not in self._prepared:
            self._prepared[geo] = krtio.prepare_overlays(self._overlays, shape, block=block)
        return self._prepared[geo]

    def _draw(self, alpha: float, k: int, block: int, image_id: str, wrong_key: bool, index: int = 0) -> None:
        image = self._images[index]
        alpha = round(float(alpha), 4)
        try:
            prep = self._prepared_for(image.shape, block)
            overlay = krtio.overlay_for(self._key, image_id, overlays=prep, shape=image.shape, k=k, block=block)
            perturbed = krtio.perturb(image, self._key, image_id=image_id, overlays=prep, k=k, alpha=alpha, block=block)
            recovered = krtio.recover(
                perturbed, self._wrong if wrong_key else self._key, image_id=image_id, overlays=prep,
                k=k, alpha=alpha, block=block,
            )
            selection = krtio.select_overlays(self._key, image_id, k=k, m=prep.m)
        except (ValueError, TypeError) as exc:
            self._refuse(exc)
            return
        view = ExplorerView(
            index=index, image_id=image_id, alpha=alpha, k=k, block=block, wrong_key=bool(wrong_key),
            original=image, overlay=overlay, perturbed=perturbed, recovered=recovered,
            psnr_perturbed=metrics.psnr(image, perturbed), ssim_perturbed=metrics.ssim(image, perturbed),
            psnr_recovered=metrics.psnr(image, recovered), ssim_recovered=metrics.ssim(image, recovered),
        )
        gh, gw = krtio.grid_shape(image.shape, block)
        chosen = ", ".join(self._names[s] if self._names else str(s) for s in selection)
        photo = ""
        if len(self._images) > 1:
            photo = f"photo {index}" + (f" ({self._labels[index]})" if self._labels else "") + " · "
        self.status.value = html.escape(
            f"{photo}key check value {_prf.key_check_value(self._key)} · overlays chosen for this id: {chosen} · "
            f"b = {gh} × {gw} = {gh * gw} blocks"
        )
        titles = [
            "original",
            f"combined overlay\nk = {k}, b = {gh * gw}",
            f"perturbed, α = {alpha:.2f}\n{_fmt_psnr(view.psnr_perturbed)} · SSIM {view.ssim_perturbed:.3f}",
            ("recovered, WRONG key" if wrong_key else "recovered")
            + f"\n{_fmt_psnr(view.psnr_recovered)} · SSIM {view.ssim_recovered:.3f}",
        ]
        fig = show_images([image, overlay, perturbed, recovered], titles, ncols=4, size=2.6)
        self._publish(view, fig)


def _display(fig: Figure) -> None:
    """Show ``fig`` as a PNG in the current output area when running under IPython."""
    if not in_ipython():
        return
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    display(Image(data=buf.getvalue(), format="png"))


def krtio_explorer(
    image: Any,
    key: bytes,
    *,
    overlays: Sequence[np.ndarray],
    image_id: str = "IMG_0001.png",
    alpha: float = 0.45,
    k: int = 3,
    block: int = 8,
) -> KRTIOExplorer:
    """Explore k-RTIO's parameters: original, overlay, perturbed and recovered photo.

    Controls: α (0.05 to 1.0), k (1 to ``m = len(overlays)``), block side
    (2, 4, 8, 16 or 32 pixels), the image id, a photo chooser when given
    several photos, and "recover with a wrong key".  The panel titles give
    PSNR and SSIM against the original (:mod:`imgprivacy.metrics`).

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C), stack (N, H, W[, C]), list of images or FaceSet
        Float photo(s) in [0, 1].  A 3-D array whose last axis is 1 to 4 is
        one photo; otherwise it is a stack of grey photos.  A face set
        (anything with ``images``, e.g. :func:`imgprivacy.data.load_faces`)
        labels each photo with its subject.
    key : bytes
        16-byte secret key; it is never shown, only its check value.
    overlays : sequence of ndarray
        The overlay set ``S`` (e.g. :func:`imgprivacy.data.overlay_set`).
    image_id : str, default "IMG_0001.png"
        Initial image id.
    alpha : float, default 0.45
        Initial photo weight, in [0.05, 1.0].
    k : int, default 3
        Initial number of overlays, in [1, m].
    block : int, default 8
        Initial block side, one of 2, 4, 8, 16, 32.

    Returns
    -------
    KRTIOExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For a malformed key, photo or overlay set, or an initial setting
        outside the controls' range.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_widgets.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> face = rng.random((16, 16), dtype=np.float32)
    >>> w = krtio_explorer(face, bytes(16), overlays=S, k=2, block=4)  # doctest: +SKIP
    >>> w.controls["alpha"].value = 0.8  # redraws  # doctest: +SKIP
    >>> w.view.alpha, round(w.view.ssim_recovered, 3)  # doctest: +SKIP
    (0.8, 1.0)
    """
    key = _prf.check_key(key)
    if hasattr(image, "images"):
        stack = image.images
        labels_arr, names = getattr(image, "labels", None), getattr(image, "names", None)
        labels = None
        if labels_arr is not None and names is not None:
            labels = [str(names[int(i)]) for i in np.asarray(labels_arr)]
    else:
        stack, labels = image, None
    if isinstance(stack, np.ndarray) and is_single_image(stack):
        images = [check_image(stack, "image")]
    else:
        if isinstance(stack, (list, tuple, np.ndarray)) and len(stack) == 0:
            raise ValueError("image must be a photo or a non-empty stack of photos, got an empty stack")
        images = check_images(stack if isinstance(stack, np.ndarray) else list(stack), "image")
    if labels is not None and len(labels) != len(images):
        labels = None
    overlays = overlays if hasattr(overlays, "__len__") else list(overlays)
    if len(overlays) == 0:
        raise ValueError("overlays must hold at least one image, got an empty set")
    if not isinstance(image_id, str) or not image_id:
        raise ValueError(f"image_id must be a non-empty str, got {image_id!r}")
    alpha = check_alpha(alpha)
    if not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise ValueError(f"alpha must be in [{ALPHA_RANGE[0]}, {ALPHA_RANGE[1]}] for the explorer, got {alpha}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= len(overlays):
        raise ValueError(f"k must be an integer in [1, {len(overlays)}] (the number of overlays), got {k!r}")
    if block not in BLOCK_CHOICES or isinstance(block, bool):
        raise ValueError(f"block must be one of {BLOCK_CHOICES}, got {block!r}")
    return KRTIOExplorer(
        images, key, overlays=overlays, image_id=image_id, alpha=alpha, k=int(k), block=int(block), labels=labels
    )


# --------------------------------------------------------------------------- BSS explorer
@dataclass(frozen=True)
class BSSView:
    """What :class:`BSSExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    alpha : float
        Weight of the photos in the mix.
    n : int
        Number of perturbed photos handed to the attack (ICA's mixtures).
    overlay_index : int
        Position in the overlay set of the shared overlay (unused with k-RTIO).
    overlay_name : str
        Its name.
    attack : bool
        Whether :func:`imgprivacy.attacks.bss_fastica` was run.
    use_krtio : bool
        Whether the photos were perturbed with k-RTIO (one overlay per photo)
        instead of one shared overlay.
    seed : int
        Seed of ``np.random.default_rng`` that drew the photos.
    indices : ndarray of int, shape (n,)
        Positions of the drawn photos in the face stack.
    originals, perturbed : ndarray of shape (n, H, W[, C])
        The drawn photos and what the attacker sees
        (:func:`imgprivacy.attacks.naive_overlay` or
        :func:`imgprivacy.krtio.perturb_batch`).
    true_overlay : ndarray of shape (H, W[, C]) or (n, H, W[, C])
        The shared overlay, or with k-RTIO each photo's own
        (:func:`imgprivacy.krtio.overlay_for`).
    result : BSSResult or None
        The attack's output; ``None`` when the attack is off.
    ssim_perturbed, ssim_recovered : ndarray of shape (n,)
        :func:`imgprivacy.metrics.ssim_affine` of each photo and its perturbed
        or recovered version (``ssim_recovered`` is empty when the attack is off).
    overlay_correlation : float
        ``|correlation|`` of the estimated and the true overlay (with k-RTIO,
        the mean over photos of that with each photo's own overlay); ``nan``
        when the attack is off.
    """

    alpha: float
    n: int
    overlay_index: int
    overlay_name: str
    attack: bool
    use_krtio: bool
    seed: int
    indices: np.ndarray
    originals: np.ndarray
    perturbed: np.ndarray
    true_overlay: np.ndarray
    result: attacks.BSSResult | None
    ssim_perturbed: np.ndarray
    ssim_recovered: np.ndarray
    overlay_correlation: float

    @property
    def recovered(self) -> np.ndarray | None:
        """The attack's recovered photos, or ``None`` when the attack is off."""
        return None if self.result is None else self.result.recovered

    @property
    def mean_ssim_perturbed(self) -> float:
        """Mean affine SSIM of the perturbed photos to the originals."""
        return float(np.mean(self.ssim_perturbed))

    @property
    def mean_ssim_recovered(self) -> float:
        """Mean affine SSIM of the recovered photos to the originals (``nan`` when the attack is off)."""
        return float(np.mean(self.ssim_recovered)) if self.ssim_recovered.size else float("nan")

    @property
    def gain(self) -> float:
        """``mean_ssim_recovered - mean_ssim_perturbed``: above 0 when the attack helps."""
        return self.mean_ssim_recovered - self.mean_ssim_perturbed


class BSSExplorer(_Explorer):
    """Controls for the naive overlay and the blind-signal-separation attack on it.

    Build it with :func:`bss_explorer`.  The figure is drawn by a callback
    registered with :func:`ipywidgets.interactive_output`; every change of a
    control redraws it.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"alpha"``, ``"n"`` (photos sharing the overlay), ``"overlay"``,
        ``"seed"`` (which photos are drawn), ``"attack"`` and ``"use_krtio"``.
    status : ipywidgets.HTML
        The scores, ICA's choice of component, or the library's message when
        a setting is refused.
    output : ipywidgets.Output
        Where the figure is displayed.
    figure : matplotlib.figure.Figure or None
        The last figure drawn.
    view : BSSView or None
        The settings and results behind :attr:`figure`.
    draws : int
        How many times the figure was drawn.
    """

    def __init__(
        self,
        images: np.ndarray,
        *,
        overlays: Sequence[np.ndarray],
        names: list[str],
        labels: list[str] | None,
        alpha: float,
        n: int,
        overlay: int,
        attack: bool,
        use_krtio: bool,
        seed: int,
        key: bytes,
        k: int,
        block: int,
        show: int,
    ):
        super().__init__()
        self._images = images
        self._labels = labels
        self._names = names
        self._key = key
        self._k = k
        self._block = block
        self._show = show
        self._prep = krtio.prepare_overlays(overlays, images.shape[1:], block=block)
        style = {"description_width": "initial"}
        controls: dict[str, ipywidgets.Widget] = {}
        controls["alpha"] = ipywidgets.FloatSlider(
            value=alpha, min=ALPHA_RANGE[0], max=ALPHA_RANGE[1], step=0.05,
            description="α (photo weight)", continuous_update=False, style=style,
        )
        controls["n"] = ipywidgets.IntSlider(
            value=n, min=N_RANGE[0], max=min(N_RANGE[1], len(images)),
            description="N (photos)", continuous_update=False, style=style,
        )
        controls["overlay"] = ipywidgets.Dropdown(
            options=[(name, i) for i, name in enumerate(names)], value=overlay, description="overlay", style=style
        )
        controls["seed"] = ipywidgets.IntSlider(
            value=seed, min=0, max=max(99, seed), description="draw (seed)", continuous_update=False, style=style
        )
        controls["attack"] = ipywidgets.Checkbox(value=attack, description="run the attack (FastICA)", indent=False)
        controls["use_krtio"] = ipywidgets.Checkbox(
            value=use_krtio, description="k-RTIO instead of one shared overlay", indent=False
        )
        self._wire(controls, rows=(("alpha", "n", "seed"), ("overlay", "attack", "use_krtio")))

    def _shared_overlay(self, index: int) -> np.ndarray:
        """Overlay ``index`` fitted to the photos the way k-RTIO fits it (no shuffle)."""
        h, w = self._images.shape[1:3]
        fitted = self._prep.fitted(index)[:h, :w]
        return fitted[..., 0] if self._images.ndim == 3 else fitted

    def _draw(self, alpha: float, n: int, overlay: int, seed: int, attack: bool, use_krtio: bool) -> None:
        alpha = round(float(alpha), 4)
        self.controls["overlay"].disabled = bool(use_krtio)
        shape = self._images.shape[1:]
        try:
            indices = np.random.default_rng(seed).choice(len(self._images), size=n, replace=False)
            originals = self._images[indices]
            if use_krtio:
                ids = [f"face_{i:04d}.png" for i in indices]
                perturbed = krtio.perturb_batch(
                    originals, self._key, image_ids=ids, overlays=self._prep, k=self._k, alpha=alpha,
                    block=self._block, progress=False,
                )
                truth = np.stack([
                    krtio.overlay_for(self._key, i, overlays=self._prep, shape=shape, k=self._k, block=self._block)
                    for i in ids
                ])
            else:
                truth = self._shared_overlay(overlay)
                perturbed = attacks.naive_overlay(originals, truth, alpha=alpha)
            result = attacks.bss_fastica(perturbed) if attack else None
        except (ValueError, TypeError) as exc:
            self._refuse(exc)
            return
        ssim_p = np.array([metrics.ssim_affine(x, y) for x, y in zip(originals, perturbed)])
        recovered = [] if result is None else result.recovered
        ssim_r = np.array([metrics.ssim_affine(x, r) for x, r in zip(originals, recovered)])
        if result is None:
            corr = float("nan")
        elif use_krtio:
            corr = float(np.mean([abs(metrics.correlation(t, result.overlay)) for t in truth]))
        else:
            corr = abs(metrics.correlation(truth, result.overlay))
        view = BSSView(
            alpha=alpha, n=int(n), overlay_index=int(overlay), overlay_name=self._names[overlay], attack=bool(attack),
            use_krtio=bool(use_krtio), seed=int(seed), indices=indices, originals=originals, perturbed=perturbed,
            true_overlay=truth, result=result, ssim_perturbed=ssim_p, ssim_recovered=ssim_r, overlay_correlation=corr,
        )
        self.status.value = html.escape(self._status_text(view))
        fig = self._figure(view)
        self._publish(view, fig)

    def _status_text(self, view: BSSView) -> str:
        if view.use_krtio:
            scheme = (
                f"k-RTIO: each photo has its own overlay (k = {self._k}, {self._block}-px blocks, "
                f"key check value {_prf.key_check_value(self._key)})"
            )
        else:
            scheme = f"one shared overlay: {view.overlay_name}"
        parts = [f"N = {view.n} photos (drawn with seed {view.seed})", scheme]
        parts.append(f"affine SSIM to the originals, mean: perturbed {view.mean_ssim_perturbed:.3f}")
        if view.result is not None:
            r = view.result
            parts[-1] += f" → recovered {view.mean_ssim_recovered:.3f} (gain {view.gain:+.3f})"
            parts.append(f"|corr(estimated, true overlay)| {view.overlay_correlation:.2f}")
            parts.append(
                f"ICA took source {r.component + 1} of {len(r.uniformity)} "
                f"(weights' std/|mean| {r.uniformity[r.component]:.2f}, next {np.sort(r.uniformity)[1]:.2f})"
            )
        else:
            parts.append("attack off")
        return " · ".join(parts)

    def _figure(self, view: BSSView) -> Figure:
        m = min(view.n, self._show)
        attacked = view.result is not None
        nrows = 3 if attacked else 2
        fig = Figure(figsize=(1.9 * (m + 1) + 0.4, 2.35 * nrows + 0.5), layout="constrained")
        axes = fig.subplots(nrows, m + 1, squeeze=False)
        for ax in axes.ravel():
            ax.set_axis_off()

        def image(ax, img, title):
            if img.ndim == 2:
                ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
            ax.set_title(title, fontsize=9)

        for j in range(m):
            who = f" ({self._labels[view.indices[j]]})" if self._labels else ""
            image(axes[0, j], view.originals[j], f"photo {j + 1}{who}")
            image(axes[1, j], view.perturbed[j], f"perturbed\naffine SSIM {view.ssim_perturbed[j]:.2f}")
            if attacked:
                image(axes[2, j], view.recovered[j], f"recovered\naffine SSIM {view.ssim_recovered[j]:.2f}")
        if view.use_krtio:
            image(axes[0, m], view.true_overlay[0], "photo 1's k-RTIO overlay\n(each has its own)")
        else:
            image(axes[0, m], view.true_overlay, f"shared overlay\n{_short_name(view.overlay_name)}")
        if attacked:
            image(axes[1, m], view.result.overlay, f"estimated overlay\n|corr| {view.overlay_correlation:.2f}")
            ax = axes[2, m]
            ax.set_axis_on()
            mixing = view.result.mixing
            scaled = mixing / np.maximum(np.abs(mixing).max(axis=0), 1e-12)
            x = np.arange(1, view.n + 1)
            for c in range(scaled.shape[1]):
                chosen = c == view.result.component
                ax.plot(x, scaled[:, c], marker="o" if view.n <= 10 else None, markersize=3,
                        color="black" if chosen else "tab:gray", linewidth=2.0 if chosen else 0.8,
                        alpha=1.0 if chosen else 0.6, label="overlay" if chosen else None)
            ax.axhline(0, color="tab:gray", linewidth=0.5)
            ax.set_ylim(-1.1, 1.1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("photo", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.set_title("ICA mixing weights\n(flattest = overlay)", fontsize=9)
        if view.use_krtio:
            head = f"{view.n} photos, each with its own k-RTIO overlay, α = {view.alpha:.2f}"
        else:
            head = f"{view.n} photos share one overlay ({_short_name(view.overlay_name)}), α = {view.alpha:.2f}"
        if attacked:
            head += (
                f"\nmean affine SSIM to the originals: perturbed {view.mean_ssim_perturbed:.3f} → "
                f"recovered {view.mean_ssim_recovered:.3f} ({view.gain:+.3f})"
            )
        else:
            head += f"\nmean affine SSIM to the originals: perturbed {view.mean_ssim_perturbed:.3f} (attack off)"
        fig.suptitle(head, fontsize=10)
        return fig


def _short_name(name: str, width: int = 22) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def bss_explorer(
    faces: Any,
    *,
    overlays: Sequence[np.ndarray] | None = None,
    alpha: float = 0.45,
    n_images: int = 20,
    overlay: int | str = 0,
    attack: bool = True,
    use_krtio: bool = False,
    seed: int = 0,
    key: bytes | None = None,
    k: int = 3,
    block: int = 8,
    show: int = 5,
) -> BSSExplorer:
    """Explore blind signal separation against a shared overlay, and against k-RTIO.

    ``N`` photos drawn from ``faces`` are perturbed with one shared overlay
    (:func:`imgprivacy.attacks.naive_overlay`), or with k-RTIO's unique
    overlays (:func:`imgprivacy.krtio.perturb_batch`), and handed to
    :func:`imgprivacy.attacks.bss_fastica`.  The figure shows a few photos,
    their perturbed and recovered versions, the true and the estimated
    overlay, and ICA's mixing weights; the titles and the status line give
    :func:`imgprivacy.metrics.ssim_affine` to the originals and the
    correlation of the estimated with the true overlay.

    Controls: α (0.05 to 1.0), N (2 to 40, at most the number of photos),
    the overlay (a dropdown of the set's names), the seed that draws the
    photos, "run the attack" and "k-RTIO instead of one shared overlay".

    Parameters
    ----------
    faces : ndarray of shape (N, H, W) or (N, H, W, 3), list of images, or FaceSet
        At least two float photos in [0, 1] of one shape.  A face set
        (anything with ``images``, e.g. :func:`imgprivacy.data.load_faces`)
        labels each photo with its subject.
    overlays : sequence of ndarray, optional
        The overlay set (default :func:`imgprivacy.data.overlay_set`); each
        is fitted to the photos' shape with
        :func:`imgprivacy.krtio.prepare_overlays`, as k-RTIO fits it.
    alpha : float, default 0.45
        Initial photo weight, in [0.05, 1.0].
    n_images : int, default 20
        Initial number of photos sharing the overlay, in [2, min(40, len(faces))].
    overlay : int or str, default 0
        Initial shared overlay: its position in the set or its name.
    attack : bool, default True
        Whether the attack is initially on.
    use_krtio : bool, default False
        Start with k-RTIO instead of one shared overlay.
    seed : int, default 0
        Initial seed of ``np.random.default_rng`` that draws the photos.
    key : bytes, optional
        16-byte k-RTIO key; a fresh one by default.  Never shown, only its
        check value.  Photo ``i`` of the stack gets the id ``face_{i:04d}.png``.
    k : int, default 3
        Overlays k-RTIO combines.
    block : int, default 8
        k-RTIO's block side in pixels (also the fitting of the shared overlay).
    show : int, default 5
        Photos drawn in the figure.

    Returns
    -------
    BSSExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, overlays or key, or an initial setting outside
        the controls' range.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_widgets.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> faces = rng.random((10, 16, 16), dtype=np.float32)
    >>> w = bss_explorer(faces, overlays=S, n_images=8, block=4)  # doctest: +SKIP
    >>> w.controls["n"].value = 4  # redraws  # doctest: +SKIP
    >>> w.view.n, w.view.recovered.shape  # doctest: +SKIP
    (4, (4, 16, 16))
    """
    if hasattr(faces, "images"):
        stack = faces.images
        labels_arr, subject_names = getattr(faces, "labels", None), getattr(faces, "names", None)
        labels = None
        if labels_arr is not None and subject_names is not None:
            labels = [str(subject_names[int(i)]) for i in np.asarray(labels_arr)]
    else:
        stack, labels = faces, None
    if isinstance(stack, (list, tuple, np.ndarray)) and len(stack) < 2:
        raise ValueError(f"faces must hold at least 2 photos, got {len(stack)}")
    items = check_images(stack if isinstance(stack, np.ndarray) else list(stack), "faces", channels=(1, 3))
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"faces must all have the same shape, got {sorted(shapes)}; resize or crop them first")
    images = np.stack([im[..., 0] if im.ndim == 3 and im.shape[2] == 1 else im for im in items])
    if labels is not None and len(labels) != len(images):
        labels = None
    if overlays is None:
        from . import data

        overlays = data.overlay_set()
    overlays = overlays if hasattr(overlays, "__len__") else list(overlays)
    if len(overlays) == 0:
        raise ValueError("overlays must hold at least one image, got an empty set")
    names = [str(n) for n in getattr(overlays, "names", [])] or [f"S[{i}]" for i in range(len(overlays))]
    if isinstance(overlay, str):
        if overlay not in names:
            raise ValueError(f"overlay must be one of the set's names {names} or an index, got {overlay!r}")
        overlay = names.index(overlay)
    elif isinstance(overlay, bool) or not isinstance(overlay, numbers.Integral) or not 0 <= overlay < len(overlays):
        raise ValueError(f"overlay must be a name or an index in [0, {len(overlays) - 1}], got {overlay!r}")
    alpha = check_alpha(alpha)
    if not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise ValueError(f"alpha must be in [{ALPHA_RANGE[0]}, {ALPHA_RANGE[1]}] for the explorer, got {alpha}")
    top = min(N_RANGE[1], len(images))
    if isinstance(n_images, bool) or not isinstance(n_images, numbers.Integral) or not N_RANGE[0] <= n_images <= top:
        raise ValueError(f"n_images must be an integer in [{N_RANGE[0]}, {top}], got {n_images!r}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= len(overlays):
        raise ValueError(f"k must be an integer in [1, {len(overlays)}] (the number of overlays), got {k!r}")
    block = check_int(block, "block", minimum=1)
    if isinstance(show, bool) or not isinstance(show, numbers.Integral) or show < 1:
        raise ValueError(f"show must be a positive integer, got {show!r}")
    key = _prf.generate_key() if key is None else _prf.check_key(key)
    return BSSExplorer(
        images, overlays=overlays, names=names, labels=labels, alpha=alpha, n=int(n_images), overlay=int(overlay),
        attack=bool(attack), use_krtio=bool(use_krtio), seed=int(seed), key=key, k=int(k), block=block,
        show=int(show),
    )


# --------------------------------------------------------------------------- shared by the UEP and median explorers
def _face_stack(faces: Any, name: str, *, minimum: int = 1):
    """``(stack, labels, names)`` from a FaceSet, a stack or a list of photos of one shape."""
    labels = subject_names = None
    if hasattr(faces, "images"):
        stack = faces.images
        labels, subject_names = getattr(faces, "labels", None), getattr(faces, "names", None)
    else:
        stack = faces
    if isinstance(stack, np.ndarray) and is_single_image(stack):
        stack = [stack]
    if isinstance(stack, (list, tuple, np.ndarray)) and len(stack) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} photo{'s' if minimum > 1 else ''}, got {len(stack)}")
    items = check_images(stack if isinstance(stack, np.ndarray) else list(stack), name, channels=(1, 3))
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"{name} must all have the same shape, got {sorted(shapes)}; resize or crop them first")
    images = np.stack([im[..., 0] if im.ndim == 3 and im.shape[2] == 1 else im for im in items])
    return images, labels, subject_names


def _check_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray | None:
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{name} must have one label per photo ({n}), got shape {arr.shape}")
    return arr


def _check_targets(targets: Any) -> dict[str, Any]:
    if targets is None:
        return {}
    if not isinstance(targets, Mapping):
        raise TypeError(f"targets must be a dict of name to fitted recogniser, got {type(targets).__name__}")
    for key, target in targets.items():
        if not callable(getattr(target, "predict", None)):
            raise TypeError(f"targets[{key!r}] must have a predict(images) method, got {type(target).__name__}")
    return {str(k): v for k, v in targets.items()}


def _label_text(label: Any, names: Any) -> str:
    if names is not None:
        try:
            return str(names[int(label)])
        except (IndexError, KeyError, TypeError, ValueError):
            pass
    return str(label)


def _imshow(ax, img: np.ndarray, title: str) -> None:
    ax.set_axis_off()
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
    ax.set_title(title, fontsize=9)


# --------------------------------------------------------------------------- UEP explorer
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


class UEPExplorer(_Explorer):
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
        self._wire(controls)

    def _draw(self, beta: float, stored: bool, index: int = 0) -> None:
        from . import data, uep

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
            self._refuse(exc)
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
        self._publish(view, fig)

    def _answer(self, predicted: Any, label: Any) -> str:
        text = html.escape(_label_text(predicted, self._names))
        if label is None:
            return text
        return f"✓ {text}" if predicted == label else f"<b>✗ {text}</b>"

    def _table(self, view: UEPView) -> str:
        who = "" if view.label is None else f" · true: {html.escape(_label_text(view.label, self._names))}"
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
        fig = Figure(figsize=(11.0, 3.1), layout="constrained")
        axes = fig.subplots(1, 4)
        delta = np.asarray(getattr(self._delta, "delta", self._delta), dtype=np.float32)
        _imshow(axes[0], view.original, "original" + ("" if view.label is None else f"\n{_label_text(view.label, self._names)}"))
        shown = delta if delta.ndim == 2 else delta.mean(axis=2)
        lim = max(float(np.abs(shown).max()), 1e-6)
        axes[1].imshow(shown, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        axes[1].set_axis_off()
        axes[1].set_title(f"δ (tanh space, ±{lim:.2f})\n×β = {view.beta:.2f}", fontsize=9)
        _imshow(axes[2], view.perturbed, f"perturbed{' (8-bit)' if view.stored else ''}\n"
                f"{_fmt_psnr(view.psnr_perturbed)} · SSIM {view.ssim_perturbed:.3f}")
        _imshow(axes[3], view.recovered, f"recovered with δ\n{_fmt_psnr(view.psnr_recovered)} · SSIM {view.ssim_recovered:.3f}")
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
    from . import uep

    images, set_labels, names = _face_stack(faces, "faces")
    labels = _check_labels(set_labels if labels is None else labels, len(images))
    targets = _check_targets(targets)
    beta = float(beta) if isinstance(beta, numbers.Real) and not isinstance(beta, bool) else beta
    if not isinstance(beta, float) or not BETA_RANGE[0] <= beta <= BETA_RANGE[1]:
        raise ValueError(f"beta must be a number in [{BETA_RANGE[0]}, {BETA_RANGE[1]}] for the explorer, got {beta!r}")
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(images):
        raise ValueError(f"index must be an integer in [0, {len(images) - 1}], got {index!r}")
    uep.apply(images[0], delta, beta=1.0)  # the library's own checks of delta, before any widget is built
    return UEPExplorer(images, delta, targets=targets, labels=labels, names=names, beta=beta, stored=bool(stored),
                       index=int(index))


# --------------------------------------------------------------------------- median explorer
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
        Seed of ``np.random.default_rng`` that drew them.
    held : ndarray of int, shape (n,)
        Their positions in the stack.
    estimate : ndarray of shape (H, W[, C])
        :func:`imgprivacy.attacks.median_estimate` of the photos held.
    attacked : ndarray of shape (N, H, W[, C])
        :func:`imgprivacy.attacks.median_removal` of **all** photos.
    baseline, recognition : dict of str to float
        Each target's recognition rate on the perturbed and on the attacked photos
        (empty without labels).
    predictions : dict of str to ndarray of shape (N,)
        Each target's ``predict`` of the attacked photos.
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


class MedianExplorer(_Explorer):
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

    def __init__(self, perturbed, *, originals, targets, labels, names, lam, n, seed, show):
        super().__init__()
        self._perturbed, self._originals, self._targets = perturbed, originals, targets
        self._labels, self._names, self._show = labels, names, show
        self._baseline: dict[str, float] | None = None
        self._ssim_perturbed = None
        if originals is not None:
            self._ssim_perturbed = np.array([metrics.ssim(a, b) for a, b in zip(originals, perturbed)])
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
        self._wire(controls)

    def _draw(self, lam: float, n: int, seed: int) -> None:
        lam = round(float(lam), 4)
        try:
            held = np.sort(np.random.default_rng(seed).choice(len(self._perturbed), size=n, replace=False))
            estimate = attacks.median_estimate(self._perturbed[held])
            attacked = attacks.median_removal(self._perturbed, estimate, lam=lam)
            predictions = {name: np.asarray(t.predict(attacked)) for name, t in self._targets.items()}
            if self._baseline is None and self._labels is not None:
                self._baseline = {
                    name: metrics.recognition_rate(t, self._perturbed, self._labels) for name, t in self._targets.items()
                }
        except (ValueError, TypeError) as exc:
            self._refuse(exc)
            return
        recognition = {} if self._labels is None else {k: float(np.mean(p == self._labels)) for k, p in predictions.items()}
        ssim_attacked = None
        if self._originals is not None:
            ssim_attacked = np.array([metrics.ssim(a, b) for a, b in zip(self._originals, attacked)])
        view = MedianView(
            lam=lam, n=int(n), seed=int(seed), held=held, estimate=estimate, attacked=attacked,
            baseline=dict(self._baseline or {}), recognition=recognition, predictions=predictions,
            ssim_perturbed=self._ssim_perturbed, ssim_attacked=ssim_attacked,
        )
        self.status.value = html.escape(self._status_text(view))
        fig = self._figure(view)
        self._publish(view, fig)

    def _status_text(self, view: MedianView) -> str:
        parts = [f"median of {view.n} of the {len(self._perturbed)} perturbed photos (seed {view.seed}), λ = {view.lam:.2f}"]
        for name in view.recognition:
            parts.append(f"{name}: {view.baseline[name]:.2f} → {view.recognition[name]:.2f}")
        if view.ssim_attacked is not None:
            parts.append(f"mean SSIM to the clean photos {view.ssim_perturbed.mean():.3f} → {view.ssim_attacked.mean():.3f}")
        return " · ".join(parts)

    def _figure(self, view: MedianView) -> Figure:
        m = min(self._show, len(self._perturbed))
        rows = [("perturbed", self._perturbed, view.ssim_perturbed), ("attacked", view.attacked, view.ssim_attacked)]
        if self._originals is not None:
            rows.insert(0, ("clean", self._originals, None))
        fig = Figure(figsize=(1.9 * (m + 1) + 0.4, 2.4 * len(rows) + 0.6), layout="constrained")
        axes = fig.subplots(len(rows), m + 1, squeeze=False)
        for ax in axes.ravel():
            ax.set_axis_off()
        marks = list(view.predictions)
        for r, (what, stack, ssim) in enumerate(rows):
            for j in range(m):
                title = what if ssim is None else f"{what}\nSSIM {ssim[j]:.2f}"
                if what == "clean" and self._labels is not None:
                    title += f"\n{_label_text(self._labels[j], self._names)}"
                if what == "attacked" and self._labels is not None and marks:
                    title += "\n" + " ".join("✓" if view.predictions[k][j] == self._labels[j] else "✗" for k in marks)
                _imshow(axes[r, j], stack[j], title)
        _imshow(axes[0, m], view.estimate, f"median of {view.n}\n(the estimate δ')")
        _imshow(axes[1, m], 1.0 - view.estimate, "its inverse\n1 − median")
        head = f"x = λ·x' + (1 − λ)·(1 − median), λ = {view.lam:.2f}"
        if view.recognition:
            head += "\nrecognised, perturbed → attacked: " + ", ".join(
                f"{k} {view.baseline[k]:.2f} → {v:.2f}" for k, v in view.recognition.items()
            )
            head += f"\n(✓/✗ under each attacked photo: {', '.join(marks)})"
        fig.suptitle(head, fontsize=10)
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
) -> MedianExplorer:
    """Explore the median attack (section 6.3): estimate a shared perturbation from ``n`` photos, remove it with λ.

    The attacker holds ``n`` of the perturbed photos (drawn with ``seed``),
    takes their median (:func:`imgprivacy.attacks.median_estimate`) and
    blends its inverse into **all** photos
    (:func:`imgprivacy.attacks.median_removal`).  The figure shows the
    median, its inverse and a few photos before and after; the status line
    and the title give each target's recognition rate without and with the
    attack (:func:`imgprivacy.metrics.recognition_rate` on all photos).

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
        time, on the perturbed photos): keep ``N`` small for slow ones.
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

    Returns
    -------
    MedianExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, labels or targets, or an initial setting outside
        the controls' range.

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
    images, set_labels, names = _face_stack(perturbed, "perturbed")
    labels = _check_labels(set_labels if labels is None else labels, len(images))
    targets = _check_targets(targets)
    if originals is not None:
        clean, _, _ = _face_stack(originals, "originals")
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
                          n=int(n_images), seed=int(seed), show=int(show))


# --------------------------------------------------------------------------- filter explorer
#: Strengths offered by the filter explorer's slider, per filter of :data:`imgprivacy.attacks.FILTERS`.
FILTER_STEPS = {
    "blur": (0, 1, 2, 3, 4, 5),
    "median": (0, 1, 2, 3, 4, 5),
    "greyscale": (0.0, 0.25, 0.5, 0.75, 1.0),
    "gaussian": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    "jpeg": (0, 25, 50, 75, 90, 95),
    "bit-depth": (0, 1, 2, 3, 4, 5, 6, 7),
}


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
        stack (empty without labels).
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


class FilterExplorer(_Explorer):
    """The provider's filters (Fig. 17) applied live to k-RTIO or UEP faces, with each target's recognition.

    Build it with :func:`filter_explorer`.  The protected stacks are made
    once per scheme; each change of filter or strength re-filters the whole
    stack and asks every target again.

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

    def __init__(self, images, *, protected, targets, labels, names, scheme, filter_name, strength, index):
        super().__init__()
        self._images, self._protected, self._targets = images, protected, targets
        self._labels, self._names = labels, names
        self._clean_rates = (
            {} if labels is None else {name: metrics.recognition_rate(t, images, labels) for name, t in targets.items()}
        )
        self._protected_rates: dict[str, dict[str, float]] = {}
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
        self._wire(controls)

    def _new_filter(self, change) -> None:
        # the strength slider offers the new filter's steps, starting unfiltered
        slider = self.controls["strength"]
        slider.options = FILTER_STEPS[change["new"]]
        slider.value = FILTER_STEPS[change["new"]][0]

    def _draw(self, scheme: str, filter: str, strength, index: int = 0) -> None:
        if strength not in FILTER_STEPS[filter]:  # the slider is catching up with a new filter
            return
        protected = self._protected[scheme]
        try:
            filtered = attacks.apply_filter(protected, filter, strength=strength)
            photo = np.stack([self._images[index], protected[index], filtered[index]])
            predictions = {name: np.asarray(t.predict(photo)) for name, t in self._targets.items()}
            rates: dict[str, tuple[float, float, float]] = {}
            if self._labels is not None:
                if scheme not in self._protected_rates:
                    self._protected_rates[scheme] = {
                        name: metrics.recognition_rate(t, protected, self._labels) for name, t in self._targets.items()
                    }
                rates = {
                    name: (self._clean_rates[name], self._protected_rates[scheme][name],
                           metrics.recognition_rate(t, filtered, self._labels))
                    for name, t in self._targets.items()
                }
        except (ValueError, TypeError) as exc:
            self._refuse(exc)
            return
        view = FilterView(
            scheme=scheme, filter=filter, strength=strength, index=int(index), original=self._images[index],
            protected=protected[index], filtered=filtered[index],
            ssim_protected=float(np.mean([metrics.ssim(a, b) for a, b in zip(self._images, protected)])),
            ssim_filtered=float(np.mean([metrics.ssim(a, b) for a, b in zip(self._images, filtered)])),
            rates=rates, predictions=predictions,
        )
        self.status.value = self._table(view)
        fig = self._figure(view)
        self._publish(view, fig)

    def _table(self, view: FilterView) -> str:
        unit = attacks.FILTERS[view.filter].unit
        head = (f"{len(self._images)} photos protected by {view.scheme}, then {view.filter} at strength "
                f"{view.strength:g} ({unit}) · mean SSIM to the clean photos {view.ssim_protected:.3f} → "
                f"{view.ssim_filtered:.3f}")
        if not view.rates:
            return html.escape(head)
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td>" + "".join(f"<td>{r:.2f}</td>" for r in trio) + "</tr>"
            for name, trio in view.rates.items()
        )
        return (f"{html.escape(head)}<table><tr><th>recognised</th><th>clean</th><th>protected</th>"
                f"<th>protected + filter</th></tr>{rows}</table>")

    def _figure(self, view: FilterView) -> Figure:
        fig = Figure(figsize=(8.4, 3.3), layout="constrained")
        axes = fig.subplots(1, 3)
        label = None if self._labels is None else self._labels[view.index]

        def marks(column: int) -> str:
            if label is None or not view.predictions:
                return ""
            return "\n" + " ".join("✓" if p[column] == label else "✗" for p in view.predictions.values())

        _imshow(axes[0], view.original, "clean" + ("" if label is None else f" ({_label_text(label, self._names)})") + marks(0))
        _imshow(axes[1], view.protected, f"{view.scheme}" + marks(1))
        _imshow(axes[2], view.filtered, f"+ {view.filter} ({view.strength:g})" + marks(2))
        if view.predictions and label is not None:
            fig.suptitle(f"✓/✗: {', '.join(view.predictions)}", fontsize=9)
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
        called on all N photos at every redraw: keep N small for slow ones.
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
    from . import data, uep

    images, set_labels, names = _face_stack(faces, "faces")
    labels = _check_labels(set_labels if labels is None else labels, len(images))
    targets = _check_targets(targets)
    if filter not in FILTER_STEPS:
        raise ValueError(f"filter must be one of {', '.join(repr(f) for f in FILTER_STEPS)}, got {filter!r}")
    if strength not in FILTER_STEPS[filter]:
        raise ValueError(f"strength must be one of {FILTER_STEPS[filter]} for the filter {filter!r}, got {strength!r}")
    if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < len(images):
        raise ValueError(f"index must be an integer in [0, {len(images) - 1}], got {index!r}")
    key = _prf.generate_key() if key is None else _prf.check_key(key)
    overlays = data.overlay_set() if overlays is None else overlays
    ids = [f"face-{i}" for i in range(len(images))]
    protected = {"k-RTIO": krtio.perturb_batch(images, key, image_ids=ids, overlays=overlays, k=k, alpha=alpha,
                                               block=block, progress=False)}
    if delta is not None:
        protected["UEP"] = uep.apply(images, delta, beta=beta)
    return FilterExplorer(images, protected=protected, targets=targets, labels=labels, names=names, scheme="k-RTIO",
                          filter_name=filter, strength=strength, index=int(index))
