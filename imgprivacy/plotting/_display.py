"""Jupyter display of bare matplotlib Figures, shared by the widgets and the evaluation plots."""

from __future__ import annotations

import sys

__all__ = ["MAX_WIDTH", "enable_notebook_display", "in_ipython"]

#: Widest figure, in inches, so that JupyterLab shows it unscaled in a 930-px notebook column: the inline
#: backend saves at matplotlib's default 100 dpi with a tight bounding box, which adds about 0.1 in of padding
#: to a constrained-layout figure (9.1 in -> about 922 px).  JupyterLab scales a wider figure down to the
#: column, and its text with it; unscaled, a 9-pt title is 12.5 px high and 7-pt text 9.7 px.
MAX_WIDTH = 9.1


def fit_width(panel: float, ncols: int, *, extra: float = 0.0, max_width: float | None = MAX_WIDTH) -> float:
    """Width of one of ``ncols`` panels so that ``ncols * panel + extra`` is at most ``max_width`` inches.

    Examples
    --------
    >>> fit_width(2.0, 4), round(fit_width(2.4, 6, max_width=9.0), 2), fit_width(2.4, 6, max_width=None)
    (2.0, 1.5, 2.4)
    """
    if max_width is None or ncols * panel + extra <= max_width:
        return panel
    return max((max_width - extra) / ncols, 0.1)


def in_ipython() -> bool:
    """Whether this code runs under IPython (a notebook kernel or an IPython shell); never imports IPython."""
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def enable_notebook_display() -> None:
    """Let Jupyter display a bare Figure that is a cell's value.

    Under the inline backend, pyplot registers its figure formatters only
    when the backend is first used; importing the backend module registers
    them now.  Other backends are left alone.
    """
    if not in_ipython():
        return
    import matplotlib

    try:
        backend = matplotlib.get_backend(auto_select=False)
    except TypeError:  # matplotlib < 3.10
        backend = matplotlib.rcParams["backend"]
    if backend in ("inline", "module://matplotlib_inline.backend_inline"):
        import matplotlib_inline.backend_inline  # noqa: F401
