"""Tests for imgprivacy.data: face sets, converters, overlay sets and image I/O."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import png
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

from imgprivacy import data as D
from imgprivacy.data._overlays import _sklearn_sample_images
from imgprivacy import krtio
from imgprivacy._resample import resize

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SKLEARN_HOME = SHARED_DATA / "scikit_learn_data"
ORL_HOME = SHARED_DATA / "orl_faces"
VECTORS = Path(__file__).resolve().parent / "vectors"

#: Regression vector: fingerprint of overlay_set("default"), format version 1
#: (also in tests/vectors/overlay_set_v1.json, with its provenance).
OVERLAY_SET_V1_FINGERPRINT = "b99df6c37eb3c0c3c67190c9ed855ad63ffe7e188960b37657fe6751289994ee"



@pytest.fixture(scope="module")
def olivetti():
    # conftest.py points SCIKIT_LEARN_DATA at ../shared/data when it exists (CI);
    # elsewhere scikit-learn downloads the faces once.
    return D.load_faces("olivetti")


@pytest.fixture(scope="module")
def orl_home():
    """The real ORL folder: ../shared/data/orl_faces in CI (via conftest.py) or $IMGPRIVACY_ORL.

    The ORL database cannot be downloaded automatically.  In CI its absence is a failure;
    on a machine without it these real-data tests are skipped (the loader itself is also
    tested on folders the tests make, which always run)."""
    home = Path(os.environ.get("IMGPRIVACY_ORL", ORL_HOME))
    if not (home / "s1" / "1.pgm").is_file():
        message = f"the ORL faces are not in {home}; set IMGPRIVACY_ORL to the unpacked AT&T database"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return home


@pytest.fixture(scope="module")
def orl(orl_home):
    return D.load_faces("orl", data_home=orl_home)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# =========================================================================== faces
def test_olivetti_real_file(olivetti):
    assert olivetti.dataset == "olivetti"
    assert olivetti.images.shape == (400, 64, 64) and olivetti.images.dtype == np.float32
    assert olivetti.images.min() == 0.0 and olivetti.images.max() == 1.0
    assert olivetti.labels.dtype == np.int64
    np.testing.assert_array_equal(olivetti.labels, np.repeat(np.arange(40), 10))
    assert olivetti.names == tuple(f"s{i}" for i in range(1, 41))
    assert len(olivetti) == 400 and olivetti.n_subjects == 40


def test_olivetti_explicit_data_home_without_env(monkeypatch):
    monkeypatch.delenv("SCIKIT_LEARN_DATA")
    faces = D.load_faces("olivetti", data_home=SKLEARN_HOME, download=False)
    assert faces.images.shape == (400, 64, 64)


def test_orl_real_folder(orl, orl_home):
    assert orl.dataset == "orl"
    assert orl.images.shape == (400, 112, 92) and orl.images.dtype == np.float32
    assert 0.0 <= orl.images.min() and orl.images.max() <= 1.0
    np.testing.assert_array_equal(orl.labels, np.repeat(np.arange(40), 10))
    # numeric, not lexicographic, order of subjects (s1, s2, .., s10) and of images (1, 2, .., 10)
    assert orl.names == tuple(f"s{i}" for i in range(1, 41))
    for subject, number in [(10, 3), (2, 10), (40, 1)]:
        with Image.open(orl_home / f"s{subject}" / f"{number}.pgm") as pil:
            raw = np.asarray(pil)
        index = (subject - 1) * 10 + (number - 1)
        np.testing.assert_array_equal(D.to_uint(orl.images[index]), raw)


def test_orl_data_home_beats_env(monkeypatch, tmp_path, orl_home):
    monkeypatch.setenv("IMGPRIVACY_ORL", str(tmp_path / "elsewhere"))
    assert len(D.load_faces("orl", data_home=orl_home)) == 400


def test_orl_and_olivetti_correspond(olivetti, orl):
    assert orl.names == olivetti.names
    assert np.bincount(orl.labels).tolist() == np.bincount(olivetti.labels).tolist() == [10] * 40

    # Olivetti images are ORL photos cropped around the face and downscaled to 64x64:
    # a crop of ORL s1/1.pgm (s40/10.pgm) finds Olivetti image 0 (399) among all 400.
    def norm(a):
        a = a - a.mean(axis=(-2, -1), keepdims=True)
        return a / np.linalg.norm(a, axis=(-2, -1), keepdims=True)

    small = norm(np.stack([resize(im, (24, 24)) for im in olivetti.images]))
    for index, (top, left, side) in [(0, (30, 8, 74)), (399, (42, 4, 62))]:
        crop = orl.images[index][top : top + side, left : left + side]
        corr = (small * norm(resize(crop, (24, 24)))).sum(axis=(1, 2))
        assert int(np.argmax(corr)) == index and corr[index] > 0.95
        assert olivetti.names[olivetti.labels[index]] == orl.names[orl.labels[index]]


def test_face_subset_first_subjects_and_images():
    images = np.arange(6 * 10 * 2 * 2, dtype=np.float32).reshape(60, 2, 2) / 240
    faces = D.FaceSet(images, np.repeat(np.arange(6), 10), tuple(f"s{i}" for i in range(1, 7)), "toy")
    small = faces.subset(3, 2)
    assert len(small) == 6 and small.n_subjects == 3 and small.names == ("s1", "s2", "s3")
    assert small.labels.tolist() == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(small.images, images[[0, 1, 10, 11, 20, 21]])
    assert not np.shares_memory(small.images, images)
    assert len(faces.subset()) == 60 and len(faces.subset(per_subject=1)) == 6
    assert faces.subset(2).names == ("s1", "s2")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"subjects": 0}, ValueError, r"subjects must be in \[1, 6\], got 0"),
        ({"subjects": 7}, ValueError, r"subjects must be in \[1, 6\], got 7"),
        ({"per_subject": 11}, ValueError, r"per_subject must be in \[1, 10\], got 11"),
        ({"subjects": 2.0}, TypeError, r"subjects must be an integer"),
    ],
)
def test_face_subset_validation(kwargs, error, match):
    faces = D.FaceSet(np.zeros((60, 2, 2), np.float32), np.repeat(np.arange(6), 10), tuple("abcdef"), "toy")
    with pytest.raises(error, match=match):
        faces.subset(**kwargs)


def test_faceset_from_arrays_defaults_to_a_custom_dataset():
    images = np.zeros((4, 3, 2), np.float32)
    faces = D.FaceSet(images, [1, 0, 1, 0], ["a", "b"])
    assert faces.dataset == "custom" and faces.images is images
    assert faces.labels.dtype == np.int64 and faces.labels.tolist() == [1, 0, 1, 0]
    assert faces.names == ("a", "b") and faces.n_subjects == 2
    assert D.FaceSet(images, [0, 0, 0, 0], ("a",), dataset="mine").dataset == "mine"
    assert faces.subset(1).dataset == "custom"


def test_data_validation_uses_the_shared_depth_check():
    from imgprivacy._validation import check_depth

    for bad in (12, 0):
        with pytest.raises(ValueError, match=f"depth must be 8 or 16 \\(bits per sample\\), got {bad}"):
            D.to_uint(np.zeros(2, np.float32), depth=bad)
        with pytest.raises(ValueError, match=f"depth must be 8 or 16 \\(bits per sample\\), got {bad}"):
            check_depth(bad)
    with pytest.raises(TypeError, match="depth must be an integer"):
        D.storage_roundtrip(np.zeros((2, 2), np.float32), depth=8.0)


def test_faceset_validation():
    assert D.FaceSet(np.zeros((2, 2, 2, 3), np.float32), [0, 0], ("a",), "toy").images.shape == (2, 2, 2, 3)  # RGB
    with pytest.raises(ValueError, match=r"images must be an ndarray of shape \(N, H, W\) or \(N, H, W, 3\), got \(2, 2, 2, 4\)"):
        D.FaceSet(np.zeros((2, 2, 2, 4), np.float32), [0, 0], ("a",), "toy")
    with pytest.raises(ValueError, match=r"labels must have shape \(3,\)"):
        D.FaceSet(np.zeros((3, 2, 2), np.float32), np.zeros(2, np.int64), ("a",), "toy")
    with pytest.raises(ValueError, match=r"labels must be in \[0, 0\]"):
        D.FaceSet(np.zeros((2, 2, 2), np.float32), np.array([0, 1]), ("a",), "toy")


def test_missing_olivetti_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"SCIKIT_LEARN_DATA.*olivetti_py3\.pkz.*shared/data/scikit_learn_data"):
        D.load_faces("olivetti", data_home=tmp_path, download=False)


def test_missing_orl_names_where_it_looked(tmp_path, monkeypatch):
    where = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=rf"{re.escape(str(where))}.*AT&T/ORL.*unpack.*IMGPRIVACY_ORL"):
        D.load_faces("orl", data_home=where)
    monkeypatch.setenv("IMGPRIVACY_ORL", str(where))
    with pytest.raises(FileNotFoundError, match=r"from the IMGPRIVACY_ORL environment variable"):
        D.load_faces("orl")
    monkeypatch.delenv("IMGPRIVACY_ORL")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"imgprivacy_data.orl_faces .*default location"):
        D.load_faces("orl")
    with pytest.raises(FileNotFoundError, match=r"holds no sNN subject folders"):
        D.load_faces("orl", data_home=tmp_path)


def test_orl_sorts_numerically_on_a_small_folder(tmp_path):
    for subject in (10, 2, 1):
        (tmp_path / f"s{subject}").mkdir()
        for number in (10, 2, 1):
            pixels = np.full((3, 2), subject * 10 + number, np.uint8)
            Image.fromarray(pixels).save(tmp_path / f"s{subject}" / f"{number}.pgm")
    (tmp_path / "README").write_text("not a subject")
    faces = D.load_faces("orl", data_home=tmp_path)
    assert faces.names == ("s1", "s2", "s10")
    assert D.to_uint(faces.images[:, 0, 0]).tolist() == [11, 12, 20, 21, 22, 30, 101, 102, 110]


def test_load_faces_unknown_name():
    with pytest.raises(ValueError, match=r"name must be one of 'olivetti', 'orl', 'lfw', got 'yale'"):
        D.load_faces("yale")


def _lfw_folder(home, people):
    """scikit-learn's LFW layout in ``home``: lfw_home/lfw_funneled/<Name>/<Name>_000N.jpg and the pairs files.

    Each person's photos are a synthetic 250 x 250 colour face: a disc whose colour is that person's, with the
    photo's number written into the pixels of its central row (so a test can tell which photo it got)."""
    lfw = home / "lfw_home"
    (lfw / "lfw_funneled").mkdir(parents=True)
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt"):
        (lfw / name).write_text("1\n")
    yy, xx = np.mgrid[:250, :250]
    disc = (yy - 125) ** 2 + (xx - 125) ** 2 < 50**2
    for person, (name, count, colour) in enumerate(people):
        folder = lfw / "lfw_funneled" / name
        folder.mkdir()
        for number in range(1, count + 1):
            photo = np.full((250, 250, 3), 30, np.uint8)
            photo[disc] = colour
            photo[100:150, 60:70] = 20 * number  # a mark left of the face, inside the kept crop
            Image.fromarray(photo).save(folder / f"{name}_{number:04d}.jpg", quality=95)
    return home


