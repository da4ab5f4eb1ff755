"""What every command shares: refusals, inputs and their headers, output folders, keys, overlay sets, signals."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from .. import _prf, data, krtio
from ._errors import CLIError, Interrupted, default_max_pixels, note, show  # the commands import them from here

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm", ".ppm", ".pnm")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- inputs
def collect(inputs: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    """The files named, with the image files of every folder named (sorted)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
            if not found:
                raise CLIError(f"folder {show(item)} holds no image files ({', '.join(suffixes)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CLIError(f"input {show(item)} does not exist")
    return files


@dataclass(frozen=True)
class Header:
    """What a file's header says, read without decoding its pixels."""

    width: int
    height: int
    channels: int
    depth: int
    text: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` as decoded (EXIF orientation applied)."""
        return (self.height, self.width, self.channels)

    @property
    def pixels(self) -> int:
        return self.width * self.height


@contextlib.contextmanager
def pixel_limit(limit: int | None):
    """Set Pillow's ``MAX_IMAGE_PIXELS`` for the block (None: no limit; our own check comes first)."""
    from PIL import Image

    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def read_header(path: Path) -> Header:
    """Size, channels, bit depth and PNG text of an image file, without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with pixel_limit(None), Image.open(path) as pil:
            width, height = pil.size
            if pil.format != "PNG" or "exif" in pil.info:  # a PNG's getexif() would decode it to look after IDAT
                orientation = int(pil.getexif().get(0x0112, 1) or 1)
            else:
                orientation = 1
            if orientation in (5, 6, 7, 8):
                width, height = height, width
            transparent = "transparency" in pil.info
            if pil.format == "PNG":
                with open(path, "rb") as fh:
                    head = fh.read(33)
                if head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
                    raise CLIError(f"{show(path)} is not a well-formed PNG (no IHDR chunk first)")
                bitdepth, colour = head[24], head[25]
                channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour, 3) + (1 if transparent and colour in (0, 2, 3) else 0)
                text = {k: str(v) for k, v in pil.info.items() if isinstance(v, str)}
                return Header(width, height, channels, 16 if bitdepth == 16 else 8, text)
            mode = pil.mode
            bands = len(pil.getbands())
    except UnidentifiedImageError:
        raise CLIError(f"cannot read {show(path)}: not an image format Pillow can open") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        raise CLIError(f"cannot read {show(path)}: {exc}") from None
    if mode in ("1", "L", "I", "F") or mode.startswith("I;16"):
        channels = 2 if transparent else 1
    elif mode in ("LA", "La", "PA"):
        channels = 2 if mode != "PA" else 4
    elif mode in ("RGBA", "RGBa") or (mode in ("P", "RGB") and transparent):
        channels = 4
    else:
        channels = 4 if "A" in mode and bands == 4 else 3
    return Header(width, height, channels, 16 if (mode.startswith("I;16") or mode == "I") else 8, {})


def check_decode_limit(path: Path, header: Header, limit: int, command: str) -> None:
    """Refuse a file whose header declares more pixels than ``limit``, before any decoding."""
    if header.pixels > limit:
        raise CLIError(
            f"{show(path)} declares {header.width}x{header.height} pixels ({header.pixels / 1e6:.1f} MP), above the "
            f"decode limit of {limit:,} pixels (Pillow's MAX_IMAGE_PIXELS, a guard against decompression bombs); "
            f"if you trust the file, pass --max-pixels {header.pixels}"
        )


def decode(path: Path, limit: int) -> data.LoadedImage:
    """Decode an image whose header passed :func:`check_decode_limit`; errors become one line."""
    try:
        with pixel_limit(max(limit, default_max_pixels())):
            return data.read_image(path)
    except MemoryError:
        raise CLIError(f"not enough memory to decode {show(path)}; close other programs, or process it on a larger machine") from None
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CLIError(f"cannot read {show(path)}: {exc}") from None


# --------------------------------------------------------------------------- outputs
def check_output_folder(outdir: Path) -> None:
    """Refuse an output folder that is a file, lies under a file, or cannot be written; creates nothing."""
    probe = outdir
    while not probe.exists():
        if probe.is_symlink():
            raise CLIError(f"output folder {show(outdir)}: {show(probe)} is a dangling link; remove it or choose another folder")
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == outdir else f"lies under the file {show(probe)}"
        raise CLIError(f"output folder {show(outdir)} {where}; give a folder (it is created if missing)")
    test = probe / f".imgprivacy-write-test-{secrets.token_hex(4)}"
    try:
        os.close(os.open(test, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.unlink(test)
    except OSError as exc:
        raise CLIError(
            f"output folder {show(outdir)} cannot be written ({show(probe)}: {exc.strerror}); "
            "choose a folder you can write to, or fix its permissions"
        ) from None


def output_paths(files: list[Path], outdir: Path) -> list[Path]:
    """One ``stem.png`` per input in ``outdir``; refuses two inputs sharing an output, or overwriting an input."""
    outs = [outdir / (f.stem + ".png") for f in files]
    seen: dict[Path, Path] = {}
    for src, out in zip(files, outs):
        if out in seen:
            raise CLIError(f"{show(seen[out])} and {show(src)} would both be written to {show(out)}; rename one")
        if out.exists() and src.resolve() == out.resolve():
            raise CLIError(f"{show(out)} would overwrite its own input; choose another output folder")
        seen[out] = src
    return outs


def remove_temporaries(out: Path) -> None:
    """Remove what an interrupted :func:`imgprivacy._atomic.publish` of ``out`` may have left (``.NAME.*.tmp``)."""
    if out.parent.is_dir():
        for tmp in out.parent.glob(f".{out.name}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def signals_interrupt():
    """Turn SIGINT and SIGTERM into :class:`Interrupted`, so that every ``finally`` runs (temporary files go)."""

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def os_error_line(exc: OSError, what: str) -> str:
    """One line for an OSError while writing ``what``."""
    if exc.errno == errno.ENOSPC:
        return f"the disk is full while writing {what}; free some space and run the same command again (finished outputs are kept and skipped)"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"no permission to write {what} ({exc.strerror}); choose another output folder"
    return f"cannot write {what}: {exc.strerror or exc}"


# --------------------------------------------------------------------------- keys and overlay sets
def load_key(path: str, command: str) -> bytes:
    """Read a key file; a group- or world-readable file gives one warning line naming ``chmod 600``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            key = _prf.read_key(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot read key file {show(path)}: {exc.strerror}; check its permissions") from None
    for w in caught:
        if issubclass(w.category, UserWarning):
            mode = os.stat(path).st_mode & 0o777
            note(command, f"key file {show(path)} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`")
    return key


def own_overlays(folder: str) -> data.OverlaySet:
    """An overlay folder of one's own (``--overlays DIR``)."""
    try:
        return data.overlay_set(folder)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"--overlays: {exc}") from None


def public_pool(folder: str | None) -> data.OverlaySet:
    """The public pool the key-derived set is drawn from: the bundled images, or an exported copy (``--pool``)."""
    try:
        return data.overlay_set(folder if folder else "default")
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"--pool: {exc}") from None


def derived_overlays(key: bytes, pool: data.OverlaySet) -> data.OverlaySet:
    """The key-derived private overlay set (``krtio.derived_overlays``) from ``pool``."""
    return krtio.derived_overlays(key, pool=pool)
