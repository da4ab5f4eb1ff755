"""The k-RTIO explorer: sliders for k-RTIO's parameters wired to perturb and recover one photo."""

from __future__ import annotations

import html
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import ipywidgets
import numpy as np

from .. import _prf, krtio, metrics
from .._validation import check_alpha, check_ids, check_image, check_images, is_single_image
from ._base import ALPHA_RANGE, Explorer, FigureBuffers, fmt_psnr, image_grid, imshow, subject_labels

#: Block sides (pixels) offered by the explorer.
BLOCK_CHOICES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class ExplorerView:
    """What :class:`KRTIOExplorer` drew last: the settings and the library's results.

    Attributes
    ----------
    index : int
        Position of the photo in the stack (0 for a single photo).
    image_id, alpha, k, block
        The k-RTIO parameters used (``image_id``: the photo's own id, unless
        one was typed in the id box).
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


class KRTIOExplorer(Explorer):
    """Sliders for k-RTIO's parameters wired to perturb and recover one photo.

    Build it with :func:`krtio_explorer`.  The four panels are drawn by a
    callback that :meth:`Explorer.wire` calls on every change of a control.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        ``"index"`` (only for a stack), ``"alpha"``, ``"k"``, ``"block"``,
        ``"image_id"`` and ``"wrong_key"``.  The id box follows the photo
        chooser (each photo its own id, so its own overlay) until another id
        is typed in it.
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
        image_ids: list[str] | None,
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
        self._names = list(getattr(overlays, "names", [])) or None
        self._ids, self._index = image_ids, 0  # each photo's own id; the photo drawn last
        self._cache = krtio.OverlayCache(overlays)
        self._figures = FigureBuffers()  # two figures per photo shape, drawn into in turn
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
        self.wire(self._draw, controls, rows=(("index", "alpha", "k"), ("block", "image_id", "wrong_key")))

    def _follow(self, index: int, image_id: str) -> bool:
        """On a new photo, put its own id in the id box if that held the previous photo's id (none was typed).

        Setting the box redraws with the new photo and its id; returns True then, so that the caller draws nothing.
        """
        previous, self._index = self._index, index
        if self._ids is None or index == previous or image_id != self._ids[previous] or image_id == self._ids[index]:
            return False
        self.controls["image_id"].value = self._ids[index]
        return True

    def _draw(self, alpha: float, k: int, block: int, image_id: str, wrong_key: bool, index: int = 0) -> None:
        if self._follow(index, image_id):
            return
        image = self._images[index]
        alpha = round(float(alpha), 4)
        try:
            prep = self._cache.get(image.shape, block=block)
            overlay = krtio.overlay_for(self._key, image_id, overlays=prep, shape=image.shape, k=k, block=block)
            perturbed = krtio.perturb(image, self._key, image_id=image_id, overlays=prep, k=k, alpha=alpha, block=block)
            recovered = krtio.recover(
                perturbed, self._wrong if wrong_key else self._key, image_id=image_id, overlays=prep,
                k=k, alpha=alpha, block=block,
            )
            selection = krtio.select_overlays(self._key, image_id, k=k, m=prep.m)
        except (ValueError, TypeError) as exc:
            self.refuse(exc)
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
            f"perturbed, α = {alpha:.2f}\n{fmt_psnr(view.psnr_perturbed)} · SSIM {view.ssim_perturbed:.3f}",
            ("recovered, WRONG key" if wrong_key else "recovered")
            + f"\n{fmt_psnr(view.psnr_recovered)} · SSIM {view.ssim_recovered:.3f}",
        ]
        fig, axes = self._figures.take(image.shape, lambda: image_grid(1, 4, title_lines=2, tile=2.6))
        for ax, shown, title in zip(axes[0], (image, overlay, perturbed, recovered), titles):
            imshow(ax, shown, title)
        self.publish(view, fig)



def krtio_explorer(
    image: Any,
    key: bytes,
    *,
    overlays: Sequence[np.ndarray],
    image_id: str | None = None,
    image_ids: Sequence[str] | None = None,
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
    image_id : str, optional
        Initial image id; default the first photo's own id, or
        ``"IMG_0001.png"`` for a single photo.
    image_ids : sequence of str, optional
        Each photo's own id, one per photo, unique (the ids the photos were
        or will be perturbed with); default ``face_000.png``,
        ``face_001.png``, ... for a stack.  When another photo is picked, the
        id box shows that photo's id, so every photo gets its own overlay, as
        k-RTIO requires; an id typed in the box stays when the photo changes
        (type the photo's own id back to follow the photos again).
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
    stack, labels = subject_labels(image)
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
    if image_ids is not None:
        image_ids = check_ids(image_ids, len(images))
    elif len(images) > 1:
        image_ids = [f"face_{i:03d}.png" for i in range(len(images))]
    if image_id is None:
        image_id = image_ids[0] if image_ids else "IMG_0001.png"
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
        images, key, overlays=overlays, image_id=image_id, image_ids=image_ids, alpha=alpha, k=int(k), block=int(block),
        labels=labels,
    )

