"""Tests for imgprivacy.widgets (the five explorers) and plotting.show_images, which they draw with.

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

from imgprivacy import attacks, krtio, metrics, plotting, widgets  # noqa: E402

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


def test_figures_go_into_the_output_area_without_printing_inside_it(face, overlays, monkeypatch):
    # Under IPython the figure is set as the Output widget's outputs; nothing is printed inside the widget
    # (`with output:`), to which notebook runners (nbclient: nbmake, nbconvert) answer with comm messages
    # to the kernel, an exchange that left runs waiting forever on a loaded machine.
    import base64

    import ipywidgets

    from imgprivacy.widgets import _base

    entered = []
    monkeypatch.setattr(_base, "in_ipython", lambda: True)
    monkeypatch.setattr(ipywidgets.Output, "__enter__", lambda self: entered.append(self))
    w = widgets.krtio_explorer(face, KEY, overlays=overlays, k=2, block=4)
    w.controls["alpha"].value = 0.6
    assert w.draws == 2 and entered == []
    (shown,) = w.output.outputs
    assert shown["output_type"] == "display_data"
    assert base64.b64decode(shown["data"]["image/png"]) == _base.png(w.figure)  # the last drawing, as a PNG
    monkeypatch.setattr(krtio, "perturb", lambda *a, **k: 1 / 0)  # an unexpected error is shown, not raised
    w.controls["alpha"].value = 0.7
    (error,) = w.output.outputs
    assert error["name"] == "stderr" and "ZeroDivisionError" in error["text"] and w.draws == 2


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
    fig = plotting.show_images(images, [f"t{i}" for i in range(6)], ncols=4, suptitle="all")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8  # 2 rows of 4; the last two are hidden
    assert [ax.get_title() for ax in fig.axes[:6]] == [f"t{i}" for i in range(6)]
    assert not fig.axes[7].images
    assert _png(fig).startswith(b"\x89PNG")


def test_show_images_grey_scale_is_fixed(rng):
    fig = plotting.show_images([np.full((4, 4), 0.25, dtype=np.float32)])
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)


def test_show_images_accepts_a_stack_and_draws_a_grid(rng):
    fig = plotting.show_images(rng.random((2, 16, 16), dtype=np.float32), grid=4)
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
        plotting.show_images(images, titles)


# --------------------------------------------------------------------------- training curves
def _history(n, *, val=True):
    """A TrainHistory look-alike of ``n`` epochs (widgets never imports torch)."""
    loss = np.linspace(2.3, 0.5, n)
    acc = np.linspace(0.1, 0.95, n)
    return SimpleNamespace(loss=tuple(loss), accuracy=tuple(acc), val_accuracy=tuple(acc - 0.05) if val else ())


def test_training_curves_one_column_per_network():
    runs = {"vgg_a": _history(5), "facescrub_thumb": _history(3, val=False)}
    fig = plotting.training_curves(runs, suptitle="curves")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 4  # loss row and accuracy row, two columns
    assert [fig.axes[i].get_title() for i in (0, 1)] == ["vgg_a", "facescrub_thumb"]
    loss_line = fig.axes[0].lines[0]
    np.testing.assert_allclose(loss_line.get_xdata(), np.arange(1, 6))
    np.testing.assert_allclose(loss_line.get_ydata(), runs["vgg_a"].loss)
    assert len(fig.axes[2].lines) == 2  # training and held-out accuracy
    assert len(fig.axes[3].lines) == 1  # no held-out accuracy recorded
    assert fig.axes[2].get_ylim()[1] > 1.0
    assert _png(fig).startswith(b"\x89PNG")


def test_training_curves_draws_the_reference_dashed():
    fig = plotting.training_curves(
        {"net": _history(3)}, reference={"net": _history(8), "other": _history(2)}, label="mine", reference_label="shipped"
    )
    assert len(fig.axes) == 2  # "other" is not in histories: ignored
    styles = [(line.get_label(), line.get_linestyle(), len(line.get_xdata())) for line in fig.axes[0].lines]
    assert styles == [("loss, mine", "-", 3), ("loss, shipped", "--", 8)]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [
        "loss, mine", "training batches, mine", "held out, mine", "loss, shipped", "training batches, shipped",
        "held out, shipped",
    ]


@pytest.mark.parametrize(
    "histories, error, match",
    [
        ({}, ValueError, "at least one training history"),
        ([_history(2)], TypeError, "dict of network name"),
        ({"net": object()}, TypeError, r"histories\['net'\] must be a TrainHistory"),
        ({"net": SimpleNamespace(loss=(), accuracy=(), val_accuracy=())}, ValueError, "at least one epoch"),
        ({"net": SimpleNamespace(loss=(1.0, 0.5), accuracy=(0.5,), val_accuracy=())}, ValueError, "per epoch"),
        ({"net": SimpleNamespace(loss=(1.0, 0.5), accuracy=(0.5, 0.6), val_accuracy=(0.1,))}, ValueError, "per epoch"),
    ],
)
def test_training_curves_validates(histories, error, match):
    with pytest.raises(error, match=match):
        plotting.training_curves(histories)


def test_training_curves_validates_the_reference():
    with pytest.raises(TypeError, match="reference must be a dict"):
        plotting.training_curves({"net": _history(2)}, reference=[_history(2)])


def test_importing_widgets_loads_neither_torch_nor_pyplot():
    code = "import sys, imgprivacy.widgets; print('torch' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- BSS explorer
@pytest.fixture
def stack(rng):
    """Twelve small grey 'faces': a shared smooth pattern plus each face's own noise."""
    yy, xx = np.mgrid[0:16, 0:16]
    smooth = 0.5 + 0.2 * np.sin(yy / 3.0) * np.cos(xx / 4.0)
    return np.clip(smooth + 0.25 * rng.random((12, 16, 16)), 0, 1).astype(np.float32)


