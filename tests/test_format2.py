"""k-RTIO format 2: known answers, the tag, metadata parsing and the safe-setting bounds."""

import hashlib
import hmac
import json
import math
from pathlib import Path

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import krtio

VECTORS = json.loads((Path(__file__).parent / "vectors" / "format2_v2.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])


@pytest.mark.parametrize("case", VECTORS["photo_key"], ids=lambda c: c["nonce"])
def test_photo_key_and_plan_known_answers(case):
    # the specification, written out with hmac: HMAC-SHA256(key, label || nonce_bytes)[:16]
    raw = bytes.fromhex(case["nonce_bytes"])
    assert krtio.nonce_bytes(case["nonce"]) == raw
    spec = hmac.new(KEY, b"imgprivacy/format2/photo-key" + raw, hashlib.sha256).digest()[:16]
    assert spec.hex() == case["photo_key"] == krtio.photo_key(KEY, case["nonce"]).hex()
    plan = case["plan"]
    got = krtio.plan(spec, case["nonce"], k=plan["k"], m=plan["m"], b=plan["b"])
    assert list(got.selection) == plan["selection"]
    assert got.permutations[0].tolist() == plan["permutation_1"]
    # the plan is not format 1's plan of the user's key (the nonce goes through K_photo)
    assert list(krtio.plan(KEY, case["nonce"], k=3, m=30, b=16).selection) != plan["selection"]


def test_tag_key_and_tags_known_answers():
    k_tag = hmac.new(KEY, b"imgprivacy/format2/tag-key", hashlib.sha256).digest()
    assert k_tag.hex() == VECTORS["tag_key"] == krtio.tag_key(KEY).hex()
    for case in VECTORS["tags"]:
        fields = case["fields"]
        message = json.dumps({**fields, "set": case["set"]}, sort_keys=True, separators=(",", ":"))
        assert message == case["message"]
        assert hmac.new(k_tag, message.encode(), hashlib.sha256).hexdigest() == case["tag"]
        meta = krtio.Format2Metadata(
            fields["nonce"], fields["alpha"], fields["k"], fields["block"], fields["depth"], fields["source_depth"],
            fields["shape"], fields["overlays"], fields.get("pool"),
        )
        assert meta.fields() == fields
        assert krtio.compute_tag(KEY, meta, set_fingerprint=case["set"]) == case["tag"]


def test_pixels_sha256_known_answer():
    case = VECTORS["pixels_sha256"]
    arr = np.array(case["pixels_uint8_2x3_grey"], dtype=np.uint8)
    head = b"imgprivacy/pixels/v1" + b"".join(v.to_bytes(4, "big") for v in (2, 3, 1, 8))
    assert hashlib.sha256(head + arr.tobytes()).hexdigest() == case["sha256"] == krtio.pixels_sha256(arr)


def meta_of(**change):
    base = dict(nonce="ab" * 16, alpha=0.45, k=3, block=(8, 8), depth=8, source_depth=8, shape=(20, 30, 3),
                overlays="derived", pool="p" * 64)
    base.update(change)
    return krtio.Format2Metadata(**base)


@pytest.mark.parametrize(
    "change",
    [{"nonce": "cd" * 16}, {"alpha": 0.5}, {"k": 4}, {"block": (8, 4)}, {"depth": 16}, {"source_depth": 16},
     {"shape": (20, 29, 3)}, {"shape": (20, 30, 1)}, {"overlays": "own", "pool": None}, {"pool": "q" * 64}],
)
def test_the_tag_covers_every_field(change):
    base = krtio.compute_tag(KEY, meta_of(), set_fingerprint="s")
    assert krtio.compute_tag(KEY, meta_of(**change), set_fingerprint="s") != base


def test_the_tag_covers_the_set_and_the_key():
    base = krtio.compute_tag(KEY, meta_of(), set_fingerprint="s")
    assert krtio.compute_tag(KEY, meta_of(), set_fingerprint="t") != base
    assert krtio.compute_tag(bytes(16), meta_of(), set_fingerprint="s") != base
    good = krtio.Format2Metadata(**{**meta_of().__dict__, "tag": base})
    krtio.verify_tag(KEY, good, set_fingerprint="s")
    with pytest.raises(krtio.TagMismatch, match="wrong key, wrong overlay folder, or the file was edited or cropped"):
        krtio.verify_tag(KEY, good, set_fingerprint="t")


def test_metadata_round_trip_and_canonical_text():
    meta = krtio.Format2Metadata(**{**meta_of().__dict__, "tag": "0" * 64})
    text = meta.to_text(software="imgprivacy test")
    assert text["imgprivacy"] == json.dumps(json.loads(text["imgprivacy"]), sort_keys=True, separators=(",", ":"))
    assert krtio.read_metadata(text) == meta
    assert set(json.loads(text["imgprivacy"])) == {"format", "scheme", "nonce", "alpha", "k", "block", "depth",
                                                   "source_depth", "shape", "overlays", "pool", "tag"}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"format": 3, "scheme": "k-rtio"}', "format 3"),
        ('{"format": 1, "scheme": "k-rtio", "alpha": 0}', "damaged"),
        ('{"format": 2, "scheme": "k-rtio"}', "has fields"),
    ],
)
def test_damaged_metadata_is_refused(raw, message):
    with pytest.raises(krtio.MetadataError, match=message):
        krtio.read_metadata({"imgprivacy": raw})


