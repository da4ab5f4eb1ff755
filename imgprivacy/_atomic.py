"""Atomic, no-clobber file writes shared by the image, checkpoint and UEP writers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

__all__ = ["publish"]


def publish(data: bytes | Sequence, path: Path, *, overwrite: bool, exists_message: str | None = None) -> None:
    """Write ``data`` to a temporary file beside ``path``, then link or replace it into place.

    ``data`` is bytes, or a sequence of bytes-like parts written one after
    the other (a PNG and the chunks placed inside it, never joined in memory).

    Without ``overwrite`` an existing ``path`` is never replaced: the file is
    published with :func:`os.link`, which fails if the name exists (no race
    between checking and writing).  The temporary file is removed whatever
    happens.  ``exists_message`` replaces the default refusal message.
    """
    path = Path(path)
    if exists_message is None:
        exists_message = (
            f"{path} already exists; refusing to overwrite it. Pass overwrite=True "
            "(--force on the command line) to replace it, or choose another name"
        )
    parent = path.parent
    while True:
        tmp = parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            for part in ([data] if isinstance(data, (bytes, bytearray, memoryview)) else data):
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise FileExistsError(exists_message) from None
        except OSError:  # no hard links on this file system: reserve the name, then replace atomically
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                raise FileExistsError(exists_message) from None
            os.replace(tmp, path)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
