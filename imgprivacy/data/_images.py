"""Image files: read any image Pillow opens, write 8- or 16-bit PNG atomically, storage round trips."""

from __future__ import annotations

import io
import os
import struct
import types
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import publish
from .._validation import _short, check_depth, check_image, check_int
from ._convert import to_float, to_uint
from ._png import chunk, decode_16bit, decode_plain, encode_parts, scan

#: File suffixes :func:`write_png` accepts (compared case-insensitively).
LOSSLESS_SUFFIXES = (".png",)

_CODECS = ("png", "jpeg")
_ORIENTATION_TAG = 0x0112


def storage_roundtrip(
    image: np.ndarray, *, codec: str = "png", depth: int = 8, quality: int = 90
) -> np.ndarray:
    """Encode an image in memory with a storage codec and decode it again.

    Shows what saving a perturbed photo does to it: k-RTIO recovery
    divides by ``alpha``, so storage error is amplified.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1].  C is 1, 2, 3 or 4 for PNG; 1 or 3 for JPEG.
    codec : {"png", "jpeg"}, default "png"
        ``"png"`` is lossless apart from quantisation to ``depth`` bits;
        ``"jpeg"`` uses Pillow's encoder (8 bits, 4:2:0 chroma subsampling
        for RGB, Pillow's default tables scaled by ``quality``).
    depth : {8, 16}, default 8
        Bits per sample for PNG.  JPEG requires 8.
    quality : int, default 90
        JPEG quality, 1 to 95 (ignored for PNG).

    Returns
    -------
    ndarray, float32, same shape as ``image``
        For PNG exactly ``to_float(to_uint(image, depth=depth))``.

    Raises
    ------
    ValueError
        For an unknown codec, a bad depth or quality, or an image JPEG
        cannot hold (alpha channel).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    >>> bool(np.abs(storage_roundtrip(x, depth=16) - x).max() <= 0.5 / 65535)
    True
    >>> storage_roundtrip(x, codec="jpeg", quality=75).shape
    (8, 8)
    """
    if not isinstance(codec, str) or codec not in _CODECS:
        raise ValueError(f"codec must be one of {', '.join(map(repr, _CODECS))}, got {_short(codec)}")
    depth = check_depth(depth)
    img = check_image(image)
    if codec == "png":
        pixels = to_uint(img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img, depth=depth)
        out = _decode_png(b"".join(encode_parts(pixels, []))).image
        return out.reshape(img.shape)
    quality = check_int(quality, "quality", minimum=1, maximum=95)
    if depth != 8:
        raise ValueError(f"depth must be 8 for codec='jpeg' (JPEG stores 8 bits per sample), got {depth}")
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels not in (1, 3):
        raise ValueError(
            f"image must be grey or RGB for codec='jpeg' (JPEG has no alpha channel), got shape {img.shape}; "
            "drop the alpha channel first, e.g. image[..., :3]"
        )
    from PIL import Image

    u8 = to_uint(img, depth=8)
    pil = Image.fromarray(u8.reshape(img.shape[:2]) if channels == 1 else u8)  # uint8: mode L or RGB
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as decoded:
        out = to_float(np.asarray(decoded.convert("L" if channels == 1 else "RGB")))
    return out.reshape(img.shape)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read from a file by :func:`read_image`.

    Attributes
    ----------
    image : ndarray of shape (H, W), (H, W, 2), (H, W, 3) or (H, W, 4)
        float32 in [0, 1]: grey, grey+alpha, RGB or RGBA, EXIF orientation
        applied.
    depth : int
        8 or 16, the bits per sample of the file (PNG files of 1, 2 or 4
        bits report 8).
    text : mapping of str to str
        PNG text chunks (tEXt, zTXt, iTXt), read-only; empty for other
        formats.
    format : str
        Pillow's format name: ``"PNG"``, ``"JPEG"``, ...

    Examples
    --------
    >>> li = LoadedImage(np.zeros((2, 2), np.float32), 8, {}, "PNG")
    >>> li.image.shape, li.depth
    ((2, 2), 8)
    """

    image: np.ndarray
    depth: int
    text: Mapping[str, str]
    format: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", types.MappingProxyType(dict(self.text)))


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an array, as PIL.ImageOps.exif_transpose does."""
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = np.swapaxes(arr, 0, 1)
    elif orientation == 6:
        arr = np.rot90(arr, -1)
    elif orientation == 7:
        arr = np.rot90(arr, 2).swapaxes(0, 1)
    elif orientation == 8:
        arr = np.rot90(arr, 1)
    return np.ascontiguousarray(arr)


