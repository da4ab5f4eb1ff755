"""The local manifest beside the key: what protect records, and recovery of photos whose metadata was stripped."""

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy import data, manifest
from imgprivacy.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture
def work(tmp_path):
    (tmp_path / "photos").mkdir()
    shutil.copy(EXAMPLES / "rocket.png", tmp_path / "photos" / "Jane_Doe_passport_2024-05-01_Berlin.png")
    assert run("keygen", tmp_path / "my.key") == 0
    return tmp_path


def strip(src: Path, dst: Path) -> Path:
    """What a service that drops text chunks does: the same pixels, no metadata."""
    loaded = data.read_image(src)
    dst.parent.mkdir(exist_ok=True)
    return data.write_png(dst, loaded.image, depth=loaded.depth)


def test_module_records_and_finds(tmp_path):
    db = manifest.manifest_path(tmp_path / "k.key")
    assert db == tmp_path / "k.key.manifest.sqlite"
    with pytest.raises(FileNotFoundError):
        manifest.entries(db)
    manifest.record(db, nonce="a" * 32, metadata="{}", pixels_sha256="1" * 64, source_name="x.jpg", output_name="x.png")
    manifest.record(db, nonce="b" * 32, metadata="{}", pixels_sha256="2" * 64, source_name="y.jpg", output_name="y.png")
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    assert [e.nonce for e in manifest.entries(db)] == ["a" * 32, "b" * 32]
    assert [e.source_name for e in manifest.find_by_pixels(db, "2" * 64)] == ["y.jpg"]
    assert manifest.find_by_pixels(db, "3" * 64) == [] and len(manifest.find_by_nonce(db, "a" * 32)) == 1
    (tmp_path / "junk.sqlite").write_text("not a database at all, just text" * 10)
    with pytest.raises(ValueError, match="is not an imgprivacy manifest"):
        manifest.entries(tmp_path / "junk.sqlite")


@pytest.mark.parametrize("depth", [8, 16])
def test_stripped_photo_recovered_through_the_manifest(work, capsys, depth):
    photo = work / "photos" / "Jane_Doe_passport_2024-05-01_Berlin.png"
    assert run("protect", "--key", work / "my.key", "--depth", depth, "--alpha", "0.5", "--block", "16", photo, "-o", work / "out") == 0
    protected = work / "out" / photo.name
    raw = protected.read_bytes()
    assert b"Jane_Doe" not in raw and b"Berlin" not in raw and b"manifest" not in raw  # never in the photo
    stripped = strip(protected, work / "stripped" / "upload.png")
    assert "imgprivacy" not in data.read_image(stripped).text
    assert run("recover", "--key", work / "my.key", stripped, "-o", work / "rec") == 0
    got = data.to_uint(data.read_image(work / "rec" / "upload.png").image).astype(int)
    want = data.to_uint(data.read_image(photo).image).astype(int)
    assert np.abs(got - want).max() <= (0 if depth == 16 else 1)
    # the manifest lists it, with the original's name and the settings
    capsys.readouterr()
    assert run("manifest", "--key", work / "my.key") == 0
    listing = capsys.readouterr().out
    assert photo.name in listing and "alpha 0.5, k 3, block 16x16" in listing and "1 photo(s) in" in listing
    assert run("manifest", "--key", work / "my.key", "--json") == 0
    row = json.loads(capsys.readouterr().out)
    assert row["imgprivacy"] == json.loads(data.read_image(protected).text["imgprivacy"])
    assert row["source"].endswith(photo.name)


def test_no_manifest_or_no_match_names_the_flags(work, capsys):
    photo = work / "photos" / "Jane_Doe_passport_2024-05-01_Berlin.png"
    assert run("protect", "--key", work / "my.key", photo, "-o", work / "out") == 0
    stripped = strip(work / "out" / photo.name, work / "stripped" / "a.png")
    # pixels changed by one level: no match in the manifest
    edited = data.read_image(stripped).image.copy()
    edited[0, 0, 0] = 1.0 - edited[0, 0, 0]
    data.write_png(work / "stripped" / "b.png", edited)
    assert run("recover", "--key", work / "my.key", work / "stripped" / "b.png", "-o", work / "rec") == 2
    err = capsys.readouterr().err
    assert "has no photo with its pixels; give --id, --alpha, -k, --block by hand" in err and "my.key.manifest.sqlite" in err
    os.unlink(manifest.manifest_path(work / "my.key"))
    assert run("recover", "--key", work / "my.key", stripped, "-o", work / "rec") == 2
    err = capsys.readouterr().err
    assert "there is no manifest beside the key" in err and "give --id, --alpha, -k, --block by hand" in err
    assert not (work / "rec").exists()
    assert run("manifest", "--key", work / "my.key") == 2
    assert "no manifest at" in capsys.readouterr().err


def test_no_manifest_flag_records_nothing(work):
    photo = work / "photos" / "Jane_Doe_passport_2024-05-01_Berlin.png"
    assert run("protect", "--key", work / "my.key", "--no-manifest", photo, "-o", work / "out") == 0
    assert not manifest.manifest_path(work / "my.key").exists()
    assert ip.data.read_image(work / "out" / photo.name).text["imgprivacy"]
