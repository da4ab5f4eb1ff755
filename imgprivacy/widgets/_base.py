"""What the five explorers share: the :class:`Explorer` base and the checks and drawing helpers of their factories.

Private module of :mod:`imgprivacy.widgets`; the explorers' modules import
these names, the public ones are re-exported by the package.

Speed (issue 11: every explorer redraws within half a second on one CPU):
figures are placed by hand (:func:`image_grid`, no layout engine), titles
sit at a fixed height (:func:`title_at`), each layout is built twice and then
drawn into in turn (:class:`FigureBuffers`, :func:`imshow` replacing a tile's
photo in place), and PNGs are encoded at zlib level 1 (:func:`png`).
``benchmarks/bench_widgets.py`` measures the explorers.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import math
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, Sequence

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .._validation import check_images, is_single_image
from ..plotting import in_ipython

#: Range of the k-RTIO and BSS explorers' alpha slider.
ALPHA_RANGE = (0.05, 1.0)

# Figures are drawn at 96 dpi and placed by hand: no layout engine (constrained layout measured 0.5-0.75 s of a
# redraw of 18 axes), titles at a fixed height (matplotlib's automatic title placement measures every axis).
DPI = 96
WIDTH = 9.6  # inches: 922 px at 96 dpi, inside JupyterLab's 930-px column, so text of 9 pt stays 12 px
_TITLE_SIZE, _HEAD_SIZE = 9, 10  # points
_TITLE_PAD = 3.0  # points between an image and its title
_LINE = 1.25 / 72  # inches per point of font size, per line
_GAP, _MARGIN = 0.1, 0.1  # inches between tiles, around the grid


def fmt_psnr(value: float) -> str:
    """``"PSNR 31.2 dB"``, or ``"PSNR ∞"`` for identical images."""
    return "PSNR ∞" if math.isinf(value) else f"PSNR {value:.1f} dB"


class Explorer(ipywidgets.VBox):
    """What every explorer shares: controls wired to its drawing, a status line, an output area, the last drawing.

    A subclass builds its controls, calls :meth:`wire` with its drawing
    callback (which draws once), and in that callback ends with
    :meth:`publish` or, when the library refuses a setting, :meth:`refuse`
    (the message is shown, nothing is raised).
    """

    def __init__(self):
        super().__init__()
        self.figure: Figure | None = None
        self.view: Any = None
        self.draws = 0

    def wire(
        self,
        draw: Callable[..., None],
        controls: dict[str, ipywidgets.Widget],
        rows: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Call ``draw(**values)`` now and whenever a control's value changes; lay ``controls`` out in ``rows`` of names.

        The figure is put into the output area by setting its ``outputs``
        (:meth:`publish`), never by printing inside it as
        :func:`ipywidgets.interactive_output` does: a notebook runner (nbclient,
        so nbmake and nbconvert) answers every output printed inside an
        ``Output`` widget with a message to the kernel, and that exchange left
        kernels idle and runs waiting on this 2-core machine under load.
        """
        self.controls = controls
        self.status = ipywidgets.HTML()
        self.output = ipywidgets.Output()
        self._draw_callback = draw
        for control in controls.values():
            control.observe(self._redraw, names="value")
        wrap = ipywidgets.Layout(flex_flow="row wrap")
        rows = [list(controls)] if rows is None else rows
        boxes = [ipywidgets.HBox([controls[n] for n in row if n in controls], layout=wrap) for row in rows]
        self.children = (*boxes, self.status, self.output)
        self._redraw()

    def _redraw(self, change: Any = None) -> None:
        values = {name: control.value for name, control in self.controls.items()}
        if not in_ipython():  # a script or a test: an error is raised as usual
            self._draw_callback(**values)
            return
        try:
            self._draw_callback(**values)
        except Exception:  # shown where the figure was, as interactive_output does; the kernel goes on
            text = traceback.format_exc()
            self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": text},)

    def progress_area(self):
        """A context in which what is displayed (a progress bar of a slow attack) appears in the output area."""
        return self.output if in_ipython() else contextlib.nullcontext()

    def publish(self, view: Any, fig: Figure) -> None:
        """Keep ``view`` and ``fig`` as the last drawing and show the figure (a PNG in the output area)."""
        self.figure, self.view = fig, view
        self.draws += 1
        if in_ipython():
            data = base64.b64encode(png(fig)).decode("ascii")
            self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                    "data": {"image/png": data, "text/plain": "<the explorer's figure>"}},)

    def refuse(self, exc: Exception) -> None:
        """Show the library's refusal of a setting in the status line (nothing is drawn)."""
        self.status.value = f"<b>Not drawn:</b> {html.escape(str(exc))}"