def pil_pixels(pil) -> tuple[np.ndarray, int]:
    """Decode a Pillow image (EXIF orientation applied) to a float32 array and its depth."""
    from PIL import ImageOps

    pil = ImageOps.exif_transpose(pil)
    mode = pil.mode
    transparent = "transparency" in pil.info
    if mode == "1":
        pil, mode = pil.convert("L"), "L"
    elif mode in ("P", "PA"):
        mode = "RGBA" if (mode == "PA" or transparent) else "RGB"
        pil = pil.convert(mode)
    elif mode in ("L", "RGB") and transparent:
        mode = "LA" if mode == "L" else "RGBA"
        pil = pil.convert(mode)
    elif mode in ("La", "RGBa"):
        mode = mode.upper()
        pil = pil.convert(mode)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return to_float(np.asarray(pil)), 8
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(pil)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f"32-bit integer samples outside the 16-bit range (mode {mode}) are not supported")
        return to_float(arr.astype(np.uint16)), 16
    if mode == "F":
        raise ValueError("32-bit floating-point images (mode F) are not supported; save them as 16-bit PNG")
    mode = "RGBA" if "A" in pil.getbands() else "RGB"
    return to_float(np.asarray(pil.convert(mode))), 8


def _decode_png(data: bytes) -> LoadedImage:
    from PIL import Image

    info = scan(data)
    if info.exif is None and not any(key.lower().startswith("raw profile type") for key in info.text):
        # a PNG as write_png makes it (no orientation to apply): inflated and unfiltered here, exactly
        plain = decode_plain(data, info, max_pixels=Image.MAX_IMAGE_PIXELS)
        if plain is not None:
            return LoadedImage(to_float(plain), info.bitdepth, info.text, "PNG")
    if info.bitdepth != 16:  # Pillow decodes 1-8 bit PNG exactly
        with Image.open(io.BytesIO(data)) as pil:
            arr, _ = pil_pixels(pil)
        return LoadedImage(arr, 8, info.text, "PNG")
    # 16 bits per sample: Pillow truncates 16-bit RGB/RGBA (and grey+alpha) to 8 bits, OpenCV's libpng does not.
    orientation = 1
    if info.exif is not None:
        exif = Image.Exif()
        exif.load(info.exif)
        orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
    return LoadedImage(_orient(to_float(decode_16bit(data, info)), orientation), 16, info.text, "PNG")


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Read any image Pillow opens, exactly, as a canonical float image.

    Parameters
    ----------
    path : str or path
        The image file.

    Returns
    -------
    LoadedImage
        ``image`` is float32 in [0, 1]: (H, W) grey, (H, W, 2) grey+alpha,
        (H, W, 3) RGB or (H, W, 4) RGBA, with the EXIF orientation applied
        (``PIL.ImageOps.exif_transpose``).  Palette, CMYK and other modes
        become RGB, or RGBA when the file has transparency; 1-bit images
        become grey.  Multi-frame files give their first frame.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image that can be decoded.

    Notes
    -----
    A plain PNG of 8 or 16 bits -- every PNG :func:`write_png` makes: no
    palette, colour key, interlacing, EXIF or Average/Paeth rows -- is
    inflated and unfiltered by imgprivacy itself, exactly and about twice as
    fast as Pillow.  Other 16-bit PNG (grey, grey+alpha, 48-bit RGB, 64-bit
    RGBA) is decoded with OpenCV's libpng, which keeps all 16 bits (Pillow
    truncates 16-bit colour to 8 bits); other PNG of 8 bits or fewer with
    Pillow, which is exact there.  PNG text chunks (tEXt latin-1, zTXt, iTXt
    UTF-8) are read from the chunk list.  An EXIF orientation stored in a PNG
    is applied as well.

    Examples
    --------
    >>> import tempfile
    >>> x = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_png(os.path.join(d, "x.png"), x, depth=16, text={"id": "x"})
    ...     loaded = read_image(p)
    >>> loaded.depth, loaded.format, dict(loaded.text), loaded.image.shape
    (16, 'PNG', {'id': 'x'}, (8, 8, 3))
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.is_dir():
        raise ValueError(f"path must be an image file, got the folder {path}")
    data = path.read_bytes()
    from PIL import Image, UnidentifiedImageError

    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _decode_png(data)
        with Image.open(io.BytesIO(data)) as pil:
            fmt = pil.format or ""
            arr, depth = pil_pixels(pil)
        return LoadedImage(arr, depth, {}, fmt)
    except UnidentifiedImageError as err:
        raise ValueError(f"cannot read {path}: not an image format Pillow can open") from err
    except (OSError, ValueError, SyntaxError, EOFError, zlib.error, struct.error, IndexError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


def _check_text(text: Any) -> list[bytes]:
    """Validate PNG text metadata and encode it as whole tEXt / iTXt chunks."""
    if text is None:
        return []
    if not isinstance(text, Mapping):
        raise TypeError(f"text must be a mapping of str to str or None, got {type(text).__name__}")
    chunks = []
    for key, value in text.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"text keys and values must be str, got {_short(key)}: {_short(value)}")
        ok = 1 <= len(key) <= 79 and all(32 <= ord(ch) <= 126 or 161 <= ord(ch) <= 255 for ch in key)
        if not ok or key != key.strip(" ") or "  " in key:
            raise ValueError(
                f"text keys must be 1-79 printable Latin-1 characters without leading, trailing or double "
                f"spaces (PNG keyword rules), got {_short(key)}"
            )
        if "\0" in value:
            raise ValueError(f"text values must not contain NUL characters, got {_short(value)} for key {key!r}")
        try:
            chunks.append(chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
        except UnicodeEncodeError:  # not Latin-1: uncompressed iTXt, UTF-8, no language tag
            chunks.append(chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8")))
    return chunks


def write_png(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    depth: int = 8,
    text: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a canonical image as an 8- or 16-bit PNG, atomically.

    Only the pixels and the given text are written: no EXIF, ICC profile
    or other metadata from an original file.

    Parameters
    ----------
    path : str or path
        Destination; must end in ``.png`` (any case).  Its folder must exist.
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; C is 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA).
        Samples already quantised by :func:`to_uint` (``uint8`` for
        ``depth=8``, ``uint16`` for ``depth=16``) are written as they are,
        e.g. when their digest was taken first.
    depth : {8, 16}, default 8
        Bits per sample; float samples are quantised with :func:`to_uint`.
        16 bits keeps a perturbed photo recoverable to within
        ``0.5 / 65535 / alpha``.
    text : mapping of str to str, optional
        PNG text metadata, written before the image data: tEXt chunks
        when the value is Latin-1, uncompressed iTXt (UTF-8) otherwise.
        Keys are 1-79 printable Latin-1 characters.
    overwrite : bool, default False
        Replace an existing file.  Without it an existing file is never
        touched.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For a suffix other than ``.png`` (a lossy or other format would
        destroy the perturbation that recovery needs), a bad depth, image
        or text.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    Every row is Sub-filtered and deflated by ISA-L at its fastest level
    (zlib's run-length strategy where ISA-L has no build), chosen by
    measurement (README, "Speed"); the text chunks follow IHDR, written in
    the same pass.  It goes into a temporary file in the destination folder, which is then
    hard-linked to ``path`` (fails if ``path`` exists; no race) or, with
    ``overwrite=True``, renamed over it with :func:`os.replace`.  The
    temporary file is removed in every case.

    Examples
    --------
    >>> import tempfile
    >>> x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_png(os.path.join(d, "x.png"), x)
    ...     same = np.array_equal(read_image(p).image, to_float(to_uint(x)))
    >>> p.name, same
    ('x.png', True)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() not in LOSSLESS_SUFFIXES:
        raise ValueError(
            f"path must end in .png, got {str(path)!r}: write_png writes lossless PNG only, because a lossy "
            "or other format (JPEG, WebP, ...) would destroy the perturbation needed for recovery"
        )
    depth = check_depth(depth)
    img = _check_pixels(image, depth) if isinstance(image, np.ndarray) and image.dtype.kind in "ui" else check_image(image)
    text_chunks = _check_text(text)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} does not exist; create it first")
    img = img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img
    pixels = img if img.dtype.kind == "u" else to_uint(img, depth=depth)
    publish(encode_parts(pixels, text_chunks), path, overwrite=overwrite)
    return path


def _check_pixels(image: np.ndarray, depth: int) -> np.ndarray:
    """Check quantised samples for :func:`write_png`: the dtype of ``depth`` and a canonical shape."""
    want = np.uint8 if depth == 8 else np.uint16
    if image.dtype != want:
        raise TypeError(
            f"image of integer samples must be {np.dtype(want).name} for depth={depth}, got dtype {image.dtype}; "
            "pass the float image in [0, 1] (or quantise it with imgprivacy.data.to_uint(image, depth=depth))"
        )
    if image.ndim not in (2, 3):
        raise ValueError(f"image must have shape (H, W) or (H, W, C), got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must have 1, 2, 3 or 4 channels, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image must be at least 1x1 pixels, got shape {image.shape}")
    return image
