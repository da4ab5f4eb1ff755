"""Tests for the cycle explorer (imgprivacy.widgets.cycle_explorer) and the library pieces it added:
imgprivacy.targets.crop_face (a face of one's own photo in the face set's format) and
imgprivacy.attacks.remove_naive_overlay (the owner's inverse of the naive overlay).

Headless: figures are built and rendered to PNG in memory under Agg, never shown.
"""

from __future__ import annotations

import datetime
import io
import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402

import imgprivacy as ip  # noqa: E402
from imgprivacy import attacks, data, metrics, targets, uep, widgets  # noqa: E402

KEY = bytes(range(16))


class Counting:
    """A real recogniser that counts the images it is asked about."""

    def __init__(self, inner):
        self.inner, self.asked = inner, 0

    def predict(self, images):
        self.asked += len(images)
        return self.inner.predict(images)


@pytest.fixture(scope="module")
def eigen(faces):
    return targets.Eigenfaces().fit(faces.images[::2], faces.labels[::2])


@pytest.fixture(scope="module")
def robust(faces):
    return targets.RobustCNN.cached(faces=faces)


@pytest.fixture(scope="module")
def delta():
    """A smooth stand-in for a learned UEP (|delta| < 0.5, so beta * delta stays moderate)."""
    raw = ndimage.gaussian_filter(np.random.default_rng(0).normal(size=(64, 64)), 2.0)
    return (0.45 * raw / np.abs(raw).max()).astype(np.float32)


@pytest.fixture(scope="module")
def explorer(faces, eigen, robust, delta):
    return widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, robust=robust, key=KEY, delta=delta,
                                  index=3, n_shared=6)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()


def _photo_bytes(face: np.ndarray, *, rgb: bool = True) -> bytes:
    """A PNG of ``face`` (upscaled 2x) pasted into a larger, slightly noisy background."""
    rng = np.random.default_rng(1)
    canvas = (0.3 + 0.05 * rng.random((200, 260))).astype(np.float32)
    canvas[40:168, 70:198] = np.kron(face, np.ones((2, 2), np.float32))
    img = Image.fromarray(data.to_uint(canvas))
    buf = io.BytesIO()
    (img.convert("RGB") if rgb else img).save(buf, format="PNG")
    return buf.getvalue()


def _set(w, **values):
    for name, value in values.items():
        w.controls[name].value = value
    return w.view


# --------------------------------------------------------------------------- building and drawing
def test_builds_and_draws_one_row_of_four_panels(explorer, faces):
    assert explorer.draws >= 1
    v = explorer.view
    assert isinstance(v, widgets.CycleView)
    assert (v.source, v.index, v.image_id, v.defence, v.attack) == ("face set", 3, "face_0003.png", "k-RTIO", "none")
    np.testing.assert_array_equal(v.original, faces.images[3])
    assert v.truth == faces.labels[3]
    assert len(explorer.figure.axes) == 4
    texts = [t.get_text() for ax in explorer.figure.axes for t in ax.texts]
    assert any(t.startswith("protected: k-RTIO") for t in texts)
    assert any(t.startswith("eigenfaces: ") and t.endswith(("✓", "✗")) for t in texts)
    assert _png(explorer.figure).startswith(b"\x89PNG")
    assert explorer.upload in explorer.children[0].children


@pytest.mark.parametrize("defence, attack", list(itertools.product(widgets.DEFENCES, widgets.ATTACKS)))
def test_every_defence_and_attack_builds_a_view_with_finite_numbers(explorer, faces, defence, attack):
    v = _set(explorer, source="face set", index=3, attack="none", defence=defence)
    v = _set(explorer, attack=attack)
    assert (v.defence, v.attack) == (defence, attack)
    for img in (v.original, v.protected, v.attacked, v.recovered):
        assert img.shape == faces.images[0].shape and img.dtype == np.float32
        assert np.all(np.isfinite(img)) and img.min() >= 0.0 and img.max() <= 1.0
    numbers = [*v.ssim.values(), *v.ssim_affine.values(), v.recovery_error, v.gain, v.seconds]
    assert np.all(np.isfinite(numbers))
    assert set(v.ssim) == set(v.ssim_affine) == {"protected", "attacked", "recovered"}
    assert (v.group is not None) == (attack in ("BSS", "median"))
    if v.group is not None:
        assert len(v.group) == v.settings["n"] == 6 and v.group[0] == 3 and len(set(v.group)) == 6
    assert set(v.predictions) == {"eigenfaces"} | ({"robust CNN"} if attack == "robust CNN" else set())
    assert all(p is not None for p in v.predictions["eigenfaces"])
    if attack == "robust CNN":
        assert v.predictions["robust CNN"][2] is not None and v.predictions["robust CNN"].count(None) == 3
        np.testing.assert_array_equal(v.attacked, v.protected)  # the recogniser changes, not the photo
    if attack == "none":
        np.testing.assert_array_equal(v.attacked, v.protected)
    assert "Not drawn" not in explorer.status.value