class _NamedSet(list):
    """A list of overlays with names, like imgprivacy.data.OverlaySet."""

    names = ("sea", "city", "wall", "moon")


@pytest.fixture
def bss(stack, overlays):
    return widgets.bss_explorer(stack, overlays=overlays, n_images=6, block=4, key=KEY, show=3)


def _direct(stack, overlays, *, n=6, seed=0, overlay=0, alpha=0.45, block=4):
    """What the explorer should show, computed with the library alone."""
    idx = np.random.default_rng(seed).choice(len(stack), n, replace=False)
    truth = krtio.prepare_overlays(overlays, stack.shape[1:], block=block).fitted(overlay)[..., 0]
    perturbed = attacks.naive_overlay(stack[idx], truth, alpha=alpha)
    return idx, truth, perturbed, attacks.bss_fastica(perturbed)


def test_bss_explorer_draws_once_when_built(bss):
    assert bss.draws == 1
    assert isinstance(bss.figure, Figure)
    titles = [ax.get_title() for ax in bss.figure.axes]
    assert len(titles) == 3 * 4  # originals, perturbed, recovered; 3 photos + the overlay column
    assert titles[0] == "photo 1"
    assert titles[3].startswith("shared overlay")
    assert all("affine SSIM" in t for t in titles[4:7] + titles[8:11])
    assert "estimated overlay" in titles[7] and "mixing weights" in titles[11]
    assert bss.view.recovered.shape == (6, 16, 16)
    assert "recovered" in bss.figure.get_suptitle()
    assert _png(bss.figure).startswith(b"\x89PNG")


def test_bss_explorer_shows_what_the_library_computes(bss, stack, overlays):
    idx, truth, perturbed, result = _direct(stack, overlays)
    view = bss.view
    np.testing.assert_array_equal(view.indices, idx)
    np.testing.assert_array_equal(view.originals, stack[idx])
    np.testing.assert_array_equal(view.true_overlay, truth)
    np.testing.assert_array_equal(view.perturbed, perturbed)
    np.testing.assert_array_equal(view.recovered, result.recovered)
    np.testing.assert_array_equal(view.result.overlay, result.overlay)
    ssim_p = np.mean([metrics.ssim_affine(a, b) for a, b in zip(stack[idx], perturbed)])
    ssim_r = np.mean([metrics.ssim_affine(a, b) for a, b in zip(stack[idx], result.recovered)])
    assert view.mean_ssim_perturbed == pytest.approx(ssim_p)
    assert view.mean_ssim_recovered == pytest.approx(ssim_r)
    assert view.gain == pytest.approx(ssim_r - ssim_p)
    assert view.overlay_correlation == pytest.approx(abs(metrics.correlation(truth, result.overlay)))
    assert f"{ssim_p:.3f} → recovered {ssim_r:.3f}" in bss.status.value


def test_bss_explorer_has_the_documented_controls(bss, overlays):
    c = bss.controls
    assert set(c) == {"alpha", "n", "overlay", "seed", "attack", "use_krtio"}
    assert (c["alpha"].min, c["alpha"].max, c["alpha"].value) == (0.05, 1.0, 0.45)
    assert (c["n"].min, c["n"].max, c["n"].value) == (2, 12, 6)  # at most the 12 photos given
    assert list(c["overlay"].options) == [(f"S[{i}]", i) for i in range(len(overlays))]
    assert (c["seed"].value, c["attack"].value, c["use_krtio"].value) == (0, True, False)
    assert bss.output in bss.children


def test_n_slider_stops_at_forty(rng, overlays):
    many = rng.random((50, 16, 16), dtype=np.float32)
    w = widgets.bss_explorer(many, overlays=overlays, n_images=2, block=4, show=2)
    assert w.controls["n"].max == 40


def test_bss_slider_change_redraws_through_the_library(bss, stack, overlays, monkeypatch):
    calls = []
    for module, name in ((attacks, "naive_overlay"), (attacks, "bss_fastica"), (metrics, "ssim_affine")):
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            calls.append((_name, kwargs))
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    before = bss.figure
    bss.controls["alpha"].value = 0.3

    names = [name for name, _ in calls]
    assert bss.draws == 2
    assert bss.figure is not before
    assert names.count("naive_overlay") == 1 and names.count("bss_fastica") == 1
    assert names.count("ssim_affine") == 2 * 6
    assert dict(calls)["naive_overlay"]["alpha"] == pytest.approx(0.3)
    _, _, perturbed, result = _direct(stack, overlays, alpha=0.3)
    np.testing.assert_array_equal(bss.view.perturbed, perturbed)
    np.testing.assert_array_equal(bss.view.recovered, result.recovered)
    assert "α = 0.30" in bss.figure.get_suptitle()


