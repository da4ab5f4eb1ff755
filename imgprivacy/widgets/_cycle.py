"""The cycle explorer: protect one photo, attack it, recover it with the key, and ask every recogniser at each step."""

from __future__ import annotations

import contextlib
import hashlib
import html
import numbers
import os
import tempfile
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .. import _prf, attacks, data, krtio, metrics, targets as targets_mod, uep
from .._validation import check_alpha, check_beta, check_delta, check_int, check_labels
from ._base import ALPHA_RANGE, Explorer, check_targets, face_stack, imshow, label_text

#: The defences the explorer offers (the UEP only when a ``delta`` is given).
DEFENCES = ("naive overlay", "k-RTIO", "UEP")
#: The attacks it offers (the robust CNN only when a ``robust`` recogniser is given).
ATTACKS = ("none", "BSS", "median", "known-S", "filter", "robust CNN")
#: Range of the slider for the number of photos sharing the perturbation (BSS and the median).
SHARED_RANGE = (2, 40)
#: Group attacks over at least this many photos, and the known-S attack, show a progress bar.
SLOW_SHARED = 20
#: The four panels of the row, left to right.
PANELS = ("original", "protected", "attacked", "recovered")

_BLOCKS = (4, 8, 16, 32)
_WHY = {
    ("BSS", "k-RTIO"): "each photo has its own overlay: there is no shared source to separate",
    ("median", "k-RTIO"): "each photo has its own overlay: the median is a blur of many overlays",
    ("known-S", "UEP"): "a UEP holds no overlay of S: the attack subtracts overlays that are not there",
    ("known-S", "naive overlay"): "the naive overlay is one unshuffled overlay of S: the attack looks for k = 1",
    ("robust CNN", "naive overlay"): "the robust CNN was retrained on k-RTIO faces, not on this scheme",
    ("robust CNN", "UEP"): "the robust CNN was retrained on k-RTIO faces, not on UEP faces",
}


@dataclass(frozen=True)
class CycleView:
    """What :class:`CycleExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    source : str
        ``"face set"`` or ``"my photo"`` (an uploaded photo, :meth:`CycleExplorer.use_photo`).
    index : int
        The face set's photo (``-1`` for an uploaded one).
    image_id : str
        The photo's id (k-RTIO's PRF input): ``face_{index:04d}.png`` or ``my_photo.png``.
    truth : label or None
        The photo's subject (``None`` for an uploaded photo: nobody knows it).
    defence, attack : str
        One of :data:`DEFENCES` and one of :data:`ATTACKS`.
    settings : dict
        Every parameter used: ``alpha``, ``k``, ``block``, ``overlay``, ``beta``,
        ``n``, ``lam``, ``seed``, ``filter``, ``strength``.
    original, protected, attacked, recovered : ndarray
        The photo; what the provider gets (the protected photo stored as a
        16-bit PNG, :func:`imgprivacy.data.to_uint` then ``to_float``); the
        attack's output; and what the owner recovers from the stored photo
        with the key (:func:`imgprivacy.krtio.recover`,
        :func:`imgprivacy.uep.remove`, :func:`imgprivacy.attacks.remove_naive_overlay`).
    ssim, ssim_affine : dict of str to float
        :func:`imgprivacy.metrics.ssim` and :func:`imgprivacy.metrics.ssim_affine`
        of ``"protected"``, ``"attacked"`` and ``"recovered"`` to the original.
    recovery_error : float
        ``max |recovered - original|``.
    group : ndarray of int or None
        With BSS and the median: the face set's photos that share the
        perturbation with this one (``-1`` for the uploaded photo, always first).
    group_ssim : (float, float) or None
        Their mean affine SSIM to the originals, protected and attacked.
    predictions : dict of str to tuple
        Each recogniser's answer for the four panels (:data:`PANELS`), ``None``
        where it was not asked (the robust CNN is asked about the attacked panel only).
    seconds : float
        How long the attack took (protecting the photos that share the perturbation included).
    note : str
        Why this attack fails against this defence, where it is not meant to work; else ``""``.
    """

    source: str
    index: int
    image_id: str
    truth: Any
    defence: str
    attack: str
    settings: dict
    original: np.ndarray
    protected: np.ndarray
    attacked: np.ndarray
    recovered: np.ndarray
    ssim: dict
    ssim_affine: dict
    recovery_error: float
    group: np.ndarray | None
    group_ssim: tuple | None
    predictions: dict
    seconds: float
    note: str

    @property
    def correct(self) -> dict:
        """Each recogniser's right (True) / wrong (False) answer per panel; ``None`` where unknown or not asked."""
        return {name: tuple(None if p is None or self.truth is None else bool(p == self.truth) for p in preds)
                for name, preds in self.predictions.items()}

    @property
    def gain(self) -> float:
        """What the attack gained: mean affine SSIM over the group (or of this photo), attacked minus protected."""
        if self.group_ssim is not None:
            return float(self.group_ssim[1] - self.group_ssim[0])
        return float(self.ssim_affine["attacked"] - self.ssim_affine["protected"])


