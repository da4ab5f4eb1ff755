"""PNG bytes: fast lossless encoding with the text chunks in place, exact 16-bit decoding, text read without decoding.

Every PNG is written by :func:`encode_parts`: the rows are filtered here
with numpy (PNG filter "Sub" or "Up", chosen row by row as libpng does) and
deflated by Intel's ISA-L (``isal``, a C library: a fast deflate of the zlib
format), or by the standard library's zlib where ISA-L has no build.  Chunk framing -- signature, IHDR, the text
chunks, IDAT, IEND with their CRC-32 -- is a few lines of the PNG
specification, so one encoder writes every colour type at 8 and 16 bits
(grey, grey+alpha, RGB, RGBA), with the text chunks in the same pass.
The settings were chosen by measurement (``benchmarks/bench_cli.py``
prints the table; README, "Speed"): a k-RTIO photo is close to noise, so
LZ77's match search buys little, and the fast deflate of the filtered
rows writes a protected photo 3-4x faster than OpenCV's libpng at its
fastest settings, at 10-25% more bytes.  Any PNG decoder reads the result
(tested against Pillow and OpenCV's libpng).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np

__all__ = ["PNG_SIGNATURE", "PngInfo", "chunk", "decode_16bit", "decode_plain", "encode_parts", "scan"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

try:  # ISA-L's deflate: several times faster than zlib at its fastest level, at about the same size
    from isal import isal_zlib as _deflate

    DEFLATE = "isal"
    DEFLATE_LEVEL, DEFLATE_STRATEGY = 1, _deflate.Z_DEFAULT_STRATEGY
except ImportError:  # no ISA-L build for this platform: zlib's run-length strategy, its fastest and smallest here
    _deflate = zlib
    DEFLATE = "zlib"
    DEFLATE_LEVEL, DEFLATE_STRATEGY = 1, zlib.Z_RLE

#: the PNG row filters chosen from, row by row (1 "Sub", 2 "Up"), and the raw bytes filtered and deflated at a time
FILTER_SUB, FILTER_UP = 1, 2
_STRIP_BYTES = 1 << 21
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type (grey, grey+alpha, RGB, RGBA)


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC-32 of type and body.

    Examples
    --------
    >>> chunk(b"IEND", b"").hex()
    '0000000049454e44ae426082'
    """
    return b"".join(_chunk_parts(kind, body))


def _chunk_parts(kind: bytes, body) -> tuple:
    """A chunk as three buffers (length and type, body, CRC), so that a large body is not copied."""
    crc = zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind, body, struct.pack(">I", crc)