def test_lfw_on_a_small_folder_in_scikit_learns_layout(tmp_path):
    home = _lfw_folder(tmp_path, [("Ann_Bee", 4, (200, 40, 40)), ("Cy_Dee", 2, (40, 200, 40)),
                                  ("Eve_Fox", 3, (40, 40, 200))])
    faces = D.load_faces("lfw", data_home=home, download=False, min_faces=3)
    assert faces.dataset == "lfw" and faces.names == ("Ann Bee", "Eve Fox")  # Cy Dee has only 2 photos
    # 128 x 128 crop, x 0.75; per_person defaults to min(10, min_faces): 3 photos each
    assert faces.images.shape == (6, 96, 96, 3) and faces.images.dtype == np.float32
    assert faces.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert 0.0 <= faces.images.min() and faces.images.max() <= 1.0
    centre = faces.images[:, 48, 48]  # the disc keeps each person's colour (JPEG: within a few levels)
    np.testing.assert_allclose(centre[:3], np.tile([200, 40, 40], (3, 1)) / 255, atol=0.04)
    np.testing.assert_allclose(centre[3:], np.tile([40, 40, 200], (3, 1)) / 255, atol=0.04)
    marks = np.round(faces.images[:, 48, (65 - 61) * 3 // 4, 0] * 255 / 20).astype(int)  # the photo numbers
    assert marks.tolist() == [1, 2, 3, 1, 2, 3]  # in file order: Ann's first 3 of 4
    two = D.load_faces("lfw", data_home=home, download=False, min_faces=2, per_person=2)
    assert two.names == ("Ann Bee", "Cy Dee", "Eve Fox") and two.labels.tolist() == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(two.images[:2], faces.images[:2])  # the same first photos, whatever min_faces


def test_lfw_options_are_checked(tmp_path):
    home = _lfw_folder(tmp_path, [("Ann_Bee", 2, (200, 40, 40))])
    with pytest.raises(ValueError, match=r"min_faces=3: no person of LFW has that many photos"):
        D.load_faces("lfw", data_home=home, download=False, min_faces=3)
    with pytest.raises(ValueError, match=r"per_person must be"):
        D.load_faces("lfw", data_home=home, download=False, min_faces=2, per_person=3)
    with pytest.raises(ValueError, match=r"min_faces and per_person are options of the LFW set only"):
        D.load_faces("olivetti", min_faces=3)


def test_missing_lfw_says_how_to_get_it(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"^LFW \(Labeled Faces in the Wild\) not found .*download=False.*"
                       r"internet access.*SCIKIT_LEARN_DATA.*lfw_home"):
        D.load_faces("lfw", data_home=tmp_path, download=False)
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "elsewhere"))):
        D.load_faces("lfw", download=False)  # the data home comes from SCIKIT_LEARN_DATA, as scikit-learn's


def test_load_faces_download_must_be_bool():
    with pytest.raises(TypeError, match=r"download must be True or False, got 'no'"):
        D.load_faces("olivetti", download="no")


# =========================================================================== converters
def test_uint8_roundtrip_exact_for_all_values():
    values = np.arange(256, dtype=np.uint8)
    as_float = D.to_float(values)
    assert as_float.dtype == np.float32 and as_float[0] == 0.0 and as_float[-1] == 1.0
    np.testing.assert_array_equal(D.to_uint(as_float), values)
    assert D.to_uint(as_float).dtype == np.uint8


def test_uint16_roundtrip_exact_for_all_values():
    values = np.arange(65536, dtype=np.uint16)
    as_float = D.to_float(values)
    assert as_float.dtype == np.float32 and as_float[-1] == 1.0
    out = D.to_uint(as_float, depth=16)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, values)


def test_to_float_bool_and_float_and_copies():
    assert D.to_float(np.array([[True, False]])).tolist() == [[1.0, 0.0]]
    x = np.array([0.25, 1.0], dtype=np.float64)
    out = D.to_float(x)
    assert out.dtype == np.float32 and out.tolist() == [0.25, 1.0]
    y = np.array([0.5], np.float32)
    out = D.to_float(y)
    out[0] = 0.0
    assert y[0] == 0.5  # a new array, input untouched


def test_to_uint_rounds_half_to_even():
    assert D.to_uint(np.array([0.5, 1.5, 2.5]) / 255).tolist() == [0, 2, 2]
    assert D.to_uint(np.array([0.5, 1.5]) / 65535, depth=16).tolist() == [0, 2]


