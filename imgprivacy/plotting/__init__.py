"""Every static figure of the package: images, training runs and the evaluation's tables.

Figures are plain :class:`matplotlib.figure.Figure` objects that are not
registered with pyplot: building one never opens a window, works under any
backend and is freed with its last reference; in Jupyter a returned figure is
displayed when it is the value of a cell (:func:`enable_notebook_display`).
This layer sits above :mod:`imgprivacy.evaluate` and below the widgets: it
never imports ipywidgets, and never torch.
"""

from __future__ import annotations

from ._display import enable_notebook_display, in_ipython
from ._images import show_images, training_curves
from ._results import plot_beta, plot_filters, plot_heatmaps, plot_krtio_examples, plot_rates, plot_ssim_histograms

__all__ = [
    "enable_notebook_display",
    "in_ipython",
    "plot_beta",
    "plot_filters",
    "plot_heatmaps",
    "plot_krtio_examples",
    "plot_rates",
    "plot_ssim_histograms",
    "show_images",
    "training_curves",
]
