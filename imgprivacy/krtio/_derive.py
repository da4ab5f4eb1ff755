"""Format 2's private overlay set: keyed crops, flips, rotations and channel choices of a public pool."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .. import _prf, data
from .._validation import _short, check_image

__all__ = ["DERIVE_ID", "DerivedDraw", "derived_draws", "derived_overlays"]

#: The PRF's image id for the overlay-set derivation (format 2), used with ``_prf.DOMAIN_DERIVE``.
DERIVE_ID = b"imgprivacy/format2/overlay-set"
#: Draws of one attempt: ``i = FIELDS * attempt + field``.
FIELDS = 8
#: Attempts per derived overlay before the pool is refused as too flat.
ATTEMPTS = 16
#: Smallest and largest side (pixels) of a pool image.
MIN_SIDE, MAX_SIDE = 16, 2**20
#: Smallest luminance standard deviation of a derived overlay, in 8-bit luminance units times 10,000
#: (0.04 of the full range; the least textured bundled image, retina's centre, has 0.049).
MIN_STD_UNITS = 102_000  # 0.04 * 255 * 10_000
STRIDE = 4  # the flatness test reads every 4th row and column of the crop
LUMA_UNITS = (2125, 7154, 721)  # imgprivacy.krtio.LUMA times 10,000
#: The 6 channel orders, in lexicographic order: derived channel c is channel ``order[c]`` of the crop.
CHANNEL_ORDERS = tuple(itertools.permutations(range(3)))


@dataclass(frozen=True)
class DerivedDraw:
    """The keyed choices behind one derived overlay (secret: never store or print them).

    Attributes
    ----------
    source : int
        Index of the pool image.
    crop : (int, int, int, int)
        ``(r0, r1, c0, c1)``: rows ``r0:r1`` and columns ``c0:c1`` of it.
    transform : int
        0-7: ``np.rot90(crop, transform % 4)`` (counter-clockwise), then a
        left-right flip when ``transform >= 4``.
    order : (int, int, int)
        Channel ``c`` of the derived overlay is channel ``order[c]`` of the crop.
    invert : bool
        Whether the overlay is inverted (``1 - value``, every channel).
    attempt : int
        The attempt accepted (0 unless earlier ones were rejected).
    """

    source: int
    crop: tuple[int, int, int, int]
    transform: int
    order: tuple[int, int, int]
    invert: bool
    attempt: int


def _check_pool(pool) -> Sequence[np.ndarray]:
    """The pool checked; an OverlaySet is returned as it is (read one image at a time, never all at once)."""
    if pool is None:
        return data.overlay_set()
    if isinstance(pool, np.ndarray) or not isinstance(pool, Sequence) or isinstance(pool, (str, bytes)):
        raise TypeError(
            f"pool must be an OverlaySet or a sequence of RGB images (default: the bundled set), got {_short(pool)}; "
            "use imgprivacy.data.overlay_set(folder) for a folder"
        )
    if len(pool) == 0:
        raise ValueError("pool must hold at least one image, got an empty set")
    images = []
    for i, img in enumerate(pool):
        img = check_image(img, f"pool[{i}]", channels=(3,))
        if img.ndim != 3:
            raise ValueError(f"pool[{i}] must be an RGB image of shape (h, w, 3), got shape {img.shape}; "
                             "load folders with imgprivacy.data.overlay_set, which converts grey to RGB")
        if not (MIN_SIDE <= min(img.shape[:2]) and max(img.shape[:2]) <= MAX_SIDE):
            raise ValueError(f"pool[{i}] must have sides of {MIN_SIDE} to {MAX_SIDE} pixels, got shape {img.shape}")
        if not isinstance(pool, data.OverlaySet):
            images.append(img)
    return pool if isinstance(pool, data.OverlaySet) else tuple(images)


def _textured(crop: np.ndarray, order: tuple[int, int, int], invert: bool) -> bool:
    """Exact integer test on every 4th row and column: the derived overlay's 8-bit luminance has std >= 0.04."""
    q = np.rint(crop[::STRIDE, ::STRIDE].astype(np.float64) * 255.0).astype(np.int64)
    lum = np.zeros(q.shape[:2], dtype=np.int64)
    for c in range(3):
        channel = q[..., order[c]]
        lum += LUMA_UNITS[c] * (255 - channel if invert else channel)
    n = lum.size
    total = sum(int(v) for v in lum.sum(axis=1, dtype=np.int64))  # rows fit int64 (sides <= 2**20)
    squares = sum(int(v) for v in (lum * lum).sum(axis=1, dtype=np.int64))
    return n * squares - total * total >= MIN_STD_UNITS * MIN_STD_UNITS * n * n