@pytest.mark.parametrize("depth", [8, 16])
def test_to_uint_in_chunks_has_the_bits_of_one_float64_pass(monkeypatch, depth):
    """Chunked (no full-size float64 copy): rint(float64(x) * scale) exactly, near every rounding tie too."""
    from imgprivacy.data import _convert

    scale = 255 if depth == 8 else 65535
    ties = ((np.arange(0, scale) + 0.5) / scale).astype(np.float32)
    x = np.concatenate([ties, np.nextafter(ties, np.float32(2)), np.nextafter(ties, np.float32(-1)),
                        np.random.default_rng(0).random(5000, dtype=np.float32)])
    x = np.clip(x, 0, 1).reshape(-1, 5)[:, ::2].T  # not contiguous
    want = np.rint(x.astype(np.float64) * scale).astype(np.uint8 if depth == 8 else np.uint16)
    for chunk in (7, 1 << 16):
        monkeypatch.setattr(_convert, "_CHUNK", chunk)
        assert np.array_equal(D.to_uint(x, depth=depth), want)
    with pytest.raises(ValueError, match=r"got range \[0, 2\]"):  # in the last chunk; the range of the whole image
        D.to_uint(np.concatenate([[0.0], x.ravel(), [2.0]]).astype(np.float32), depth=depth)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.complex64])
def test_to_float_refuses_unknown_ranges(dtype):
    match = rf"dtype uint8, uint16, bool or float in \[0, 1\], got dtype {np.dtype(dtype)}"
    with pytest.raises(TypeError, match=match):
        D.to_float(np.zeros(3, dtype=dtype))


def test_converter_validation():
    with pytest.raises(ValueError, match=r"image values must be in \[0, 1\], got range \[0, 2\]"):
        D.to_float(np.array([0.0, 2.0]))
    with pytest.raises(ValueError, match=r"image must be finite"):
        D.to_uint(np.array([np.nan]))
    with pytest.raises(ValueError, match=r"image values must be in \[0, 1\], got range \[-0.5, 0\]"):
        D.to_uint(np.array([-0.5, 0.0]))
    with pytest.raises(ValueError, match=r"depth must be 8 or 16 \(bits per sample\), got 12"):
        D.to_uint(np.zeros(2), depth=12)
    with pytest.raises(TypeError, match=r"got dtype uint8; integer images are already quantised"):
        D.to_uint(np.zeros(2, np.uint8))
    with pytest.raises(TypeError, match=r"image must be a numpy array, got list"):
        D.to_float([0, 1])


# --------------------------------------------------------------------------- storage_roundtrip
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 1), (9, 7, 2), (9, 7, 3), (9, 7, 4)])
@pytest.mark.parametrize("depth", [8, 16])
def test_storage_roundtrip_png_is_quantisation(rng, shape, depth):
    x = rng.random(shape, dtype=np.float32)
    before = x.copy()
    out = D.storage_roundtrip(x, depth=depth)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, D.to_float(D.to_uint(x, depth=depth)))
    np.testing.assert_array_equal(x, before)


def test_storage_roundtrip_error_bounds(rng):
    x = D.overlay_set()[0][100:164, 200:264]  # a natural photo crop (coffee)
    err16 = np.abs(D.storage_roundtrip(x, depth=16).astype(np.float64) - x).max()
    err8 = np.abs(D.storage_roundtrip(x, depth=8).astype(np.float64) - x).max()
    jpeg = D.storage_roundtrip(x, codec="jpeg", quality=90)
    err_jpeg = np.abs(jpeg.astype(np.float64) - x).max()
    assert err16 <= 0.5 / 65535
    assert err8 == 0.0  # the overlay is already 8-bit
    assert err_jpeg > 2 / 255 and jpeg.shape == x.shape and jpeg.dtype == np.float32
    noisy = rng.random((32, 32), dtype=np.float32)
    assert np.abs(D.storage_roundtrip(noisy, depth=8) - noisy).max() <= 0.5 / 255 + 1e-7
    assert np.abs(D.storage_roundtrip(noisy, codec="jpeg") - noisy).mean() > 0.5 / 255
    assert D.storage_roundtrip(noisy[..., None], codec="jpeg", quality=95).shape == (32, 32, 1)
    assert np.abs(D.storage_roundtrip(x, codec="jpeg", quality=10) - x).mean() > np.abs(jpeg - x).mean()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"codec": "webp"}, ValueError, r"codec must be one of 'png', 'jpeg', got 'webp'"),
        ({"depth": 12}, ValueError, r"depth must be 8 or 16"),
        ({"codec": "jpeg", "quality": 0}, ValueError, r"quality must be in \[1, 95\], got 0"),
        ({"codec": "jpeg", "quality": 96}, ValueError, r"quality must be in \[1, 95\], got 96"),
        ({"codec": "jpeg", "depth": 16}, ValueError, r"depth must be 8 for codec='jpeg'"),
    ],
)
def test_storage_roundtrip_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        D.storage_roundtrip(np.zeros((4, 4, 3), np.float32), **kwargs)


def test_storage_roundtrip_jpeg_refuses_alpha():
    with pytest.raises(ValueError, match=r"JPEG has no alpha channel\), got shape \(4, 4, 4\)"):
        D.storage_roundtrip(np.zeros((4, 4, 4), np.float32), codec="jpeg")


# =========================================================================== overlay sets
def test_default_overlay_set_properties():
    S = D.overlay_set()
    assert len(S) == 30 and len(S.names) == 30 and len(set(S.names)) == 30
    assert S.source == "default"
    for image in S:
        assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] == 3
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert not image.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        S[0][0, 0, 0] = 0.5
    forbidden = ("astronaut", "camera", "chelsea", "cat", "lfw", "face")
    assert not any(word in name for name in S.names for word in forbidden)
    assert S.names[:3] == ("coffee", "rocket", "hubble_deep_field")
    assert S[1] in S and S[1].copy() in S and np.zeros((2, 2, 3), np.float32) not in S
    assert S.index(S[5].copy()) == 5 and S.count(S[5]) == 1 and len(S[:4]) == 4


def test_default_overlay_set_fingerprint_regression_vector():
    S = D.overlay_set()
    vector = json.loads((VECTORS / "overlay_set_v1.json").read_text())
    assert vector["source"] and vector["format_version"] == 1
    assert S.fingerprint == OVERLAY_SET_V1_FINGERPRINT == vector["fingerprint"]
    assert list(S.names) == vector["names"] and [list(im.shape) for im in S] == vector["shapes"]
    assert D.overlay_fingerprint(S) == S.fingerprint
    assert D.overlay_fingerprint(list(S.images)) == S.fingerprint
    assert D.overlay_set("default") is S  # built once, cached
    assert D.overlay_fingerprint([np.zeros((1, 1, 3), np.float32)]) == vector["tiny"]["fingerprint"]


def test_overlay_set_keeps_8_bit_images_compactly_and_reads_them_back_exactly(rng):
    S = D.overlay_set()
    floats = sum(4 * im.size for im in S)
    assert S.images.nbytes <= 0.26 * floats  # the bundled images on the 8-bit grid are kept as uint8 ...
    assert all(np.array_equal(S[i], D.to_float(D.to_uint(S[i]))) for i in range(len(S)))  # ... read back as n / 255
    on_grid = D.to_float(rng.integers(0, 256, (5, 7, 3)).astype(np.uint8))
    off_grid = on_grid.copy()
    off_grid[0, 0, 0] = np.float32(0.1234567)  # not n / 255: kept as float32, bit for bit
    made = D.OverlaySet((on_grid, off_grid), ("a", "b"), D.overlay_fingerprint([on_grid, off_grid]), "toy")
    assert made.images.nbytes == on_grid.size + 4 * off_grid.size
    assert np.array_equal(made[0], on_grid) and np.array_equal(made[1], off_grid) and made[1].dtype == np.float32
    assert D.overlay_fingerprint(made) == made.fingerprint
    on_grid[1, 1, 1] = 1.0 - on_grid[1, 1, 1]  # never the same (255 is odd); the set copies what it is given: changing the caller's array changes nothing
    assert not np.array_equal(made[0], on_grid) and D.overlay_fingerprint(made) == made.fingerprint
    with pytest.raises(TypeError, match=r"images\[0\] must be a floating-point image"):
        D.OverlaySet((np.zeros((2, 2, 3), np.uint8),), ("u8",), "x", "toy")  # integers are refused, not guessed


