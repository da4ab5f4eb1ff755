"""Tests for imgprivacy.widgets: the k-RTIO explorer and show_images.

Everything runs headless under matplotlib's Agg backend: figures are built
and rendered to PNG in memory, never shown.
"""

from __future__ import annotations

import io
import subprocess
import sys
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imgprivacy import krtio, metrics, widgets  # noqa: E402

KEY = bytes(range(16))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def overlays(rng):
    """A random overlay set of 4 RGB images."""
    return [rng.random((20, 24, 3), dtype=np.float32) for _ in range(4)]


@pytest.fixture
def face(rng):
    """A small grey 'face' whose sides are not multiples of the block size."""
    yy, xx = np.mgrid[0:30, 0:26]
    smooth = 0.5 + 0.3 * np.sin(yy / 5.0) * np.cos(xx / 4.0)
    return np.clip(smooth + 0.1 * rng.random((30, 26)), 0, 1).astype(np.float32)


@pytest.fixture
def explorer(face, overlays):
    return widgets.krtio_explorer(face, KEY, overlays=overlays, k=2, block=4)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# --------------------------------------------------------------------------- explorer
def test_explorer_draws_once_when_built(explorer, face):
    assert explorer.draws == 1
    assert isinstance(explorer.figure, Figure)
    titles = [ax.get_title() for ax in explorer.figure.axes]
    assert len(titles) == 4
    assert titles[0] == "original"
    assert all("PSNR" in t and "SSIM" in t for t in titles[2:])
    assert explorer.view.ssim_recovered > 0.99
    np.testing.assert_array_equal(explorer.view.original, face)
    assert _png(explorer.figure).startswith(b"\x89PNG")


def test_explorer_has_the_documented_controls(explorer, overlays):
    c = explorer.controls
    assert set(c) == {"alpha", "k", "block", "image_id", "wrong_key"}
    assert (c["alpha"].min, c["alpha"].max, c["alpha"].value) == (0.05, 1.0, 0.45)
    assert (c["k"].min, c["k"].max, c["k"].value) == (1, len(overlays), 2)
    assert tuple(c["block"].options) == (2, 4, 8, 16, 32)
    assert c["image_id"].value == "IMG_0001.png"
    assert explorer.output in explorer.children