def _filtered(pixels: np.ndarray) -> Iterator[np.ndarray]:
    """The image's scanlines filtered, strip by strip: (rows, 1 + row bytes) uint8, the filter type first.

    Each row gets "Sub" (each byte minus the byte one pixel to its left) or "Up" (minus the byte above),
    whichever has the smaller sum of absolute values of its bytes read as signed: libpng's heuristic,
    which keeps a smooth photo's file within 10% of libpng's own choice among none, Sub and Up.
    The buffers are reused from strip to strip: each strip must be consumed before the next is made."""
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    bpp = channels * pixels.dtype.itemsize  # bytes per pixel
    rowbytes = width * bpp
    samples = pixels.reshape(height, width * channels)
    per = max(1, min(height, _STRIP_BYTES // (rowbytes + 1)))
    out, up = np.empty((per, rowbytes + 1), np.uint8), np.empty((per, rowbytes), np.uint8)
    above = np.zeros(rowbytes, np.uint8)  # the row before the image is zeros
    for r0 in range(0, height, per):
        strip = samples[r0 : r0 + per]
        if pixels.dtype == np.uint16:  # PNG stores 16-bit samples big-endian
            strip = strip.astype(">u2")
        raw = strip.view(np.uint8).reshape(strip.shape[0], rowbytes)
        n = raw.shape[0]
        dst, alt = out[:n], up[:n]
        dst[:, 1 : 1 + bpp] = raw[:, :bpp]  # uint8 arithmetic: modulo 256, as PNG specifies
        np.subtract(raw[:, bpp:], raw[:, :-bpp], out=dst[:, 1 + bpp :])
        np.subtract(raw[1:], raw[:-1], out=alt[1:])
        np.subtract(raw[0], above, out=alt[0])
        above = raw[-1].copy()
        use_up = _cost(alt) < _cost(dst[:, 1:])
        dst[:, 0] = np.where(use_up, FILTER_UP, FILTER_SUB)
        np.copyto(dst[:, 1:], alt, where=use_up[:, None])
        yield dst


def _cost(rows: np.ndarray) -> np.ndarray:
    """Per row, the sum of ``|b|`` over its bytes ``b`` read as signed (``min(b, 256 - b)``)."""
    return np.minimum(rows, np.negative(rows)).sum(axis=1, dtype=np.uint64)


def encode_parts(pixels: np.ndarray, text_chunks: list[bytes]) -> list[memoryview | bytes]:
    """A PNG of ``pixels`` as buffers to write one after the other: IHDR, the text chunks, the image data.

    Parameters
    ----------
    pixels : ndarray of shape (H, W) or (H, W, C), uint8 or uint16
        C is 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA); H and W at least 1.
    text_chunks : list of bytes
        Whole chunks (:func:`chunk`), placed before the image data.

    Returns
    -------
    list of bytes-like
        ``b"".join(parts)`` is the PNG file.

    Examples
    --------
    >>> x = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    >>> parts = encode_parts(x, [chunk(b"tEXt", b"id\\0x")])
    >>> info = scan(b"".join(parts))
    >>> info.text, info.bitdepth, info.colour
    ({'id': 'x'}, 8, 2)
    """
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim not in (2, 3) or 0 in pixels.shape[:2]:
        raise ValueError(f"pixels must be uint8 or uint16 (H, W) or (H, W, C), got {pixels.dtype} {pixels.shape}")
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    if channels not in _COLOUR_TYPE:
        raise ValueError(f"pixels must have 1 to 4 channels, got {channels}")
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, pixels.dtype.itemsize * 8, _COLOUR_TYPE[channels], 0, 0, 0)
    parts = [PNG_SIGNATURE, *_chunk_parts(b"IHDR", header), *text_chunks]
    deflater = _deflate.compressobj(DEFLATE_LEVEL, _deflate.DEFLATED, 15, 9, DEFLATE_STRATEGY)
    for strip in _filtered(pixels):
        data = deflater.compress(strip)  # copies what it keeps: the strip buffer may be reused
        if data:
            parts += _chunk_parts(b"IDAT", data)
    parts += _chunk_parts(b"IDAT", deflater.flush())
    parts += _chunk_parts(b"IEND", b"")
    return parts


class PngInfo:
    """What :func:`scan` finds in a PNG's chunks without decoding its pixels.

    Attributes
    ----------
    width, height, bitdepth, colour : int
        From IHDR (``colour`` is the PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA).
    text : dict of str to str
        tEXt (Latin-1), zTXt and iTXt (UTF-8) chunks, wherever they are.
    transparent : bytes or None
        The body of a tRNS chunk (for grey and RGB: the colour key).
    exif : bytes or None
        The body of an eXIf chunk.
    standard : bool
        Compression, filter and interlace methods are 0 (deflate, the five
        filters, not interlaced).
    """

    def __init__(self, width: int, height: int, bitdepth: int, colour: int, text: dict, transparent: bool, exif,
                 standard: bool = True):
        self.width, self.height, self.bitdepth, self.colour = width, height, bitdepth, colour
        self.text, self.transparent, self.exif, self.standard = text, transparent, exif, standard


def _chunks(data) -> Iterator[tuple[bytes, memoryview]]:
    view = memoryview(data).cast("B")
    pos, end = 8, len(view)
    while pos + 8 <= end:
        length, kind = struct.unpack_from(">I4s", view, pos)
        body_end = pos + 8 + length
        if body_end + 4 > end:
            raise ValueError(f"truncated PNG chunk {kind!r}")
        body = view[pos + 8:body_end]
        if kind != b"IDAT":  # the image data's integrity is zlib's (Adler-32) and the decoder's
            (crc,) = struct.unpack_from(">I", view, body_end)
            if zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF != crc:
                raise ValueError(f"PNG chunk {kind.decode('latin-1')!r} has a bad CRC")
        yield kind, body
        if kind == b"IEND":
            return
        pos = body_end + 4
    raise ValueError("PNG ends without an IEND chunk")


#: the most a compressed text chunk may expand to (Pillow's limit): a small zTXt/iTXt must not inflate to gigabytes
MAX_TEXT_BYTES = 1 << 20


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, MAX_TEXT_BYTES)
    if inflater.unconsumed_tail:
        raise ValueError(f"a compressed PNG text chunk expands to more than {MAX_TEXT_BYTES} bytes (a decompression bomb?)")
    return out