@pytest.mark.parametrize(
    "control, value, field",
    [("alpha", 0.3, "alpha"), ("n", 2, "n"), ("n", 12, "n"), ("overlay", 2, "overlay_index"), ("seed", 5, "seed")],
)
def test_bss_control_values_round_trip(bss, stack, overlays, control, value, field):
    bss.controls[control].value = value
    assert getattr(bss.view, field) == (pytest.approx(value) if isinstance(value, float) else value)
    assert bss.draws == 2
    settings = {"alpha": 0.45, "n": 6, "overlay": 0, "seed": 0} | {control: value}
    _, _, perturbed, result = _direct(stack, overlays, **settings)
    np.testing.assert_array_equal(bss.view.recovered, result.recovered)
    assert len(bss.view.ssim_recovered) == settings["n"]
    assert len(bss.figure.axes) == 3 * (min(settings["n"], 3) + 1)


def test_attack_checkbox_off_skips_the_attack(bss, monkeypatch):
    called = []
    monkeypatch.setattr(attacks, "bss_fastica", lambda *a, **kw: called.append(1))
    bss.controls["attack"].value = False
    assert not called
    assert bss.view.result is None and bss.view.recovered is None
    assert np.isnan(bss.view.overlay_correlation) and np.isnan(bss.view.mean_ssim_recovered)
    assert len(bss.figure.axes) == 2 * 4  # no recovered row
    assert "attack off" in bss.status.value and "attack off" in bss.figure.get_suptitle()


def test_krtio_checkbox_gives_each_photo_its_own_overlay(bss, stack, overlays):
    bss.controls["use_krtio"].value = True
    view = bss.view
    ids = [f"face_{i:04d}.png" for i in view.indices]
    expected = krtio.perturb_batch(stack[view.indices], KEY, image_ids=ids, overlays=overlays, k=3, alpha=0.45, block=4,
                                   progress=False)
    np.testing.assert_array_equal(view.perturbed, expected)
    assert view.true_overlay.shape == (6, 16, 16)
    np.testing.assert_array_equal(
        view.true_overlay[1], krtio.overlay_for(KEY, ids[1], overlays=overlays, shape=(16, 16), k=3, block=4)
    )
    np.testing.assert_array_equal(view.recovered, attacks.bss_fastica(expected).recovered)
    own = np.mean([abs(metrics.correlation(t, view.result.overlay)) for t in view.true_overlay])
    assert view.overlay_correlation == pytest.approx(own)
    assert bss.controls["overlay"].disabled
    assert "k-RTIO" in bss.figure.get_suptitle() and "k-RTIO" in bss.status.value
    bss.controls["use_krtio"].value = False
    assert not bss.controls["overlay"].disabled


def test_bss_key_is_never_shown(bss):
    bss.controls["use_krtio"].value = True
    texts = [bss.status.value, repr(bss), bss.figure.get_suptitle()] + [ax.get_title() for ax in bss.figure.axes]
    assert all(KEY.hex() not in text for text in texts)
    assert "key check value" in bss.status.value


def test_bss_refusal_is_reported_not_raised(bss, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("perturbed must hold at least 2 images")

    drawn = bss.view
    monkeypatch.setattr(attacks, "bss_fastica", refuse)
    bss.controls["seed"].value = 3
    assert "Not drawn" in bss.status.value and "at least 2 images" in bss.status.value
    assert bss.view is drawn and bss.draws == 1


def test_named_overlays_fill_the_dropdown(stack, rng):
    named = _NamedSet(rng.random((20, 24, 3), dtype=np.float32) for _ in range(4))
    w = widgets.bss_explorer(stack, overlays=named, overlay="wall", n_images=4, block=4, show=2)
    assert [label for label, _ in w.controls["overlay"].options] == list(_NamedSet.names)
    assert w.view.overlay_index == 2 and w.view.overlay_name == "wall"
    assert "wall" in w.status.value and "wall" in w.figure.axes[2].get_title()


def test_bss_face_set_labels_the_photos(stack, overlays):
    faceset = SimpleNamespace(images=stack, labels=np.arange(12) // 3, names=("s1", "s2", "s3", "s4"))
    w = widgets.bss_explorer(faceset, overlays=overlays, n_images=4, block=4, show=2)
    first = w.view.indices[0]
    assert w.figure.axes[0].get_title() == f"photo 1 (s{first // 3 + 1})"


def test_bss_colour_photos(rng, overlays):
    colour = rng.random((5, 16, 16, 3), dtype=np.float32)
    w = widgets.bss_explorer(colour, overlays=overlays, n_images=4, block=4, show=2)
    assert w.view.perturbed.shape == w.view.recovered.shape == (4, 16, 16, 3)
    assert w.view.true_overlay.shape == (16, 16, 3)


def test_bss_default_overlay_set(stack):
    w = widgets.bss_explorer(stack, n_images=3, show=1)
    assert w.controls["overlay"].options[0] == ("coffee", 0)
    assert len(w.controls["overlay"].options) == 30


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_images": 1}, ValueError, r"n_images must be an integer in \[2, 12\]"),
        ({"n_images": 13}, ValueError, r"n_images must be an integer in \[2, 12\]"),
        ({"alpha": 0.01}, ValueError, r"alpha must be in \[0.05, 1.0\]"),
        ({"alpha": 1.5}, ValueError, r"alpha must be in \(0, 1\]"),
        ({"overlay": 4}, ValueError, r"overlay must be a name or an index in \[0, 3\]"),
        ({"overlay": "nope"}, ValueError, "overlay must be one of the set's names"),
        ({"seed": -1}, ValueError, "seed must be a non-negative integer"),
        ({"k": 5}, ValueError, r"k must be an integer in \[1, 4\]"),
        ({"block": 0}, ValueError, "block must be >= 1"),
        ({"show": 0}, ValueError, "show must be a positive integer"),
        ({"key": b"short"}, ValueError, "key must be 16 bytes"),
        ({"overlays": []}, ValueError, "overlays must hold at least one image"),
    ],
)
def test_bss_explorer_validates_its_inputs(stack, overlays, kwargs, error, match):
    args = {"overlays": overlays, "n_images": 6, "block": 4, **kwargs}
    with pytest.raises(error, match=match):
        widgets.bss_explorer(stack, **args)


