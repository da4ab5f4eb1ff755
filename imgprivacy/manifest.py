"""The local manifest: one SQLite row per protected photo, kept beside the key file.

``imgprivacy protect`` records every photo it protects -- its nonce, its
format-2 metadata (the settings and tag), the SHA-256 of the protected
pixels (:func:`imgprivacy.krtio.pixels_sha256`), the original's file name,
the output's file name and the time -- in ``KEYFILE.manifest.sqlite``, a file
created with mode 0600.  When a service strips a photo's metadata,
``imgprivacy recover`` finds its settings here by the hash of its pixels.

The manifest never leaves the user's machine and never goes into a protected
file: it names the originals, so it is as private as the key (but holds no
key material: losing it loses only the recovery of stripped photos).

Examples
--------
>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as d:
...     db = manifest_path(os.path.join(d, "my.key"))
...     record(db, nonce="00" * 16, metadata='{"format":2}', pixels_sha256="ab" * 32,
...            source_name="IMG_0001.JPG", output_name="IMG_0001.png", created="2024-05-01T10:00:00+00:00")
...     [e.source_name for e in find_by_pixels(db, "ab" * 32)], oct(os.stat(db).st_mode & 0o777)
(['IMG_0001.JPG'], '0o600')
"""

from __future__ import annotations

import datetime
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Union

__all__ = ["SUFFIX", "ManifestEntry", "manifest_path", "record", "entries", "find_by_pixels", "find_by_nonce", "forget", "safe_name"]

#: appended to the key file's name
SUFFIX = ".manifest.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    nonce TEXT PRIMARY KEY,
    metadata TEXT NOT NULL,
    pixels_sha256 TEXT NOT NULL,
    source_name TEXT NOT NULL,
    output_name TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_by_pixels ON photos (pixels_sha256);
"""

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class ManifestEntry:
    """One protected photo as the manifest records it.

    Attributes
    ----------
    nonce : str
        The photo's format-2 nonce (its image id).
    metadata : str
        The canonical JSON of its ``imgprivacy`` text chunk (settings and tag).
    pixels_sha256 : str
        :func:`imgprivacy.krtio.pixels_sha256` of the protected PNG's pixels.
    source_name, output_name : str
        The original's and the protected file's paths as given (see :func:`safe_name`).
    created : str
        ISO 8601 time, UTC.
    """

    nonce: str
    metadata: str
    pixels_sha256: str
    source_name: str
    output_name: str
    created: str


def manifest_path(key_path: PathLike) -> Path:
    """The manifest of a key file: the same path with ``.manifest.sqlite`` appended.

    Examples
    --------
    >>> manifest_path("/home/me/.imgprivacy.key").name
    '.imgprivacy.key.manifest.sqlite'
    """
    key_path = Path(key_path)
    return key_path.with_name(key_path.name + SUFFIX)


def safe_name(path: PathLike) -> str:
    """A path as valid UTF-8 text: bytes that are not UTF-8 are written as ``\\xNN``.

    Examples
    --------
    >>> safe_name(os.fsdecode(b"caf\\xe9.png"))
    'caf\\\\xe9.png'
    """
    return os.fsencode(os.fspath(path)).decode("utf-8", "backslashreplace")


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if create and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    elif not path.is_file():
        raise FileNotFoundError(f"no manifest at {str(path)!r}")
    conn = sqlite3.connect(path)
    if create:
        conn.executescript(_SCHEMA)
    return conn


def record(
    path: PathLike,
    *,
    nonce: str,
    metadata: str,
    pixels_sha256: str,
    source_name: str,
    output_name: str,
    created: str | None = None,
) -> None:
    """Add one protected photo to the manifest at ``path`` (created with mode 0600 if missing).

    ``created`` defaults to now (UTC).  A nonce already recorded is replaced.
    """
    path = Path(path)
    when = created or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    conn = _connect(path, create=True)
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO photos VALUES (?, ?, ?, ?, ?, ?)",
                (nonce, metadata, pixels_sha256, safe_name(source_name), safe_name(output_name), when),
            )
    finally:
        conn.close()


def _select(path: PathLike, where: str = "", args: tuple = ()) -> list[ManifestEntry]:
    path = Path(path)
    conn = _connect(path, create=False)
    try:
        rows = conn.execute(f"SELECT * FROM photos {where} ORDER BY created, rowid", args).fetchall()
    except sqlite3.DatabaseError as exc:
        raise ValueError(f"{str(path)!r} is not an imgprivacy manifest ({exc})") from None
    finally:
        conn.close()
    return [ManifestEntry(*row) for row in rows]


def entries(path: PathLike) -> list[ManifestEntry]:
    """Every photo in the manifest, oldest first.  Raises FileNotFoundError without a manifest."""
    return _select(path)


def find_by_pixels(path: PathLike, pixels_sha256: str) -> list[ManifestEntry]:
    """The photos whose protected pixels have this SHA-256 (normally none or one)."""
    return _select(path, "WHERE pixels_sha256 = ?", (pixels_sha256,))


def find_by_nonce(path: PathLike, nonce: str) -> list[ManifestEntry]:
    """The photo with this nonce, as a list of none or one entry."""
    return _select(path, "WHERE nonce = ?", (nonce,))


def forget(path: PathLike, nonce: str) -> None:
    """Remove a photo's row (protect calls it when the photo's file could not be written).

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     db = os.path.join(d, "m.sqlite")
    ...     record(db, nonce="n", metadata="{}", pixels_sha256="0", source_name="a", output_name="b")
    ...     forget(db, "n")
    ...     entries(db)
    []
    """
    conn = _connect(Path(path), create=False)
    try:
        with conn:
            conn.execute("DELETE FROM photos WHERE nonce = ?", (nonce,))
    finally:
        conn.close()
