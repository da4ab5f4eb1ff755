"""k-Randomized Transparent Image Overlays (k-RTIO), format version 1.

k-RTIO (section 5.2 of the paper) hides a photo under a *unique* overlay
derived from a small public set ``S`` of ``m`` face-free images, a 16-byte
secret key and the photo's id:

1. choose ``k`` overlays of ``S`` with the keyed PRF (domain 0);
2. cut each chosen overlay into ``b`` blocks and shuffle them with a keyed
   Fisher-Yates shuffle (domain 1, one stream per position ``j``);
3. ``perturbed = alpha * image + (1 - alpha) / k * sum(shuffled overlays)``.

Anyone with the key and ``S`` re-derives the overlay and inverts step 3, so
nothing per photo needs to be stored.  The resampling that fits an overlay
to the image is in :mod:`imgprivacy._resample`; both it and the PRF are
frozen as format version 1.

The PRF of format 1 (frozen; re-exported here as public API):

* :func:`id_tag` -- ``SHA-256(image_id)[:8]``, a ``str`` id encoded as UTF-8;
* :func:`encode_block` -- the 16-byte PRF input ``id_tag (8) || domain (1)
  || j (3, big-endian) || i (4, big-endian)``; domain 0 selects overlays
  (``i = 0``), domain 1 shuffles blocks;
* :func:`prf` -- ``PRF(key, image_id, domain, j, i)``, the AES-128-ECB
  encryption of that block under the 16-byte key, read as a 128-bit
  big-endian unsigned integer.

>>> id_tag("IMG_0001.png").hex()
'0cc4cc84d5ada1fa'
>>> encode_block(id_tag("IMG_0001.png"), 1, 2, 3).hex()
'0cc4cc84d5ada1fa0100000200000003'
>>> prf(bytes(range(16)), "IMG_0001.png", 0, 1, 0) % 30 == select_overlays(bytes(range(16)), "IMG_0001.png", k=1, m=30)[0]
True

Geometry: with block ``(bh, bw)`` an image of ``H x W`` pixels is covered by
a grid of ``gh = ceil(H / bh)`` by ``gw = ceil(W / bw)`` blocks, so
``b = gh * gw`` and any image size works.  Each overlay is resized to the
padded grid ``(gh * bh, gw * bw)``, converted to the image's colour channels,
shuffled on that grid (blocks numbered row-major; block ``p`` of the shuffled
overlay is block ``perm[p]`` of the unshuffled one), then cropped to
``H x W``.  Grey images use the luminance ``0.2125 R + 0.7154 G + 0.0721 B``;
an alpha channel (grey+alpha or RGBA) is passed through untouched.
"""

from __future__ import annotations

from .._prf import encode_block, id_tag, prf
from ._derive import DerivedDraw, derived_draws, derived_overlays
from ._overlays import LUMA, OverlayCache, PreparedOverlays, prepare_overlays, resolve_overlays
from ._plan import KRTIOPlan, block_permutation, fisher_yates_reference, grid_shape, keyspace, plan, select_overlays
from ._scheme import mix_weights, overlay_for, perturb, perturb_batch, recover, recover_batch
from ._format2 import (
    FORMAT2,
    MIN_SHUFFLE_BITS,
    Format1Metadata,
    Format2Metadata,
    MetadataError,
    TagMismatch,
    canonical_json,
    check_shape,
    compute_tag,
    max_recovery_error,
    min_blocks,
    min_safe_alpha,
    new_nonce,
    nonce_bytes,
    photo_key,
    pixels_sha256,
    protect_photo,
    read_metadata,
    recover_photo,
    shuffle_bits,
    tag_key,
    verify_tag,
)

__all__ = [
    "FORMAT2",
    "MIN_SHUFFLE_BITS",
    "Format1Metadata",
    "Format2Metadata",
    "MetadataError",
    "TagMismatch",
    "canonical_json",
    "check_shape",
    "compute_tag",
    "max_recovery_error",
    "min_blocks",
    "min_safe_alpha",
    "new_nonce",
    "nonce_bytes",
    "photo_key",
    "pixels_sha256",
    "protect_photo",
    "read_metadata",
    "recover_photo",
    "shuffle_bits",
    "tag_key",
    "verify_tag",
    "DerivedDraw",
    "KRTIOPlan",
    "LUMA",
    "OverlayCache",
    "PreparedOverlays",
    "block_permutation",
    "derived_draws",
    "derived_overlays",
    "encode_block",
    "fisher_yates_reference",
    "grid_shape",
    "id_tag",
    "keyspace",
    "mix_weights",
    "overlay_for",
    "perturb",
    "perturb_batch",
    "plan",
    "prepare_overlays",
    "prf",
    "recover",
    "recover_batch",
    "resolve_overlays",
    "select_overlays",
]
