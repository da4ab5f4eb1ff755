"""The command line refuses what it cannot do safely: one line, exit status 2, nothing written."""

import errno
import json
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imgprivacy as ip
import imgprivacy.manifest
from imgprivacy import data
from imgprivacy.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "data" / "examples"


def run(*args):
    return main([str(a) for a in args])


def tree(folder):
    """Every path under ``folder`` (hidden files too), for 'nothing was written'."""
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.fixture
def work(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(EXAMPLES / "rocket.png", photos / "rocket.png")
    Image.open(EXAMPLES / "coffee.jpg").crop((0, 0, 200, 150)).save(photos / "coffee.png")
    assert run("keygen", tmp_path / "my.key") == 0
    return tmp_path


def refuse(capsys, args, message, root):
    """Run, expect exit 2 with ``message`` in one error line, and no file added or changed under ``root``."""
    before = {p: p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}
    assert run(*args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and "%|" not in line]
    assert len(err) == 1 and err[0].startswith(f"imgprivacy {args[0]}: error: "), err
    assert message in err[0], err[0]
    after = {p: p.read_bytes() for p in Path(root).rglob("*") if p.is_file()}
    assert after == before
    return err[0]


# --------------------------------------------------------------------------- safe settings
def test_small_alpha_refused_with_the_floor_and_depth_16(work, capsys):
    line = refuse(capsys, ["protect", "--key", work / "my.key", "--alpha", "1e-50", work / "photos", "-o", work / "out"],
                  "--alpha 1e-50 would recover", work)
    assert "the smallest alpha that recovers 8-bit photos within one level at --depth 8 is 0.34" in line
    assert "--depth 16 allows alpha down to 0.0014" in line
    refuse(capsys, ["protect", "--key", work / "my.key", "--alpha", "0.3", work / "photos", "-o", work / "out"],
           "off by up to 2 grey levels", work)
    refuse(capsys, ["protect", "--key", work / "my.key", "--alpha", "0.001", "--depth", "16", work / "photos", "-o", work / "out"],
           "at --depth 16 is 0.0014", work)
    # just above the floors it protects and recovers within one level
    assert run("protect", "--key", work / "my.key", "--alpha", "0.34", work / "photos" / "rocket.png", "-o", work / "o8") == 0
    assert run("recover", "--key", work / "my.key", work / "o8", "-o", work / "r8") == 0
    back = data.to_uint(data.read_image(work / "r8" / "rocket.png").image).astype(int)
    assert np.abs(back - data.to_uint(data.read_image(work / "photos" / "rocket.png").image).astype(int)).max() <= 1
    assert run("protect", "--key", work / "my.key", "--alpha", "0.0014", "--depth", "16", work / "photos" / "rocket.png", "-o", work / "o16") == 0


def test_alpha_one_and_16_bit_photos_at_8_bits_refused(work, capsys):
    refuse(capsys, ["protect", "--key", work / "my.key", "--alpha", "1", work / "photos", "-o", work / "out"],
           "--alpha 1 publishes the photo unchanged", work)
    x = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    data.write_png(work / "deep.png", x, depth=16)
    refuse(capsys, ["protect", "--key", work / "my.key", "--depth", "8", work / "deep.png", "-o", work / "out"],
           "has 16-bit samples, which --depth 8 cannot store; use --depth 16", work)
    assert run("protect", "--key", work / "my.key", work / "deep.png", "-o", work / "out") == 0  # default: the photo's depth
    assert data.read_image(work / "out" / "deep.png").depth == 16


@pytest.mark.parametrize(("block", "blocks"), [("3000", 1), ("100000", 1), ("64", 12 - 0)])
def test_block_grids_below_80_bits_refused(work, capsys, block, blocks):
    # rocket.png is 256x171: 64-pixel blocks give 4x3 = 12 blocks = 86.5 bits (accepted), larger ones fewer
    args = ["protect", "--key", work / "my.key", "--block", block, work / "photos" / "rocket.png", "-o", work / "out"]
    if blocks >= 12:
        assert run(*args) == 0
        return
    line = refuse(capsys, args, f"into {blocks} block(s); the 3 keyed shuffles then carry 0 bits of key space, below the 80-bit floor", work)
    assert "k=3 needs at least 12 blocks): use --block 85 or smaller" in line


def test_block_floor_depends_on_k(work, capsys):
    # 80x72 blocks of 256x171: 4x3 = 12 blocks, 86 bits with k=3, but 28.8 bits with k=1 (needs 25 blocks)
    refuse(capsys, ["protect", "--key", work / "my.key", "-k", "1", "--block", "80x72", work / "photos" / "rocket.png", "-o", work / "out"],
           "carry 29 bits of key space", work)
    assert run("protect", "--key", work / "my.key", "-k", "3", "--block", "80x72", work / "photos" / "rocket.png", "-o", work / "out") == 0


# --------------------------------------------------------------------------- tampering
def rewrite(src: Path, dst: Path, *, change=None, crop=None):
    loaded = data.read_image(src)
    meta = json.loads(loaded.text["imgprivacy"])
    if change:
        meta.update(change)
    image = loaded.image if crop is None else loaded.image[crop]
    data.write_png(dst, image, depth=loaded.depth, text={"imgprivacy": json.dumps(meta)})


@pytest.mark.parametrize(
    "change",
    [{"alpha": 0.5}, {"k": 2}, {"block": [8, 4]}, {"nonce": "00" * 16}, {"shape": [170, 256, 3]}, {"source_depth": 16},
     {"overlays": "own", "pool": None}],
    ids=lambda c: next(iter(c)),
)
def test_edited_metadata_refused_nothing_written(work, capsys, change):
    assert run("protect", "--key", work / "my.key", work / "photos" / "rocket.png", "-o", work / "out") == 0
    tampered = work / "tampered"
    tampered.mkdir()
    if "overlays" in change:  # claim an own folder: the tag covers the kind and the set
        loaded = data.read_image(work / "out" / "rocket.png")
        meta = {**json.loads(loaded.text["imgprivacy"]), "overlays": "own"}
        meta.pop("pool")
        data.write_png(tampered / "rocket.png", loaded.image, text={"imgprivacy": json.dumps(meta)})
        args = ["recover", "--key", work / "my.key", "--overlays", work / "photos", tampered, "-o", work / "rec"]
    else:
        rewrite(work / "out" / "rocket.png", tampered / "rocket.png", change=change)
        args = ["recover", "--key", work / "my.key", tampered, "-o", work / "rec"]
    refuse(capsys, args, "refused, the metadata's tag does not verify: wrong key, wrong overlay folder, or the file was edited or cropped", work)
    assert not (work / "rec").exists()


def test_cropped_photo_refused_and_untouched_copy_recovers(work, capsys):
    assert run("protect", "--key", work / "my.key", work / "photos" / "rocket.png", "-o", work / "out") == 0
    cropped = work / "cropped"
    cropped.mkdir()
    rewrite(work / "out" / "rocket.png", cropped / "rocket.png", crop=np.s_[:160, 8:])
    refuse(capsys, ["recover", "--key", work / "my.key", cropped, "-o", work / "rec"],
           "the image is 248x160 pixels with 3 channel(s) but was protected at 256x171 with 3: the file was cropped", work)
    copy = work / "copy"
    copy.mkdir()
    rewrite(work / "out" / "rocket.png", copy / "rocket.png")  # rewritten, pixels and metadata unchanged: accepted
    assert run("recover", "--key", work / "my.key", copy, "-o", work / "rec") == 0


def test_a_damaged_photo_late_in_a_batch_stops_the_run_before_any_output(work, capsys):
    assert run("protect", "--key", work / "my.key", work / "photos", "-o", work / "out") == 0
    rewrite(work / "out" / "rocket.png", work / "new.png", change={"alpha": 0})
    os.replace(work / "new.png", work / "out" / "rocket.png")  # sorted after coffee.png
    refuse(capsys, ["recover", "--key", work / "my.key", work / "out", "-o", work / "rec"],
           "rocket.png': its imgprivacy metadata is damaged", work)
    assert not (work / "rec").exists()


def test_two_photos_of_one_key_share_no_linking_value(work, tmp_path):
    """Every metadata value equal on two photos of one key is equal on a third user's photo too."""
    assert run("keygen", tmp_path / "other.key") == 0
    assert run("protect", "--key", work / "my.key", work / "photos", "-o", work / "mine") == 0
    assert run("protect", "--key", tmp_path / "other.key", work / "photos" / "rocket.png", "-o", work / "theirs") == 0
    texts = [dict(data.read_image(p).text) for p in (work / "mine" / "coffee.png", work / "mine" / "rocket.png", work / "theirs" / "rocket.png")]
    assert {k for t in texts for k in t} == {"imgprivacy", "Software"}
    a, b, c = (json.loads(t["imgprivacy"]) for t in texts)
    shared = {k for k in a if a[k] == b[k]}
    assert shared and all(a[k] == c[k] for k in shared), {k: (a[k], c[k]) for k in shared if a[k] != c[k]}
    assert a["nonce"] != b["nonce"] and a["tag"] != b["tag"]
    assert texts[0]["Software"] == texts[2]["Software"]


# --------------------------------------------------------------------------- bad inputs
def bomb_png(path: Path, width=30000, height=30000):
    """A small PNG whose header declares ``width`` x ``height`` (its data is a few bytes: never decoded)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_header_refused_without_decoding(work, capsys, monkeypatch):
    bomb = bomb_png(work / "photos" / "bomb.png")
    decoded = []
    monkeypatch.setattr(data, "read_image", lambda *a, **k: decoded.append(a) or pytest.fail("decoded"))
    line = refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "out"],
                  "bomb.png' declares 30000x30000 pixels (900.0 MP), above the decode limit of 89,478,485 pixels", work)
    assert "pass --max-pixels 900000000" in line and not decoded
    refuse(capsys, ["recover", "--key", work / "my.key", bomb, "-o", work / "out"], "above the decode limit", work)
    assert run("info", bomb) == 0  # info reads the header only
    assert "no imgprivacy metadata (30000x30000)" in capsys.readouterr().out
    # raising the limit lets the header through (here the tiny data then fails to decode: one line, not a traceback)
    monkeypatch.undo()
    refuse(capsys, ["protect", "--key", work / "my.key", "--max-pixels", "900000000", bomb, "-o", work / "out"], "cannot read", work)


def test_output_folder_under_a_file_or_unwritable(work, capsys, monkeypatch):
    (work / "afile").write_text("x")
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "afile" / "sub"],
           "lies under the file", work)
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "afile"], "is a file; give a folder", work)
    real_open = os.open

    def read_only(path, flags, *mode):
        if ".imgprivacy-write-test-" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, flags, *mode)

    monkeypatch.setattr(os, "open", read_only)  # root writes anywhere: simulate a read-only folder
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "ro" / "out"],
           "cannot be written", work)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a folder of mode 0500")
def test_read_only_folder_really_refused(work, capsys):
    (work / "ro").mkdir(mode=0o500)
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "ro"], "cannot be written", work)


def test_disk_full_and_memory_error_become_one_line(work, capsys, monkeypatch):
    import imgprivacy.cli._protect as protect

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(protect.data, "write_png", full)
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "out"],
           "the disk is full while writing", work / "photos")
    assert ip.manifest.entries(ip.manifest.manifest_path(work / "my.key")) == []  # no row for an unwritten photo
    monkeypatch.setattr(protect.krtio, "protect_photo", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    refuse(capsys, ["protect", "--key", work / "my.key", "--no-manifest", work / "photos", "-o", work / "out2"],
           "not enough memory to protect", work / "photos")


def test_key_file_problems(work, capsys, tmp_path):
    key = work / "my.key"
    key.chmod(0o644)
    assert run("protect", "--key", key, work / "photos" / "rocket.png", "-o", work / "out") == 0
    warn = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warn == [f"imgprivacy protect: warning: key file '{key}' is readable by other users (mode 0644); run `chmod 600 {key}`"]
    (tmp_path / "notakey").write_text("hello")
    refuse(capsys, ["protect", "--key", tmp_path / "notakey", work / "photos", "-o", work / "o2"], "does not hold a key", work)
    refuse(capsys, ["protect", "--key", work / "photos", work / "photos", "-o", work / "o2"], "not found", work)


def test_unreadable_key_file(work, capsys, monkeypatch):
    def denied(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(ip._prf, "read_key", denied)  # root reads any file: simulate mode 0000
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "out"],
           "cannot read key file", work)


def test_re_encoded_depth_refused(work, capsys):
    assert run("protect", "--key", work / "my.key", "--depth", "16", work / "photos" / "rocket.png", "-o", work / "out") == 0
    loaded = data.read_image(work / "out" / "rocket.png")
    (work / "eight").mkdir()
    data.write_png(work / "eight" / "rocket.png", loaded.image, depth=8, text=dict(loaded.text))  # same metadata, 8 bits
    refuse(capsys, ["recover", "--key", work / "my.key", work / "eight", "-o", work / "rec"],
           "is stored at 8 bits but was protected at 16: it was re-encoded", work)


def test_keygen_into_a_folder(tmp_path, capsys):
    (tmp_path / "newdir").mkdir()
    refuse(capsys, ["keygen", f"{tmp_path / 'newdir'}/"], "is a folder; give the key file's path, e.g.", tmp_path)
    refuse(capsys, ["keygen", tmp_path / "newdir"], "is a folder", tmp_path)
    refuse(capsys, ["keygen", f"{tmp_path / 'missing'}/"], "is a folder", tmp_path)
    refuse(capsys, ["keygen", tmp_path / "missing" / "k.key"], "does not exist; create it first (mkdir -p", tmp_path)
    assert run("keygen", tmp_path / "newdir" / "k.key") == 0
    assert stat.S_IMODE(os.stat(tmp_path / "newdir" / "k.key").st_mode) == 0o600


def test_empty_id_and_non_utf8_file_names(work, capsys):
    refuse(capsys, ["protect", "--key", work / "my.key", "--id", "", work / "photos" / "rocket.png", "-o", work / "out"],
           "--id must not be empty", work)
    odd = os.fsdecode(b"caf\xe9.png")
    shutil.copy(work / "photos" / "rocket.png", work / "photos" / odd)
    assert run("protect", "--key", work / "my.key", work / "photos", "-o", work / "out") == 0
    assert os.fsencode(odd) in [os.fsencode(n) for n in os.listdir(work / "out")]
    assert run("recover", "--key", work / "my.key", work / "out", "-o", work / "rec") == 0
    assert run("manifest", "--key", work / "my.key") == 0
    assert "caf\\xe9.png" in capsys.readouterr().out
    (work / "photos" / os.fsdecode(b"bad\xff.png")).write_text("not an image")
    refuse(capsys, ["protect", "--key", work / "my.key", work / "photos", "-o", work / "out3"], "/bad\\xff.png': not an image format Pillow can open", work)


# --------------------------------------------------------------------------- signals and resuming
SLOW_WRITE = r"""
import os, sys, time
real = os.fsync
def slow(fd):
    print("WRITING", flush=True)
    time.sleep(30)
    real(fd)
os.fsync = slow
from imgprivacy.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_write_leaves_no_temporary_file_and_the_run_resumes(work, sig):
    """A real signal while a temporary file exists: it is removed, and the next run skips the finished photo."""
    out = work / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = ["protect", "--key", str(work / "my.key"), str(work / "photos"), "-o", str(out)]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "WRITING"  # the first photo's temporary file is open
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")], list(out.iterdir())
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert "interrupted; 0 photo(s) finished and kept, no partial file left" in err
    assert os.listdir(out) == []  # no .tmp left, nothing half-written
    # finish one photo, then interrupt the second: the rerun keeps the first and does the rest
    assert run(*args[:-3], str(work / "photos" / "coffee.png"), "-o", str(out)) == 0
    first = (out / "coffee.png").read_bytes()
    done = subprocess.run([sys.executable, "-m", "imgprivacy.cli", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "protected 1 photo(s) into" in done.stdout and "skipped 1 already finished" in done.stdout
    assert (out / "coffee.png").read_bytes() == first and sorted(os.listdir(out)) == ["coffee.png", "rocket.png"]


def test_an_existing_output_of_another_photo_is_not_skipped(work, capsys):
    assert run("protect", "--key", work / "my.key", work / "photos" / "rocket.png", "-o", work / "out") == 0
    other = work / "other"
    other.mkdir()
    Image.open(EXAMPLES / "coffee.jpg").save(other / "rocket.png")  # another photo of the same name
    refuse(capsys, ["protect", "--key", work / "my.key", other / "rocket.png", "-o", work / "out"],
           "already exists and is not a finished protection of", work)
    # recover: an output that differs from what recovery gives is not skipped either
    assert run("recover", "--key", work / "my.key", work / "out", "-o", work / "rec") == 0
    data.write_png(work / "rec" / "rocket.png", np.zeros((171, 256, 3), np.float32), overwrite=True)
    refuse(capsys, ["recover", "--key", work / "my.key", work / "out", "-o", work / "rec"], "differs from what recovery gives", work)


def test_format1_file_with_a_tiny_alpha_refused_not_crashed(work, capsys, tmp_path):
    """Format 1 accepted --alpha 1e-50; recovering such a file is refused in one line (nothing can come back)."""
    vectors = ROOT / "tests" / "vectors" / "format1"
    key = tmp_path / "test.key"
    shutil.copy(vectors / "test.key", key)
    key.chmod(0o600)
    loaded = data.read_image(vectors / "protected8" / "rocket_crop.png")
    meta = {**json.loads(loaded.text["imgprivacy"]), "alpha": 1e-50}
    (tmp_path / "tiny").mkdir()
    data.write_png(tmp_path / "tiny" / "rocket_crop.png", loaded.image, text={"imgprivacy": json.dumps(meta)})
    refuse(capsys, ["recover", "--key", key, tmp_path / "tiny", "-o", tmp_path / "rec"],
           "was protected with alpha 1e-50, too small for anything to be recovered", tmp_path)
