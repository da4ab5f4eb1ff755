"""Jupyter display of bare matplotlib Figures, shared by the widgets and the evaluation plots."""

from __future__ import annotations

import sys

__all__ = ["enable_notebook_display", "in_ipython"]


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
