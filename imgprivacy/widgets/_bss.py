"""The BSS explorer: the naive shared overlay and the blind-signal-separation attack on it, and on k-RTIO."""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import ipywidgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import _prf, attacks, krtio, metrics
from .._validation import check_alpha, check_images, check_int
from ._base import ALPHA_RANGE, Explorer, FigureBuffers, head, image_grid, imshow, inset, subject_labels, title_at

#: Range of the BSS explorer's slider for the number of photos sharing an overlay.
N_RANGE = (2, 40)


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


class BSSExplorer(Explorer):
    """Controls for the naive overlay and the blind-signal-separation attack on it.

    Build it with :func:`bss_explorer`.  The figure is drawn by a callback
    that :meth:`Explorer.wire` calls on every change of a control.

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
        self._figures = FigureBuffers()
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
        self.wire(self._draw, controls, rows=(("alpha", "n", "seed"), ("overlay", "attack", "use_krtio")))

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
            self.refuse(exc)
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
        self.publish(view, fig)

    @staticmethod
    def _grid(nrows: int, m: int):
        """The figure of ``nrows`` rows of ``m`` photos and a column for the overlays (and ICA's weights)."""
        fig, axes = image_grid(nrows, m + 1, title_lines=2, head_lines=2, tile=1.9)
        if nrows == 3:
            ax = axes[2, m]
            ax.set_axis_on()
            inset(ax, left=0.3, bottom=0.32)  # room for the tick labels and "photo"
            ax.axhline(0, color="tab:gray", linewidth=0.5)
            ax.set_ylim(-1.1, 1.1)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("photo", fontsize=8)
            ax.tick_params(labelsize=7)
            title_at(ax, "ICA mixing weights\n(flattest = overlay)")
        return fig, axes

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
        fig, axes = self._figures.take((nrows, m), lambda: self._grid(nrows, m))

        for j in range(m):
            who = f" ({self._labels[view.indices[j]]})" if self._labels else ""
            imshow(axes[0, j], view.originals[j], f"photo {j + 1}{who}")
            imshow(axes[1, j], view.perturbed[j], f"perturbed\naffine SSIM {view.ssim_perturbed[j]:.2f}")
            if attacked:
                imshow(axes[2, j], view.recovered[j], f"recovered\naffine SSIM {view.ssim_recovered[j]:.2f}")
        if view.use_krtio:
            imshow(axes[0, m], view.true_overlay[0], "photo 1's k-RTIO overlay\n(each has its own)")
        else:
            imshow(axes[0, m], view.true_overlay, f"shared overlay\n{_short_name(view.overlay_name)}")
        if attacked:
            imshow(axes[1, m], view.result.overlay, f"estimated overlay\n|corr| {view.overlay_correlation:.2f}")
            ax = axes[2, m]
            for line in ax.get_lines()[1:]:  # the weights drawn last (the first line: the zero line)
                line.remove()
            ax.relim()
            mixing = view.result.mixing
            scaled = mixing / np.maximum(np.abs(mixing).max(axis=0), 1e-12)
            x = np.arange(1, view.n + 1)
            for c in range(scaled.shape[1]):
                chosen = c == view.result.component
                ax.plot(x, scaled[:, c], marker="o" if view.n <= 10 else None, markersize=3,
                        color="black" if chosen else "tab:gray", linewidth=2.0 if chosen else 0.8,
                        alpha=1.0 if chosen else 0.6, label="overlay" if chosen else None)
            ax.autoscale_view()
        if view.use_krtio:
            text = f"{view.n} photos, each with its own k-RTIO overlay, α = {view.alpha:.2f}"
        else:
            text = f"{view.n} photos share one overlay ({_short_name(view.overlay_name)}), α = {view.alpha:.2f}"
        if attacked:
            text += (
                f"\nmean affine SSIM to the originals: perturbed {view.mean_ssim_perturbed:.3f} → "
                f"recovered {view.mean_ssim_recovered:.3f} ({view.gain:+.3f})"
            )
        else:
            text += f"\nmean affine SSIM to the originals: perturbed {view.mean_ssim_perturbed:.3f} (attack off)"
        head(fig, text)
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
    stack, labels = subject_labels(faces)
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
        from .. import data

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

