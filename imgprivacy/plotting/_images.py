"""Static figures of images and training runs: :func:`show_images`, :func:`training_curves`.

Figures are plain :class:`matplotlib.figure.Figure` objects that are not
registered with pyplot, so building one never opens a window, works under any
backend (Agg in tests) and is freed with the last reference.  In Jupyter a
returned figure is displayed when it is the value of a cell.  Never imports
ipywidgets or torch.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .._validation import check_block, check_images, is_single_image
from ._display import MAX_WIDTH, enable_notebook_display, fit_width

__all__ = ["show_images", "training_curves"]

def show_images(
    images: Sequence[np.ndarray] | np.ndarray,
    titles: Sequence[str] | None = None,
    *,
    ncols: int | None = None,
    size: float = 2.4,
    cmap: str = "gray",
    vmin: float = 0.0,
    vmax: float = 1.0,
    grid: int | tuple[int, int] | None = None,
    suptitle: str | None = None,
    max_width: float | None = MAX_WIDTH,
) -> Figure:
    """Show images side by side, grey ones on a fixed [0, 1] scale.

    Grey images are drawn with ``vmin``/``vmax`` fixed (no auto-contrast,
    which would hide how much an overlay flattens a photo); colour images
    are drawn as they are.

    Parameters
    ----------
    images : sequence of ndarray of shape (H, W) or (H, W, C), or ndarray of shape (N, H, W[, C])
        Float images in [0, 1]; C is 1, 3 (RGB) or 4 (RGBA).
    titles : sequence of str, optional
        One title per image.
    ncols : int, optional
        Panels per row; default ``min(len(images), 6)``.
    size : float, default 2.4
        Side of one panel in inches; smaller when the row would be wider
        than ``max_width``.
    cmap : str, default "gray"
        Colour map for grey images.
    vmin, vmax : float, default 0.0 and 1.0
        Value range mapped to the colour map for grey images.
    grid : int or (int, int), optional
        Draw the k-RTIO block grid: lines every ``grid`` pixels.
    suptitle : str, optional
        Title of the whole figure.
    max_width : float or None, default :data:`MAX_WIDTH` (9.1)
        Widest figure in inches: panels shrink so that a row fits a 930-px
        notebook column unscaled, titles staying 9 pt.  None: no limit.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot: display it as a cell's value, or save
        it with ``fig.savefig(path)``.

    Raises
    ------
    ValueError
        If ``images`` is empty, ``titles`` has another length, or an image
        has an unsupported shape.
    TypeError
        If an image is not a float array.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = show_images([rng.random((8, 8)), rng.random((8, 8, 3))], ["grey", "colour"])
    >>> len(fig.axes), fig.axes[1].get_title()
    (2, 'colour')
    >>> [round(float(w), 2) for w in show_images(rng.random((10, 8, 8)), size=2.0).get_size_inches()]  # 12 in -> 9.1
    [9.1, 3.03]
    """
    items = _as_image_list(images)
    enable_notebook_display()
    n = len(items)
    if titles is not None:
        titles = [str(t) for t in titles]
        if len(titles) != n:
            raise ValueError(f"titles must have one entry per image, got {len(titles)} titles for {n} images")
    if ncols is None:
        ncols = min(n, 6)
    elif isinstance(ncols, bool) or not isinstance(ncols, numbers.Integral) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    ncols = int(min(ncols, n))
    nrows = -(-n // ncols)
    size = fit_width(size, ncols, max_width=max_width)
    title_room = 0.55 if titles is not None else 0.0
    fig = Figure(figsize=(size * ncols, (size + title_room) * nrows + (0.4 if suptitle else 0.0)), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    bpair = check_block(grid, "grid") if grid is not None else None
    for pos, ax in enumerate(axes):
        ax.set_axis_off()
        if pos >= n:
            continue
        img = items[pos]
        if img.ndim == 2:
            ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        else:
            ax.imshow(np.clip(img, 0.0, 1.0), interpolation="nearest")
        if bpair is not None:
            h, w = img.shape[:2]
            for y in range(bpair[0], h, bpair[0]):
                ax.axhline(y - 0.5, color="yellow", linewidth=0.8)
            for x in range(bpair[1], w, bpair[1]):
                ax.axvline(x - 0.5, color="yellow", linewidth=0.8)
        if titles is not None:
            ax.set_title(titles[pos], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def training_curves(
    histories: Mapping[str, Any],
    *,
    reference: Mapping[str, Any] | None = None,
    label: str = "this run",
    reference_label: str = "reference",
    size: float = 2.8,
    suptitle: str | None = None,
    max_width: float | None = MAX_WIDTH,
) -> Figure:
    """Loss and accuracy per epoch of trained networks, one column per network.

    Top row: the mean training loss.  Bottom row: the accuracy on the
    (augmented) training batches and, where recorded, on held-out faces.
    ``reference`` histories, if given, are drawn dashed in the same panels
    (e.g. the run that made the shipped checkpoints).

    Parameters
    ----------
    histories : dict of str to TrainHistory
        What :func:`imgprivacy.models.train` returned, by network name.  Any
        object with sequences ``loss``, ``accuracy`` and ``val_accuracy``
        (empty, or one value per epoch) works: this module never imports torch.
    reference : dict of str to TrainHistory, optional
        Histories to compare with, matched by name; names not in
        ``histories`` are ignored.
    label, reference_label : str
        Legend labels of the two runs.
    size : float, default 2.8
        Width of one column in inches; narrower when the figure would be
        wider than ``max_width``.
    suptitle : str, optional
        Title of the whole figure.
    max_width : float or None, default :data:`MAX_WIDTH` (9.1)
        Widest figure in inches (see :func:`show_images`); None: no limit.

    Returns
    -------
    matplotlib.figure.Figure
        Not registered with pyplot (see :func:`show_images`).

    Raises
    ------
    ValueError
        If ``histories`` is empty or a history has no epochs or sequences of
        different lengths.
    TypeError
        If ``histories`` or ``reference`` is not a mapping, or a history lacks
        ``loss``/``accuracy``/``val_accuracy``.

    Examples
    --------
    >>> from types import SimpleNamespace as H
    >>> run = {"net": H(loss=[2.3, 1.1, 0.4], accuracy=[0.1, 0.6, 0.9], val_accuracy=[0.1, 0.5, 0.8])}
    >>> fig = training_curves(run)
    >>> len(fig.axes), fig.axes[0].get_title()
    (2, 'net')
    """
    runs = _check_histories(histories, "histories")
    if not runs:
        raise ValueError("histories must hold at least one training history, got none")
    refs = {} if reference is None else _check_histories(reference, "reference")
    enable_notebook_display()
    n = len(runs)
    width = fit_width(size, n, max_width=max_width) * n
    fig = Figure(figsize=(width, 5.2 + (0.4 if suptitle else 0.0)), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    legend: dict[str, Any] = {}
    for col, name in enumerate(runs):
        top, bottom = axes[0, col], axes[1, col]
        drawn = [(runs[name], "-", 1.6, label)] + ([(refs[name], "--", 1.0, reference_label)] if name in refs else [])
        for (loss, acc, val), style, width, who in drawn:
            epochs = np.arange(1, len(loss) + 1)
            kw = {"linewidth": width, "zorder": 3 if style == "-" else 2}  # this run on top
            lines = top.plot(epochs, loss, style, color="black", label=f"loss, {who}", **kw)
            lines += bottom.plot(epochs, acc, style, color="tab:blue", label=f"training batches, {who}", **kw)
            if len(val):
                lines += bottom.plot(epochs, val, style, color="tab:orange", label=f"held out, {who}", **kw)
            for line in lines:
                legend.setdefault(line.get_label(), line)
        top.set_title(str(name))
        top.set(xlabel="epoch", ylabel="training loss" if col == 0 else None)
        bottom.set(xlabel="epoch", ylabel="accuracy" if col == 0 else None, ylim=(-0.03, 1.03))
        for ax in (top, bottom):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=min(len(legend), 3), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _check_histories(histories: Any, name: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{name: (loss, accuracy, val_accuracy)}`` as float arrays, validated."""
    if not isinstance(histories, Mapping):
        raise TypeError(f"{name} must be a dict of network name to TrainHistory, got {type(histories).__name__}")
    out = {}
    for key, hist in histories.items():
        try:
            loss, acc, val = (np.asarray(getattr(hist, f), dtype=float) for f in ("loss", "accuracy", "val_accuracy"))
        except AttributeError as err:
            raise TypeError(
                f"{name}[{key!r}] must be a TrainHistory (with loss, accuracy and val_accuracy), got {type(hist).__name__}"
            ) from err
        if loss.ndim != 1 or len(loss) == 0:
            raise ValueError(f"{name}[{key!r}] must have at least one epoch, got loss of shape {loss.shape}")
        if acc.shape != loss.shape or (len(val) and val.shape != loss.shape):
            raise ValueError(
                f"{name}[{key!r}] must have one loss, accuracy and (if any) held-out accuracy per epoch, got "
                f"{len(loss)}, {len(acc)} and {len(val)} values"
            )
        out[str(key)] = (loss, acc, val)
    return out


def _as_image_list(images: Any) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim in (2, 3) and is_single_image(images):
        images = [images]
    if isinstance(images, np.ndarray) or isinstance(images, (list, tuple)):
        if len(images) == 0:
            raise ValueError("images must hold at least one image, got none")
    items = check_images(images if isinstance(images, np.ndarray) else list(images), "images")
    return [im[..., 0] if im.ndim == 3 and im.shape[2] == 1 else im for im in items]
