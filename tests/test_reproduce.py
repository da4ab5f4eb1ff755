"""`imgprivacy reproduce --fast` end to end, and the rules that turn measurements into verdicts."""

import json

import pandas as pd
import pytest

import imgprivacy as ip
from imgprivacy import cli, evaluate, reproduce
from imgprivacy.reproduce import _claims, _run  # the private helpers tested here

FIGURES = {
    "fig08_uep_beta.png", "fig09_alpha_block.png", "fig10_k_block.png", "fig11_detection_k3.png",
    "fig11_detection_k8.png", "fig12_recognition_k3.png", "fig13_recovery_ssim.png", "fig16_robust_cnn.png",
    "fig17_filters.png", "known_s_attack.png",
}


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "run"
    status = cli.main(["reproduce", "--fast", "--out", str(out), "--no-progress"])
    return status, out


def test_reproduce_fast_writes_figures_json_tables_and_report(fast_run, capsys):
    status, out = fast_run
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert FIGURES | {"results.json", "report.md", "krtio_grid.csv", "filters.csv", "uep.csv", "known_s.csv"} == names
    for name in FIGURES:
        assert (out / name).read_bytes().startswith(b"\x89PNG")
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["fast"] is True and results["seconds"]["total"] > 0
    assert [c["id"] for c in results["claims"]] == list(reproduce.PAPER)
    for claim in results["claims"]:
        assert claim["verdict"] in ("agrees", "partly", "differs", "not measured")
        assert claim["text"] == reproduce.PAPER[claim["id"]]["text"]  # the paper's words, as typed in
    # the tables are the tidy tables of ip.evaluate.sweep
    grid = pd.read_csv(out / "krtio_grid.csv")
    assert list(grid.columns) == list(evaluate.COLUMNS)
    settings = reproduce.Settings.quick()
    n_cells = 1 + len(settings.alphas) * len(settings.blocks) * len(settings.ks)
    assert len(grid) == n_cells * grid.target.nunique()
    assert {"eigenfaces", "provider CNN", "robust CNN", "dlib ResNet", "dlib HOG", "LBP cascade", "Haar cascade"} == set(grid.target)
    assert grid.rate.between(0, 1).all()
    assert list(pd.read_csv(out / "known_s.csv").columns) == list(evaluate.KNOWN_S_COLUMNS)
    filters = pd.read_csv(out / "filters.csv")
    assert set(filters["filter"]) == {"none", *ip.attacks.FILTERS}
    report = (out / "report.md").read_text()
    for claim in results["claims"]:
        assert f"{claim['figure']} (section {claim['section']}): {claim['verdict']}" in report
    assert "## Why our setting differs" in report and "--fast" in report
    for name in FIGURES:
        assert f"]({name})" in report


def test_reproduce_fast_measures_what_the_notebooks_report(fast_run):
    # Measured in the fast run (40 held-out faces, dlib: 10 probes): recovered SSIM 0.999 (k-RTIO) and 0.998 (UEP);
    # robust CNN 0.74 vs plain 0.19 on the paper's Fig. 16 cells; the known-S attack finds 0.93 of the overlays (all 3
    # for 0.83 of the faces) and lifts mean SSIM 0.57 -> 0.91 and dlib 0.4 -> 1.0.
    _, out = fast_run
    results = json.loads((out / "results.json").read_text())
    claims = {c["id"]: c for c in results["claims"]}
    assert claims["fig13"]["ours"]["krtio"]["mean"] > 0.99 and claims["fig13"]["ours"]["uep"]["mean"] > 0.99
    assert claims["fig16_robust"]["ours"]["gain"] > 0.3
    (row,) = results["known_s_attack"]
    assert row["overlays found"] >= 0.8 and row["all 3 found"] >= 0.6
    assert row["ssim_attacked"] >= row["ssim_perturbed"] + 0.2
    assert row["dlib ResNet attacked"] >= row["dlib ResNet perturbed"] + 0.3


def test_reproduce_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert cli.main(["reproduce", "--fast", "--out", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]  # nothing written, nothing lost
    with pytest.raises(ValueError, match="out must be a folder, got the file"):
        reproduce.run(tmp_path / "keep.txt", fast=True)
    with pytest.raises(TypeError, match="out must be a path"):
        reproduce.run(3, fast=True)
    with pytest.raises(TypeError, match="fast must be True or False"):
        reproduce.run(tmp_path / "new", fast="yes")
    assert not (tmp_path / "new").exists()


def test_check_output_dir(tmp_path):
    new = tmp_path / "new"
    assert reproduce.check_output_dir(new) == new and not new.exists()  # nothing is created
    assert reproduce.check_output_dir(str(tmp_path)) == tmp_path  # an empty folder is fine
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"out folder .* is not empty; choose a new folder \(nothing is overwritten\)"):
        reproduce.check_output_dir(tmp_path)
    with pytest.raises(ValueError, match="out must be a folder, got the file"):
        reproduce.check_output_dir(tmp_path / "keep.txt")
    with pytest.raises(TypeError, match="results must be a path to a new or empty folder, got int"):
        reproduce.check_output_dir(3, name="results")


def test_settings():
    full, quick = reproduce.Settings.full(), reproduce.Settings.quick()
    assert full.alphas == (0.3, 0.4, 0.45, 0.5, 0.6, 0.7) and full.blocks == (4, 8, 16, 32, 64) and full.ks == (3, 8)
    assert not full.fast and quick.fast and quick.retrain_robust is False and full.retrain_robust is True
    assert set(full.filter_strengths) == set(ip.attacks.FILTERS) == set(quick.filter_strengths)
    assert all(0 not in s for s in full.filter_strengths.values())  # strength 0 is the unfiltered row


@pytest.mark.parametrize("flags, verdict", [([], "not measured"), ([True, True], "agrees"), ([False], "differs"),
                                            ([True, False], "partly")])
def test_verdict_rule(flags, verdict):
    assert _claims.verdict(flags) == verdict


def test_the_run_reuses_the_shipped_uep_only_when_it_is_the_same_search(monkeypatch):
    faces = ip.data.load_faces("olivetti")
    learned = []
    monkeypatch.setattr(ip.uep, "learn", lambda *args, **kwargs: learned.append(kwargs) or "learned here")
    notes = []
    for settings in (reproduce.Settings.full(), reproduce.Settings.quick()):  # the same search in both
        got = _run._learn_uep(faces, settings, "cpu", False, notes)
        assert isinstance(got, ip.uep.UEPResult) and (got.delta == ip.uep.cached().delta).all()
    assert not learned and len(notes) == 2 and "shipped in data/checkpoints" in notes[0]
    other = reproduce.Settings(fast=True, uep_c_range=(0.01, 0.0135), uep_search_steps=1)  # another search: learned
    assert _run._learn_uep(faces, other, "cpu", False, []) == "learned here"
    assert learned[-1]["c_range"] == (0.01, 0.0135) and learned[-1]["search_steps"] == 1
    assert _run._learn_uep(faces, reproduce.Settings(fast=False, reuse_uep=False), "cpu", False, []) == "learned here"


def test_run_takes_settings_or_fast_not_both(tmp_path):
    with pytest.raises(TypeError, match="pass fast=True or settings, not both"):
        reproduce.run(tmp_path / "a", fast=True, settings=reproduce.Settings.quick())
    with pytest.raises(TypeError, match="settings must be an imgprivacy.reproduce.Settings or None, got dict"):
        reproduce.run(tmp_path / "b", settings={"fast": True})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
