"""Format 2's key-derived overlay set: known answers, a reference implementation, properties, validation."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import _prf, krtio

VECTOR = json.loads((Path(__file__).parent / "vectors" / "derived_set_v2.json").read_text())
KEY = bytes.fromhex(VECTOR["key"])
ID = VECTOR["image_id"].encode("ascii")
ORDERS = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]


def tiny_pool():
    """Two RGB images of closed-form pixels (the vector's 'tiny' pool): any machine rebuilds them exactly."""
    yy, xx = np.mgrid[0:20, 0:30].astype(np.float32)
    a = np.stack([(xx / 29), (yy / 19), ((xx + yy) % 7) / 6], axis=-1).astype(np.float32)
    b = np.stack([((xx * yy) % 11) / 10, 1 - xx / 29, (yy % 5) / 4], axis=-1).astype(np.float32)
    return [a, b[:16, :24]]


@pytest.fixture(scope="module")
def pool():
    return ip.data.overlay_set()


@pytest.fixture(scope="module")
def derived(pool):
    return krtio.derived_overlays(KEY)


def record(d: krtio.DerivedDraw) -> dict:
    return {"source": d.source, "crop": list(d.crop), "transform": d.transform, "order": list(d.order),
            "invert": d.invert, "attempt": d.attempt}


def mismatches(draws, recorded) -> list[str]:
    """The vector check: every field of every draw, and the count."""
    out = [f"{len(draws)} draws, {len(recorded)} recorded"] if len(draws) != len(recorded) else []
    for j, (d, r) in enumerate(zip(draws, recorded)):
        out += [f"draw {j} {name}" for name, value in record(d).items() if value != r[name]]
    return out


# --------------------------------------------------------------------------- the specification, written out
def reference_draws(key, pool):
    """The README's specification, one PRF call per draw (slow, for tests)."""
    out = []
    for j in range(len(pool)):
        for t in range(16):
            v = [_prf.prf(key, ID, _prf.DOMAIN_DERIVE, j, 8 * t + f) for f in range(8)]
            s = v[0] % len(pool)
            H, W = pool[s].shape[:2]
            h = math.ceil(H / 2) + v[1] % (H - math.ceil(H / 2) + 1)
            w = math.ceil(W / 2) + v[2] % (W - math.ceil(W / 2) + 1)
            r0, c0 = v[3] % (H - h + 1), v[4] % (W - w + 1)
            order, invert = ORDERS[v[6] % 6], v[7] % 2 == 1
            if (h, w) == (H, W):
                continue
            q = np.rint(pool[s][r0 : r0 + h : 4, c0 : c0 + w : 4].astype(np.float64) * 255).astype(np.int64)
            chans = [255 - q[..., order[c]] if invert else q[..., order[c]] for c in range(3)]
            lum = [int(x) for x in (2125 * chans[0] + 7154 * chans[1] + 721 * chans[2]).ravel()]
            n = len(lum)
            if n * sum(x * x for x in lum) - sum(lum) ** 2 < 102000**2 * n * n:
                continue
            out.append(krtio.DerivedDraw(s, (r0, r0 + h, c0, c0 + w), v[5] % 8, order, invert, t))
            break
        else:
            raise AssertionError("no attempt accepted")
    return out


def reference_render(pool, d):
    r0, r1, c0, c1 = d.crop
    crop = pool[d.source][r0:r1, c0:c1]
    out = np.stack([1 - crop[..., o] if d.invert else crop[..., o] for o in d.order], axis=-1)
    out = np.rot90(out, d.transform % 4)
    return (out[:, ::-1] if d.transform >= 4 else out).astype(np.float32)


def dihedral(img):
    for d in range(8):
        out = np.rot90(img, d % 4)
        yield out[:, ::-1] if d >= 4 else out


# --------------------------------------------------------------------------- known answers
def test_domain_constant():
    assert _prf.DOMAIN_DERIVE == 2 == VECTOR["domain"] and "DOMAIN_DERIVE" in _prf.__all__
    assert len({_prf.DOMAIN_SELECT, _prf.DOMAIN_SHUFFLE, _prf.DOMAIN_DERIVE}) == 3


def test_vector_prf_values_of_the_first_overlays():
    b = VECTOR["bundled"]
    for entry in b["first"]:
        got = [f"{_prf.prf(KEY, ID, 2, entry['j'], i):032x}" for i in range(8)]
        assert got == entry["prf_attempt0"]


def test_vector_bundled_set(pool, derived):
    b = VECTOR["bundled"]
    assert pool.fingerprint == b["pool_fingerprint"], "the bundled pool changed (see overlay_set_v1.json)"
    draws = krtio.derived_draws(KEY)
    assert mismatches(draws, b["draws"]) == []
    assert [record(draws[e["j"]]) for e in b["first"]] == [e["draw"] for e in b["first"]]
    assert [list(derived[e["j"]].shape) for e in b["first"]] == [e["shape"] for e in b["first"]]
    assert len(derived) == b["m"] == len(pool)
    assert derived.fingerprint == b["fingerprint"] == ip.data.overlay_fingerprint(derived)


def test_vector_tiny_pool():
    t = VECTOR["tiny"]
    S = krtio.derived_overlays(KEY, pool=tiny_pool())
    assert mismatches(krtio.derived_draws(KEY, pool=tiny_pool()), t["draws"]) == []
    assert S.fingerprint == t["fingerprint"] and [list(im.shape) for im in S] == t["shapes"]


@pytest.mark.parametrize("field, change", [
    ("source", lambda v: v + 1), ("crop", lambda v: [v[0], v[1] - 1, v[2], v[3]]), ("transform", lambda v: (v + 1) % 8),
    ("order", lambda v: v[::-1]), ("invert", lambda v: not v), ("attempt", lambda v: v + 1),
])
def test_a_changed_draw_fails_the_vector_check(field, change):
    recorded = json.loads(json.dumps(VECTOR["tiny"]["draws"]))
    draws = krtio.derived_draws(KEY, pool=tiny_pool())
    assert mismatches(draws, recorded) == []
    recorded[1][field] = change(recorded[1][field])
    assert mismatches(draws, recorded) == [f"draw 1 {field}"]
    assert mismatches(draws[:1], VECTOR["tiny"]["draws"]) != []  # a missing draw fails too


def test_matches_the_reference_specification(pool, derived):
    draws = krtio.derived_draws(KEY)
    assert list(draws) == reference_draws(KEY, pool)
    for d, img in zip(draws, derived):
        assert np.array_equal(img, reference_render(pool, d))
    other = bytes(range(1, 17))
    assert list(krtio.derived_draws(other, pool=tiny_pool())) == reference_draws(other, tiny_pool())


def test_the_rejection_rule_is_used(pool):
    # with the key bytes(16), overlay 18's first attempt is rejected (a flat crop); the reference agrees
    draws = krtio.derived_draws(bytes(16))
    assert [j for j, d in enumerate(draws) if d.attempt > 0] == [18]
    assert list(draws) == reference_draws(bytes(16), pool)


# --------------------------------------------------------------------------- properties
def test_deterministic(derived):
    again = krtio.derived_overlays(KEY.hex())  # hex key, same set
    assert again.fingerprint == derived.fingerprint and again == derived
    assert all(np.array_equal(a, b) for a, b in zip(again, derived))


def test_different_keys_different_sets(derived):
    other = krtio.derived_overlays(bytes(range(1, 17)))
    assert other.fingerprint != derived.fingerprint
    # almost nothing in common: no overlay of one set appears in the other
    assert not any(any(a.shape == b.shape and np.array_equal(a, b) for b in derived) for a in other)


@pytest.mark.parametrize("key", [KEY, bytes(16), bytes(range(1, 17))])
def test_no_overlay_is_a_pool_image_even_flipped(pool, key):
    S = krtio.derived_overlays(key)
    for img in S:
        for cand in dihedral(img):
            assert not any(cand.shape == p.shape and np.array_equal(cand, p) for p in pool)


def test_shapes_dtypes_range_and_names(pool, derived):
    draws = krtio.derived_draws(KEY)
    assert derived.source == "derived" and derived.names == tuple(f"derived[{j}]" for j in range(len(pool)))
    for d, img in zip(draws, derived):
        H, W = pool[d.source].shape[:2]
        r0, r1, c0, c1 = d.crop
        assert 0 <= r0 < r1 <= H and 0 <= c0 < c1 <= W and (r1 - r0, c1 - c0) != (H, W)
        assert 2 * (r1 - r0) >= H and 2 * (c1 - c0) >= W  # at least half of each side
        h, w = (r1 - r0, c1 - c0) if d.transform % 2 == 0 else (c1 - c0, r1 - r0)
        assert img.shape == (h, w, 3) and img.dtype == np.float32 and not img.flags.writeable
        assert 0.0 <= img.min() and img.max() <= 1.0
        lum = img @ np.asarray(krtio.LUMA, np.float32)
        assert lum.std() >= 0.035  # the flatness rule (0.04 on every 4th pixel)
    assert derived.images.nbytes == 0  # made from the pool when read (as float32 copies: about 100 MB)


def test_the_derived_set_never_prints_its_fingerprint(derived):
    # the fingerprint comes from the key: in a log or a traceback it would link all of the key's photos
    assert derived.fingerprint[:16] not in repr(derived)
    assert repr(derived) == f"OverlaySet(source='derived', m={len(derived)})"
    public = ip.data.overlay_set()
    assert public.fingerprint[:16] in repr(public)  # the public set's is public


def test_draws_cover_every_choice():
    seen = {"source": set(), "transform": set(), "order": set(), "invert": set()}
    for s in range(48):
        for d in krtio.derived_draws(bytes([s]) * 16, pool=tiny_pool()):
            for name in seen:
                seen[name].add(getattr(d, name))
    assert seen["source"] == {0, 1} and seen["transform"] == set(range(8))
    assert seen["order"] == set(ORDERS) and seen["invert"] == {False, True}


def test_flat_images_are_never_used():
    flat = np.full((32, 32, 3), 0.5, np.float32)
    for s in range(10):
        assert {d.source for d in krtio.derived_draws(bytes([s]) * 16, pool=[flat, *tiny_pool()])} <= {1, 2}
    with pytest.raises(ValueError, match="no textured crop found for derived overlay 0 in 16 attempts"):
        krtio.derived_overlays(KEY, pool=[flat])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("bad, error, match", [
    (np.zeros((3, 16, 16, 3), np.float32), TypeError, "pool must be an OverlaySet or a sequence"),
    ("default", TypeError, "pool must be an OverlaySet"),
    ([], ValueError, "pool must hold at least one image"),
    ([np.zeros((16, 16), np.float32)], ValueError, r"pool\[0\] must be an RGB image"),
    ([np.zeros((16, 16, 4), np.float32)], ValueError, r"pool\[0\] must have 3"),
    ([np.zeros((8, 16, 3), np.float32)], ValueError, r"pool\[0\] must have sides of 16"),
    ([np.zeros((16, 16, 3), np.uint8)], TypeError, r"pool\[0\] must be a floating-point image"),
    ([np.full((16, 16, 3), 2.0, np.float32)], ValueError, r"pool\[0\]"),
])
def test_bad_pool(bad, error, match):
    with pytest.raises(error, match=match):
        krtio.derived_overlays(KEY, pool=bad)


def test_bad_key():
    with pytest.raises(ValueError, match="key must be 16 bytes"):
        krtio.derived_overlays(bytes(15), pool=tiny_pool())