def test_dihedral_set_turns_every_image_8_ways_when_read(rng):
    a = D.to_float(rng.integers(0, 256, (3, 5, 3)).astype(np.uint8))
    b = D.to_float(rng.integers(0, 256, (4, 4, 3)).astype(np.uint8))
    S = D.OverlaySet((a, b), ("a", "b"), D.overlay_fingerprint([a, b]), "toy")
    turned = D.dihedral_set(S)
    assert len(turned) == 16 and turned.names[:2] == ("a/0", "a/1") and turned.source == "dihedral(toy)"
    assert np.array_equal(turned[0], a) and np.array_equal(turned[1], np.rot90(a)) and turned[1].shape == (5, 3, 3)
    assert np.array_equal(turned[6], np.rot90(a, 2)[:, ::-1]) and np.array_equal(turned[12], b[:, ::-1])
    eight = {turned[8 + d].tobytes() for d in range(8)}
    assert len(eight) == 8  # a random square image has 8 different variants: none is repeated or left out
    assert turned.images.nbytes == 0 and turned.fingerprint == D.overlay_fingerprint(list(turned))
    assert not turned[3].flags.writeable and turned[3].flags.c_contiguous
    with pytest.raises(TypeError, match="must be an OverlaySet"):
        D.dihedral_set([a, b])


@pytest.mark.parametrize("stored", ["8-bit", "float"])
def test_view_set_cuts_turns_and_recolours_when_read(rng, stored):
    grid = D.to_float(rng.integers(0, 256, (9, 7, 3)).astype(np.uint8))
    a = grid if stored == "8-bit" else rng.random((9, 7, 3), dtype=np.float32)  # float: off the 8-bit grid
    b = D.to_float(rng.integers(0, 256, (6, 8, 3)).astype(np.uint8))
    S = D.OverlaySet((a, b), ("a", "b"), D.overlay_fingerprint([a, b]), "toy")
    assert (S.images.nbytes == 9 * 7 * 3 + 6 * 8 * 3) == (stored == "8-bit")  # uint8 kept only for grid pixels
    views = [(0, (1, 8, 2, 7), 5, (2, 0, 1), True), (1, None, 3, (0, 1, 2), False), (0, (0, 9, 0, 7), 0, (1, 1, 0), False)]
    with pytest.raises(ValueError, match=r"views\[2\] .* not a view"):  # (1, 1, 0) is not a channel order
        D.view_set(S, views, names=["x", "y", "z"], source="v")
    V = D.view_set(S, views[:2], names=["x", "y"], source="v")
    expected = [
        np.float32(1) - np.rot90(a[1:8, 2:7], 1)[:, ::-1][..., [2, 0, 1]],  # the same float32 operations, eagerly
        np.rot90(b, 3),
    ]
    for got, want in zip(V, expected):
        assert got.dtype == np.float32 and got.shape == want.shape and np.array_equal(got, want)
        assert not got.flags.writeable and got.flags.c_contiguous
    assert V.images.nbytes == 0 and V.names == ("x", "y") and V.source == "v"
    assert V.fingerprint == D.overlay_fingerprint(expected)
    # the fingerprint is taken from the stored samples (a table lookup): the same as hashing the made images
    turns = [(i % 2, (1, 5, 0, 6) if i % 3 else None, i, [(0, 1, 2), (2, 1, 0), (1, 2, 0)][i % 3], i % 2 == 0)
             for i in range(8)]
    W = D.view_set(S, turns, names=[str(i) for i in range(8)], source="v")
    assert W.fingerprint == D.overlay_fingerprint(list(W))
    # the 8-bit samples behind each image, undecoded (what the fitting kernel reads): the same bits decoded,
    # and None where the stored image is float32 (off the 8-bit grid)
    from imgprivacy._resample import decode_u8

    for i, (index, *_rest) in enumerate(turns):
        encoded = W.encoded(i)
        if stored == "float" and index == 0:
            assert encoded is None
            continue
        pixels, order, invert = encoded
        assert pixels.dtype == np.uint8 and not pixels.flags.writeable
        assert np.array_equal(decode_u8(pixels, order, invert).view(np.uint32), W[i].view(np.uint32))
    with pytest.raises(ValueError, match="names must have one entry per view"):
        D.view_set(S, views[:2], names=["x"], source="v")
    with pytest.raises(ValueError, match=r"views\[0\] .* not a view"):
        D.view_set(S, [(2, None, 0, (0, 1, 2), False)], names=["x"], source="v")  # no image 2


def test_overlay_fingerprint_definition():
    a = np.array([[[0.0, 0.5, 1.0]]], np.float32)
    b = np.zeros((2, 1), np.float32)
    expected = hashlib.sha256(
        struct.pack("<3I", 1, 1, 3) + struct.pack("<3f", 0.0, 0.5, 1.0) + struct.pack("<3I", 2, 1, 1) + bytes(8)
    ).hexdigest()
    assert D.overlay_fingerprint([a, b]) == expected
    assert D.overlay_fingerprint([b[..., None], a]) != expected  # order matters
    c = a.copy()
    c[0, 0, 0] = np.nextafter(np.float32(0), np.float32(1))
    assert D.overlay_fingerprint([c, b]) != expected


def test_default_overlay_crops_and_conversions():
    import skimage.data

    S = D.overlay_set()
    by_name = dict(zip(S.names, S.images))
    quadrant = by_name["hubble_deep_field[436:872,500:1000]"]
    np.testing.assert_array_equal(quadrant, by_name["hubble_deep_field"][436:, 500:])
    np.testing.assert_array_equal(by_name["coffee[0:400,0:300]"], by_name["coffee"][:, :300])
    np.testing.assert_array_equal(by_name["coffee"], D.to_float(skimage.data.coffee()))
    grey = by_name["moon"]
    np.testing.assert_array_equal(grey[..., 0], D.to_float(skimage.data.moon()))
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    logo = D.to_float(skimage.data.logo())
    np.testing.assert_array_equal(by_name["logo"], logo[..., :3] * logo[..., 3:] + (1 - logo[..., 3:]))


def test_sklearn_images_read_without_importing_sklearn_match_its_loader():
    from sklearn.datasets import load_sample_images

    samples = load_sample_images()
    ours = _sklearn_sample_images()
    assert sorted(ours) == ["china", "flower"]
    for file, image in zip(samples.filenames, samples.images):
        np.testing.assert_array_equal(ours[Path(file).stem], image)


def test_overlay_set_works_with_krtio(rng):
    S = D.overlay_set()
    x = rng.random((24, 20, 3), dtype=np.float32)
    y = krtio.perturb(x, bytes(16), image_id="a", overlays=S, k=3, block=8)
    assert np.abs(y - x).mean() > 0.05
    r = krtio.recover(y, bytes(16), image_id="a", overlays=S, k=3, block=8)
    assert np.abs(r - x).max() < 1e-5


def _write_jpeg_with_orientation(path, array, orientation, *, gps=False):
    pil = Image.fromarray(array)
    exif = pil.getexif()
    exif[0x0112] = orientation
    if gps:
        exif[0x010F] = "SecretCam"  # Make
        exif.get_ifd(0x8825)[2] = (48.0, 51.0, 24.0)  # GPSLatitude
    pil.save(path, format="JPEG", quality=95, exif=exif.tobytes())


