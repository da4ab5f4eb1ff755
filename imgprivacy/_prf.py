"""Keys, the PRF input encoding and AES-128 as a PRF: format version 1.

Format version 1 (fixed; later versions may add, never change):

* A key is 16 bytes (AES-128), made with :mod:`secrets` and stored as 32
  lower-case hex characters in a text file created with mode 0600.
* ``id_tag = SHA-256(image_id)[:8]``, where a ``str`` id is encoded as UTF-8
  and a ``bytes`` id is used as given.
* ``PRF(key, image_id, domain, j, i)`` is the AES-128-ECB encryption under
  ``key`` of the 16-byte block ``id_tag (8) || domain (1) || j (3, big-endian)
  || i (4, big-endian)``, read as a 128-bit big-endian unsigned integer.
  Domain 0 selects overlays (``i = 0``), domain 1 shuffles blocks.
* Format 2 adds domain 2 (``DOMAIN_DERIVE``): the key-derived overlay set,
  ``PRF(key, b"imgprivacy/format2/overlay-set", 2, j, i)`` with ``j`` the
  derived overlay and ``i`` the draw (:func:`imgprivacy.krtio.derived_overlays`).

Key material is never printed, logged or put in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

__all__ = [
    "FORMAT_VERSION",
    "KEY_BYTES",
    "DOMAIN_SELECT",
    "DOMAIN_SHUFFLE",
    "DOMAIN_DERIVE",
    "generate_key",
    "check_key",
    "write_key",
    "read_key",
    "key_check_value",
    "id_tag",
    "encode_block",
    "encode_blocks",
    "aes_ecb",
    "prf",
    "prf_blocks",
    "mod_u128",
]

FORMAT_VERSION = 1
KEY_BYTES = 16
DOMAIN_SELECT = 0
DOMAIN_SHUFFLE = 1
DOMAIN_DERIVE = 2  # format 2: the key-derived overlay set (imgprivacy.krtio.derived_overlays)

ImageId = Union[str, bytes]


def generate_key() -> bytes:
    """Return a fresh random 16-byte key from :func:`secrets.token_bytes`."""
    return secrets.token_bytes(KEY_BYTES)


def check_key(key: object) -> bytes:
    """Return ``key`` as 16 bytes; accepts bytes-like or a 32-character hex string.

    The error message never contains the key, only its type and length.
    """
    if isinstance(key, str):
        text = key.strip()
        if len(text) != 2 * KEY_BYTES:
            raise ValueError(f"key must be 16 bytes or 32 hex characters, got a string of {len(text)} characters")
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError("key must be 32 hex characters (0-9, a-f); the string given is not hex") from None
    if isinstance(key, (bytes, bytearray, memoryview)):
        raw = bytes(key)
        if len(raw) != KEY_BYTES:
            raise ValueError(f"key must be 16 bytes (AES-128), got {len(raw)} bytes; make one with imgprivacy.keygen")
        return raw
    raise TypeError(f"key must be 16 bytes or a 32-character hex string, got {type(key).__name__}")


def write_key(path: Union[str, os.PathLike], key: bytes, *, force: bool = False) -> Path:
    """Store ``key`` as hex in a new file with mode 0600.

    An existing file is never replaced unless ``force=True`` (a lost key means
    photos that can never be recovered); the replacement is atomic.
    """
    key = check_key(key)
    path = Path(path)
    text = (key.hex() + "\n").encode("ascii")
    if not force:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise FileExistsError(
                f"key file {str(path)!r} already exists; refusing to replace it (photos protected with it "
                "could no longer be recovered). Choose another path, or pass force=True / --force"
            ) from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        return path
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_key(path: Union[str, os.PathLike]) -> bytes:
    """Read a key file written by :func:`write_key`.

    Warns when the file is readable by group or others.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"key file {str(path)!r} not found; create one with `imgprivacy keygen {path}`")
    mode = path.stat().st_mode
    if os.name == "posix" and mode & 0o077:
        warnings.warn(
            f"key file {str(path)!r} is readable by other users (mode {oct(mode & 0o777)}); "
            f"restrict it with `chmod 600 {path}`",
            UserWarning,
            stacklevel=2,
        )
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        return check_key(text)
    except (ValueError, TypeError):
        raise ValueError(f"key file {str(path)!r} does not hold a key (expected 32 hex characters)") from None


def key_check_value(key: bytes) -> str:
    """Short public tag that tells whether a key is the right one (8 hex chars).

    ``HMAC-SHA256(key, b"imgprivacy/key-check/v1")[:4]``: it reveals nothing
    useful about the key but lets ``recover`` refuse a wrong key up front.

    Examples
    --------
    >>> key_check_value(bytes(range(16)))
    'e989a081'
    """
    key = check_key(key)
    return hmac.new(key, b"imgprivacy/key-check/v1", hashlib.sha256).digest()[:4].hex()


