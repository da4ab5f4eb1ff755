"""k-RTIO format 2: a fresh nonce per photo, a per-photo key and authenticated, unlinkable metadata.

Format 2 (fixed; the README's "k-RTIO format version 2" section is the same text):

* ``nonce``: :func:`new_nonce`, 16 bytes from :mod:`secrets` written as 32
  lower-case hex characters; it is the photo's image id.  An expert may give
  any non-empty text instead; :func:`nonce_bytes` reads 32 lower-case hex
  characters as hex and any other text as UTF-8.
* ``K_photo = HMAC-SHA256(key, b"imgprivacy/format2/photo-key" || nonce_bytes)[:16]``
  (:func:`photo_key`); the overlay choice and the block shuffles are format
  1's :func:`~imgprivacy.krtio.plan` under ``K_photo`` with the nonce string
  as image id, so all 128 bits of the nonce count.
* ``K_tag = HMAC-SHA256(key, b"imgprivacy/format2/tag-key")`` (:func:`tag_key`).
* metadata: one PNG text chunk ``imgprivacy`` holding the canonical JSON
  (``sort_keys``, separators ``(",", ":")``) of ``format, scheme, nonce,
  alpha, k, block, depth, source_depth, shape, overlays`` (``"derived"`` or
  ``"own"``), ``pool`` (the public pool's fingerprint, only for
  ``"derived"``) and ``tag``;
* ``tag = HMAC-SHA256(K_tag, canonical JSON of every field but tag, plus
  "set": the fingerprint of the overlay set actually used)``, 64 hex
  characters.  The set's fingerprint is authenticated but never stored.

No value is the same on two photos of one key unless it is the same for
every user with those settings: no key check value, no file name, no
fingerprint of a key-derived or private set.  Format 1's metadata is read by
:func:`read_metadata` too (its files stay recoverable forever); nothing new
is written in format 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import secrets
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

import numpy as np

from .. import _prf
from .._validation import check_alpha, check_block, check_image, check_int
from ._overlays import PreparedOverlays, prepare_overlays
from ._scheme import perturb, recover

FORMAT2 = 2
META_KEY = "imgprivacy"
NONCE_BYTES = 16
PHOTO_KEY_LABEL = b"imgprivacy/format2/photo-key"
TAG_KEY_LABEL = b"imgprivacy/format2/tag-key"
OVERLAY_KINDS = ("derived", "own")
_HEX_NONCE = re.compile(r"[0-9a-f]{32}")
_FIELDS2 = ("format", "scheme", "nonce", "alpha", "k", "block", "depth", "source_depth", "shape", "overlays")


class MetadataError(ValueError):
    """The ``imgprivacy`` text chunk cannot be read, or names another format."""


class TagMismatch(ValueError):
    """The format-2 tag does not verify: wrong key, wrong overlay set, or an edited file."""


def new_nonce() -> str:
    """A fresh random nonce: 16 bytes from :mod:`secrets` as 32 lower-case hex characters.

    Examples
    --------
    >>> n = new_nonce()
    >>> len(n), n == n.lower(), n != new_nonce()
    (32, True, True)
    """
    return secrets.token_hex(NONCE_BYTES)


def nonce_bytes(nonce: str) -> bytes:
    """The bytes a nonce stands for: hex for 32 lower-case hex characters, else UTF-8.

    Examples
    --------
    >>> nonce_bytes("00" * 16) == bytes(16), nonce_bytes("my-photo")
    (True, b'my-photo')
    """
    if not isinstance(nonce, str):
        raise TypeError(f"nonce must be a str, got {type(nonce).__name__}")
    if not nonce:
        raise ValueError("nonce must not be empty: every photo needs its own id (leave --id out for a random one)")
    if _HEX_NONCE.fullmatch(nonce):
        return bytes.fromhex(nonce)
    return nonce.encode("utf-8")


def photo_key(key: bytes, nonce: str) -> bytes:
    """``K_photo = HMAC-SHA256(key, b"imgprivacy/format2/photo-key" || nonce_bytes)[:16]``.

    Examples
    --------
    >>> photo_key(bytes(range(16)), "00" * 16).hex()
    'f78875de11c51a61fd17dfd54f4bb633'
    """
    key = _prf.check_key(key)
    return hmac.new(key, PHOTO_KEY_LABEL + nonce_bytes(nonce), hashlib.sha256).digest()[:16]


def tag_key(key: bytes) -> bytes:
    """``K_tag = HMAC-SHA256(key, b"imgprivacy/format2/tag-key")`` (32 bytes).

    Examples
    --------
    >>> len(tag_key(bytes(16)))
    32
    """
    key = _prf.check_key(key)
    return hmac.new(key, TAG_KEY_LABEL, hashlib.sha256).digest()


def canonical_json(payload: Mapping) -> str:
    """JSON with sorted keys and no spaces, the one encoding tags are computed over.

    Examples
    --------
    >>> canonical_json({"b": [8, 8], "a": 0.45})
    '{"a":0.45,"b":[8,8]}'
    """
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _shape3(shape: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(int(s) for s in shape)
    if len(dims) == 2:
        dims = dims + (1,)
    if len(dims) != 3 or min(dims) < 1 or dims[2] > 4:
        raise ValueError(f"shape must be (H, W) or (H, W, C) with C in 1..4, got {tuple(shape)}")
    return dims


@dataclass(frozen=True)
class Format2Metadata:
    """The public settings of one format-2 photo and its tag.

    Attributes
    ----------
    nonce : str
        The photo's image id (32 hex characters, or an expert's text).
    alpha, k, block
        The k-RTIO settings.
    depth, source_depth : int
        Bits per sample of the protected PNG and of the original.
    shape : (int, int, int)
        ``(H, W, C)`` of the photo (``C = 1`` for grey).
    overlays : {"derived", "own"}
        The key-derived private set, or an overlay folder of the user's own.
    pool : str or None
        Fingerprint of the public pool the derived set comes from (None for "own").
    tag : str
        64 hex characters, :func:`compute_tag`; empty until computed.

    Examples
    --------
    >>> m = Format2Metadata("00" * 16, 0.45, 3, (8, 8), 8, 8, (4, 4, 3), "own", None)
    >>> m.to_json()[:30]
    '{"alpha":0.45,"block":[8,8],"d'
    """

    nonce: str
    alpha: float
    k: int
    block: tuple[int, int]
    depth: int
    source_depth: int
    shape: tuple[int, int, int]
    overlays: str
    pool: str | None
    tag: str = ""
    format: int = FORMAT2
    scheme: str = "k-rtio"

    def __post_init__(self) -> None:
        nonce_bytes(self.nonce)
        object.__setattr__(self, "alpha", check_alpha(float(self.alpha)))
        object.__setattr__(self, "k", check_int(self.k, "k", minimum=1))
        object.__setattr__(self, "block", check_block(tuple(self.block)))
        for name in ("depth", "source_depth"):
            if getattr(self, name) not in (8, 16):
                raise ValueError(f"{name} must be 8 or 16, got {getattr(self, name)!r}")
        object.__setattr__(self, "shape", _shape3(self.shape))
        if self.overlays not in OVERLAY_KINDS:
            raise ValueError(f"overlays must be 'derived' or 'own', got {self.overlays!r}")
        if (self.pool is None) != (self.overlays == "own"):
            raise ValueError("pool is the public pool's fingerprint for overlays='derived' and absent for 'own'")

    def fields(self) -> dict:
        """Every stored field but ``tag``."""
        out = {
            "format": self.format,
            "scheme": self.scheme,
            "nonce": self.nonce,
            "alpha": self.alpha,
            "k": self.k,
            "block": list(self.block),
            "depth": self.depth,
            "source_depth": self.source_depth,
            "shape": list(self.shape),
            "overlays": self.overlays,
        }
        if self.pool is not None:
            out["pool"] = self.pool
        return out

    def to_json(self) -> str:
        """The canonical JSON stored in the ``imgprivacy`` text chunk."""
        return canonical_json({**self.fields(), "tag": self.tag})

    def to_text(self, *, software: str) -> dict[str, str]:
        """PNG text chunks: ``imgprivacy`` (the metadata) and ``Software``."""
        return {META_KEY: self.to_json(), "Software": software}


@dataclass(frozen=True)
class Format1Metadata:
    """The metadata of a format-1 photo (read only; nothing new is written in format 1)."""

    image_id: str
    alpha: float
    k: int
    block: tuple[int, int]
    overlay_set: str
    overlay_count: int
    depth: int
    source_depth: int
    key_check: str
    format: int = 1
    scheme: str = "k-rtio"


def read_metadata(text: Mapping[str, str]) -> Format1Metadata | Format2Metadata | None:
    """Parse the ``imgprivacy`` text chunk of a protected PNG (format 1 or 2).

    Returns None when there is no such chunk; raises :class:`MetadataError`
    when it is damaged or names a format this version does not read.

    Examples
    --------
    >>> m = Format2Metadata("00" * 16, 0.45, 3, (8, 8), 8, 8, (4, 4, 3), "own", None, "ab" * 32)
    >>> read_metadata(m.to_text(software="x")) == m
    True
    >>> read_metadata({}) is None
    True
    """
    raw = text.get(META_KEY)
    if raw is None:
        return None
    try:
        meta = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        raise MetadataError("its imgprivacy metadata is not JSON (damaged)") from None
    if not isinstance(meta, dict):
        raise MetadataError("its imgprivacy metadata is not a JSON object (damaged)")
    fmt, scheme = meta.get("format"), meta.get("scheme")
    if fmt not in (1, 2) or scheme != "k-rtio":
        raise MetadataError(
            f"it was protected with format {fmt!r} / scheme {scheme!r}; this imgprivacy reads formats 1 and 2 "
            "(k-rtio): upgrade imgprivacy"
        )
    try:
        if fmt == 1:
            return Format1Metadata(
                image_id=str(meta["image_id"]), alpha=check_alpha(float(meta["alpha"])), k=int(meta["k"]),
                block=check_block(tuple(int(b) for b in meta["block"])), overlay_set=str(meta["overlay_set"]),
                overlay_count=int(meta["overlay_count"]), depth=int(meta["depth"]),
                source_depth=int(meta["source_depth"]), key_check=str(meta["key_check"]),
            )
        expected = set(_FIELDS2) | {"tag"} | ({"pool"} if meta.get("overlays") == "derived" else set())
        if set(meta) != expected:
            raise MetadataError(f"its format-2 metadata has fields {sorted(meta)}, expected {sorted(expected)}")
        tag = meta["tag"]
        if not (isinstance(tag, str) and re.fullmatch(r"[0-9a-f]{64}", tag)):
            raise MetadataError("its format-2 tag is not 64 hex characters (damaged)")
        if not all(isinstance(meta[n], int) and not isinstance(meta[n], bool) for n in ("k", "depth", "source_depth")):
            raise MetadataError("its k, depth and source_depth must be integers (damaged)")
        return Format2Metadata(
            nonce=meta["nonce"] if isinstance(meta["nonce"], str) else _bad("nonce"),
            alpha=meta["alpha"] if isinstance(meta["alpha"], (int, float)) and not isinstance(meta["alpha"], bool) else _bad("alpha"),
            k=meta["k"], block=tuple(meta["block"]), depth=meta["depth"], source_depth=meta["source_depth"],
            shape=tuple(meta["shape"]), overlays=meta["overlays"], pool=meta.get("pool"), tag=tag,
        )
    except MetadataError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise MetadataError(f"its imgprivacy metadata is damaged ({exc})") from None


def _bad(name: str):
    raise MetadataError(f"its {name} has the wrong type (damaged)")


def compute_tag(key: bytes, meta: Format2Metadata, *, set_fingerprint: str) -> str:
    """The format-2 tag: HMAC-SHA256 under :func:`tag_key` of the fields and the set's fingerprint.

    Examples
    --------
    >>> m = Format2Metadata("00" * 16, 0.45, 3, (8, 8), 8, 8, (4, 4, 3), "own", None)
    >>> t = compute_tag(bytes(16), m, set_fingerprint="f" * 64)
    >>> len(t), t == compute_tag(bytes(16), m, set_fingerprint="e" * 64)
    (64, False)
    """
    if not isinstance(set_fingerprint, str) or not set_fingerprint:
        raise ValueError("set_fingerprint must be the overlay set's fingerprint (a non-empty str)")
    message = canonical_json({**meta.fields(), "set": set_fingerprint}).encode("ascii")
    return hmac.new(tag_key(key), message, hashlib.sha256).hexdigest()


def verify_tag(key: bytes, meta: Format2Metadata, *, set_fingerprint: str) -> None:
    """Raise :class:`TagMismatch` unless ``meta.tag`` is the tag of ``meta`` under ``key`` and the set.

    Examples
    --------
    >>> m = Format2Metadata("00" * 16, 0.45, 3, (8, 8), 8, 8, (4, 4, 3), "own", None)
    >>> m = Format2Metadata(**{**m.__dict__, "tag": compute_tag(bytes(16), m, set_fingerprint="f")})
    >>> verify_tag(bytes(16), m, set_fingerprint="f")
    >>> verify_tag(bytes(range(16)), m, set_fingerprint="f")
    Traceback (most recent call last):
    ...
    imgprivacy.krtio._format2.TagMismatch: the metadata's tag does not verify: wrong key, wrong overlay folder, or the file was edited or cropped
    """
    good = compute_tag(key, meta, set_fingerprint=set_fingerprint)
    if not hmac.compare_digest(good, meta.tag):
        raise TagMismatch(
            "the metadata's tag does not verify: wrong key, wrong overlay folder, or the file was edited or cropped"
        )


# --------------------------------------------------------------------------- safe settings
def max_recovery_error(alpha: float, *, depth: int, source_depth: int, k: int = 3) -> float:
    """Worst-case error of a recovered sample, in grey levels of the original's depth.

    A PNG of ``depth`` bits stores each sample within ``0.5 / (2**depth - 1)``;
    :func:`~imgprivacy.krtio.recover` computes ``(stored - w * sum) / alpha``,
    so that error grows by ``1 / alpha``.  The float32 arithmetic adds at most
    ``(2 k + 4) * 2**-24`` before the division (the stored value's conversion,
    the ``k``-term weighted sum and the subtraction, each rounded once with
    terms below 1).  In levels of the ``source_depth``-bit original this is
    ``(2**source_depth - 1) * (0.5 / (2**depth - 1) + (2 k + 4) * 2**-24) / alpha``.
    Rounding the recovered value to the original's grid then lands within one
    level when this is below 1.5 (the true value is on the grid).

    Examples
    --------
    >>> round(max_recovery_error(0.45, depth=8, source_depth=8), 3)
    1.111
    >>> max_recovery_error(0.45, depth=16, source_depth=8) < 0.01
    True
    """
    alpha = check_alpha(alpha)
    return (2**source_depth - 1) * (0.5 / (2**depth - 1) + (2 * k + 4) * 2.0**-24) / alpha


def min_safe_alpha(*, depth: int, source_depth: int, k: int = 3) -> float:
    """The smallest alpha, rounded up to two significant digits, that recovers within one grey level.

    Solves :func:`max_recovery_error` ``< 1.5`` for alpha.

    Examples
    --------
    >>> min_safe_alpha(depth=8, source_depth=8), min_safe_alpha(depth=16, source_depth=8)
    (0.34, 0.0014)
    >>> min_safe_alpha(depth=16, source_depth=16)  # float32 rounding counts at 16 bits
    0.36
    """
    exact = (2**source_depth - 1) * (0.5 / (2**depth - 1) + (2 * k + 4) * 2.0**-24) / 1.5
    scale = 10.0 ** (math.floor(math.log10(exact)) - 1)
    return float(f"{math.ceil(exact / scale * (1 - 1e-12)) * scale:.3g}")


#: the fewest bits the block shuffles of one photo must carry (see :func:`shuffle_bits`)
MIN_SHUFFLE_BITS = 80


def shuffle_bits(k: int, b: int) -> float:
    """``log2((b!)**k)``: the bits of key space the ``k`` keyed shuffles of ``b`` blocks carry.

    :func:`~imgprivacy.krtio.keyspace` is ``C(m, k) * (b!)**k``; the choice of
    overlays adds only ``log2 C(m, k)`` (12 bits for 3 of 30), so the shuffles
    must carry the key space.  80 bits is the usual floor below which
    exhaustive search is practical for a well-funded attacker (NIST SP 800-57
    retired 80-bit security in 2013); with ``k = 3`` it needs at least 12 blocks,
    with ``k = 1`` at least 25.

    Examples
    --------
    >>> round(shuffle_bits(3, 12), 1), round(shuffle_bits(3, 11), 1)
    (86.5, 75.8)
    """
    k = check_int(k, "k", minimum=1)
    b = check_int(b, "b", minimum=1)
    return k * math.lgamma(b + 1) / math.log(2)


def min_blocks(k: int) -> int:
    """The fewest blocks per photo whose ``k`` shuffles carry :data:`MIN_SHUFFLE_BITS` bits.

    Examples
    --------
    >>> min_blocks(3), min_blocks(1)
    (12, 25)
    """
    b = 1
    while shuffle_bits(k, b) < MIN_SHUFFLE_BITS:
        b += 1
    return b


# --------------------------------------------------------------------------- one photo
OverlaysLike = Union[Sequence[np.ndarray], PreparedOverlays]


def protect_photo(
    image: np.ndarray,
    key: bytes,
    *,
    overlays: OverlaysLike,
    set_fingerprint: str,
    kind: str,
    pool: str | None = None,
    alpha: float = 0.45,
    k: int = 3,
    block: int | tuple[int, int] = 8,
    depth: int = 8,
    source_depth: int = 8,
    nonce: str | None = None,
) -> tuple[np.ndarray, Format2Metadata]:
    """Protect one photo in format 2: a fresh nonce, the plan under ``K_photo``, the tagged metadata.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1].
    key : bytes
        The user's 16-byte key.
    overlays : sequence of ndarray or PreparedOverlays
        The overlay set used (the key-derived set, or one's own).
    set_fingerprint : str
        That set's fingerprint (authenticated by the tag, never stored).
    kind : {"derived", "own"}
        Which kind of set ``overlays`` is.
    pool : str, optional
        The public pool's fingerprint, required for ``kind="derived"``.
    alpha, k, block
        k-RTIO settings.
    depth, source_depth : {8, 16}
        Bits of the PNG to be written and of the original.
    nonce : str, optional
        An expert's image id; by default :func:`new_nonce`.

    Returns
    -------
    (ndarray, Format2Metadata)
        The protected image (float32) and its metadata with the tag.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> x = rng.random((8, 8, 3), dtype=np.float32)
    >>> y, m = protect_photo(x, bytes(16), overlays=S, set_fingerprint="f", kind="own", k=2, block=2)
    >>> bool(np.abs(recover_photo(y, bytes(16), meta=m, overlays=S, set_fingerprint="f") - x).max() < 1e-5)
    True
    """
    img = check_image(image)
    nonce = new_nonce() if nonce is None else nonce
    meta = Format2Metadata(nonce, alpha, k, check_block(block), depth, source_depth, img.shape, kind, pool)
    tag = compute_tag(key, meta, set_fingerprint=set_fingerprint)
    meta = Format2Metadata(**{**meta.__dict__, "tag": tag})
    out = perturb(img, photo_key(key, nonce), image_id=nonce, overlays=overlays, k=meta.k, alpha=meta.alpha, block=meta.block)
    return out, meta


def check_shape(meta: Format2Metadata, shape: Sequence[int]) -> None:
    """Raise :class:`TagMismatch` when the image's shape is not the one the metadata authenticates."""
    if _shape3(shape) != meta.shape:
        h, w, c = meta.shape
        raise TagMismatch(
            f"the image is {shape[1]}x{shape[0]} pixels with {_shape3(shape)[2]} channel(s) but was protected "
            f"at {w}x{h} with {c}: the file was cropped, resized or edited"
        )


def recover_photo(
    protected: np.ndarray,
    key: bytes,
    *,
    meta: Format2Metadata,
    overlays: OverlaysLike,
    set_fingerprint: str,
) -> np.ndarray:
    """Verify a format-2 photo's tag and shape, then undo k-RTIO.

    Raises :class:`TagMismatch` (nothing computed) when the key, the overlay
    set, the metadata or the image's shape is not what was protected.
    See :func:`protect_photo` for an example.
    """
    img = check_image(protected, "protected", check_range=False)
    verify_tag(key, meta, set_fingerprint=set_fingerprint)
    check_shape(meta, img.shape)
    if not isinstance(overlays, PreparedOverlays):
        overlays = prepare_overlays(overlays, img.shape, block=meta.block)
    return recover(img, photo_key(key, meta.nonce), image_id=meta.nonce, overlays=overlays, k=meta.k, alpha=meta.alpha, block=meta.block)


def pixels_sha256(pixels: np.ndarray) -> str:
    """SHA-256 of stored integer pixels (uint8 or uint16), with their shape and depth.

    The digest covers ``b"imgprivacy/pixels/v1" || H, W, C, depth (4 bytes
    each, big-endian) || samples (big-endian, row-major)``; a grey image has
    ``C = 1``.

    Examples
    --------
    >>> pixels_sha256(np.zeros((2, 2), np.uint8)) == pixels_sha256(np.zeros((2, 2, 1), np.uint8))
    True
    >>> pixels_sha256(np.zeros((2, 2), np.uint8)) == pixels_sha256(np.zeros((2, 2), np.uint16))
    False
    """
    arr = np.asarray(pixels)
    if arr.dtype not in (np.uint8, np.uint16):
        raise TypeError(f"pixels must be uint8 or uint16, got {arr.dtype}")
    h, w, c = _shape3(arr.shape)
    depth = 8 if arr.dtype == np.uint8 else 16
    head = b"imgprivacy/pixels/v1" + b"".join(v.to_bytes(4, "big") for v in (h, w, c, depth))
    digest = hashlib.sha256(head)
    digest.update(memoryview(np.ascontiguousarray(arr, dtype=">u2" if depth == 16 else np.uint8)).cast("B"))  # no copy of 8-bit
    return digest.hexdigest()