class _Answers:
    """Each recogniser's answer for an image, remembered by the image's bytes (a changed image is asked again)."""

    def __init__(self, size: int = 512):
        self._memo: OrderedDict[tuple[str, bytes], Any] = OrderedDict()
        self._size = size

    @staticmethod
    def _digest(image: np.ndarray) -> bytes:
        return hashlib.blake2b(np.ascontiguousarray(image).tobytes() + repr(image.shape).encode(), digest_size=16).digest()

    def ask(self, name: str, target: Any, images: list[np.ndarray | None]) -> tuple:
        """``target``'s answer for each image (``None`` for ``None``), asking it once about the new ones."""
        keys = [None if im is None else (name, self._digest(im)) for im in images]
        fresh: dict[tuple[str, bytes], np.ndarray] = {}  # one question per distinct image not seen before
        for k, im in zip(keys, images):
            if k is not None and k not in self._memo and k not in fresh:
                fresh[k] = im
        if fresh:
            answers = np.asarray(target.predict(np.stack(list(fresh.values()))))
            for k, a in zip(fresh, answers):
                self._memo[k] = a.item() if hasattr(a, "item") else a
        for k in keys:
            if k is not None:
                self._memo.move_to_end(k)
        while len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return tuple(None if k is None else self._memo[k] for k in keys)


