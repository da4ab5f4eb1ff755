"""PNG bytes: fast lossless encoding with the text chunks in place, exact 16-bit decoding, text read without decoding.

Encoding goes through C libraries only where they can: OpenCV's libpng
(with zlib-ng) for grey, RGB and RGBA at 8 and 16 bits, Pillow for 8-bit
grey+alpha, which OpenCV cannot write, and pypng for 16-bit grey+alpha,
which neither can.  The zlib settings were chosen by measurement
(``benchmarks/bench_cli.py`` prints the table; README, "Speed"): a k-RTIO
photo is close to noise, so LZ77's match search buys little; the run-length
strategy with libpng's fast row filters (none, sub, up) writes a 12-MP
photo 10x faster than Pillow's default (level 6) at the same size, and
still shrinks flat areas (runs of zero after filtering).

The text chunks are encoded here and placed right after IHDR, which every
PNG encoder writes first at a fixed offset (bytes 8-33): the encoded
stream is written around them, never parsed again.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np

__all__ = ["PNG_SIGNATURE", "PngInfo", "chunk", "decode_16bit", "encode_parts", "scan"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_IHDR_END = 33  # signature (8) + length (4) + "IHDR" (4) + 13 bytes + CRC (4)

#: zlib level, strategy and libpng row filters of every PNG written (see the module notes).
ZLIB_LEVEL = 1
ZLIB_STRATEGY = zlib.Z_RLE


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC-32 of type and body.

    Examples
    --------
    >>> chunk(b"IEND", b"").hex()
    '0000000049454e44ae426082'
    """
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _split_after_ihdr(encoded) -> tuple[memoryview, memoryview]:
    view = memoryview(encoded).cast("B")
    if bytes(view[:8]) != PNG_SIGNATURE or bytes(view[8:16]) != b"\x00\x00\x00\x0dIHDR":
        raise RuntimeError("the PNG encoder did not write IHDR first")  # never: every encoder here does
    return view[:_IHDR_END], view[_IHDR_END:]


def _opencv_png(pixels: np.ndarray):
    import cv2

    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    params = [cv2.IMWRITE_PNG_COMPRESSION, ZLIB_LEVEL, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10; before it libpng's default adaptive filters
        params += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS]
    ok, encoded = cv2.imencode(".png", pixels, params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a PNG of shape {pixels.shape} and dtype {pixels.dtype}")
    return encoded


def _grey_alpha_png(pixels: np.ndarray) -> bytes:
    import io

    if pixels.dtype == np.uint8:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(pixels, mode="LA").save(buf, format="PNG", compress_level=ZLIB_LEVEL, compress_type=ZLIB_STRATEGY)
        return buf.getvalue()
    import png  # 16-bit grey+alpha: no C encoder here writes it

    height, width = pixels.shape[:2]
    packed = np.ascontiguousarray(pixels, dtype=">u2").reshape(height, -1)
    buf = io.BytesIO()
    png.Writer(width, height, greyscale=True, alpha=True, bitdepth=16, compression=ZLIB_LEVEL).write_packed(
        buf, (row.tobytes() for row in packed))
    return buf.getvalue()


def encode_parts(pixels: np.ndarray, text_chunks: list[bytes]) -> list[memoryview | bytes]:
    """A PNG of ``pixels`` as buffers to write one after the other: up to IHDR, the text chunks, the rest.

    Parameters
    ----------
    pixels : ndarray of shape (H, W) or (H, W, C), uint8 or uint16
        C is 2 (grey+alpha), 3 (RGB) or 4 (RGBA).
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
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    encoded = _grey_alpha_png(pixels) if channels == 2 else _opencv_png(pixels)
    head, rest = _split_after_ihdr(encoded)
    return [head, *text_chunks, rest]


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
    """

    def __init__(self, width: int, height: int, bitdepth: int, colour: int, text: dict, transparent: bool, exif):
        self.width, self.height, self.bitdepth, self.colour = width, height, bitdepth, colour
        self.text, self.transparent, self.exif = text, transparent, exif


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
            header = struct.unpack(">IIBB", body[:10])
        elif kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, value = _text(kind, bytes(body))
            text[key] = value
        elif kind == b"tRNS":
            transparent = bytes(body)
        elif kind == b"eXIf":
            exif = bytes(body)
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    return PngInfo(*header, text, transparent, exif)


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