def test_overlay_folder_sorted_by_name(tmp_path):
    Image.fromarray(np.full((4, 5), 200, np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(np.zeros((4, 5, 4), np.uint8)).save(tmp_path / "C.png")  # fully transparent -> white
    Image.fromarray(np.full((3, 3, 3), 10, np.uint8)).save(tmp_path / "10.png")
    Image.fromarray(np.full((3, 3, 3), 20, np.uint8)).save(tmp_path / "2.png")
    _write_jpeg_with_orientation(tmp_path / "a.jpg", np.zeros((16, 32, 3), np.uint8), 6)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / "sub" / "ignored.png")
    S = D.overlay_set(tmp_path)
    assert S.names == ("10.png", "2.png", "C.png", "a.jpg", "b.png")
    assert S.source == str(tmp_path)
    assert all(im.dtype == np.float32 and im.shape[2] == 3 and not im.flags.writeable for im in S)
    assert S[0].max() == np.float32(10 / 255) and S[1].max() == np.float32(20 / 255)
    np.testing.assert_array_equal(S[2], np.ones((4, 5, 3), np.float32))
    assert S[3].shape == (32, 16, 3)  # EXIF orientation 6 applied
    np.testing.assert_array_equal(S[4], np.full((4, 5, 3), np.float32(200 / 255)))
    assert S.fingerprint == D.overlay_fingerprint(S)
    assert D.overlay_set(str(tmp_path)) == S


def test_overlay_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"overlay folder not found: .*missing"):
        D.overlay_set(tmp_path / "missing")
    with pytest.raises(ValueError, match=rf"overlay folder {tmp_path} holds no image file"):
        D.overlay_set(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"holds no image file that Pillow can open"):
        D.overlay_set(tmp_path)
    with pytest.raises(ValueError, match=r"source must be 'default' or a folder of images, got the file"):
        D.overlay_set(tmp_path / "notes.txt")
    buf = io.BytesIO()
    Image.fromarray(np.zeros((64, 64, 3), np.uint8) + 7).save(buf, format="PNG")
    (tmp_path / "broken.png").write_bytes(buf.getvalue()[:60])
    with pytest.raises(ValueError, match=r"cannot decode overlay image .*broken\.png"):
        D.overlay_set(tmp_path)
    with pytest.raises(TypeError, match=r"source must be 'default' or a folder path, got int"):
        D.overlay_set(3)


# =========================================================================== image I/O
_CHANNELS = st.sampled_from([0, 1, 2, 3, 4])  # 0: a 2-D (H, W) grey image


@settings(max_examples=25, deadline=None)
@given(
    h=st.integers(1, 9),
    w=st.integers(1, 9),
    channels=_CHANNELS,
    depth=st.sampled_from([8, 16]),
    seed=st.integers(0, 2**32 - 1),
)
def test_png_roundtrip_bit_exact(h, w, channels, depth, seed):
    shape = (h, w) if channels == 0 else (h, w, channels)
    dtype = np.uint8 if depth == 8 else np.uint16
    values = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)
    image = D.to_float(values)
    with tempfile.TemporaryDirectory() as folder:
        path = D.write_png(Path(folder) / "x.png", image, depth=depth)
        loaded = D.read_image(path)
        assert os.listdir(folder) == ["x.png"]
    expected_shape = (h, w) if channels in (0, 1) else shape
    assert loaded.image.shape == expected_shape and loaded.image.dtype == np.float32
    assert loaded.depth == depth and loaded.format == "PNG" and dict(loaded.text) == {}
    np.testing.assert_array_equal(loaded.image, image.reshape(expected_shape))
    np.testing.assert_array_equal(D.to_uint(loaded.image, depth=depth), values.reshape(expected_shape))


@pytest.mark.parametrize("channels", [0, 2, 3, 4])
def test_png_16_bit_files_are_real_16_bit(tmp_path, rng, channels):
    shape = (5, 6) if channels == 0 else (5, 6, channels)
    values = rng.integers(0, 65535, size=shape, endpoint=True, dtype=np.uint16)
    path = D.write_png(tmp_path / "x.png", D.to_float(values), depth=16)
    width, height, rows, info = png.Reader(bytes=path.read_bytes()).read()
    assert info["bitdepth"] == 16 and (width, height) == (6, 5)
    assert info["planes"] == max(channels, 1)
    np.testing.assert_array_equal(np.array([list(r) for r in rows], np.uint16), values.reshape(5, -1))


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
@pytest.mark.parametrize("channels", [0, 1, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
def test_png_encoder_is_read_by_three_decoders(monkeypatch, rng, deflate, channels, depth):
    # the encoder's own framing and row filters, checked by pypng (pure Python), OpenCV's libpng and Pillow,
    # across strips (a few rows each here) and with either deflate
    import cv2

    from imgprivacy.data import _png

    if deflate == "zlib":
        monkeypatch.setattr(_png, "_deflate", zlib)
        monkeypatch.setattr(_png, "DEFLATE_STRATEGY", zlib.Z_RLE)
    elif _png.DEFLATE != "isal":
        pytest.skip("ISA-L (isal) has no build here; the zlib case covers the encoder")
    monkeypatch.setattr(_png, "_STRIP_BYTES", 200)
    shape = (23, 17) if channels == 0 else (23, 17, channels)
    dtype = np.uint8 if depth == 8 else np.uint16
    values = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)
    values[5:15, 3:12] = values[5, 3]  # a flat patch: runs after filtering
    encoded = b"".join(_png.encode_parts(values, [_png.chunk(b"tEXt", b"k\0v")]))
    planes = max(channels, 1)
    width, height, rows, info = png.Reader(bytes=encoded).read()
    assert (width, height, info["bitdepth"], info["planes"]) == (17, 23, depth, planes)
    np.testing.assert_array_equal(np.array([list(r) for r in rows], dtype), values.reshape(23, -1))
    decoded = cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.dtype == dtype
    if planes in (3, 4):
        decoded = decoded[..., [2, 1, 0, 3][:planes]]  # OpenCV gives BGR(A)
    elif planes == 2:
        decoded = decoded[..., [0, 3]]  # grey+alpha comes back as BGRA
    np.testing.assert_array_equal(decoded.reshape(values.shape), values)
    if depth == 8:
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(encoded))).reshape(values.shape), values)
    assert _png.scan(encoded).text == {"k": "v"}
    # every scanline carries Sub (1) or Up (2): the stream inflates to (1 + row bytes) per row
    assert _png_filters(encoded, 23).shape[1] == 1 + 17 * planes * depth // 8
    assert set(_png_filters(encoded, 23)[:, 0]) <= {1, 2}


def _png_filters(encoded: bytes, height: int) -> np.ndarray:
    """The filtered scanlines of a PNG, filter type first (the image data inflated)."""
    from imgprivacy.data import _png

    idat = b"".join(bytes(body) for kind, body in _png._chunks(encoded) if kind == b"IDAT")
    return np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, -1)


def test_png_rows_get_the_filter_that_leaves_the_least(rng, monkeypatch):
    # libpng's heuristic, row by row: rows flat along the row take Sub (zeros), columns flat down the image Up
    from imgprivacy.data import _png

    monkeypatch.setattr(_png, "_STRIP_BYTES", 300)  # several strips: Up reads the row above across a strip's edge
    across = np.repeat(rng.integers(0, 256, (40, 1, 3), dtype=np.uint8), 30, axis=1)  # each row one colour
    down = np.repeat(rng.integers(0, 256, (1, 30, 3), dtype=np.uint8), 40, axis=0)  # each column one colour
    lines = _png_filters(b"".join(_png.encode_parts(across, [])), 40)
    assert set(lines[:, 0]) == {1} and not lines[:, 4:].any()  # after the first pixel, zeros
    lines = _png_filters(b"".join(_png.encode_parts(down, [])), 40)
    assert set(lines[1:, 0]) == {2} and not lines[1:, 1:].any()  # below the first row, zeros
    for image in (across, down):
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(b"".join(_png.encode_parts(image, []))))), image)