def test_controls_shown_follow_the_defence_and_the_attack(explorer):
    _set(explorer, defence="UEP", attack="median")
    shown = {n for n, c in explorer.controls.items() if c.layout.display != "none"}
    assert {"beta", "n", "lam", "seed"} <= shown and not {"alpha", "k", "block", "overlay", "filter"} & shown
    _set(explorer, defence="naive overlay", attack="filter")
    shown = {n for n, c in explorer.controls.items() if c.layout.display != "none"}
    assert {"alpha", "overlay", "filter", "strength"} <= shown and not {"k", "beta", "n", "lam"} & shown


def test_a_control_change_redraws(explorer, faces):
    before = _set(explorer, source="face set", defence="k-RTIO", attack="none", alpha=0.45)
    draws = explorer.draws
    after = _set(explorer, alpha=0.6)
    assert explorer.draws == draws + 1
    assert after is not before and after.settings["alpha"] == 0.6 and before.settings["alpha"] == 0.45
    assert not np.array_equal(after.protected, before.protected)
    assert after.ssim["protected"] > before.ssim["protected"]  # more of the photo shows through
    after = _set(explorer, index=7)
    np.testing.assert_array_equal(after.original, faces.images[7])
    assert after.index == 7 and after.image_id == "face_0007.png"


def test_each_photo_gets_its_own_krtio_overlay(explorer, faces):
    a = _set(explorer, source="face set", defence="k-RTIO", attack="none", index=10)
    b = _set(explorer, index=11)
    overlay_a = (a.protected - 0.45 * a.original) / 0.55
    overlay_b = (b.protected - 0.45 * b.original) / 0.55
    assert np.abs(overlay_a - overlay_b).mean() > 0.05


# --------------------------------------------------------------------------- recovery with the key
@pytest.mark.parametrize("alpha", [0.2, 0.45, 0.8])
@pytest.mark.parametrize("defence", ["k-RTIO", "naive overlay"])
def test_recovered_with_the_key_within_the_proven_bound_overlays(explorer, defence, alpha):
    v = _set(explorer, source="face set", attack="none", defence=defence, alpha=alpha)
    bound = 0.5 / 65535 / alpha + 1e-6  # 16-bit storage rounding, divided by alpha
    assert v.recovery_error <= bound
    assert v.ssim["recovered"] > 0.999


@pytest.mark.parametrize("beta", [1.0, 3.0, 5.0])
def test_recovered_with_the_key_within_the_proven_bound_uep(explorer, delta, beta):
    v = _set(explorer, source="face set", attack="none", defence="UEP", beta=beta)
    bound = float(uep.recovery_bound(delta, beta=beta, depth=16).max()) + 1e-6
    assert v.recovery_error <= bound
    assert v.ssim["recovered"] > 0.99


def test_8_bit_storage_is_within_its_own_bound(faces, eigen):
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY, depth=8, alpha=0.45)
    assert 0.5 / 65535 / 0.45 < w.view.recovery_error <= 0.5 / 255 / 0.45 + 1e-6


# --------------------------------------------------------------------------- attacks
def test_bss_recovers_the_naive_overlays_photos_not_krtios(explorer):
    naive = _set(explorer, source="face set", attack="none", defence="naive overlay", alpha=0.45, n=20, seed=0)
    naive = _set(explorer, attack="BSS")
    krtio = _set(explorer, defence="k-RTIO")
    assert naive.group_ssim[1] > naive.group_ssim[0] + 0.1  # measured +0.16 to +0.32 over photos and draws
    assert krtio.gain < 0.02  # measured -0.07 to -0.13: each photo has its own overlay
    assert "no shared source" in krtio.note and naive.note == ""
    _set(explorer, n=6)


def test_median_removes_a_uep_shared_by_many_photos(explorer):
    uep_view = _set(explorer, source="face set", attack="none", defence="UEP", beta=3.0, n=20)
    uep_view = _set(explorer, attack="median", lam=0.5)
    krtio_view = _set(explorer, defence="k-RTIO", alpha=0.45)
    assert uep_view.gain > 0.05
    assert krtio_view.gain < uep_view.gain
    _set(explorer, n=6, lam=0.54)


