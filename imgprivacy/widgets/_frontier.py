"""The frontier explorer: pick a setting of the privacy-utility table and see those photos protected and attacked."""

from __future__ import annotations

import html
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import attacks, krtio, metrics, uep
from .._validation import check_labels
from ..evaluate import FRONTIER_COLUMNS
from ._base import Explorer, FigureBuffers, check_targets, face_stack, image_grid, imshow, inset, label_text

#: The attacks the explorer applies to the protected photos (those of notebooks 05 and 06).
FRONTIER_ATTACKS = ("none", "blur (radius 1)", "median of the photos (λ 0.54)", "known-S (k-RTIO only)")


@dataclass(frozen=True)
class FrontierView:
    """What :class:`FrontierExplorer` drew last.

    Attributes
    ----------
    setting : dict
        The chosen row of the frontier table for the explorer's ``target``
        (scheme, alpha, block, k, beta, ssim, rate, privacy, n, pareto).
    attack : str
        One of :data:`FRONTIER_ATTACKS`.
    original, protected, attacked : ndarray of shape (n, H, W[, C])
        The photos shown, k-RTIO's ``perturb_batch`` or the UEP's ``apply``
        of them, and the attack's output.
    ssim_protected, ssim_attacked : float
        Mean SSIM of the protected and attacked photos to the originals.
    rates : dict of str to (float, float)
        Each recogniser's recognition rate on the shown photos, protected and attacked.
    """

    setting: dict
    attack: str
    original: np.ndarray
    protected: np.ndarray
    attacked: np.ndarray
    ssim_protected: float
    ssim_attacked: float
    rates: dict


def _describe(row: Mapping[str, Any]) -> str:
    if row["scheme"] == "uep":
        return f"UEP β {row['beta']:g}"
    return f"k-RTIO α {row['alpha']:g}, k {int(row['k'])}, block {int(row['block'])}"