@pytest.mark.parametrize("channels", [0, 2, 3, 4])
@pytest.mark.parametrize("depth", [8, 16])
def test_plain_png_decoding_is_exact_and_knows_what_it_cannot_read(monkeypatch, rng, channels, depth):
    import cv2

    from imgprivacy.data import _png

    monkeypatch.setattr(_png, "_STRIP_BYTES", 500)  # runs of Sub and Up rows across strips
    shape = (31, 19) if channels == 0 else (31, 19, channels)
    dtype = np.uint8 if depth == 8 else np.uint16
    values = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)
    values[:12] = values[:1]  # rows equal down the image (Up), then random rows
    values[20:, :, ...] = values[20:, :1, ...]  # rows flat along the row (Sub)
    encoded = b"".join(_png.encode_parts(values, []))
    assert set(_png_filters(encoded, 31)[:, 0]) == {1, 2}
    got = _png.decode_plain(encoded, _png.scan(encoded))
    assert got.dtype == dtype and np.array_equal(got, values)
    # another encoder's plain PNG (libpng's none / Sub / Up rows) reads the same; Pillow's default
    # filters (Paeth among them) are left to Pillow
    bgr = values if channels in (0, 2) else values[..., [2, 1, 0, 3][:channels]]
    if channels != 2 and hasattr(cv2, "IMWRITE_PNG_FILTER"):  # OpenCV >= 4.10
        params = [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS]
        other = cv2.imencode(".png", bgr, params)[1].tobytes()
        assert np.array_equal(_png.decode_plain(other, _png.scan(other)), values)
    if depth == 8:
        buf = io.BytesIO()
        Image.fromarray(values).save(buf, format="PNG")
        decoded = _png.decode_plain(buf.getvalue(), _png.scan(buf.getvalue()))
        assert decoded is None or np.array_equal(decoded, values)
    assert _png.decode_plain(encoded, _png.scan(encoded), max_pixels=31 * 19 - 1) is None  # the caller's limit
    # damaged image data is refused, never half read
    idat = b"".join(bytes(b) for k, b in _png._chunks(encoded) if k == b"IDAT")
    lines = bytearray(zlib.decompress(idat))

    def rebuilt(stream: bytes) -> bytes:
        head = encoded[: encoded.index(b"IDAT") - 4]
        return head + _png.chunk(b"IDAT", stream) + _png.chunk(b"IEND", b"")

    for stream, message in ((idat[: len(idat) // 2], "inflates to|truncated"), (idat[:-4], "truncated|inflates"),
                            (zlib.compress(bytes(lines) + b"x"), "more than"),
                            (zlib.compress(bytes(lines[:-1])), "inflates to"), (b"not deflate", "not valid deflate")):
        with pytest.raises(ValueError, match=message):
            _png.decode_plain(rebuilt(stream), _png.scan(rebuilt(stream)))
    lines[0] = 7
    with pytest.raises(ValueError, match="filter type 7"):
        _png.decode_plain(rebuilt(zlib.compress(bytes(lines))), _png.scan(rebuilt(zlib.compress(bytes(lines)))))
    lines[0] = 4  # a Paeth row: the general decoder's
    assert _png.decode_plain(rebuilt(zlib.compress(bytes(lines))), _png.scan(rebuilt(zlib.compress(bytes(lines))))) is None


def test_png_text_roundtrip(tmp_path, rng):
    text = {"Software": "imgprivacy", "imgprivacy:id": "IMG_0001.png", "caption": "café au lait", "note": "日本語 ✓"}
    path = D.write_png(tmp_path / "t.png", rng.random((4, 4, 3), dtype=np.float32), text=text)
    loaded = D.read_image(path)
    assert dict(loaded.text) == text
    with pytest.raises(TypeError):
        loaded.text["x"] = "y"  # read-only mapping
    kinds = [kind for kind, _ in png.Reader(bytes=path.read_bytes()).chunks()]
    assert kinds.count(b"tEXt") == 3 and kinds.count(b"iTXt") == 1
    assert max(i for i, k in enumerate(kinds) if k in (b"tEXt", b"iTXt")) < kinds.index(b"IDAT")


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [0, 2, 3, 4])
def test_png_with_text_is_read_exactly_by_pypng(tmp_path, rng, channels, depth):
    # pypng (the reader before issue 13, and an independent decoder) gets the same samples and text,
    # checks every CRC, and finds the text right after IHDR: placed in the same pass, nothing re-parsed
    shape = (7, 9) if channels == 0 else (7, 9, channels)
    values = rng.integers(0, 2**depth - 1, size=shape, endpoint=True, dtype=np.uint8 if depth == 8 else np.uint16)
    text = {"imgprivacy": '{"format": 2}', "Software": "imgprivacy ✓"}
    path = D.write_png(tmp_path / "x.png", D.to_float(values), depth=depth, text=text)
    raw = path.read_bytes()
    chunks = list(png.Reader(bytes=raw).chunks())
    assert [k for k, _ in chunks[:3]] == [b"IHDR", b"tEXt", b"iTXt"] and chunks[-1][0] == b"IEND"
    assert {k for k, _ in chunks} == {b"IHDR", b"tEXt", b"iTXt", b"IDAT", b"IEND"}  # no other metadata
    width, height, rows, info = png.Reader(bytes=raw).read()
    assert (width, height, info["bitdepth"], info["planes"]) == (9, 7, depth, max(channels, 1))
    np.testing.assert_array_equal(np.array([list(r) for r in rows]), values.reshape(7, -1))
    assert dict(D.read_image(path).text) == text
    without = D.write_png(tmp_path / "y.png", D.to_float(values), depth=depth).read_bytes()
    text_end = 33 + sum(12 + len(body) for _, body in chunks[1:3])
    assert raw[:33] + raw[text_end:] == without  # the same encoding with the text chunks placed after IHDR


def test_png_text_chunk_with_a_bad_crc_is_refused(tmp_path):
    path = D.write_png(tmp_path / "x.png", np.zeros((4, 4, 3), np.float32), text={"imgprivacy": "{}"})
    raw = bytearray(path.read_bytes())
    raw[33 + 8 + 3] ^= 1  # a byte of the tEXt chunk's keyword
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="bad CRC"):
        D.read_image(path)


def test_png_of_flat_areas_stays_small(tmp_path):
    # the fast deflate still shrinks what the row filter turns into runs of zero: at least 100x below the raw
    # samples (a Huffman-only deflate gives 1/8, a stored one more than the raw size)
    image = np.zeros((512, 512, 3), np.float32)
    image[:, 256:] = 0.5
    for depth in (8, 16):
        raw = image.size * depth // 8
        assert D.write_png(tmp_path / f"flat{depth}.png", image, depth=depth).stat().st_size < raw / 100


def test_read_image_text_written_by_others(tmp_path):
    info = PngInfo()
    info.add_text("plain", "latin ä")
    info.add_text("zipped", "compressed " * 20, zip=True)
    info.add_itxt("intl", "ünïcode ✓", lang="en", tkey="International", zip=True)
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(tmp_path / "p.png", pnginfo=info)
    loaded = D.read_image(tmp_path / "p.png")
    assert dict(loaded.text) == {"plain": "latin ä", "zipped": "compressed " * 20, "intl": "ünïcode ✓"}
    kinds = {kind for kind, _ in png.Reader(bytes=(tmp_path / "p.png").read_bytes()).chunks()}
    assert {b"tEXt", b"zTXt", b"iTXt"} <= kinds
    # a 16-bit file with text goes through the pypng path
    chunks = list(png.Reader(bytes=D.write_png(tmp_path / "q.png", np.zeros((2, 2)), depth=16).read_bytes()).chunks())
    chunks.insert(1, (b"zTXt", b"k\0\0" + zlib.compress(b"v")))
    with open(tmp_path / "q.png", "wb") as handle:
        png.write_chunks(handle, chunks)
    assert dict(D.read_image(tmp_path / "q.png").text) == {"k": "v"}


@pytest.mark.parametrize(
    "text, error, match",
    [
        ({"": "v"}, ValueError, r"text keys must be 1-79 printable Latin-1 characters"),
        ({"k" * 80: "v"}, ValueError, r"text keys must be 1-79"),
        ({" lead": "v"}, ValueError, r"without leading, trailing or double spaces"),
        ({"dou  ble": "v"}, ValueError, r"without leading, trailing or double spaces"),
        ({"ключ": "v"}, ValueError, r"printable Latin-1"),
        ({"k": "a\0b"}, ValueError, r"text values must not contain NUL"),
        ({"k": 3}, TypeError, r"text keys and values must be str"),
        (["k", "v"], TypeError, r"text must be a mapping of str to str or None, got list"),
    ],
)
def test_write_png_text_validation(tmp_path, text, error, match):
    with pytest.raises(error, match=match):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2)), text=text)
    assert list(tmp_path.iterdir()) == []