@pytest.mark.parametrize(
    "faces, error, match",
    [
        (np.zeros((1, 16, 16), dtype=np.float32), ValueError, "at least 2 photos"),
        ([np.zeros((16, 16), dtype=np.float32), np.zeros((16, 12), dtype=np.float32)], ValueError, "same shape"),
        (np.zeros((3, 16, 16), dtype=np.uint8), TypeError, "to_float"),
    ],
)
def test_bss_explorer_refuses_bad_photos(faces, overlays, error, match):
    with pytest.raises(error, match=match):
        widgets.bss_explorer(faces, overlays=overlays, n_images=2, block=4)


# --------------------------------------------------------------------------- UEP explorer
class _Bright:
    """A 'recogniser' that says 1 when a photo's mean is above 0.5, else 0; counts its calls."""

    def __init__(self):
        self.calls = 0

    def predict(self, images):
        self.calls += 1
        return (np.asarray(images).reshape(len(images), -1).mean(axis=1) > 0.5).astype(int)


@pytest.fixture
def delta(rng):
    return rng.normal(scale=0.5, size=(8, 8)).astype(np.float32)  # resized to the photos by uep.apply


@pytest.fixture
def uep_w(stack, delta):
    return widgets.uep_explorer(stack, delta, targets={"bright": _Bright()}, labels=np.arange(12) % 2, beta=2.0)


def test_uep_explorer_shows_what_the_library_computes(uep_w, stack, delta):
    from imgprivacy import data, uep

    assert uep_w.draws == 1 and isinstance(uep_w.figure, Figure)
    assert set(uep_w.controls) == {"index", "beta", "stored"}
    perturbed = data.storage_roundtrip(uep.apply(stack[0], delta, beta=2.0))
    np.testing.assert_array_equal(uep_w.view.perturbed, perturbed)
    np.testing.assert_array_equal(uep_w.view.recovered, uep.remove(perturbed, delta, beta=2.0))
    assert uep_w.view.ssim_perturbed == pytest.approx(metrics.ssim(stack[0], perturbed))
    titles = [ax.get_title() for ax in uep_w.figure.axes]
    assert len(titles) == 4 and titles[1].startswith("δ") and "SSIM" in titles[2] and "SSIM" in titles[3]
    expected = _Bright().predict(np.stack([stack[0], perturbed, uep_w.view.recovered]))
    np.testing.assert_array_equal(uep_w.view.predictions["bright"], expected)
    assert "<table>" in uep_w.status.value and "bright" in uep_w.status.value
    assert _png(uep_w.figure).startswith(b"\x89PNG")


def test_uep_beta_and_storage_redraw(uep_w, stack, delta):
    from imgprivacy import uep

    uep_w.controls["stored"].value = False
    uep_w.controls["beta"].value = 0.0
    assert uep_w.draws == 3 and uep_w.view.beta == 0.0 and not uep_w.view.stored
    np.testing.assert_allclose(uep_w.view.perturbed, stack[0], atol=1e-6)  # beta = 0: no perturbation
    uep_w.controls["beta"].value = 3.0
    np.testing.assert_array_equal(uep_w.view.perturbed, uep.apply(stack[0], delta, beta=3.0))
    assert uep_w.view.ssim_recovered > 0.999  # float recovery is exact
    uep_w.controls["index"].value = 5
    assert uep_w.view.index == 5 and uep_w.view.label == 1


def test_uep_explorer_face_set_and_no_targets(stack, delta):
    faces = SimpleNamespace(images=stack, labels=np.arange(12) % 3, names=["ann", "bob", "cy"])
    w = widgets.uep_explorer(faces, delta)
    assert w.view.label == 0 and w.view.predictions == {}
    assert "ann" in w.figure.axes[0].get_title()
    w1 = widgets.uep_explorer(stack[0], delta)  # one photo: no photo slider
    assert "index" not in w1.controls


