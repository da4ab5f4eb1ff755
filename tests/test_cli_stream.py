"""Streaming ``protect`` / ``recover`` (issue 13): photo by photo on two threads, the same results as on one."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imgprivacy as ip
from imgprivacy.cli import main
from imgprivacy.cli import _stream as stream

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"


def run(*args):
    return main([str(a) for a in args])


@pytest.fixture
def folder(tmp_path):
    """Five small photos of different sizes and kinds: the stream crosses geometries and channel counts."""
    rng = np.random.default_rng(0)
    coffee = np.asarray(Image.open(EXAMPLES / "coffee.jpg").convert("RGB"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(120, 160), (120, 160), (97, 131), (120, 160), (64, 200)]):
        top, left = rng.integers(0, 100), rng.integers(0, 200)
        crop = coffee[top:top + h, left:left + w]
        img = Image.fromarray(crop if i != 3 else crop.mean(axis=2).astype(np.uint8))  # one grey photo
        img.save(photos / f"p{i}.png")
    assert run("keygen", tmp_path / "my.key") == 0
    return tmp_path


@pytest.mark.parametrize("threads", ["1", "2"])
def test_stream_round_trip_is_exact_at_16_bits(folder, monkeypatch, threads):
    monkeypatch.setenv("IMGPRIVACY_THREADS", threads)
    monkeypatch.setattr(stream, "stream_threads", lambda n: 1 if threads == "1" else (2 if n > 1 else 1))
    key, photos, out, rec = folder / "my.key", folder / "photos", folder / "out", folder / "rec"
    assert run("protect", "--key", key, "--depth", "16", photos, "-o", out) == 0
    assert run("recover", "--key", key, out, "-o", rec) == 0
    for src in sorted(photos.iterdir()):
        original = ip.data.read_image(src)
        protected = ip.data.read_image(out / src.name)
        assert protected.depth == 16 and "imgprivacy" in protected.text  # the text chunk, verified by recover
        ip.krtio.verify_tag(ip.read_key(key), ip.krtio.read_metadata(protected.text),
                            set_fingerprint=ip.krtio.derived_overlays(ip.read_key(key)).fingerprint)
        back = ip.data.read_image(rec / src.name)
        np.testing.assert_array_equal(ip.data.to_uint(back.image), ip.data.to_uint(original.image))
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in photos.iterdir())  # no temporary file


def test_a_photo_that_fails_to_decode_stops_the_stream_cleanly(folder, capsys, monkeypatch):
    # its header is fine (the check before writing passes); its pixels are not: the photos before it are kept
    monkeypatch.setattr(stream, "stream_threads", lambda n: 2)
    bad = folder / "photos" / "p2.png"
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])  # a truncated image stream
    assert run("protect", "--key", folder / "my.key", folder / "photos", "-o", folder / "out") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar: one line naming the photo
    assert last.startswith("imgprivacy protect: error: cannot read") and "p2.png" in last
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["p0.png", "p1.png"]  # finished, no .tmp
    bad.write_bytes(raw)
    assert run("protect", "--key", folder / "my.key", folder / "photos", "-o", folder / "out") == 0  # resumes


def test_a_refused_file_anywhere_writes_nothing(folder, capsys):
    (folder / "photos" / "p4.png").write_bytes(b"not an image at all")
    assert run("protect", "--key", folder / "my.key", folder / "photos", "-o", folder / "out") == 2
    assert "p4.png" in capsys.readouterr().err
    assert not (folder / "out").exists()


def test_stream_threads_policy(monkeypatch):
    monkeypatch.delenv("IMGPRIVACY_THREADS", raising=False)
    assert stream.stream_threads(1) == 1  # nothing to overlap
    assert stream.stream_threads(5) in (1, 2)
    monkeypatch.setenv("IMGPRIVACY_THREADS", "1")
    assert stream.stream_threads(5) == 1


def test_one_overlay_cache_per_set_holds_fitted_overlays_within_its_byte_bound(monkeypatch):
    the_set = [np.full((8, 8, 3), v, np.float32) for v in (0.1, 0.5, 0.9)]
    caches = {}
    first = stream.prepared(caches, the_set, (32, 32, 3), (8, 8))
    assert stream.prepared(caches, the_set, (32, 32, 3), (8, 8)) is first  # the same geometry: the same fit
    other = stream.prepared(caches, the_set, (16, 32, 3), (8, 8))
    assert other is not first and other.store is first.store and len(caches) == 1  # one store for every size
    derived = [ov.copy() for ov in the_set]  # format 2: each photo has its own set
    assert stream.prepared(caches, derived, (32, 32, 3), (8, 8)).store is not first.store and len(caches) == 1
    monkeypatch.setenv("IMGPRIVACY_FIT_BYTES", str(32 * 32 * 3 * 4))  # one fitted overlay of 32 x 32 RGB
    caches.clear()
    prep = stream.prepared(caches, the_set, (32, 32, 3), (8, 8))
    for i in range(3):
        prep.blocks(i)
    assert prep.store.nbytes <= 32 * 32 * 3 * 4 and len(prep.cached_indices()) == 1