def test_write_png_refuses_to_overwrite(tmp_path):
    path = D.write_png(tmp_path / "x.png", np.zeros((3, 3), np.float32))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"already exists.*overwrite=True \(--force"):
        D.write_png(path, np.ones((3, 3), np.float32))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["x.png"]  # no temporary file left
    D.write_png(path, np.ones((3, 3), np.float32), overwrite=True)
    assert D.read_image(path).image.min() == 1.0
    assert os.listdir(tmp_path) == ["x.png"]


def test_write_png_cleans_up_on_error(tmp_path, monkeypatch):
    def broken_link(src, dst):
        raise FileExistsError(dst)

    monkeypatch.setattr(os, "link", broken_link)
    with pytest.raises(FileExistsError):
        D.write_png(tmp_path / "x.png", np.zeros((3, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_write_png_without_hard_links(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise PermissionError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    path = D.write_png(tmp_path / "x.png", np.zeros((3, 3), np.float32))
    assert os.listdir(tmp_path) == ["x.png"] and D.read_image(path).image.shape == (3, 3)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        D.write_png(path, np.ones((3, 3), np.float32))
    assert D.read_image(path).image.max() == 0.0 and os.listdir(tmp_path) == ["x.png"]


@pytest.mark.parametrize("name", ["x.jpg", "x.JPEG", "x.webp", "x.png.jpg", "x"])
def test_write_png_refuses_other_suffixes(tmp_path, name):
    match = r"path must end in \.png.*lossy or other format .* destroy the perturbation"
    with pytest.raises(ValueError, match=match):
        D.write_png(tmp_path / name, np.zeros((2, 2), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_png_accepts_upper_case_suffix(tmp_path):
    assert D.write_png(tmp_path / "X.PNG", np.zeros((2, 2), np.float32)).name == "X.PNG"


def test_write_png_validation(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the folder .*nope does not exist; create it first"):
        D.write_png(tmp_path / "nope" / "x.png", np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match=r"depth must be 8 or 16 \(bits per sample\), got 32"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2), np.float32), depth=32)
    with pytest.raises(TypeError, match=r"integer samples must be uint16 for depth=16, got dtype uint8; pass the float"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2), np.uint8), depth=16)
    with pytest.raises(TypeError, match=r"integer samples must be uint8 for depth=8, got dtype int32"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match=r"image must have 1, 2, 3 or 4 channels, got shape \(2, 2, 5\)"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(ValueError, match=r"image must have 1 \(grey\), 2 \(grey\+alpha\), 3 \(RGB\), 4 \(RGBA\) channels"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2, 5), np.float32))
    with pytest.raises(TypeError, match=r"overwrite must be True or False, got 1"):
        D.write_png(tmp_path / "x.png", np.zeros((2, 2), np.float32), overwrite=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4])
def test_write_png_of_quantised_samples_is_the_same_file(tmp_path, rng, depth, channels):
    x = rng.random((5, 7) if channels is None else (5, 7, channels), dtype=np.float32)
    pixels = D.to_uint(x, depth=depth)
    a = D.write_png(tmp_path / "a.png", x, depth=depth, text={"k": "v"})
    b = D.write_png(tmp_path / "b.png", pixels, depth=depth, text={"k": "v"})
    assert a.read_bytes() == b.read_bytes()
    back = D.read_image(b)
    assert back.depth == depth and np.array_equal(D.to_uint(back.image, depth=depth), pixels.reshape(back.image.shape))


def test_write_png_does_not_modify_input(tmp_path, rng):
    x = rng.random((4, 4, 3), dtype=np.float32)
    before = x.copy()
    D.write_png(tmp_path / "x.png", x, depth=16)
    np.testing.assert_array_equal(x, before)


def test_read_image_applies_exif_orientation_to_jpeg(tmp_path):
    array = np.zeros((16, 32, 3), np.uint8)
    array[:, 16:] = 255  # left half black, right half white
    _write_jpeg_with_orientation(tmp_path / "o.jpg", array, 6)
    loaded = D.read_image(tmp_path / "o.jpg")
    assert loaded.format == "JPEG" and loaded.depth == 8 and dict(loaded.text) == {}
    assert loaded.image.shape == (32, 16, 3)  # rotated 90 degrees clockwise
    expected = D.to_float(np.rot90(array, -1))
    assert np.abs(loaded.image - expected).mean() < 0.02
    with Image.open(tmp_path / "o.jpg") as pil:
        np.testing.assert_array_equal(loaded.image, D.to_float(np.asarray(ImageOps.exif_transpose(pil))))


def test_exif_is_never_carried_into_png(tmp_path):
    _write_jpeg_with_orientation(tmp_path / "gps.jpg", np.full((8, 8, 3), 99, np.uint8), 1, gps=True)
    assert b"SecretCam" in (tmp_path / "gps.jpg").read_bytes()
    loaded = D.read_image(tmp_path / "gps.jpg")
    out = D.write_png(tmp_path / "clean.png", loaded.image, text={"id": "gps.jpg"})
    raw = out.read_bytes()
    kinds = [kind for kind, _ in png.Reader(bytes=raw).chunks()]
    assert b"eXIf" not in kinds and b"eXIf" not in raw and b"SecretCam" not in raw and b"Exif" not in raw
    assert set(kinds) == {b"IHDR", b"tEXt", b"IDAT", b"IEND"}
    with Image.open(out) as pil:
        assert len(pil.getexif()) == 0


@pytest.mark.parametrize("orientation", range(1, 9))
def test_read_image_applies_exif_orientation_to_16_bit_png(tmp_path, rng, orientation):
    values = rng.integers(0, 255, size=(3, 5, 3), endpoint=True, dtype=np.uint8)
    exif = Image.new("RGB", (1, 1)).getexif()
    exif[0x0112] = orientation
    results = {}
    for depth, scaled in [(8, values), (16, values.astype(np.uint16) * 257)]:
        path = D.write_png(tmp_path / f"d{depth}.png", D.to_float(scaled), depth=depth)
        chunks = list(png.Reader(bytes=path.read_bytes()).chunks())
        chunks.insert(1, (b"eXIf", exif.tobytes()))
        with open(path, "wb") as handle:
            png.write_chunks(handle, chunks)
        loaded = D.read_image(path)
        assert loaded.depth == depth
        results[depth] = loaded.image
    np.testing.assert_array_equal(results[8], results[16])  # Pillow path and pypng path agree
    with Image.open(tmp_path / "d8.png") as pil:
        np.testing.assert_array_equal(results[8], D.to_float(np.asarray(ImageOps.exif_transpose(pil))))
    if orientation == 6:
        np.testing.assert_array_equal(results[16], D.to_float(np.rot90(values, -1)))


def test_read_image_modes(tmp_path):
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    palette = Image.fromarray(np.stack([grey] * 3, axis=2)).quantize(4)
    palette.save(tmp_path / "p.png")
    loaded = D.read_image(tmp_path / "p.png")
    assert loaded.image.shape == (3, 4, 3) and loaded.depth == 8
    np.testing.assert_array_equal(D.to_uint(loaded.image), np.asarray(palette.convert("RGB")))

    palette.save(tmp_path / "pt.png", transparency=0)
    assert D.read_image(tmp_path / "pt.png").image.shape == (3, 4, 4)

    Image.fromarray(grey > 100).save(tmp_path / "b.png")  # 1-bit
    bits = D.read_image(tmp_path / "b.png")
    assert bits.image.shape == (3, 4) and bits.depth == 8
    np.testing.assert_array_equal(bits.image, (grey > 100).astype(np.float32))

    Image.fromarray(np.stack([grey, 255 - grey], axis=2), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(D.read_image(tmp_path / "la.png").image[..., 1], D.to_float(255 - grey))

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).convert("CMYK").save(tmp_path / "c.jpg")
    cmyk = D.read_image(tmp_path / "c.jpg")
    assert cmyk.image.shape == (4, 4, 3) and cmyk.format == "JPEG"

    values16 = np.array([[0, 1, 65534, 65535]], np.uint16)
    Image.fromarray(values16).save(tmp_path / "g16.png")  # written by Pillow (mode I;16)
    g16 = D.read_image(tmp_path / "g16.png")
    assert g16.depth == 16
    np.testing.assert_array_equal(D.to_uint(g16.image, depth=16), values16)

    (tmp_path / "g16.pgm").write_bytes(b"P5\n4 1\n65535\n" + values16.astype(">u2").tobytes())
    pgm = D.read_image(tmp_path / "g16.pgm")
    assert pgm.depth == 16 and pgm.format == "PPM"
    np.testing.assert_array_equal(D.to_uint(pgm.image, depth=16), values16)


def test_read_image_16_bit_grey_with_transparent_colour(tmp_path):
    values = np.array([[0, 7, 65535], [7, 1, 2]], np.uint16)
    buf = io.BytesIO()
    png.Writer(3, 2, greyscale=True, bitdepth=16, transparent=7).write(buf, values.tolist())
    (tmp_path / "t.png").write_bytes(buf.getvalue())
    loaded = D.read_image(tmp_path / "t.png")
    assert loaded.image.shape == (2, 3, 2) and loaded.depth == 16
    np.testing.assert_array_equal(D.to_uint(loaded.image[..., 0], depth=16), values)
    assert D.to_uint(loaded.image[..., 1], depth=16).tolist() == [[65535, 0, 65535], [0, 65535, 65535]]


def test_example_files_are_small_and_readable():
    examples = Path(__file__).resolve().parents[1] / "data" / "examples"
    files = sorted(examples.iterdir())
    assert sum(f.stat().st_size for f in files) < 300_000
    for file in files:
        if file.suffix.lower() in (".png", ".jpg", ".jpeg"):
            assert D.read_image(file).image.shape[2] == 3


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"image file not found: .*missing\.png"):
        D.read_image(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"this is not an image")
    with pytest.raises(ValueError, match=r"cannot read .*junk\.png: not an image format Pillow can open"):
        D.read_image(tmp_path / "junk.png")
    good = D.write_png(tmp_path / "good.png", np.zeros((8, 8, 3), np.float32), depth=16).read_bytes()
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*cut\.png"):
        D.read_image(tmp_path / "cut.png")
    with pytest.raises(ValueError, match=r"path must be an image file, got the folder"):
        D.read_image(tmp_path)
    with pytest.raises(TypeError, match=r"path must be a str or os.PathLike, got int"):
        D.read_image(3)