def test_slider_change_redraws_through_the_library(explorer, face, overlays, monkeypatch):
    calls = []
    for name in ("perturb", "recover", "overlay_for"):
        real = getattr(krtio, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(krtio, name, spy)
    real_ssim = metrics.ssim
    monkeypatch.setattr(metrics, "ssim", lambda *a, **kw: calls.append(("ssim", kw)) or real_ssim(*a, **kw))

    before = explorer.figure
    explorer.controls["alpha"].value = 0.8

    assert explorer.draws == 2
    assert explorer.figure is not before
    assert [name for name, _ in calls].count("perturb") == 1
    assert [name for name, _ in calls].count("recover") == 1
    assert [name for name, _ in calls].count("ssim") == 2
    assert dict(calls)["perturb"]["alpha"] == pytest.approx(0.8)
    expected = krtio.perturb(face, KEY, image_id="IMG_0001.png", overlays=overlays, k=2, alpha=0.8, block=4)
    np.testing.assert_array_equal(explorer.view.perturbed, expected)
    assert "α = 0.80" in explorer.figure.axes[2].get_title()


@pytest.mark.parametrize(
    "control, value, field",
    [("alpha", 0.8, "alpha"), ("k", 3, "k"), ("block", 8, "block"), ("image_id", "holiday_042.jpg", "image_id")],
)
def test_control_values_round_trip(explorer, control, value, field):
    explorer.controls[control].value = value
    assert explorer.controls[control].value == value
    assert getattr(explorer.view, field) == (pytest.approx(value) if isinstance(value, float) else value)
    assert explorer.draws == 2
    assert explorer.view.ssim_recovered > 0.99


def test_block_and_k_reach_the_overlay(explorer, face, overlays):
    explorer.controls["block"].value = 16
    explorer.controls["k"].value = 4
    expected = krtio.overlay_for(KEY, "IMG_0001.png", overlays=overlays, shape=face.shape, k=4, block=16)
    np.testing.assert_array_equal(explorer.view.overlay, expected)
    assert "b = 4" in explorer.figure.axes[1].get_title()  # 30x26 pixels in 16-px blocks: 2 x 2


def test_wrong_key_checkbox_hides_the_photo(explorer):
    explorer.controls["wrong_key"].value = True
    assert explorer.view.wrong_key
    assert explorer.view.ssim_recovered < 0.9
    assert "WRONG key" in explorer.figure.axes[3].get_title()


def test_refused_setting_is_reported_not_raised(explorer):
    drawn = explorer.view
    explorer.controls["image_id"].value = ""
    assert "image_id must not be empty" in explorer.status.value
    assert explorer.view is drawn
    assert explorer.draws == 1


def test_key_is_never_shown(explorer):
    texts = [explorer.status.value, repr(explorer)] + [ax.get_title() for ax in explorer.figure.axes]
    for text in texts:
        assert KEY.hex() not in text
    assert "key check value" in explorer.status.value


def test_stack_gets_a_photo_chooser(rng, overlays):
    stack = rng.random((3, 16, 16), dtype=np.float32)
    w = widgets.krtio_explorer(stack, KEY, overlays=overlays)
    assert w.controls["index"].max == 2
    w.controls["index"].value = 2
    np.testing.assert_array_equal(w.view.original, stack[2])
    assert w.view.index == 2


def test_face_set_labels_the_photos(rng, overlays):
    faceset = SimpleNamespace(
        images=rng.random((3, 16, 16), dtype=np.float32), labels=np.array([0, 1, 1]), names=("s1", "s2")
    )
    w = widgets.krtio_explorer(faceset, KEY, overlays=overlays)
    w.controls["index"].value = 1
    assert "(s2)" in w.status.value


def test_colour_photo_is_one_photo(rng, overlays):
    photo = rng.random((16, 20, 3), dtype=np.float32)
    w = widgets.krtio_explorer(photo, KEY, overlays=overlays, block=8)
    assert "index" not in w.controls
    assert w.view.perturbed.shape == photo.shape
    assert w.view.ssim_recovered > 0.99


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"alpha": 0.01}, ValueError, r"alpha must be in \[0.05, 1.0\]"),
        ({"alpha": 1.5}, ValueError, r"alpha must be in \(0, 1\]"),
        ({"k": 5}, ValueError, r"k must be an integer in \[1, 4\]"),
        ({"block": 3}, ValueError, r"block must be one of \(2, 4, 8, 16, 32\)"),
        ({"image_id": ""}, ValueError, "image_id must be a non-empty str"),
        ({"key": b"short"}, ValueError, "key must be 16 bytes"),
        ({"overlays": []}, ValueError, "overlays must hold at least one image"),
    ],
)
def test_explorer_validates_its_inputs(face, overlays, kwargs, error, match):
    args = {"key": KEY, "overlays": overlays, **kwargs}
    key = args.pop("key")
    with pytest.raises(error, match=match):
        widgets.krtio_explorer(face, key, **args)


def test_explorer_refuses_integer_images(overlays):
    with pytest.raises(TypeError, match="to_float"):
        widgets.krtio_explorer(np.zeros((16, 16), dtype=np.uint8), KEY, overlays=overlays)


def test_explorer_refuses_an_empty_stack(overlays):
    with pytest.raises(ValueError, match="non-empty stack"):
        widgets.krtio_explorer([], KEY, overlays=overlays)


# --------------------------------------------------------------------------- show_images
def test_show_images_titles_and_layout(rng):
    images = [rng.random((8, 8), dtype=np.float32) for _ in range(5)] + [rng.random((8, 8, 3), dtype=np.float32)]
    fig = widgets.show_images(images, [f"t{i}" for i in range(6)], ncols=4, suptitle="all")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8  # 2 rows of 4; the last two are hidden
    assert [ax.get_title() for ax in fig.axes[:6]] == [f"t{i}" for i in range(6)]
    assert not fig.axes[7].images
    assert _png(fig).startswith(b"\x89PNG")


def test_show_images_grey_scale_is_fixed(rng):
    fig = widgets.show_images([np.full((4, 4), 0.25, dtype=np.float32)])
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)


def test_show_images_accepts_a_stack_and_draws_a_grid(rng):
    fig = widgets.show_images(rng.random((2, 16, 16), dtype=np.float32), grid=4)
    assert len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 6  # 3 horizontal + 3 vertical block boundaries


@pytest.mark.parametrize(
    "images, titles, error, match",
    [
        ([], None, ValueError, "at least one image"),
        ([np.zeros((4, 4), dtype=np.float32)], ["a", "b"], ValueError, "one entry per image"),
        ([np.zeros((4, 4), dtype=np.uint8)], None, TypeError, "floating-point"),
        ([np.full((4, 4), 2.0, dtype=np.float32)], None, ValueError, r"in \[0, 1\]"),
    ],
)
def test_show_images_validates(images, titles, error, match):
    with pytest.raises(error, match=match):
        widgets.show_images(images, titles)


def test_importing_widgets_loads_neither_torch_nor_pyplot():
    code = "import sys, imgprivacy.widgets; print('torch' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