def _text(kind: bytes, body: bytes) -> tuple[str, str] | None:
    key, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return key.decode("latin-1"), rest.decode("latin-1")
    if kind == b"zTXt":
        return key.decode("latin-1"), _inflate(rest[1:]).decode("latin-1")
    if kind == b"iTXt":
        compressed, rest = rest[0], rest[2:]
        _lang, _, rest = rest.partition(b"\0")
        _translated, _, value = rest.partition(b"\0")
        return key.decode("latin-1"), (_inflate(value) if compressed else value).decode("utf-8")
    return None


def scan(data) -> PngInfo:
    """Read a PNG's header, text, tRNS and eXIf chunks; the image data is skipped, not copied.

    Raises
    ------
    ValueError
        For a file that is not a PNG, a bad CRC outside the image data, or a truncated file.

    Examples
    --------
    >>> scan(b"".join(encode_parts(np.zeros((3, 5), np.uint16), []))).bitdepth
    16
    """
    if bytes(data[:8]) != PNG_SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    header, text, transparent, exif = None, {}, None, None
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            if len(body) != 13:
                raise ValueError(f"PNG IHDR chunk has {len(body)} bytes, not 13")
            header = struct.unpack(">IIBB", body[:10]) + (bytes(body[10:13]) == b"\0\0\0",)
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, value = _text(kind, bytes(body))
            text[key] = value
        elif kind == b"tRNS":
            transparent = bytes(body)
        elif kind == b"eXIf":
            exif = bytes(body)
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    return PngInfo(*header[:4], text, transparent, exif, header[4])


_PLANES = {0: 1, 2: 3, 4: 2, 6: 4}  # PNG colour type -> samples per pixel (palette excluded)