def png(fig: Figure) -> bytes:
    """``fig`` encoded as the explorers show it: PNG at :data:`DPI`, fast zlib level (1).

    Level 1 instead of PIL's default 6 saves about a third of the encode
    for a file about a third larger; it is sent once, to the browser.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def image_grid(
    nrows: int,
    ncols: int,
    *,
    title_lines: int | Sequence[int] = 1,
    head_lines: int = 0,
    tile: float = 2.0,
    width: float = WIDTH,
) -> tuple[Figure, np.ndarray]:
    """A figure of ``nrows`` x ``ncols`` square axes for photos, placed by hand, and the axes (row-major).

    Each tile is ``tile`` inches, or less so that the grid fits ``width``;
    above each row there is room for ``title_lines`` lines of 9-pt title
    (one number, or one per row) and above the grid for ``head_lines``
    lines of a 10-pt :func:`head`.  No layout engine runs at draw time.
    """
    lines = [title_lines] * nrows if isinstance(title_lines, int) else list(title_lines)
    tile = min(tile, (width - 2 * _MARGIN - (ncols - 1) * _GAP) / ncols)
    titles = [n * _TITLE_SIZE * _LINE + _TITLE_PAD / 72 for n in lines]
    top = head_lines * _HEAD_SIZE * _LINE + (0.1 if head_lines else 0.0) + _MARGIN
    fig_w = 2 * _MARGIN + ncols * tile + (ncols - 1) * _GAP
    fig_h = top + sum(titles) + nrows * tile + (nrows - 1) * _GAP + _MARGIN
    fig = Figure(figsize=(fig_w, fig_h))
    axes = np.empty((nrows, ncols), dtype=object)
    y = top
    for r in range(nrows):
        y += titles[r]
        for c in range(ncols):
            x = _MARGIN + c * (tile + _GAP)
            axes[r, c] = fig.add_axes((x / fig_w, 1 - (y + tile) / fig_h, tile / fig_w, tile / fig_h))
            axes[r, c].set_axis_off()
        y += tile + _GAP
    return fig, axes


class FigureBuffers:
    """Two figures for each of the last ``layouts`` layouts, drawn into in turn (double buffering).

    Making a figure's axes costs more than drawing photos into them (about
    9 ms an axes, 0.16 s for an explorer's 18), so an explorer builds each
    layout twice (both when it first draws it) and then redraws into the
    figure it did not show last:
    :meth:`take` never returns the figure it returned just before, so the
    figure an explorer publishes is always a new object to whoever holds the
    last one, and a figure is only drawn over two redraws later.  Whatever
    a redraw shows must be set on every redraw (:func:`imshow` replaces a
    tile's photo, :func:`title_at` its title, :func:`head` the heading).
    """

    def __init__(self, layouts: int = 2):
        self._layouts = layouts
        self._entries: OrderedDict[Any, list] = OrderedDict()  # layout -> [next index, built figures...]

    def take(self, layout: Any, build: Callable[[], tuple[Figure, Any]]) -> tuple[Figure, Any]:
        """``(figure, axes)`` of ``layout`` (any hashable): two built by ``build()`` the first time, then reused."""
        entry = self._entries.pop(layout, None) or [0]
        self._entries[layout] = entry
        while len(self._entries) > self._layouts:
            self._entries.popitem(last=False)
        if len(entry) == 1:  # both at once: the explorer's first move then costs what every later one does
            entry += [build(), build()]
            return entry[1]
        entry[0] ^= 1
        return entry[1 + entry[0]]


def head(fig: Figure, text: str) -> None:
    """``text`` as the figure's 10-pt title, at the top of the room :func:`image_grid` left for it."""
    fig.suptitle(text, fontsize=_HEAD_SIZE, y=1 - _MARGIN / fig.get_figheight(), va="top")


def inset(ax, *, left: float = 0.0, bottom: float = 0.0) -> None:
    """Shrink ``ax`` by ``left`` and ``bottom`` inches, to make room for its tick labels."""
    fig_w, fig_h = ax.figure.get_size_inches()
    x, y, w, h = ax.get_position().bounds
    ax.set_position((x + left / fig_w, y + bottom / fig_h, w - left / fig_w, h - bottom / fig_h))


def subject_labels(faces: Any) -> tuple[Any, list[str] | None]:
    """``(stack, labels)``: a face set's images and each photo's subject name, or ``faces`` itself and ``None``."""
    if not hasattr(faces, "images"):
        return faces, None
    labels_arr, names = getattr(faces, "labels", None), getattr(faces, "names", None)
    labels = None
    if labels_arr is not None and names is not None:
        labels = [str(names[int(i)]) for i in np.asarray(labels_arr)]
    return faces.images, labels


def face_stack(faces: Any, name: str, *, minimum: int = 1):
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


def check_targets(targets: Any) -> dict[str, Any]:
    """``targets`` as a dict of display name to an object with ``predict`` (``{}`` for ``None``)."""
    if targets is None:
        return {}
    if not isinstance(targets, Mapping):
        raise TypeError(f"targets must be a dict of name to fitted recogniser, got {type(targets).__name__}")
    for key, target in targets.items():
        if not callable(getattr(target, "predict", None)):
            raise TypeError(f"targets[{key!r}] must have a predict(images) method, got {type(target).__name__}")
    return {str(k): v for k, v in targets.items()}


def label_text(label: Any, names: Any) -> str:
    """A label as shown: its subject's name when ``names`` has one, else the label itself."""
    if names is not None:
        try:
            return str(names[int(label)])
        except (IndexError, KeyError, TypeError, ValueError):
            pass
    return str(label)


def imshow(ax, img: np.ndarray, title: str) -> None:
    """Draw a photo in [0, 1] on ``ax`` without axes, grey or colour, with ``title``.

    On an axes drawn before (:class:`FigureBuffers`), the photo replaces the
    one of the same shape in place; otherwise it is drawn anew.
    """
    ax.set_axis_off()
    shown = img if img.ndim == 2 else np.clip(img, 0.0, 1.0)
    image_tile(ax, shown, **({"cmap": "gray", "vmin": 0.0, "vmax": 1.0} if img.ndim == 2 else {}))
    title_at(ax, title)


def image_tile(ax, img: np.ndarray, *, cmap: str | None = None, vmin: float | None = None,
               vmax: float | None = None) -> None:
    """``ax.imshow(img, ...)`` (nearest neighbour); on an axes that shows one image of that shape and colour map,
    its data replaced in place."""
    images = ax.get_images()
    if len(images) == 1:
        old = images[0]
        if old.get_array().shape == img.shape and (cmap is None or old.get_cmap().name == cmap):
            old.set_data(img)
            if vmin is not None or vmax is not None:
                old.set_clim(vmin, vmax)
            return
    for old in images:
        old.remove()
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")


def title_at(ax, title: str) -> None:
    """``title`` in 9 pt above ``ax``, at a fixed height (matplotlib's automatic placement measures every axis)."""
    ax.set_title(title, fontsize=_TITLE_SIZE, y=1.0, pad=_TITLE_PAD)