def test_public_api():
    assert set(D.__all__) == {
        "FaceSet", "LOSSLESS_SUFFIXES", "LoadedImage", "OverlaySet", "dihedral_set", "load_faces",
        "overlay_fingerprint", "overlay_set", "read_image", "storage_roundtrip", "to_float", "to_uint", "view_set",
        "write_png",
    }
    assert D.LOSSLESS_SUFFIXES == (".png",)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_to_uint_in_strips_equals_one_float64_pass(rng, depth, dtype):
    # several strips, a ragged last one, a non-contiguous view and the exact half-way values of both grids
    scale = 2**depth - 1
    x = rng.random((3, 70_001), dtype=np.float64).astype(dtype)
    x[0, :6] = (np.arange(6) + 0.5) / scale
    x[1, :2] = (0.0, 1.0)
    for image in (x, x[:, ::-3], x.T):
        expected = np.rint(image.astype(np.float64) * float(scale)).astype(np.uint8 if depth == 8 else np.uint16)
        np.testing.assert_array_equal(D.to_uint(image, depth=depth), expected)


def test_default_set_cache_gives_the_same_set_and_rebuilds_a_damaged_file(tmp_path, monkeypatch):
    from imgprivacy.data import _overlays as O

    monkeypatch.setenv("IMGPRIVACY_CACHE", str(tmp_path))
    O._default_overlay_set.cache_clear()
    try:
        built = D.overlay_set("default")  # built from the bundled pictures, then kept
        (cache,) = tmp_path.iterdir()
        O._default_overlay_set.cache_clear()
        cached = D.overlay_set("default")
        assert cached is not built and cached.fingerprint == built.fingerprint == OVERLAY_SET_V1_FINGERPRINT
        assert cached.names == built.names and D.overlay_fingerprint(cached) == OVERLAY_SET_V1_FINGERPRINT
        # the digest this version's build gives is the known one, which spares the loader a second hash
        assert O._KNOWN_DEFAULT[O._stored_digest(built.images._stored, built.names)] == OVERLAY_SET_V1_FINGERPRINT
        raw = bytearray(cache.read_bytes())
        raw[len(raw) // 2] ^= 0xFF  # a flipped byte inside one image
        cache.write_bytes(bytes(raw))
        O._default_overlay_set.cache_clear()
        assert D.overlay_fingerprint(D.overlay_set("default")) == OVERLAY_SET_V1_FINGERPRINT  # rebuilt, not trusted
        monkeypatch.setenv("IMGPRIVACY_CACHE", "off")
        assert O._cache_file() is None
    finally:
        O._default_overlay_set.cache_clear()


def test_the_cache_name_reads_the_versions_importlib_metadata_gives():
    import importlib.metadata as md

    from imgprivacy.data import _overlays as O

    for dist, module in (("scikit-image", "skimage"), ("scikit-learn", "sklearn"), ("numpy", "numpy"), ("tqdm", "tqdm")):
        assert O._dist_version(dist, module) == md.version(dist)
    assert O._dist_version("not-installed-here", "not_installed_here") is None


def test_default_set_cache_is_refused_when_others_could_write_it_or_its_fingerprint_lies(tmp_path, monkeypatch):
    from imgprivacy.data import _overlays as O

    monkeypatch.setenv("IMGPRIVACY_CACHE", str(tmp_path))
    O._default_overlay_set.cache_clear()
    try:
        D.overlay_set("default")
        (cache,) = tmp_path.iterdir()
        assert O._load_cached_set(cache) is not None
        cache.chmod(0o666)  # anyone could have written it
        assert O._load_cached_set(cache) is None
        cache.chmod(0o600)
        tmp_path.chmod(0o777)  # or swapped it in its folder
        assert O._load_cached_set(cache) is None
        tmp_path.chmod(0o700)
        # a forged file: flat first overlay, a digest made to match, the true fingerprint kept
        with np.load(cache) as npz:
            fields = {name: npz[name] for name in npz.files}
        fields["image0"] = np.zeros_like(fields["image0"])
        names = tuple(str(n) for n in fields["names"])
        fields["digest"] = np.array(O._stored_digest([fields[f"image{i}"] for i in range(len(names))], names))
        np.savez(cache.with_suffix(".forged.npz"), **fields)
        assert O._load_cached_set(cache.with_suffix(".forged.npz")) is None
    finally:
        tmp_path.chmod(0o700)
        O._default_overlay_set.cache_clear()


def test_a_compressed_text_chunk_may_not_inflate_past_a_megabyte(tmp_path):
    import zlib

    from imgprivacy.data import _png

    pixels = np.zeros((4, 4, 3), np.uint8)
    small = _png.chunk(b"zTXt", b"note\0\0" + zlib.compress(b"x" * 1000))
    bomb = _png.chunk(b"zTXt", b"note\0\0" + zlib.compress(b"x" * (_png.MAX_TEXT_BYTES + 1), 9))  # about 1 KB
    ok, bad = tmp_path / "ok.png", tmp_path / "bomb.png"
    ok.write_bytes(b"".join(_png.encode_parts(pixels, [small])))
    bad.write_bytes(b"".join(_png.encode_parts(pixels, [bomb])))
    assert D.read_image(ok).text == {"note": "x" * 1000}
    assert len(bomb) < 2000
    with pytest.raises(ValueError, match=r"bomb\.png.*expands to more than 1048576 bytes"):
        D.read_image(bad)