def id_tag(image_id: ImageId) -> bytes:
    """First 8 bytes of SHA-256 of the image id (UTF-8 for ``str``).

    Examples
    --------
    >>> id_tag("IMG_0001.png").hex()
    '0cc4cc84d5ada1fa'
    """
    if isinstance(image_id, str):
        data = image_id.encode("utf-8")
    elif isinstance(image_id, (bytes, bytearray, memoryview)):
        data = bytes(image_id)
    else:
        raise TypeError(f"image_id must be a str or bytes, got {type(image_id).__name__}")
    if len(data) == 0:
        raise ValueError("image_id must not be empty: every photo needs its own id (e.g. its file name)")
    return hashlib.sha256(data).digest()[:8]


def _check_fields(domain: int, j: int, i_max: int, i_min: int) -> None:
    if not 0 <= domain <= 0xFF:
        raise ValueError(f"domain must be in [0, 255], got {domain}")
    if not 0 <= j <= 0xFFFFFF:
        raise ValueError(f"j must be in [0, 2**24 - 1], got {j}")
    if i_min < 0 or i_max > 0xFFFFFFFF:
        raise ValueError(f"i must be in [0, 2**32 - 1], got values in [{i_min}, {i_max}]")


def encode_block(tag: bytes, domain: int, j: int, i: int) -> bytes:
    """Pack one PRF input block: ``tag (8) || domain (1) || j (3) || i (4)``.

    Examples
    --------
    >>> encode_block(bytes(8), 1, 2, 3).hex()
    '00000000000000000100000200000003'
    """
    if len(tag) != 8:
        raise ValueError(f"tag must be 8 bytes, got {len(tag)}")
    _check_fields(domain, j, i, i)
    return bytes(tag) + bytes([domain]) + j.to_bytes(3, "big") + i.to_bytes(4, "big")


def encode_blocks(tag: bytes, domain: int, j: np.ndarray, i: np.ndarray) -> bytes:
    """Vectorised :func:`encode_block` for arrays ``j`` and ``i`` of equal length."""
    j = np.asarray(j, dtype=np.int64).ravel()
    i = np.asarray(i, dtype=np.int64).ravel()
    if len(tag) != 8:
        raise ValueError(f"tag must be 8 bytes, got {len(tag)}")
    if j.shape != i.shape:
        raise ValueError(f"j and i must have the same length, got {j.size} and {i.size}")
    if i.size == 0:
        return b""
    _check_fields(domain, int(j.min()), int(i.max()), int(i.min()))
    if int(j.max()) > 0xFFFFFF:
        raise ValueError(f"j must be in [0, 2**24 - 1], got {int(j.max())}")
    out = np.empty((i.size, 16), dtype=np.uint8)
    out[:, :8] = np.frombuffer(bytes(tag), dtype=np.uint8)
    out[:, 8] = domain
    out[:, 9:12] = (j.astype(">u4").view(np.uint8).reshape(-1, 4))[:, 1:]
    out[:, 12:16] = i.astype(">u4").view(np.uint8).reshape(-1, 4)
    return out.tobytes()


def aes_ecb(key: bytes, data: bytes) -> bytes:
    """AES-128-ECB encryption of ``data`` (a multiple of 16 bytes) in one call."""
    key = check_key(key)
    if len(data) % 16:
        raise ValueError(f"data must be a multiple of 16 bytes, got {len(data)}")
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def prf(key: bytes, image_id: ImageId, domain: int, j: int, i: int) -> int:
    """The format-1 PRF as a 128-bit integer (one block; see :func:`prf_blocks`)."""
    block = aes_ecb(key, encode_block(id_tag(image_id), domain, j, i))
    return int.from_bytes(block, "big")


def prf_blocks(key: bytes, data: bytes) -> np.ndarray:
    """Encrypt many encoded blocks at once; returns uint8 array of shape (n, 16)."""
    return np.frombuffer(aes_ecb(key, data), dtype=np.uint8).reshape(-1, 16)


def mod_u128(blocks: np.ndarray, modulus: np.ndarray) -> np.ndarray:
    """Each 16-byte big-endian block read as an integer, modulo ``modulus``.

    Exact for any modulus in [1, 2**32]: the remainder is folded in 32-bit
    limbs, so every intermediate stays below 2**64.

    Examples
    --------
    >>> b = np.frombuffer((2**100 + 7).to_bytes(16, "big"), dtype=np.uint8).reshape(1, 16)
    >>> int(mod_u128(b, np.array([1000]))[0]) == (2**100 + 7) % 1000
    True
    """
    blocks = np.ascontiguousarray(blocks, dtype=np.uint8).reshape(-1, 16)
    modulus = np.asarray(modulus, dtype=np.uint64).ravel()
    if modulus.size != blocks.shape[0]:
        raise ValueError(f"need one modulus per block, got {modulus.size} for {blocks.shape[0]} blocks")
    if modulus.size and (int(modulus.min()) < 1 or int(modulus.max()) > 2**32):
        raise ValueError("modulus must be in [1, 2**32]")
    limbs = blocks.view(">u4").astype(np.uint64)  # (n, 4), most significant first
    rem = np.zeros(blocks.shape[0], dtype=np.uint64)
    shift = np.uint64(32)
    for col in range(4):
        rem = ((rem << shift) | limbs[:, col]) % modulus
    return rem