def _draw(values: list[int], pool: tuple[np.ndarray, ...], attempt: int) -> tuple[DerivedDraw, np.ndarray] | None:
    v_source, v_h, v_w, v_r, v_c, v_t, v_order, v_inv = values
    source = v_source % len(pool)
    img = pool[source]
    height, width = img.shape[:2]
    h_min, w_min = -(-height // 2), -(-width // 2)
    h = h_min + v_h % (height - h_min + 1)
    w = w_min + v_w % (width - w_min + 1)
    r0 = v_r % (height - h + 1)
    c0 = v_c % (width - w + 1)
    order = CHANNEL_ORDERS[v_order % 6]
    invert = v_inv % 2 == 1
    if (h, w) == (height, width):
        return None  # the whole image: a pool image up to flips
    crop = img[r0 : r0 + h, c0 : c0 + w]
    if not _textured(crop, order, invert):
        return None
    return DerivedDraw(source, (r0, r0 + h, c0, c0 + w), v_t % 8, order, invert, attempt), crop


def _render(crop: np.ndarray, draw: DerivedDraw) -> np.ndarray:
    view = np.rot90(crop, draw.transform % 4)
    if draw.transform >= 4:
        view = view[:, ::-1]
    out = np.empty(view.shape, dtype=np.float32)
    for c, src in enumerate(draw.order):
        if draw.invert:
            np.subtract(np.float32(1), view[..., src], out=out[..., c])
        else:
            out[..., c] = view[..., src]
    out.setflags(write=False)
    return out


def _derive(key, pool, *, crops: bool = True) -> list[tuple[DerivedDraw, np.ndarray | None]]:
    """The draws, each with its crop (a view of the pool image) if ``crops``; without, no pool image is kept
    (an OverlaySet makes each image when read: 30 float32 copies of the bundled pool would be 100 MB)."""
    key = _prf.check_key(key)
    images = _check_pool(pool)
    m = len(images)
    if m > 2**24:
        raise ValueError(f"pool must hold at most 2**24 images, got {m}")
    tag = _prf.id_tag(DERIVE_ID)
    j = np.repeat(np.arange(m), ATTEMPTS * FIELDS)
    i = np.tile(np.arange(ATTEMPTS * FIELDS), m)
    blocks = _prf.prf_blocks(key, _prf.encode_blocks(tag, _prf.DOMAIN_DERIVE, j, i))  # one AES call
    raw = blocks.tobytes()
    values = [int.from_bytes(raw[p : p + 16], "big") for p in range(0, len(raw), 16)]
    out = []
    for slot in range(m):
        for attempt in range(ATTEMPTS):
            start = (slot * ATTEMPTS + attempt) * FIELDS
            found = _draw(values[start : start + FIELDS], images, attempt)
            if found is not None:
                out.append(found if crops else (found[0], None))
                break
        else:
            raise ValueError(
                f"pool: no textured crop found for derived overlay {slot} in {ATTEMPTS} attempts (every crop drawn "
                "had a luminance standard deviation below 0.04); give a pool of textured images"
            )
    return out



def derived_draws(key, *, pool=None) -> tuple[DerivedDraw, ...]:
    """The keyed choices behind :func:`derived_overlays`, one per derived overlay (secret).

    For tests, the specification's known-answer vectors and one's own
    inspection; like the key, never store, log or print them.

    Parameters
    ----------
    key : bytes or str
        The user's 16-byte key (or 32 hex characters).
    pool : OverlaySet or sequence of ndarray of shape (h, w, 3), optional
        The public pool; default the bundled set :func:`imgprivacy.data.overlay_set`.

    Returns
    -------
    tuple of DerivedDraw
        ``len(pool)`` draws, in the order of the derived set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pool = [rng.random((16, 24, 3), dtype=np.float32) for _ in range(2)]
    >>> d = derived_draws(bytes(range(16)), pool=pool)[0]
    >>> d.source, d.crop, d.transform, d.order, d.invert
    (0, (4, 15, 8, 23), 7, (1, 2, 0), False)
    """
    return tuple(draw for draw, _ in _derive(key, pool, crops=False))


def derived_overlays(key, *, pool=None) -> data.OverlaySet:
    """Format 2's private overlay set ``S``, derived from the user's key and a public pool.

    A provider who knows the pool (the bundled images are public) and this
    derivation, but not the key, does not know ``S``: each derived overlay is
    a keyed crop of a keyed pool image, flipped or rotated, its colour
    channels reordered, and possibly inverted (a negative).  Nothing needs storing:
    the key re-derives the same set, on any machine.

    Parameters
    ----------
    key : bytes or str
        The user's 16-byte key (or 32 hex characters).
    pool : OverlaySet or sequence of ndarray of shape (h, w, 3), optional
        The public pool, float32 RGB in [0, 1], sides of 16 to 2**20 pixels;
        default the bundled 30 images, :func:`imgprivacy.data.overlay_set`.

    Returns
    -------
    OverlaySet
        ``m = len(pool)`` read-only float32 RGB overlays named ``derived[0]``,
        ``derived[1]``, ..., source ``"derived"``; neither reveals anything
        about the key.  Its ``fingerprint`` is derived from the key: it
        may be authenticated (format 2's tag covers it), never stored.

    Raises
    ------
    TypeError, ValueError
        For a malformed key or pool, or a pool so flat that 16 attempts
        find no textured crop for one overlay.

    Notes
    -----
    The derivation (format 2, frozen).  ``PRF`` is format 1's PRF with image
    id ``b"imgprivacy/format2/overlay-set"`` and domain 2
    (``_prf.DOMAIN_DERIVE``): ``v(j, i) = PRF(key, id, 2, j, i)``, a 128-bit
    integer, with ``j = 0..m-1`` the derived overlay and ``i = 8 t + f``
    the draw ``f`` of attempt ``t = 0..15``.  Every reduction is the
    128-bit value modulo a small ``n`` (as format 1; the bias is below
    ``n / 2**128``).  For attempt ``t`` of overlay ``j``:

    ====  =====================================================  ==========================
    f     draw                                                   value
    ====  =====================================================  ==========================
    0     source image ``s``                                     ``v mod m``
    1     crop height ``h`` (``H x W`` the source's size)        ``ceil(H/2) + v mod (H - ceil(H/2) + 1)``
    2     crop width ``w``                                       ``ceil(W/2) + v mod (W - ceil(W/2) + 1)``
    3     first row ``r0``                                       ``v mod (H - h + 1)``
    4     first column ``c0``                                    ``v mod (W - w + 1)``
    5     flip/rotation ``d``                                    ``v mod 8``
    6     channel order (lexicographic permutations of 0, 1, 2)  ``v mod 6``
    7     inverted (all channels: a negative) when 1         ``v mod 2``
    ====  =====================================================  ==========================

    The attempt is rejected, and the next one drawn, when the crop is the
    whole image (``h = H`` and ``w = W``: a pool image up to flips), or when
    the derived overlay is nearly flat: with ``q = rint(255 x)`` (in float64)
    of the crop's channels at every 4th row and column (``crop[::4, ::4]``), ``L = 2125 q'_0 + 7154 q'_1 + 721 q'_2`` where
    ``q'_c`` is ``q`` of channel ``order[c]``, ``255 - q`` of it when the
    overlay is inverted, the exact integer test ``n sum(L^2) - (sum L)^2 <
    102000^2 n^2`` (``n`` the pixels read), i.e. a luminance standard deviation below
    0.04.  Sixteen rejected attempts refuse the pool.  The overlay is then
    ``x[r0:r0+h, c0:c0+w]``, channel ``c`` taken from channel ``order[c]``
    and replaced by ``1 - x`` (float32) when inverted, rotated by
    ``np.rot90(., d mod 4)`` (counter-clockwise) and flipped left-right
    (``[:, ::-1]``) when ``d >= 4``.

    How hard ``S`` is to guess: per overlay, the bundled pool allows about
    ``9.5e12`` distinct draws (the sum over the 30 sources of the crops of
    at least half of each side but not the whole, times 8 flips/rotations,
    6 channel orders and 2 for the negative; for the 7 grey sources the
    channel order changes nothing, which leaves about ``9.1e12`` distinct
    images).  The flatness rule rejects about 1% of attempts.  An attacker
    does not need the exact crop, only one close enough once resized to the
    photo: for a 64 x 64 face, crops whose sides and corners differ by less
    than a pixel of the resized overlay look alike, which leaves roughly
    ``7e8`` effectively different overlays per slot -- far beyond what the
    known-S attack (:func:`imgprivacy.attacks.known_overlay_attack`), which
    scores every candidate on every photo, can try.  What it does with the
    pool instead is measured in notebook 06.  Inverting single channels
    (instead of the whole overlay) was tried and dropped: it cancels
    luminance contrast, and the provider's CNN then recognised 0.38 of the
    k-RTIO faces against 0.27 with the public set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pool = [rng.random((16, 24, 3), dtype=np.float32) for _ in range(2)]
    >>> S = derived_overlays(bytes(range(16)), pool=pool)
    >>> len(S), S.names, S.source, S[0].shape
    (2, ('derived[0]', 'derived[1]'), 'derived', (15, 11, 3))
    >>> S.fingerprint == derived_overlays(bytes(range(16)), pool=pool).fingerprint
    True
    """
    lazy = pool is None or isinstance(pool, data.OverlaySet)  # made from the pool when read: no pixels of its own
    found = _derive(key, pool, crops=not lazy)
    names = tuple(f"derived[{j}]" for j in range(len(found)))
    if lazy:
        views = [(d.source, d.crop, d.transform, d.order, d.invert) for d, _crop in found]
        return data.view_set(data.overlay_set() if pool is None else pool, views, names=names, source="derived")
    images = tuple(_render(crop, draw) for draw, crop in found)
    return data.OverlaySet(images, names, data.overlay_fingerprint(images), "derived")