class FrontierExplorer(Explorer):
    """A setting picker over a :func:`imgprivacy.evaluate.frontier` table, wired to protect and attack photos.

    Build it with :func:`frontier_explorer`.  The figure shows the frontier
    of the chosen recogniser with the chosen setting ringed, and the photos
    clean, protected and attacked, each with the recognisers' answers.
    """

    def __init__(self, images, labels, names, settings, *, targets, target, key, overlays, delta, ids, index):
        super().__init__()
        self._images, self._labels, self._names = images, labels, names
        self._settings, self._targets, self._target = settings, targets, target
        self._key, self._overlays, self._delta, self._ids = key, overlays, delta, ids
        self._figures = FigureBuffers()
        style = {"description_width": "initial"}
        options = [(f"{_describe(r)} · SSIM {r['ssim']:.2f} · {target} {r['rate']:.2f}{' · Pareto' if r['pareto'] else ''}", i)
                   for i, r in enumerate(settings)]
        controls = {
            "setting": ipywidgets.Dropdown(options=options, value=index, description="setting", style=style,
                                           layout=ipywidgets.Layout(width="560px")),
            "attack": ipywidgets.Dropdown(options=FRONTIER_ATTACKS, value="none", description="attack", style=style),
        }
        self.wire(self._draw, controls)

    def protect(self, row: Mapping[str, Any]) -> np.ndarray:
        """The photos protected with the setting ``row`` (the key, overlays and UEP the explorer holds)."""
        if row["scheme"] == "uep":
            return uep.apply(self._images, self._delta, beta=float(row["beta"]))
        return krtio.perturb_batch(self._images, self._key, image_ids=self._ids, overlays=self._overlays,
                                   k=int(row["k"]), alpha=float(row["alpha"]), block=int(row["block"]), progress=False)

    def attack(self, protected: np.ndarray, row: Mapping[str, Any], name: str) -> np.ndarray:
        """What the attack ``name`` makes of the protected photos."""
        if name == FRONTIER_ATTACKS[1]:
            return attacks.apply_filter(protected, "blur", strength=1)
        if name == FRONTIER_ATTACKS[2]:
            return attacks.median_removal(protected, attacks.median_estimate(protected), lam=0.54)
        if name == FRONTIER_ATTACKS[3]:
            if row["scheme"] != "krtio":
                raise ValueError("the known-S attack finds k-RTIO's overlays in S; choose a k-RTIO setting for it")
            return attacks.known_overlay_attack(protected, self._overlays, alpha=float(row["alpha"]), k=int(row["k"]),
                                                block=int(row["block"])).recovered
        return protected

    def _draw(self, setting: int, attack: str) -> None:
        row = self._settings[setting]
        try:
            protected = self.protect(row)
            attacked = self.attack(protected, row, attack)
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
            return
        rates = {}
        if self._labels is not None:
            rates = {name: (metrics.recognition_rate(t, protected, self._labels),
                            metrics.recognition_rate(t, attacked, self._labels)) for name, t in self._targets.items()}
        view = FrontierView(
            setting=dict(row), attack=attack, original=self._images, protected=protected, attacked=attacked,
            ssim_protected=float(np.mean([metrics.ssim(a, b) for a, b in zip(self._images, protected)])),
            ssim_attacked=float(np.mean([metrics.ssim(a, b) for a, b in zip(self._images, attacked)])), rates=rates,
        )
        self.status.value = self._status(view)
        self.publish(view, self._figure(view))

    def _status(self, view: FrontierView) -> str:
        row = view.setting
        head = (f"{_describe(row)}: over the evaluated faces, SSIM {row['ssim']:.2f}, {self._target} recognises "
                f"{row['rate']:.2f} (n = {int(row['n'])}){' · on the Pareto frontier' if row['pareto'] else ''}. "
                f"The {len(view.original)} photos shown: SSIM {view.ssim_protected:.2f} protected, "
                f"{view.ssim_attacked:.2f} attacked ({view.attack}).")
        if not view.rates:
            return html.escape(head)
        cells = "".join(f"<tr><td>{html.escape(n)}</td><td>{p:.2f}</td><td>{a:.2f}</td></tr>" for n, (p, a) in view.rates.items())
        return (f"{html.escape(head)}<table><tr><th>recogniser</th><th>protected</th><th>attacked</th></tr>"
                f"{cells}</table>")

    def _figure(self, view: FrontierView) -> Figure:
        n = len(view.original)
        fig, grid = self._figures.take(("frontier", n), lambda: self._layout(n))
        ax = fig.axes[-1]
        ax.clear()
        mine = [r for r in self._settings]
        for scheme, colour in (("krtio", "0.35"), ("uep", "tab:orange")):
            pts = [(r["ssim"], r["privacy"]) for r in mine if r["scheme"] == scheme]
            if pts:
                ax.scatter(*zip(*pts), s=12, color=colour, label="k-RTIO" if scheme == "krtio" else "UEP")
            front = sorted((r["ssim"], r["privacy"]) for r in mine if r["scheme"] == scheme and r["pareto"])
            if front:
                ax.plot(*zip(*front), "-" if scheme == "krtio" else "--", color=colour, lw=1)
        ax.scatter([view.setting["ssim"]], [view.setting["privacy"]], s=120, facecolors="none", edgecolors="tab:red",
                   linewidths=1.5)
        ax.set_xlabel("mean SSIM", fontsize=8)
        ax.set_ylabel(f"1 - {self._target} rate", fontsize=8)
        ax.set_ylim(-0.03, 1.03)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper right")
        ax.set_title("the chosen setting (ring)", fontsize=9)
        for c in range(n):
            truth = "" if self._labels is None else label_text(self._labels[c], self._names)
            answers = {name: t for name, t in self._targets.items()}
            for r, (what, stack) in enumerate((("clean", view.original), ("protected", view.protected),
                                              ("attacked", view.attacked))):
                said = ""
                if answers and self._labels is not None:
                    first = next(iter(answers))
                    guess = answers[first].predict(stack[c:c + 1])[0]
                    said = f"\n{'✓' if guess == self._labels[c] else '✗'} {label_text(guess, self._names)}"
                imshow(grid[r, c + 2], stack[c], (f"{what} · {truth}" if r == 0 else what) + said)
        return fig

    @staticmethod
    def _layout(n: int):
        fig, grid = image_grid(3, n + 2, title_lines=2, tile=1.5)
        boxes = [grid[r, c].get_position() for r in range(3) for c in range(2)]
        for r in range(3):
            for c in range(2):
                fig.delaxes(grid[r, c])
        x0, y0 = min(b.x0 for b in boxes), min(b.y0 for b in boxes)
        x1, y1 = max(b.x1 for b in boxes), max(b.y1 for b in boxes)
        ax = fig.add_axes((x0, y0, x1 - x0, y1 - y0))
        inset(ax, left=0.45, bottom=0.4)
        return fig, grid