def test_known_s_undoes_krtio(explorer):
    before = _set(explorer, source="face set", attack="none", defence="k-RTIO", alpha=0.45, k=3, block=16)
    after = _set(explorer, attack="known-S")
    assert after.ssim["attacked"] > before.ssim["protected"] + 0.2
    _set(explorer, attack="none", block=8)


def test_filter_change_starts_at_a_middle_strength(explorer):
    _set(explorer, source="face set", defence="k-RTIO", alpha=0.45, attack="filter", filter="median", strength=1)
    v = _set(explorer, filter="blur")
    assert explorer.controls["strength"].options == attacks.FILTERS["blur"].strengths
    assert v.settings["filter"] == "blur" and v.settings["strength"] == 2
    assert not np.array_equal(v.attacked, v.protected)
    _set(explorer, filter="median", strength=1, attack="none")


def test_recognisers_are_asked_only_about_images_that_changed(faces, eigen):
    counter = Counting(eigen)
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": counter}, key=KEY)
    assert counter.asked == 3  # original, protected (= attacked, no attack) and recovered
    _set(w, attack="filter")
    assert counter.asked == 4  # only the filtered photo is new
    _set(w, attack="none")
    assert counter.asked == 4  # all seen before
    v = _set(w, alpha=0.5)
    assert counter.asked == 6 and v.predictions["eigenfaces"] == tuple(eigen.predict(
        np.stack([v.original, v.protected, v.attacked, v.recovered])).tolist())


# --------------------------------------------------------------------------- photos of one's own
def test_an_uploaded_photo_is_cropped_to_the_face_sets_shape(faces, eigen):
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY)
    draws = w.draws
    crop = w.use_photo(_photo_bytes(faces.images[123]))
    assert isinstance(crop, targets.FaceCrop) and crop.faces_found >= 1
    v = w.view
    assert w.draws == draws + 1
    assert (v.source, v.index, v.image_id, v.truth) == ("my photo", -1, "my_photo.png", None)
    assert v.original.shape == faces.images.shape[1:] and v.original.dtype == np.float32
    assert metrics.ssim(v.original, faces.images[123]) > 0.7  # the pasted face, found and framed like the set
    assert v.recovery_error < 1e-4 and all(p is not None for p in v.predictions["eigenfaces"])
    assert not any(t.get_text().endswith(("✓", "✗")) for ax in w.figure.axes for t in ax.texts)  # nobody knows who
    w.use_photo(_photo_bytes(faces.images[200], rgb=False))  # a second photo redraws with the new face
    assert w.draws == draws + 2 and metrics.ssim(w.view.original, faces.images[200]) > 0.7
    _set(w, attack="BSS")
    assert w.view.group[0] == -1 and w.view.source == "my photo"


def test_the_upload_button_feeds_use_photo_and_keeps_no_copy(faces, eigen):
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY)
    content = _photo_bytes(faces.images[50])
    w.upload.value = ({"name": "me.png", "type": "image/png", "size": len(content), "content": memoryview(content),
                       "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert w.view.source == "my photo" and metrics.ssim(w.view.original, faces.images[50]) > 0.7
    assert w.upload.value == ()


def test_an_image_with_no_face_is_refused_with_a_clear_message(faces, eigen):
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY)
    before, draws = w.view, w.draws
    buf = io.BytesIO()
    Image.fromarray(np.full((120, 160), 128, np.uint8)).save(buf, format="PNG")
    assert w.use_photo(buf.getvalue()) is None
    assert "no face found in the photo (120 x 160 pixels)" in w.status.value
    assert w.view is before and w.draws == draws and w.controls["source"].value == "face set"
    assert w.use_photo(b"not an image") is None and "Not drawn" in w.status.value


def test_my_photo_without_an_upload_is_refused(faces, eigen):
    w = widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY)
    before = w.view
    _set(w, source="my photo")
    assert w.view is before and "upload one" in w.status.value


