"""Every static figure of the package: images, training runs and the evaluation's tables.

Figures are plain :class:`matplotlib.figure.Figure` objects that are not
registered with pyplot: building one never opens a window, works under any
backend and is freed with its last reference; in Jupyter a returned figure is
displayed when it is the value of a cell (:func:`enable_notebook_display`).
Every figure is at most :data:`MAX_WIDTH` inches wide, so that JupyterLab
shows it in a 930-px column without scaling it, its text at 9 px or more.
This layer sits above :mod:`imgprivacy.evaluate` and below the widgets: it
never imports ipywidgets, and never torch.
"""

from __future__ import annotations

from ._display import MAX_WIDTH, enable_notebook_display, in_ipython
from ._frontier import plot_frontier
from ._images import show_images, training_curves
from ._results import plot_beta, plot_filters, plot_heatmaps, plot_krtio_examples, plot_rates, plot_ssim_histograms

__all__ = [
    "MAX_WIDTH",
    "enable_notebook_display",
    "in_ipython",
    "plot_beta",
    "plot_filters",
    "plot_frontier",
    "plot_heatmaps",
    "plot_krtio_examples",
    "plot_rates",
    "plot_ssim_histograms",
    "show_images",
    "training_curves",
]