class CycleExplorer(Explorer):
    """One photo through the whole cycle: original → protected → attacked → recovered with the key.

    Build it with :func:`cycle_explorer`.  Every control change redraws the
    row through the library; each recogniser's answer is remembered by the
    image it was asked about, so only images that changed are asked again.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"source"``, ``"index"``, ``"defence"``, ``"alpha"``, ``"k"``,
        ``"block"``, ``"overlay"``, ``"beta"``, ``"attack"``, ``"n"``,
        ``"lam"``, ``"seed"``, ``"filter"``, ``"strength"`` and ``"upload"``
        (a hidden counter of uploaded photos).  Controls that do not apply to
        the chosen defence or attack are hidden.
    upload : ipywidgets.FileUpload
        Upload a photo of your own (:meth:`use_photo`).
    status : ipywidgets.HTML
    output : ipywidgets.Output
    figure : matplotlib.figure.Figure or None
    view : CycleView or None
    draws : int
    photo : FaceCrop or None
        The uploaded photo's face, once one was found.
    """

    def __init__(self, images, *, labels, names, targets, robust, key, overlays, delta, detector, depth, initial):
        super().__init__()
        self._images, self._labels, self._names = images, labels, names
        self._targets, self._robust, self._key = targets, robust, key
        self._overlays, self._delta, self._detector, self._depth = overlays, delta, detector, depth
        self._cache = krtio.OverlayCache(overlays)
        self._answers = _Answers()
        self._groups: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._panels: list | None = None
        self._panels_figure: Figure | None = None
        self.photo = None
        overlay_names = [str(n) for n in getattr(overlays, "names", [])] or [f"S[{i}]" for i in range(len(overlays))]
        self._overlay_names = overlay_names
        style = {"description_width": "initial"}
        defences = [d for d in DEFENCES if d != "UEP" or delta is not None]
        offered = [a for a in ATTACKS if a != "robust CNN" or robust is not None]
        strengths = attacks.FILTERS[initial["filter"]].strengths

        def slider(cls, value, lo, hi, step, text):
            return cls(value=value, min=lo, max=hi, step=step, description=text, continuous_update=False, style=style)

        controls: dict[str, ipywidgets.Widget] = {
            "source": ipywidgets.ToggleButtons(options=["face set", "my photo"], value="face set",
                                               description="photo", style=style),
            "index": slider(ipywidgets.IntSlider, initial["index"], 0, len(images) - 1, 1, "face"),
            "defence": ipywidgets.ToggleButtons(options=defences, value=initial["defence"], description="defence",
                                                style=style),
            "alpha": slider(ipywidgets.FloatSlider, initial["alpha"], ALPHA_RANGE[0], ALPHA_RANGE[1], 0.05,
                            "α (photo weight)"),
            "k": slider(ipywidgets.IntSlider, initial["k"], 1, len(overlays), 1, "k (overlays)"),
            "block": ipywidgets.SelectionSlider(options=list(_BLOCKS), value=initial["block"], description="block (px)",
                                                continuous_update=False, style=style),
            "overlay": ipywidgets.Dropdown(options=[(n, i) for i, n in enumerate(overlay_names)],
                                           value=initial["overlay"], description="shared overlay", style=style),
            "beta": slider(ipywidgets.FloatSlider, initial["beta"], 0.0, 5.0, 0.25, "β (UEP weight)"),
            "attack": ipywidgets.Dropdown(options=offered, value=initial["attack"], description="attack", style=style),
            "n": slider(ipywidgets.IntSlider, initial["n"], SHARED_RANGE[0], min(SHARED_RANGE[1], len(images)), 1,
                        "N (photos sharing it)"),
            "lam": slider(ipywidgets.FloatSlider, initial["lam"], 0.30, 0.70, 0.01, "λ (median)"),
            "seed": slider(ipywidgets.IntSlider, initial["seed"], 0, 99, 1, "draw (seed)"),
            "filter": ipywidgets.Dropdown(options=list(attacks.FILTERS), value=initial["filter"], description="filter",
                                          style=style),
            "strength": ipywidgets.SelectionSlider(options=strengths, value=initial["strength"], description="strength",
                                                   continuous_update=False, style=style),
            "upload": ipywidgets.IntText(value=0, description="uploads", disabled=True),
        }
        self.upload = ipywidgets.FileUpload(accept="image/*", multiple=False, description="my photo…")
        self.upload.observe(self._on_upload, names="value")
        controls["filter"].observe(self._new_filter, names="value")
        self.wire(self._draw, controls, rows=(("source", "index"), ("defence", "alpha", "k", "block", "overlay", "beta"),
                                              ("attack", "n", "lam", "seed", "filter", "strength")))
        first = self.children[0]
        first.children = (*first.children, self.upload)

    # -- uploads -----------------------------------------------------------------------------------

    def _on_upload(self, change) -> None:
        files = change["new"]
        if not files:
            return
        content = bytes(files[0]["content"])  # ipywidgets 8: a tuple of dicts
        self.upload.value = ()  # keep no copy in the widget's state (JupyterLab may save that state in the notebook)
        self.use_photo(content)

    def use_photo(self, photo: bytes | np.ndarray):
        """Put a photo of your own through the cycle: its largest face, cropped to the face set's format.

        Parameters
        ----------
        photo : bytes or ndarray of shape (H, W[, C])
            An image file's content (PNG, JPEG, ... as the upload button
            gives it; read with :func:`imgprivacy.data.read_image` from a
            temporary file on this machine) or a canonical float photo.

        Returns
        -------
        FaceCrop or None
            The face found (:func:`imgprivacy.targets.crop_face`), now the
            explorer's photo; ``None`` when the photo could not be read or no
            face was found, which the status line then says (nothing else changes).
        """
        try:
            if isinstance(photo, (bytes, bytearray, memoryview)):
                with tempfile.TemporaryDirectory() as folder:
                    path = os.path.join(folder, "upload")
                    with open(path, "wb") as f:
                        f.write(bytes(photo))
                    image = data.read_image(path).image
            else:
                image = photo
            crop = targets_mod.crop_face(image, like=self._images, detector=self._detector)
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
            return None
        self.photo = crop
        if self.controls["source"].value == "my photo":
            self.controls["upload"].value += 1  # redraws
        else:
            self.controls["source"].value = "my photo"  # redraws
        return crop

    # -- controls ----------------------------------------------------------------------------------

    def _new_filter(self, change) -> None:
        # offer the new filter's strengths and start at a middle one, so that the filter visibly does something
        steps = attacks.FILTERS[change["new"]].strengths
        slider = self.controls["strength"]
        slider.options = steps
        slider.value = steps[len(steps) // 2]

    def _show_relevant(self, defence: str, attack: str) -> None:
        shown = {"alpha": defence != "UEP", "k": defence == "k-RTIO", "block": defence == "k-RTIO",
                 "overlay": defence == "naive overlay", "beta": defence == "UEP",
                 "n": attack in ("BSS", "median"), "lam": attack == "median", "seed": attack in ("BSS", "median"),
                 "filter": attack == "filter", "strength": attack == "filter"}
        for name, visible in shown.items():
            self.controls[name].layout.display = None if visible else "none"

    # -- the cycle ---------------------------------------------------------------------------------

    def _naive(self, block: int, overlay: int) -> np.ndarray:
        shape = self._images.shape[1:]
        fitted = self._cache.get(shape, block=block).fitted(overlay)[: shape[0], : shape[1]]
        return fitted[..., 0] if len(shape) == 2 else fitted

    def _protect(self, stack: np.ndarray, ids: list[str], defence: str, s: dict, progress: bool) -> np.ndarray:
        if defence == "naive overlay":
            out = attacks.naive_overlay(stack, self._naive(s["block"], s["overlay"]), alpha=s["alpha"])
        elif defence == "k-RTIO":
            prep = self._cache.get(stack.shape[1:], block=s["block"])
            out = krtio.perturb_batch(stack, self._key, image_ids=ids, overlays=prep, k=s["k"], alpha=s["alpha"],
                                      block=s["block"], progress=progress)
        else:
            out = uep.apply(stack, self._delta, beta=s["beta"])
        return data.to_float(data.to_uint(np.asarray(out), depth=self._depth))  # stored as a lossless PNG would

    def _recover(self, stored: np.ndarray, image_id: str, defence: str, s: dict) -> np.ndarray:
        if defence == "naive overlay":
            return attacks.remove_naive_overlay(stored, self._naive(s["block"], s["overlay"]), alpha=s["alpha"])
        if defence == "k-RTIO":
            prep = self._cache.get(stored.shape, block=s["block"])
            return krtio.recover(stored, self._key, image_id=image_id, overlays=prep, k=s["k"], alpha=s["alpha"],
                                 block=s["block"])
        return uep.remove(stored, self._delta, beta=s["beta"])

    def _group(self, photo, index, image_id, defence, s, progress):
        """The photos sharing the perturbation (this one first), protected and stored; the last draw is remembered."""
        key = (index, image_id, defence, s["n"], s["seed"], s["alpha"], s["k"], s["block"], s["overlay"], s["beta"],
               self.controls["upload"].value if index < 0 else 0)
        if key not in self._groups:
            pool = np.array([i for i in range(len(self._images)) if i != index])
            others = np.sort(np.random.default_rng(s["seed"]).choice(pool, size=s["n"] - 1, replace=False))
            stack = np.concatenate([photo[None], self._images[others]])
            ids = [image_id] + [f"face_{i:04d}.png" for i in others]
            self._groups = {key: (np.concatenate([[index], others]), self._protect(stack, ids, defence, s, progress))}
        return self._groups[key]

    def _attack(self, attack, defence, photo, stored, index, image_id, s, bar):
        """``(attacked, group, group_ssim)`` for the stored protected photo; ``bar`` counts the steps."""
        if attack in ("BSS", "median"):
            group, shared = self._group(photo, index, image_id, defence, s, False)
            bar.update()
            bar.set_postfix_str("separating" if attack == "BSS" else "taking the median")
            if attack == "BSS":
                out = attacks.bss_fastica(shared).recovered
            else:
                out = attacks.median_removal(shared, attacks.median_estimate(shared), lam=s["lam"])
            clean = np.concatenate([photo[None], self._images[group[1:]]])
            score = (float(np.mean([metrics.ssim_affine(a, b) for a, b in zip(clean, shared)])),
                     float(np.mean([metrics.ssim_affine(a, b) for a, b in zip(clean, out)])))
            return out[0], group, score
        bar.update()
        bar.set_postfix_str(attack)
        if attack == "known-S":
            k = 1 if defence == "naive overlay" else s["k"]
            prep = self._cache.get(stored.shape, block=s["block"])
            result = attacks.known_overlay_attack(stored, prep, alpha=s["alpha"], k=k, block=s["block"])
            return result.recovered, None, None
        if attack == "filter":
            return attacks.apply_filter(stored[None], s["filter"], strength=s["strength"])[0], None, None
        return stored, None, None  # "none", and "robust CNN": the provider changes its recogniser, not the photo

    def _draw(self, source, index, defence, alpha, k, block, overlay, beta, attack, n, lam, seed, filter, strength,
              upload) -> None:
        start = time.perf_counter()
        self._show_relevant(defence, attack)
        if strength not in attacks.FILTERS[filter].strengths:  # the slider is catching up with a new filter
            return
        s = dict(alpha=round(float(alpha), 4), k=int(k), block=int(block), overlay=int(overlay),
                 beta=round(float(beta), 4), n=int(n), lam=round(float(lam), 4), seed=int(seed), filter=filter,
                 strength=strength)
        if source == "my photo" and self.photo is None:
            self.refuse(ValueError("no photo of yours yet: upload one with the button (it stays on this machine)"))
            return
        mine = source == "my photo"
        photo = self.photo.face if mine else self._images[index]
        index = -1 if mine else int(index)
        image_id = "my_photo.png" if mine else f"face_{index:04d}.png"
        truth = None if mine or self._labels is None else self._labels[index]
        from tqdm.auto import tqdm

        slow = attack == "known-S" or (attack in ("BSS", "median") and s["n"] >= SLOW_SHARED)
        with self.progress_area() if slow else contextlib.nullcontext():  # the bar shows where the figure will be
            bar = tqdm(total=3, desc=self._describe_attack(attack, s), disable=not slow, leave=False)
            try:
                bar.set_postfix_str("protecting")
                stored = self._protect(photo[None], [image_id], defence, s, False)[0]
                recovered = self._recover(stored, image_id, defence, s)
                t0 = time.perf_counter()
                attacked, group, group_ssim = self._attack(attack, defence, photo, stored, index, image_id, s, bar)
                seconds = time.perf_counter() - t0
                bar.update()
                bar.set_postfix_str("asking the recognisers")
                panels = [photo, stored, attacked, recovered]
                predictions = {name: self._answers.ask(name, t, panels) for name, t in self._targets.items()}
                if attack == "robust CNN":
                    predictions["robust CNN"] = self._answers.ask("robust CNN", self._robust,
                                                                  [None, None, attacked, None])
                bar.update()
            except (ValueError, TypeError) as exc:
                self.refuse(exc)
                return
            finally:
                bar.close()
        if truth is not None and hasattr(truth, "item"):
            truth = truth.item()
        view = CycleView(
            source=source, index=index, image_id=image_id, truth=truth, defence=defence, attack=attack, settings=s,
            original=photo, protected=stored, attacked=attacked, recovered=recovered,
            ssim={p: metrics.ssim(photo, x) for p, x in zip(PANELS[1:], panels[1:])},
            ssim_affine={p: metrics.ssim_affine(photo, x) for p, x in zip(PANELS[1:], panels[1:])},
            recovery_error=float(np.abs(recovered - photo).max()), group=group, group_ssim=group_ssim,
            predictions=predictions, seconds=seconds, note=_WHY.get((attack, defence), ""),
        )
        fig = self._figure(view)
        self.status.value = html.escape(self._status_text(view, time.perf_counter() - start))
        self.publish(view, fig)

    # -- what is shown -----------------------------------------------------------------------------

    @staticmethod
    def _describe_attack(attack: str, s: dict) -> str:
        return {"none": "no attack", "BSS": f"BSS over {s['n']} photos", "median": f"median of {s['n']}, λ {s['lam']:.2f}",
                "known-S": "known-S attack", "filter": f"{s['filter']} {s['strength']:g}",
                "robust CNN": "robust CNN"}[attack]

    def _describe(self, view: CycleView) -> tuple[str, str]:
        s = view.settings
        if view.defence == "naive overlay":
            defence = f"naive overlay {self._overlay_names[s['overlay']]}, α {s['alpha']:.2f}"
        elif view.defence == "k-RTIO":
            defence = f"k-RTIO α {s['alpha']:.2f}, k {s['k']}, {s['block']} px"
        else:
            defence = f"UEP β {s['beta']:.2f}"
        return defence, self._describe_attack(view.attack, s)

    def _name(self, label: Any) -> str:
        if self._names is not None and isinstance(label, numbers.Integral) and not 0 <= int(label) < len(self._names):
            return f"{label} (none)"  # e.g. dlib's 'unknown' label
        return label_text(label, self._names)

    def _status_text(self, view: CycleView, seconds: float) -> str:
        defence, attack = self._describe(view)
        if view.source == "my photo":
            who = f"your photo (face found at {self.photo.box}, of {self.photo.faces_found})"
        else:
            who = f"face {view.index}" + ("" if view.truth is None else f" ({self._name(view.truth)})")
        parts = [f"{who}, id {view.image_id}", defence]
        if view.defence == "k-RTIO":
            parts.append(f"key check value {_prf.key_check_value(self._key)}")
        if view.group_ssim is not None:
            parts.append(f"{attack}: mean affine SSIM of the {len(view.group)} photos {view.group_ssim[0]:.2f} → "
                         f"{view.group_ssim[1]:.2f} ({view.gain:+.2f})")
        else:
            parts.append(attack)
        if view.note:
            parts.append(view.note)
        parts.append(f"recovered with the key: max error {view.recovery_error:.1e}")
        parts.append(f"attack {view.seconds:.2f} s, redraw {seconds:.2f} s")
        return " · ".join(parts)

    def _figure(self, view: CycleView) -> Figure:
        """The row of four panels.  Built once and then updated: creating axes costs more than drawing them."""
        defence, attack = self._describe(view)
        titles = [
            ("your photo" if view.source == "my photo" else "original")
            + ("" if view.truth is None else f" · {self._name(view.truth)}"),
            f"protected: {defence}\nSSIM {view.ssim['protected']:.2f} · affine {view.ssim_affine['protected']:.2f}",
            f"attacked: {attack}\nSSIM {view.ssim['attacked']:.2f} · affine {view.ssim_affine['attacked']:.2f}",
            f"recovered with the key\nmax error {view.recovery_error:.1e}",
        ]
        images = (view.original, view.protected, view.attacked, view.recovered)
        if self._panels is None:
            self._panels = self._layout(images)
        for j, (img, title) in enumerate(zip(images, titles)):
            picture, head, verdicts = self._panels[j]
            picture.set_data(img if img.ndim == 2 else np.clip(img, 0.0, 1.0))
            head.set_text(title)
            lines = [(name, preds[j]) for name, preds in view.predictions.items() if preds[j] is not None]
            for row, text in enumerate(verdicts):
                if row >= len(lines):
                    text.set_text("")
                    continue
                name, answer = lines[row]
                right = None if view.truth is None else answer == view.truth
                text.set_text(f"{name}: {self._name(answer)}" + {None: "", True: " ✓", False: " ✗"}[right])
                text.set_color({None: "black", True: "tab:green", False: "tab:red"}[right])
        return self._panels_figure

    def _layout(self, images) -> list:
        rows = len(self._targets) + (self._robust is not None)  # verdict lines under a panel, at most
        side, top, line = 2.2, 0.5, 0.19  # inches: the image, the two title lines above it, one verdict line
        fig = Figure(figsize=(9.6, top + side + 0.1 + line * rows))
        h = fig.get_figheight()
        panels = []
        for j, img in enumerate(images):
            ax = fig.add_axes((0.015 + j * 0.25, 1 - (top + side) / h, 0.22, side / h))
            imshow(ax, img, "")
            # a text, not the axes' title: placing a title measures the (hidden) axes' ticks at every drawing
            head = ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center", va="bottom", fontsize=9)
            verdicts = [ax.text(0.5, -0.03 - r * line / side, "", transform=ax.transAxes, ha="center", va="top",
                                fontsize=9) for r in range(rows)]
            panels.append((ax.images[0], head, verdicts))
        self._panels_figure = fig
        return panels

def cycle_explorer(
    faces: Any,
    *,
    targets: Mapping[str, Any],
    labels: Any = None,
    robust: Any = None,
    key: bytes | None = None,
    overlays: Any = None,
    delta: Any = None,
    detector: Any = None,
    defence: str = "k-RTIO",
    attack: str = "none",
    alpha: float = 0.45,
    k: int = 3,
    block: int = 8,
    overlay: int | str = 0,
    beta: float = 3.0,
    n_shared: int = 10,
    lam: float = 0.54,
    seed: int = 0,
    filter: str = "median",
    strength: Any = 1,
    index: int = 0,
    depth: int = 16,
) -> CycleExplorer:
    """The whole cycle in one row: original → protected → attacked → recovered with the key, with every verdict.

    Pick a face of the set (or upload a photo of your own: the upload button
    and :meth:`CycleExplorer.use_photo`; its largest face is cropped to the
    set's format by :func:`imgprivacy.targets.crop_face`, on this machine),
    a defence and its parameters, and an attack:

    ==============  ==================================================================================
    defence         what the provider gets, and how the owner recovers
    ==============  ==================================================================================
    naive overlay   :func:`imgprivacy.attacks.naive_overlay` with one overlay of ``S`` for every photo;
                    the owner knows it (:func:`imgprivacy.attacks.remove_naive_overlay`)
    k-RTIO          :func:`imgprivacy.krtio.perturb` with the key and the photo's own id;
                    :func:`imgprivacy.krtio.recover`
    UEP             :func:`imgprivacy.uep.apply` of ``delta`` at ``beta``; :func:`imgprivacy.uep.remove`
    ==============  ==================================================================================

    ==========  =====================================================================================
    attack      what the provider does
    ==========  =====================================================================================
    none        nothing
    BSS         :func:`imgprivacy.attacks.bss_fastica` over ``N`` photos protected alike (this one and
                ``N - 1`` of the set drawn with ``seed``); meant for the naive overlay
    median      :func:`imgprivacy.attacks.median_estimate` of those ``N`` photos, then
                :func:`imgprivacy.attacks.median_removal` with ``λ``; meant for the UEP
    known-S     :func:`imgprivacy.attacks.known_overlay_attack` knowing ``S``, α, k and the block
    filter      :func:`imgprivacy.attacks.apply_filter` (a filter of :data:`imgprivacy.attacks.FILTERS`)
    robust CNN  no change to the photo: the provider asks ``robust`` (e.g.
                :meth:`imgprivacy.targets.RobustCNN.cached`) instead
    ==========  =====================================================================================

    The protected photo is stored as a ``depth``-bit PNG would store it, and
    every attack and the recovery start from that.  Under each image, each
    recogniser's answer (the subject's name, ✓ or ✗; for your own photo just
    the name it gives).  The status line gives the SSIM of the photos that
    share the perturbation before and after a group attack, the recovery's
    largest error and the time taken.  The known-S attack, and BSS or the
    median over ``SLOW_SHARED`` or more photos, show a progress bar.

    Parameters
    ----------
    faces : FaceSet, ndarray of shape (N, H, W) or (N, H, W, 3), or list of photos of one shape
        At least 2 float photos in [0, 1]; a face set gives the labels and names.
    targets : dict of str to recogniser
        Fitted recognisers with ``predict(images)`` by display name (e.g.
        eigenfaces, the provider CNN, dlib's ResNet).  Each is asked about the
        images that changed at each redraw (about 0.1 s per face for dlib).
    labels : array-like of shape (N,), optional
        True labels (default: the face set's).
    robust : recogniser, optional
        The provider's robust CNN; adds the attack "robust CNN".
    key : bytes, optional
        16-byte k-RTIO key; default a new random one.  Never shown, only its check value.
    overlays : sequence of images, optional
        The overlay set ``S`` (default :func:`imgprivacy.data.overlay_set`).
    delta : ndarray or UEPResult, optional
        A learned UEP (:func:`imgprivacy.uep.learn`); adds the defence "UEP".
    detector : str, detector or None, optional
        Finds the face in an uploaded photo (:func:`imgprivacy.targets.crop_face`'s default when None).
    defence, attack : str
        Initial choices, from :data:`DEFENCES` and :data:`ATTACKS`.
    alpha, k, block : float, int, int
        Initial k-RTIO parameters (α also weighs the naive overlay); block one of 4, 8, 16, 32.
    overlay : int or str, default 0
        Initial naive overlay: its position in ``S`` or its name.
    beta : float, default 3.0
        Initial UEP weight, in [0, 5].
    n_shared : int, default 10
        Initial number of photos sharing the perturbation (BSS, median), in [2, min(40, N)].
    lam : float, default 0.54
        Initial λ of the median attack, in [0.30, 0.70].
    seed : int, default 0
        Initial seed of the draw of the photos sharing the perturbation, in [0, 99].
    filter : str, default "median"
        Initial filter; ``strength`` one of its ``FILTERS[filter].strengths``.
    strength : int or float, default 1
    index : int, default 0
        Initial face.
    depth : {8, 16}, default 16
        Bits per sample the protected photo is stored with.

    Returns
    -------
    CycleExplorer
        An :class:`ipywidgets.VBox`; display it as a cell's value.

    Raises
    ------
    ValueError, TypeError
        For malformed photos, labels, targets, key, overlays or delta, or an
        initial setting the controls do not offer.

    Examples
    --------
    Skipped here because, outside a kernel, ipywidgets writes terminal
    escape codes on every redraw; ``tests/test_cycle.py`` runs the same.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((6, 16, 16), dtype=np.float32)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> w = cycle_explorer(x, targets={}, overlays=S, block=4, k=2)  # doctest: +SKIP
    >>> w.controls["attack"].value = "BSS"  # redraws  # doctest: +SKIP
    >>> w.view.attack, w.view.attacked.shape, w.view.recovery_error < 1e-4  # doctest: +SKIP
    ('BSS', (16, 16), True)
    """
    images, set_labels, names = face_stack(faces, "faces", minimum=2)
    labels = check_labels(set_labels if labels is None else labels, len(images), required=False)
    targets = check_targets(targets)
    if robust is not None and not callable(getattr(robust, "predict", None)):
        raise TypeError(f"robust must be a fitted recogniser with predict(images), got {type(robust).__name__}")
    key = _prf.generate_key() if key is None else _prf.check_key(key)
    overlays = data.overlay_set() if overlays is None else overlays
    overlays = overlays if hasattr(overlays, "__len__") else list(overlays)
    if len(overlays) == 0:
        raise ValueError("overlays must hold at least one image, got an empty set")
    if delta is not None:
        delta = check_delta(getattr(delta, "delta", delta))
    offered = [d for d in DEFENCES if d != "UEP" or delta is not None]
    if defence not in offered:
        hint = "; pass delta= to offer the UEP" if defence == "UEP" else ""
        raise ValueError(f"defence must be one of {', '.join(map(repr, offered))}, got {defence!r}{hint}")
    choices = [a for a in ATTACKS if a != "robust CNN" or robust is not None]
    if attack not in choices:
        hint = "; pass robust= to offer the robust CNN" if attack == "robust CNN" else ""
        raise ValueError(f"attack must be one of {', '.join(map(repr, choices))}, got {attack!r}{hint}")
    alpha = check_alpha(alpha)
    if not ALPHA_RANGE[0] <= alpha <= ALPHA_RANGE[1]:
        raise ValueError(f"alpha must be in [{ALPHA_RANGE[0]}, {ALPHA_RANGE[1]}] for the explorer, got {alpha}")
    k = check_int(k, "k", minimum=1, maximum=len(overlays))
    if block not in _BLOCKS or isinstance(block, bool):
        raise ValueError(f"block must be one of {_BLOCKS}, got {block!r}")
    names_s = [str(n) for n in getattr(overlays, "names", [])] or [f"S[{i}]" for i in range(len(overlays))]
    if isinstance(overlay, str):
        if overlay not in names_s:
            raise ValueError(f"overlay must be one of the set's names {names_s} or an index, got {overlay!r}")
        overlay = names_s.index(overlay)
    overlay = check_int(overlay, "overlay", minimum=0, maximum=len(overlays) - 1)
    beta = check_beta(beta)
    if beta > 5.0:
        raise ValueError(f"beta must be in [0, 5] for the explorer, got {beta}")
    n_shared = check_int(n_shared, "n_shared", minimum=SHARED_RANGE[0], maximum=min(SHARED_RANGE[1], len(images)))
    lam = check_alpha(lam, "lam")
    if not 0.30 <= lam <= 0.70:
        raise ValueError(f"lam must be in [0.30, 0.70] for the explorer, got {lam}")
    seed = check_int(seed, "seed", minimum=0, maximum=99)
    if filter not in attacks.FILTERS:
        raise ValueError(f"filter must be one of {', '.join(map(repr, attacks.FILTERS))}, got {filter!r}")
    if strength not in attacks.FILTERS[filter].strengths or isinstance(strength, bool):
        raise ValueError(f"strength must be one of {attacks.FILTERS[filter].strengths} for the filter {filter!r}, "
                         f"got {strength!r}")
    index = check_int(index, "index", minimum=0, maximum=len(images) - 1)
    if depth not in (8, 16) or isinstance(depth, bool) or not isinstance(depth, numbers.Integral):
        raise ValueError(f"depth must be 8 or 16 (bits per sample of the stored photo), got {depth!r}")
    initial = dict(defence=defence, attack=attack, alpha=alpha, k=k, block=block, overlay=overlay, beta=beta,
                   n=n_shared, lam=lam, seed=seed, filter=filter, strength=strength, index=index)
    return CycleExplorer(images, labels=labels, names=names, targets=targets, robust=robust, key=key,
                         overlays=overlays, delta=delta, detector=detector, depth=int(depth), initial=initial)
