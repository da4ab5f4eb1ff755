"""Known-answer tests of the PRF at three levels, and key handling."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from imgprivacy import _prf

VECTORS = json.loads((Path(__file__).parent / "vectors" / "krtio_v1.json").read_text())
KEY = bytes.fromhex(VECTORS["key"])


def test_vectors_have_sources():
    assert "source" in VECTORS
    for name in ("aes_fips197", "encoded_block", "select_overlays", "block_permutation", "end_to_end"):
        assert "source" in VECTORS[name], name


def test_aes_primitive_fips197():
    v = VECTORS["aes_fips197"]
    assert _prf.aes_ecb(bytes.fromhex(v["key"]), bytes.fromhex(v["plaintext"])).hex() == v["ciphertext"]


def test_aes_many_blocks_in_one_call_equal_block_by_block():
    data = bytes(range(256)) * 2
    joined = _prf.aes_ecb(KEY, data)
    parts = b"".join(_prf.aes_ecb(KEY, data[i : i + 16]) for i in range(0, len(data), 16))
    assert joined == parts


def test_encoder_bytes():
    v = VECTORS["encoded_block"]
    tag = _prf.id_tag(VECTORS["image_id"])
    assert tag.hex() == VECTORS["id_tag"]
    assert _prf.encode_block(tag, v["domain"], v["j"], v["i"]).hex() == v["bytes"]
    # field layout, byte by byte
    raw = _prf.encode_block(b"ABCDEFGH", 0xAB, 0x123456, 0x789ABCDE)
    assert raw == b"ABCDEFGH" + bytes([0xAB, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE])


def test_encoder_is_unambiguous_where_concatenation_is_not():
    tag = _prf.id_tag("x")
    assert _prf.encode_block(tag, 1, 1, 23) != _prf.encode_block(tag, 1, 12, 3)


def test_vectorised_encoder_matches_scalar():
    tag = _prf.id_tag("photo")
    j = np.array([1, 2, 3, 2**24 - 1])
    i = np.array([0, 1, 2**32 - 1, 77])
    assert _prf.encode_blocks(tag, 1, j, i) == b"".join(_prf.encode_block(tag, 1, int(a), int(b)) for a, b in zip(j, i))


def test_prf_value_and_id_encoding():
    v = VECTORS["prf"]
    assert _prf.prf(KEY, VECTORS["image_id"], v["domain"], v["j"], v["i"]) == int(v["value"])
    assert _prf.id_tag("IMG_0001.png") == _prf.id_tag(b"IMG_0001.png")
    assert _prf.id_tag("é") == _prf.id_tag("é".encode("utf-8"))


@pytest.mark.parametrize("modulus", [1, 2, 3, 1000, 65536, 2**31 + 11, 2**32])
def test_mod_u128_exact(modulus):
    rng = np.random.default_rng(modulus)
    blocks = rng.integers(0, 256, size=(64, 16), dtype=np.uint8)
    blocks[0] = 255
    got = _prf.mod_u128(blocks, np.full(64, modulus))
    want = [int.from_bytes(b.tobytes(), "big") % modulus for b in blocks]
    assert got.tolist() == want


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((b"short", 0, 0, 0), "tag must be 8 bytes"),
        ((bytes(8), 256, 0, 0), r"domain must be in \[0, 255\], got 256"),
        ((bytes(8), 0, 2**24, 0), r"j must be in \[0, 2\*\*24 - 1\], got 16777216"),
        ((bytes(8), 0, 0, 2**32), r"i must be in \[0, 2\*\*32 - 1\]"),
    ],
)
def test_encoder_validation(args, match):
    with pytest.raises(ValueError, match=match):
        _prf.encode_block(*args)


def test_id_validation():
    with pytest.raises(TypeError, match="image_id must be a str or bytes, got int"):
        _prf.id_tag(5)
    with pytest.raises(ValueError, match="image_id must not be empty"):
        _prf.id_tag("")


@pytest.mark.parametrize(
    ("key", "exc", "match"),
    [
        (bytes(15), ValueError, "key must be 16 bytes .AES-128., got 15 bytes"),
        ("abc", ValueError, "got a string of 3 characters"),
        ("zz" * 16, ValueError, "not hex"),
        (12345, TypeError, "got int"),
    ],
)
def test_key_validation_never_echoes_the_key(key, exc, match):
    with pytest.raises(exc, match=match) as info:
        _prf.check_key(key)
    assert "zz" * 4 not in str(info.value)


def test_key_file_mode_roundtrip_and_no_overwrite(tmp_path):
    key = _prf.generate_key()
    path = _prf.write_key(tmp_path / "k.key", key)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == key.hex() + "\n"
    assert _prf.read_key(path) == key
    with pytest.raises(FileExistsError, match="already exists; refusing to replace it"):
        _prf.write_key(path, _prf.generate_key())
    assert _prf.read_key(path) == key  # untouched
    other = _prf.generate_key()
    _prf.write_key(path, other, force=True)
    assert _prf.read_key(path) == other
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.key"]  # no temp file left


def test_keys_are_random():
    assert len({_prf.generate_key() for _ in range(32)}) == 32


def test_read_key_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="imgprivacy keygen"):
        _prf.read_key(tmp_path / "missing.key")
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    bad.chmod(0o600)
    with pytest.raises(ValueError, match="does not hold a key"):
        _prf.read_key(bad)
    loose = tmp_path / "loose.key"
    loose.write_text(bytes(16).hex())
    loose.chmod(0o644)
    with pytest.warns(UserWarning, match="readable by other users"):
        _prf.read_key(loose)


def test_key_check_value_depends_on_key_and_hides_it():
    a, b = bytes(16), bytes(15) + b"\x01"
    assert _prf.key_check_value(a) != _prf.key_check_value(b)
    assert len(_prf.key_check_value(a)) == 8
    assert _prf.key_check_value(a) not in a.hex()