def test_damaged_format2_values_are_refused():
    good = json.loads(krtio.Format2Metadata(**{**meta_of().__dict__, "tag": "0" * 64}).to_json())
    for field, value in [("alpha", 0), ("alpha", "0.45"), ("k", 0), ("k", 2.5), ("block", [0, 8]), ("shape", [1]),
                         ("tag", "xyz"), ("nonce", ""), ("overlays", "public"), ("depth", 12)]:
        bad = {**good, field: value}
        with pytest.raises(krtio.MetadataError):
            krtio.read_metadata({"imgprivacy": json.dumps(bad)})


def test_format1_metadata_still_reads():
    text = (Path(__file__).parent / "vectors" / "format1" / "protected8" / "rocket_crop.png")
    meta = krtio.read_metadata(ip.data.read_image(text).text)
    assert isinstance(meta, krtio.Format1Metadata) and meta.image_id == "rocket_crop.png" and meta.alpha == 0.45


def test_nonces_are_fresh_and_nonce_rules():
    nonces = {krtio.new_nonce() for _ in range(200)}
    assert len(nonces) == 200 and all(len(n) == 32 and int(n, 16) >= 0 for n in nonces)
    assert krtio.nonce_bytes("AB" * 16) == ("AB" * 16).encode()  # only lower-case hex is hex
    with pytest.raises(ValueError, match="must not be empty"):
        krtio.nonce_bytes("")


def test_protect_photo_recover_photo_and_refusals():
    rng = np.random.default_rng(0)
    S = [rng.random((12, 12, 3), dtype=np.float32) for _ in range(6)]
    x = rng.random((10, 14, 3), dtype=np.float32)
    y, meta = krtio.protect_photo(x, KEY, overlays=S, set_fingerprint="s", kind="own", k=2, block=2)
    assert meta.shape == (10, 14, 3) and len(meta.nonce) == 32
    assert np.abs(krtio.recover_photo(y, KEY, meta=meta, overlays=S, set_fingerprint="s") - x).max() < 1e-5
    # a second protection of the same photo gets another nonce and another overlay
    y2, meta2 = krtio.protect_photo(x, KEY, overlays=S, set_fingerprint="s", kind="own", k=2, block=2)
    assert meta2.nonce != meta.nonce and np.abs(y2 - y).max() > 0.05
    with pytest.raises(krtio.TagMismatch):
        krtio.recover_photo(y, bytes(16), meta=meta, overlays=S, set_fingerprint="s")
    with pytest.raises(krtio.TagMismatch, match="cropped"):
        krtio.recover_photo(y[:9], KEY, meta=meta, overlays=S, set_fingerprint="s")


# --------------------------------------------------------------------------- the safe-setting bounds
@pytest.mark.parametrize(("depth", "source_depth"), [(8, 8), (16, 8), (16, 16)])
def test_min_safe_alpha_recovers_within_one_level(depth, source_depth):
    """The bound holds for what krtio.recover really does, and just below it a level is lost."""
    rng = np.random.default_rng(5)
    S = [rng.random((64, 64, 3), dtype=np.float32) for _ in range(5)]
    levels = 2**source_depth - 1
    x = ip.data.to_float(rng.integers(0, levels + 1, (64, 64, 3)).astype(np.uint8 if source_depth == 8 else np.uint16))

    def worst(alpha):
        y = krtio.perturb(x, KEY, image_id="a", overlays=S, alpha=alpha, block=4)
        stored = ip.data.storage_roundtrip(y, depth=depth)
        back = krtio.recover(stored, KEY, image_id="a", overlays=S, alpha=alpha, block=4)
        diff = ip.data.to_uint(back, depth=source_depth).astype(int) - ip.data.to_uint(x, depth=source_depth).astype(int)
        return int(np.abs(diff).max())

    floor = krtio.min_safe_alpha(depth=depth, source_depth=source_depth)
    assert worst(floor) <= 1
    assert krtio.max_recovery_error(floor, depth=depth, source_depth=source_depth) < 1.5
    assert worst(floor / 1.6) >= 2  # the bound is not loose by more than that factor


def test_shuffle_bits_agree_with_keyspace():
    for k, b in [(1, 5), (3, 11), (3, 12), (2, 20)]:
        exact = math.log2(krtio.keyspace(30, k, b) // math.comb(30, k))
        assert krtio.shuffle_bits(k, b) == pytest.approx(exact, rel=1e-9)
    assert krtio.shuffle_bits(3, krtio.min_blocks(3)) >= 80 > krtio.shuffle_bits(3, krtio.min_blocks(3) - 1)
    assert krtio.shuffle_bits(1, krtio.min_blocks(1)) >= 80 > krtio.shuffle_bits(1, krtio.min_blocks(1) - 1)