def decode_plain(data, info: PngInfo, *, max_pixels: int | None = None) -> np.ndarray | None:
    """The samples of a plain PNG, as this module writes them, or None for any other PNG.

    Plain: 8 or 16 bits of grey, grey+alpha, RGB or RGBA, not interlaced,
    no tRNS colour key, every row filtered with None, Sub or Up.  The image
    data is inflated by ISA-L (zlib without it) into exactly the bytes its
    header declares, and the rows are unfiltered with numpy (runs of Sub rows
    summed along the row, Up rows added to the row above, modulo 256), so a
    12-MP photo decodes faster than Pillow and OpenCV do.  Every other PNG gets
    None, for the caller's general decoder (Pillow, or OpenCV's libpng for
    16 bits); so does one of more than ``max_pixels`` pixels (Pillow's
    decompression-bomb limit stays the general decoder's to apply).

    Returns
    -------
    ndarray or None
        uint8 or uint16 (native), (H, W) for grey, else (H, W, C).

    Raises
    ------
    ValueError
        For image data that is truncated, too long, not deflate (or fails
        its Adler-32 check), or has a filter type above 4.

    Examples
    --------
    >>> x = np.arange(24, dtype=np.uint16).reshape(2, 4, 3) * 2731
    >>> data = b"".join(encode_parts(x, []))
    >>> bool(np.array_equal(decode_plain(data, scan(data)), x))
    True
    """
    planes = _PLANES.get(info.colour)
    if (planes is None or info.bitdepth not in (8, 16) or not info.standard or info.transparent is not None
            or (max_pixels is not None and info.width * info.height > max_pixels)):
        return None
    bpp = planes * info.bitdepth // 8
    rowbytes = info.width * bpp
    expected = info.height * (rowbytes + 1)
    idat = b"".join(body for kind, body in _chunks(data) if kind == b"IDAT")  # one copy: the views joined
    inflater = _deflate.decompressobj()
    try:  # one byte more than declared is room to see a stream that is too long; no more is ever made
        raw = inflater.decompress(idat, expected + 1)
    except _deflate.error as err:
        raise ValueError(f"PNG image data is not valid deflate: {err}") from None
    if len(raw) != expected:
        raise ValueError(f"PNG image data inflates to {'more than ' if len(raw) > expected else ''}{min(len(raw), expected)} "
                         f"bytes, not the {expected} its header declares")
    if not inflater.eof:  # the stream's end and its Adler-32 check were not reached
        raise ValueError("PNG image data is truncated (its deflate stream does not end)")
    lines = np.frombuffer(raw, np.uint8).reshape(info.height, rowbytes + 1)
    kinds = lines[:, 0]
    if kinds.max() > 4:
        raise ValueError(f"PNG row filter type {int(kinds.max())} does not exist (0-4)")
    if kinds.max() > 2:  # Average or Paeth rows: the general decoder's work
        return None
    filtered, rows = lines[:, 1:], np.empty((info.height, rowbytes), np.uint8)
    starts = np.flatnonzero(np.diff(kinds, prepend=-1))  # runs of one filter type
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), info.height]):
        kind = kinds[start]
        if kind == FILTER_SUB:  # each byte plus the unfiltered byte one pixel to its left (uint8: modulo 256)
            np.cumsum(filtered[start:stop].reshape(stop - start, info.width, bpp), axis=1, dtype=np.uint8,
                      out=rows[start:stop].reshape(stop - start, info.width, bpp))
        elif kind == FILTER_UP:  # each byte plus the unfiltered byte above (zero above the first row)
            first = start
            if start == 0:
                rows[0] = filtered[0]
                first = 1
            for y in range(first, stop):  # row by row: numpy's cumsum down the rows is 10x slower
                np.add(filtered[y], rows[y - 1], out=rows[y])
        else:
            rows[start:stop] = filtered[start:stop]
    del raw, lines, filtered
    samples = rows if info.bitdepth == 8 else rows.view(">u2").astype(np.uint16)
    shape = (info.height, info.width) if planes == 1 else (info.height, info.width, planes)
    return np.ascontiguousarray(samples.reshape(shape))


def decode_16bit(data, info: PngInfo) -> np.ndarray:
    """The samples of a 16-bit PNG, exactly, as uint16 (H, W), (H, W, 2), (H, W, 3) or (H, W, 4).

    Decoded by OpenCV's libpng (Pillow truncates 16-bit colour to 8 bits);
    a tRNS colour key becomes an alpha channel (0 where it matches, else 65535).
    """
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16:
        raise ValueError("cannot decode the 16-bit PNG")
    if arr.ndim == 3 and info.colour in (0, 4):  # grey(+alpha) comes back as BGR(A) with equal colour channels
        arr = arr[..., [0, 3]] if arr.shape[2] == 4 else arr[..., 0]
    elif arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)
    planes = {0: 1, 2: 3}.get(info.colour)
    has_key = info.transparent is not None and planes is not None
    if has_key and (1 if arr.ndim == 2 else arr.shape[2]) == planes:  # a colour key OpenCV left out becomes alpha
        key = np.frombuffer(info.transparent[: 2 * planes], ">u2").astype(np.uint16)
        pixels = arr.reshape(arr.shape[0], arr.shape[1], planes)
        alpha = np.where(np.all(pixels == key, axis=2, keepdims=True), 0, 65535).astype(np.uint16)
        arr = np.concatenate([pixels, alpha], axis=2)
    return np.ascontiguousarray(arr)