def test_uep_refusal_is_reported_not_raised(uep_w, monkeypatch):
    from imgprivacy import uep

    def refuse(*args, **kwargs):
        raise ValueError("beta is refused")

    monkeypatch.setattr(uep, "apply", refuse)
    uep_w.controls["beta"].value = 1.0
    assert uep_w.draws == 1 and "Not drawn" in uep_w.status.value and "refused" in uep_w.status.value


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"beta": 6.0}, ValueError, "beta must be"),
        ({"beta": "2"}, ValueError, "beta must be"),
        ({"index": 12}, ValueError, "index must be"),
        ({"labels": [0, 1]}, ValueError, r"labels must have one entry per image, shape \(12,\), got shape \(2,\)"),
        ({"targets": [1]}, TypeError, "targets must be a dict"),
        ({"targets": {"x": object()}}, TypeError, "predict"),
    ],
)
def test_uep_explorer_validates_its_inputs(stack, delta, kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.uep_explorer(stack, delta, **kwargs)


def test_uep_explorer_refuses_bad_delta_and_photos(stack):
    with pytest.raises((ValueError, TypeError), match="delta"):
        widgets.uep_explorer(stack, np.zeros((4, 4, 4, 4), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        widgets.uep_explorer(np.zeros((3, 8, 8), np.uint8), np.zeros((8, 8), np.float32))


# --------------------------------------------------------------------------- median explorer
@pytest.fixture
def med(stack, delta):
    from imgprivacy import uep

    perturbed = uep.apply(stack, delta, beta=2.0)
    target = _Bright()
    w = widgets.median_explorer(perturbed, labels=np.arange(12) % 2, targets={"bright": target}, originals=stack,
                                n_images=5, show=3)
    return w, perturbed, target


def test_median_explorer_shows_what_the_library_computes(med):
    w, perturbed, target = med
    assert w.draws == 1 and set(w.controls) == {"lam", "n", "seed"}
    held = attacks.median_pick(12, 5, seed=0)
    np.testing.assert_array_equal(w.view.held, held)
    estimate = attacks.median_estimate(perturbed[held])
    np.testing.assert_array_equal(w.view.estimate, estimate)
    np.testing.assert_array_equal(w.view.attacked, attacks.median_removal(perturbed, estimate, lam=0.5))
    labels = np.arange(12) % 2
    assert w.view.recognition["bright"] == metrics.recognition_rate(_Bright(), w.view.attacked, labels)
    assert w.view.baseline["bright"] == metrics.recognition_rate(_Bright(), perturbed, labels)
    titles = [ax.get_title() for ax in w.figure.axes]
    assert len(titles) == 3 * 4  # clean, perturbed, attacked rows; 3 photos + the median column
    assert titles[3].startswith("median of 5") and titles[7].startswith("its inverse")
    assert "bright" in w.status.value and "→" in w.status.value
    assert _png(w.figure).startswith(b"\x89PNG")


def test_median_sliders_redraw_and_baseline_is_computed_once(med):
    w, perturbed, target = med
    calls = target.calls  # one for the attacked photos, one for the baseline
    w.controls["lam"].value = 0.45
    w.controls["n"].value = 12
    assert w.draws == 3 and w.view.lam == 0.45 and w.view.n == 12
    assert target.calls == calls + 2  # one predict per redraw
    np.testing.assert_array_equal(w.view.estimate, attacks.median_estimate(perturbed))
    w.controls["seed"].value = 3
    assert w.view.seed == 3


class _Recorder:
    """A 'recogniser' that answers 0 and keeps every stack it was asked about."""

    def __init__(self):
        self.asked = []

    def predict(self, images):
        self.asked.append(np.array(images))
        return np.zeros(len(images), dtype=int)


@pytest.mark.parametrize("n, seed", [(5, 0), (3, 7), (12, 1)])
def test_median_explorer_holds_the_photos_median_sweep_holds(med, n, seed):
    # one draw for the library and the explorer: the same (n, seed) gives the same median, so the same attack
    w, perturbed, _ = med
    w.controls["n"].value, w.controls["seed"].value = n, seed
    assert (w.view.n, w.view.seed) == (n, seed)
    recorder = _Recorder()
    attacks.median_sweep(recorder, perturbed, np.zeros(12, int), lams=[0.5], n_images=(n,), seed=seed)
    swept = recorder.asked[1]  # asked[0]: the baseline on the perturbed photos
    np.testing.assert_array_equal(w.view.attacked, swept)
    np.testing.assert_array_equal(w.view.estimate, attacks.median_estimate(perturbed[w.view.held]))
    np.testing.assert_array_equal(w.view.held, attacks.median_pick(12, n, seed=seed))


def test_median_explorer_without_labels_or_targets(stack):
    w = widgets.median_explorer(stack, n_images=2)
    assert w.view.recognition == {} and w.view.ssim_attacked is None
    assert len(w.figure.axes) == 2 * 6  # perturbed and attacked rows; 5 photos + the median column


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"lam": 0.8}, ValueError, "lam must be"),
        ({"lam": 0.0}, ValueError, "lam must be"),
        ({"n_images": 13}, ValueError, "n_images must be"),
        ({"n_images": 0}, ValueError, "n_images must be"),
        ({"seed": -1}, ValueError, "seed must be"),
        ({"show": 0}, ValueError, "show must be"),
        ({"labels": [1, 2]}, ValueError, r"labels must have one entry per image, shape \(12,\), got shape \(2,\)"),
        ({"originals": np.zeros((2, 16, 16), np.float32)}, ValueError, "originals must have the shape"),
        ({"targets": {"x": 1}}, TypeError, "predict"),
    ],
)
def test_median_explorer_validates_its_inputs(stack, kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.median_explorer(stack, **kwargs)


def test_median_explorer_refuses_mixed_shapes(rng):
    with pytest.raises(ValueError, match="same shape"):
        widgets.median_explorer([rng.random((8, 8), dtype=np.float32), rng.random((9, 8), dtype=np.float32)])


# --------------------------------------------------------------------------- filter explorer
@pytest.fixture
def filt(stack, delta, overlays):
    target = _Bright()
    w = widgets.filter_explorer(stack, targets={"bright": target}, labels=np.arange(12) % 2, key=KEY,
                                overlays=overlays, block=4, delta=delta, beta=2.0)
    return w, target


def test_filter_explorer_shows_what_the_library_computes(filt, stack, overlays):
    w, target = filt
    assert w.draws == 1 and set(w.controls) == {"scheme", "filter", "strength", "index"}
    assert w.controls["scheme"].options == ("k-RTIO", "UEP")
    ids = [f"face-{i}" for i in range(12)]
    protected = krtio.perturb_batch(stack, KEY, image_ids=ids, overlays=overlays, block=4, progress=False)
    filtered = attacks.apply_filter(protected, "median", strength=1)
    assert (w.view.scheme, w.view.filter, w.view.strength) == ("k-RTIO", "median", 1)
    np.testing.assert_array_equal(w.view.protected, protected[0])
    np.testing.assert_array_equal(w.view.filtered, filtered[0])
    labels = np.arange(12) % 2
    assert w.view.rates["bright"] == (
        metrics.recognition_rate(_Bright(), stack, labels),
        metrics.recognition_rate(_Bright(), protected, labels),
        metrics.recognition_rate(_Bright(), filtered, labels),
    )
    assert w.view.ssim_filtered == pytest.approx(np.mean([metrics.ssim(a, b) for a, b in zip(stack, filtered)]))
    assert len(w.figure.axes) == 3 and "median" in w.figure.axes[2].get_title()
    assert "<table>" in w.status.value and "protected + filter" in w.status.value
    assert _png(w.figure).startswith(b"\x89PNG")


def test_filter_explorer_controls_redraw(filt, stack, delta):
    from imgprivacy import uep

    w, target = filt
    w.controls["filter"].value = "jpeg"  # the strength slider now offers JPEG's steps, at the middle of its sweep
    assert w.controls["strength"].options == widgets.FILTER_STEPS["jpeg"]
    assert w.view.filter == "jpeg" and w.view.strength == 50
    w.controls["strength"].value = 0
    np.testing.assert_array_equal(w.view.filtered, w.view.protected)  # strength 0: untouched
    w.controls["strength"].value = 75
    assert w.view.strength == 75 and not np.array_equal(w.view.filtered, w.view.protected)
    w.controls["scheme"].value = "UEP"
    np.testing.assert_array_equal(w.view.protected, uep.apply(stack[0], delta, beta=2.0))
    np.testing.assert_array_equal(w.view.filtered, attacks.jpeg(w.view.protected, strength=75))
    w.controls["index"].value = 3
    assert w.view.index == 3 and w.view.predictions["bright"].shape == (3,)


def test_filter_explorer_without_labels_targets_or_delta(stack):
    w = widgets.filter_explorer(stack[:3], filter="gaussian", strength=2.0, block=4)
    assert w.view.rates == {} and w.view.predictions == {}
    assert w.controls["scheme"].options == ("k-RTIO",)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"filter": "sharpen"}, ValueError, "filter must be one of"),
        ({"filter": "blur", "strength": 0.5}, ValueError, "strength must be one of"),
        ({"index": 12}, ValueError, "index must be"),
        ({"labels": [0]}, ValueError, r"labels must have one entry per image, shape \(12,\), got shape \(1,\)"),
        ({"targets": {"x": 1}}, TypeError, "predict"),
        ({"key": b"short"}, ValueError, "key"),
        ({"alpha": 1.5}, ValueError, "alpha must be"),
    ],
)
def test_filter_explorer_validates_its_inputs(stack, kwargs, error, match):
    with pytest.raises(error, match=match):
        widgets.filter_explorer(stack, block=4, **kwargs)