# --------------------------------------------------------------------------- factory checks
@pytest.mark.parametrize("options, match", [
    (dict(defence="UEP"), "pass delta="),
    (dict(attack="robust CNN"), "pass robust="),
    (dict(attack="deepface"), "attack must be one of"),
    (dict(alpha=0.01), "alpha must be in"),
    (dict(block=5), "block must be one of"),
    (dict(beta=6.0), "beta must be in"),
    (dict(n_shared=1), "n_shared"),
    (dict(lam=0.9), "lam must be in"),
    (dict(filter="sharpen"), "filter must be one of"),
    (dict(strength=7), "strength must be one of"),
    (dict(overlay="nope"), "overlay must be one of the set's names"),
    (dict(depth=12), "depth must be 8 or 16"),
])
def test_factory_refuses_bad_settings(faces, eigen, options, match):
    with pytest.raises(ValueError, match=match):
        widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, key=KEY, **options)


def test_factory_refuses_bad_targets_and_robust(faces, eigen):
    with pytest.raises(TypeError, match="targets"):
        widgets.cycle_explorer(faces, targets=[eigen])
    with pytest.raises(TypeError, match="robust must be a fitted recogniser"):
        widgets.cycle_explorer(faces, targets={"eigenfaces": eigen}, robust="cnn")


def test_public_names():
    assert ip.widgets.cycle_explorer is widgets.cycle_explorer
    assert {"cycle_explorer", "CycleExplorer", "CycleView"} <= set(widgets.__all__)
    assert {"crop_face", "FaceCrop"} <= set(targets.__all__) and "remove_naive_overlay" in attacks.__all__


# --------------------------------------------------------------------------- the library pieces
def test_crop_face_frames_a_face_like_the_face_set(faces):
    pytest.importorskip("cv2", reason="the Haar cascade needs OpenCV (the recognizer extra)")
    for i in (0, 123, 399):
        rng = np.random.default_rng(i)
        canvas = (0.6 * rng.random((300, 400))).astype(np.float32)
        canvas[100:228, 150:278] = np.kron(faces.images[i], np.ones((2, 2), np.float32))
        crop = targets.crop_face(np.repeat(canvas[..., None], 3, axis=2), like=faces, detector="haar-cascade")
        assert crop.face.shape == (64, 64)
        top, left, bottom, right = crop.frame
        assert abs(top - 100) <= 12 and abs(left - 150) <= 12 and abs(bottom - 228) <= 12 and abs(right - 278) <= 12
        assert metrics.ssim(crop.face, faces.images[i]) > 0.6


def test_crop_face_keeps_colour_for_a_colour_face_set(faces):
    colour = np.repeat(faces.images[:4, ..., None], 3, axis=3)
    canvas = np.full((160, 160, 3), 0.4, np.float32)
    canvas[48:112, 48:112] = colour[1]
    crop = targets.crop_face(canvas, like=colour, detector="lbp-cascade", sample=4)
    assert crop.face.shape == (64, 64, 3)


def test_crop_face_refusals(faces):
    with pytest.raises(ValueError, match="no face found in the photo"):
        targets.crop_face(np.full((80, 80), 0.5, np.float32), like=faces, detector="lbp-cascade")
    with pytest.raises(ValueError, match="finds no face in any of the 2 images of like"):
        targets.crop_face(faces.images[0], like=np.full((2, 64, 64), 0.5, np.float32), detector="lbp-cascade")
    with pytest.raises(TypeError, match="detector must be None"):
        targets.crop_face(faces.images[0], like=faces, detector=42)
    with pytest.raises(ValueError, match="detector must be 'haar-cascade'"):
        targets.crop_face(faces.images[0], like=faces, detector="deepface")
    with pytest.raises(ValueError, match="like must hold at least one"):
        targets.crop_face(faces.images[0], like=[])
    with pytest.raises(TypeError, match="photo must be a floating-point image"):
        targets.crop_face(np.zeros((8, 8), np.uint8), like=faces)


def test_remove_naive_overlay_inverts_naive_overlay(faces):
    o = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    y = attacks.naive_overlay(faces.images[:5], o, alpha=0.3)
    back = attacks.remove_naive_overlay(y, o, alpha=0.3)
    assert back.shape == (5, 64, 64) and np.abs(back - faces.images[:5]).max() < 1e-5
    one = attacks.remove_naive_overlay(y[0], o, alpha=0.3)
    assert one.shape == (64, 64)
    wrong = attacks.remove_naive_overlay(y[0], np.roll(o, 5, axis=1), alpha=0.3)
    assert metrics.ssim(wrong, faces.images[0]) < 0.6
    with pytest.raises(ValueError, match="overlay must have the shape of one perturbed photo"):
        attacks.remove_naive_overlay(y, o[:10], alpha=0.3)
    with pytest.raises(ValueError, match="alpha"):
        attacks.remove_naive_overlay(y, o, alpha=1.5)
