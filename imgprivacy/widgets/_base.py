"""What the five explorers share: the :class:`Explorer` base and the checks and drawing helpers of their factories.

Private module of :mod:`imgprivacy.widgets`; the explorers' modules import
these names, the public ones are re-exported by the package.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping
from typing import Any, Callable, Sequence

import ipywidgets
import numpy as np
from matplotlib.figure import Figure

from .._validation import check_images, is_single_image
from ..plotting import in_ipython

#: Range of the k-RTIO and BSS explorers' alpha slider.
ALPHA_RANGE = (0.05, 1.0)


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
        """Register ``controls`` with :func:`ipywidgets.interactive_output` for ``draw``, laid out in ``rows`` of names (default one)."""
        self.controls = controls
        self.status = ipywidgets.HTML()
        self.output = ipywidgets.interactive_output(draw, controls)
        wrap = ipywidgets.Layout(flex_flow="row wrap")
        rows = [list(controls)] if rows is None else rows
        boxes = [ipywidgets.HBox([controls[n] for n in row if n in controls], layout=wrap) for row in rows]
        self.children = (*boxes, self.status, self.output)

    def publish(self, view: Any, fig: Figure) -> None:
        """Keep ``view`` and ``fig`` as the last drawing and show the figure."""
        self.figure, self.view = fig, view
        self.draws += 1
        _display(fig)

    def refuse(self, exc: Exception) -> None:
        """Show the library's refusal of a setting in the status line (nothing is drawn)."""
        self.status.value = f"<b>Not drawn:</b> {html.escape(str(exc))}"


def _display(fig: Figure) -> None:
    """Show ``fig`` as a PNG in the current output area when running under IPython."""
    if not in_ipython():
        return
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    display(Image(data=buf.getvalue(), format="png"))


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
    """Draw a photo in [0, 1] on ``ax`` without axes, grey or colour, with ``title``."""
    ax.set_axis_off()
    if img.ndim == 2:
        ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
    ax.set_title(title, fontsize=9)