# --------------------------------------------------------------------------- k-RTIO explorer: one id per photo
def test_krtio_explorer_gives_each_photo_its_own_id_and_overlay(rng, overlays):
    stack = rng.random((3, 16, 16), dtype=np.float32)
    w = widgets.krtio_explorer(stack, KEY, overlays=overlays, k=2, block=4)
    first, draws = w.view, w.draws
    assert first.image_id == w.controls["image_id"].value == "face_000.png"
    w.controls["index"].value = 1
    second = w.view
    assert second.index == 1 and second.image_id == w.controls["image_id"].value == "face_001.png"
    assert w.draws == draws + 1  # one redraw, with the new photo and its id
    assert not np.allclose(first.overlay, second.overlay)  # two photos, two overlays
    expected = krtio.overlay_for(KEY, "face_001.png", overlays=overlays, shape=stack[1].shape, k=2, block=4)
    np.testing.assert_array_equal(second.overlay, expected)
    w.controls["image_id"].value = "my_photo.png"  # an id the student typed stays when the photo changes
    w.controls["index"].value = 2
    assert w.view.index == 2 and w.view.image_id == "my_photo.png"


def test_krtio_explorer_takes_the_photos_own_ids(rng, overlays):
    stack = rng.random((2, 16, 16), dtype=np.float32)
    w = widgets.krtio_explorer(stack, KEY, overlays=overlays, image_ids=["a.png", "b.png"])
    assert w.view.image_id == "a.png"
    w.controls["index"].value = 1
    assert w.view.image_id == "b.png"
    with pytest.raises(ValueError, match="image_ids must be unique"):
        widgets.krtio_explorer(stack, KEY, overlays=overlays, image_ids=["a.png", "a.png"])
    with pytest.raises(ValueError, match="image_ids must have one id per image, got 1 ids for 2 images"):
        widgets.krtio_explorer(stack, KEY, overlays=overlays, image_ids=["a.png"])