def frontier_explorer(
    faces: Any,
    table,
    *,
    targets: Mapping[str, Any] | None = None,
    target: str = "dlib ResNet",
    key: bytes,
    overlays: Any,
    delta: Any = None,
    labels: Any = None,
    image_ids: Any = None,
    setting: int = 0,
) -> FrontierExplorer:
    """Explore the privacy-utility frontier: pick a setting, see those photos protected and attacked.

    The settings are the rows of ``table`` (:func:`imgprivacy.evaluate.frontier`)
    for ``target``, k-RTIO and UEP; the chosen one protects the photos with
    :func:`imgprivacy.krtio.perturb_batch` (``key``, ``overlays``,
    ``image_ids``) or :func:`imgprivacy.uep.apply` (``delta``), and the
    chosen attack of notebooks 05 and 06 (a blur, the median of the photos,
    the known-S block attack) is applied to them.

    Parameters
    ----------
    faces : ndarray of shape (n, H, W[, C]), or FaceSet
        The few photos to show (about 4), float in [0, 1].
    table : pandas.DataFrame
        A table of :func:`imgprivacy.evaluate.frontier`.
    targets : dict of str to recogniser, optional
        Their recognition rates on the photos shown are in the status line;
        the first one's answer is under each photo.
    target : str, default "dlib ResNet"
        The recogniser whose frontier is drawn and whose rates label the settings.
    key : bytes
        The k-RTIO key the table was measured with (e.g. ``EVALUATION_KEY``).
    overlays : sequence of images or OverlaySet
        The overlay set ``S``.
    delta : UEPResult or ndarray, optional
        The UEP; required when the table has UEP settings.
    labels : array-like of shape (n,), optional
        True labels (default: the face set's).
    image_ids : sequence of str, optional
        k-RTIO ids of the photos (default ``face-0``, ``face-1``, ..., the
        ids :func:`imgprivacy.evaluate.sweep` gives the faces it evaluates,
        so the first faces of a sweep are protected here as they were there).
    setting : int, default 0
        Initial setting (an index into the settings, k-RTIO first, in table order).

    Returns
    -------
    FrontierExplorer

    Raises
    ------
    ValueError, TypeError
        For a table that is not a frontier table, an unknown target, UEP
        settings without ``delta``, or malformed photos.
    """
    import pandas as pd

    images, set_labels, names = face_stack(faces, "faces")
    labels = check_labels(set_labels if labels is None else labels, len(images), required=False)
    targets = check_targets(targets)
    if not isinstance(table, pd.DataFrame) or any(c not in table.columns for c in FRONTIER_COLUMNS):
        raise TypeError("table must be a pandas DataFrame made by imgprivacy.evaluate.frontier")
    rows = table[(table["target"] == target) & (table["scheme"] != "clean")]
    if not len(rows):
        raise ValueError(f"target must be a recogniser of the table ({', '.join(dict.fromkeys(table['target']))}), got {target!r}")
    if (rows["scheme"] == "uep").any() and delta is None:
        raise ValueError("the table has UEP settings: pass the UEP as delta (e.g. imgprivacy.uep.cached())")
    settings = rows.to_dict("records")
    if isinstance(setting, bool) or not isinstance(setting, numbers.Integral) or not 0 <= setting < len(settings):
        raise ValueError(f"setting must be an integer in [0, {len(settings) - 1}], got {setting!r}")
    ids = [f"face-{i}" for i in range(len(images))] if image_ids is None else [str(i) for i in image_ids]
    if len(ids) != len(images):
        raise ValueError(f"image_ids must have one id per photo ({len(images)}), got {len(ids)}")
    return FrontierExplorer(images, labels, names, settings, targets=targets, target=target, key=key,
                            overlays=overlays, delta=delta, ids=ids, index=int(setting))
