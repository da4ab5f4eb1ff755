"""Refusals and their messages: what the parser and every command share, importable without numpy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["CLIError", "Interrupted", "default_max_pixels", "note", "show"]


def default_max_pixels() -> int:
    """Pillow's decompression-bomb limit (``PIL.Image.MAX_IMAGE_PIXELS``), the default ``--max-pixels``.

    Examples
    --------
    >>> default_max_pixels() > 10**7
    True
    """
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


class CLIError(Exception):
    """A refusal with a one-line message for the user; nothing has been written."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived during a run (raised by :func:`signals_interrupt`)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def show(path: Path | str) -> str:
    """A path quoted for a message; bytes that are not UTF-8 appear as escapes.

    Examples
    --------
    >>> show("a/b.png")
    "'a/b.png'"
    """
    text = os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")
    return f"'{text}'" if text.isprintable() and "'" not in text else repr(text)


def note(command: str, message: str) -> None:
    """Print one warning line to stderr, in the form of the refusals."""
    print(f"imgprivacy {command}: warning: {message}", file=sys.stderr)