# --------------------------------------------------------------------------- filter explorer: a useful strength
def test_filter_explorer_picks_a_strength_that_acts_when_the_filter_changes(filt, stack, overlays):
    """A new filter starts at the middle of its default sweep (attacks.FILTERS), drawn once, never unfiltered."""
    w, _ = filt
    ids = [f"face-{i}" for i in range(12)]
    protected = krtio.perturb_batch(stack, KEY, image_ids=ids, overlays=overlays, block=4, progress=False)
    for name in ("blur", "jpeg", "gaussian", "bit-depth", "greyscale", "median"):
        sweep = attacks.FILTERS[name].strengths
        draws = w.draws
        w.controls["filter"].value = name
        assert w.view.filter == name and w.view.strength == sweep[len(sweep) // 2] != 0
        assert w.controls["strength"].value == w.view.strength and w.draws == draws + 1  # one redraw, no detour by 0
        expected = attacks.apply_filter(protected, name, strength=w.view.strength)[0]
        np.testing.assert_array_equal(w.view.filtered, expected)
        if name != "greyscale":  # nothing to remove from grey photos
            assert not np.array_equal(w.view.filtered, w.view.protected)  # the filter visibly acts


# --------------------------------------------------------------------------- speed (issue 11): reused figures, limits
def test_figure_buffers_build_each_layout_twice_then_alternate():
    from imgprivacy.widgets._base import FigureBuffers, image_grid

    built = []

    def build():
        built.append(image_grid(1, 2))
        return built[-1]

    buffers = FigureBuffers(layouts=2)
    first = buffers.take("a", build)[0]
    assert len(built) == 2 and first is built[0][0]  # both built at the first draw of the layout
    taken = [first] + [buffers.take("a", build)[0] for _ in range(4)]
    assert len(built) == 2  # then reused
    assert all(x is not y for x, y in zip(taken, taken[1:]))  # never the figure taken just before
    assert taken[2] is taken[0] and taken[3] is taken[1] and {id(f) for f in taken} == {id(f) for f, _ in built}
    buffers.take("b", build), buffers.take("c", build)  # "a" is now the least recent of three layouts: dropped
    assert len(built) == 6
    buffers.take("a", build)
    assert len(built) == 8


def _explorer_png(make, moves):
    """The PNG of ``make()``'s figure after ``moves`` (control, value): drawn into reused figures."""
    w = make()
    for control, value in moves:
        w.controls[control].value = value
    return w.draws, widgets._base.png(w.figure)


@pytest.mark.parametrize("name", ["bss", "median", "uep", "filter"])
def test_a_reused_figure_shows_what_a_new_one_shows(name, stack, overlays, delta):
    """After several redraws (the explorer redraws into the figures it built first), the picture is the one a
    freshly built explorer draws for the same setting, pixel for pixel."""
    from imgprivacy import uep

    labels, bright = np.arange(12) % 2, {"bright": _Bright()}
    make, moves, final = {
        "bss": (lambda **kw: widgets.bss_explorer(stack, overlays=overlays, block=4, key=KEY, show=3,
                                                  **{"n_images": 8, "alpha": 0.45} | kw),
                [("alpha", 0.5), ("alpha", 0.6), ("n", 6), ("seed", 2), ("alpha", 0.3)],
                {"n_images": 6, "alpha": 0.3, "seed": 2}),
        "median": (lambda **kw: widgets.median_explorer(uep.apply(stack, delta, beta=2.0), labels=labels,
                                                        targets=bright, originals=stack, show=3,
                                                        **{"n_images": 5} | kw),
                   [("lam", 0.45), ("lam", 0.6), ("n", 7), ("seed", 4)], {"n_images": 7, "lam": 0.6, "seed": 4}),
        "uep": (lambda **kw: widgets.uep_explorer(stack, delta, targets=bright, labels=labels, **kw),
                [("beta", 1.0), ("index", 3), ("stored", False), ("beta", 3.0)],
                {"beta": 3.0, "index": 3, "stored": False}),
        "filter": (lambda **kw: widgets.filter_explorer(stack, targets=bright, labels=labels, key=KEY,
                                                        overlays=overlays, block=4, delta=delta, beta=2.0, **kw),
                   [("strength", 2), ("index", 3), ("strength", 3), ("scheme", "UEP")], None),
    }[name]
    draws, reused = _explorer_png(make, moves)
    assert draws >= 4  # both buffers were drawn into again
    if final is None:  # the scheme is not an argument: move a fresh explorer straight to the last setting
        _, fresh = _explorer_png(make, [("strength", 3), ("index", 3), ("scheme", "UEP")])
    else:
        fresh = widgets._base.png(make(**final).figure)
    assert reused == fresh


def test_explorer_figures_fit_a_notebook_column(stack, overlays, delta):
    from imgprivacy import uep

    figures = [
        widgets.bss_explorer(stack, overlays=overlays, n_images=8, block=4).figure,
        widgets.median_explorer(uep.apply(stack, delta, beta=2.0), originals=stack, n_images=5).figure,
        widgets.uep_explorer(stack, delta).figure,
        widgets.filter_explorer(stack, block=4, delta=delta).figure,
    ]
    for fig in figures:
        assert fig.get_figwidth() * 96 <= 930  # shown at 100% in JupyterLab's column: 9-pt text stays 12 px
        assert fig.get_layout_engine() is None  # placed by hand: no layout engine at every redraw
        assert all(ax.title.get_fontsize() >= 9 for ax in fig.axes)


class _Counter:
    """A 'recogniser' that answers 1 for bright photos and records how many photos it was asked about."""

    def __init__(self):
        self.asked = []

    def predict(self, images):
        self.asked.append(len(images))
        return (np.asarray(images).reshape(len(images), -1).mean(axis=1) > 0.5).astype(int)


def test_median_limits_ask_a_slow_target_about_its_first_photos(stack, delta):
    from imgprivacy import uep

    perturbed = uep.apply(stack, delta, beta=2.0)
    labels, slow, fast = np.arange(12) % 2, _Counter(), _Counter()
    w = widgets.median_explorer(perturbed, labels=labels, targets={"fast": fast, "slow": slow}, n_images=5, show=4,
                                limits={"slow": 2})
    assert fast.asked == [12, 12] and slow.asked == [2, 2]  # attacked photos, then the baseline on the perturbed ones
    w.controls["lam"].value = 0.45
    assert slow.asked[-1] == 2 and fast.asked[-1] == 12 and w.draws == 2
    attacked = w.view.attacked
    assert w.view.attacked.shape == (12, 16, 16)  # the attack still applies to every photo
    assert w.view.predictions["slow"].shape == (2,) and w.view.predictions["fast"].shape == (12,)
    assert w.view.recognition["slow"] == metrics.recognition_rate(_Bright(), attacked[:2], labels[:2])
    assert w.view.baseline["slow"] == metrics.recognition_rate(_Bright(), perturbed[:2], labels[:2])
    assert w.view.recognition["fast"] == metrics.recognition_rate(_Bright(), attacked, labels)
    assert "slow: " in w.status.value and "(first 2 photos)" in w.status.value
    marks = [t.split("\n")[-1].split() for t in (ax.get_title() for ax in w.figure.axes) if t.startswith("attacked")]
    judged = ["✓" if p == q else "✗" for p, q in zip(w.view.predictions["slow"], labels)]
    assert [m[1] for m in marks] == judged + ["·"] * 2  # photos 3 and 4 are drawn, not asked
    assert "· not asked" in w.figure.get_suptitle()
    one = widgets.median_explorer(perturbed, labels=labels, targets={"slow": _Counter()}, n_images=5, limits={"slow": 1})
    assert "slow: " in one.status.value and "(first photo)" in one.status.value


def test_filter_limits_rate_a_slow_target_on_its_first_photos(stack, overlays):
    labels, slow = np.arange(12) % 2, _Counter()
    w = widgets.filter_explorer(stack, targets={"slow": slow}, labels=labels, key=KEY, overlays=overlays, block=4,
                                index=5, limits={"slow": 2})
    assert slow.asked == [2, 2, 2, 3]  # the clean, protected and filtered rates on 2 photos; the drawn photo's trio
    clean, protected, filtered = w.view.rates["slow"]
    ids = [f"face-{i}" for i in range(12)]
    prot = krtio.perturb_batch(stack, KEY, image_ids=ids, overlays=overlays, block=4, progress=False)
    assert clean == metrics.recognition_rate(_Bright(), stack[:2], labels[:2])
    assert protected == metrics.recognition_rate(_Bright(), prot[:2], labels[:2])
    once = attacks.apply_filter(prot, "median", strength=1)
    assert filtered == metrics.recognition_rate(_Bright(), once[:2], labels[:2])
    expected = _Bright().predict(np.stack([stack[5], prot[5], w.view.filtered]))
    np.testing.assert_array_equal(w.view.predictions["slow"], expected)  # the photo drawn, past the limit, is judged
    assert "(first 2 photos)" in w.status.value


@pytest.mark.parametrize(
    "limits, error, match",
    [
        ([("bright", 2)], TypeError, "limits must be a dict"),
        ({"dlib": 2}, ValueError, r"limits names the unknown target 'dlib'; the targets are \['bright'\]"),
        ({"bright": 0}, ValueError, r"limits\['bright'\] must be >= 1, got 0"),
        ({"bright": 1.5}, TypeError, r"limits\['bright'\] must be an integer, got 1.5"),
    ],
)
def test_limits_are_checked(stack, limits, error, match):
    with pytest.raises(error, match=match):
        widgets.median_explorer(stack, targets={"bright": _Bright()}, labels=np.arange(12) % 2, limits=limits)
    with pytest.raises(error, match=match):
        widgets.filter_explorer(stack, targets={"bright": _Bright()}, labels=np.arange(12) % 2, block=4, limits=limits)
