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
    "fig17_filters.png", "known_s_attack.png", "frontier.png",
}
TABLES = {"krtio_grid.csv", "filters.csv", "uep.csv", "known_s.csv", "frontier.csv", "best_settings.csv"}


@pytest.fixture(scope="module")
def fast_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "run"
    status = cli.main(["reproduce", "--fast", "--out", str(out), "--no-progress"])
    return status, out


def test_reproduce_fast_writes_figures_json_tables_and_report(fast_run, capsys):
    status, out = fast_run
    assert status == 0
    names = {p.name for p in out.iterdir()}
    assert FIGURES | TABLES | {"results.json", "report.md"} == names
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
    assert "Face set: **Olivetti**, 64×64 pixels" in report and "Blocks: 4, 8, 32 px" in report


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


@pytest.fixture(scope="module")
def orl_run(fast_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce_orl") / "run"
    status = cli.main(["reproduce", "--fast", "--faces", "orl", "--compare", str(fast_run[1]), "--out", str(out),
                       "--no-progress"])
    return status, out


def test_reproduce_fast_on_orl_runs_at_its_resolution_and_compares(orl_run, fast_run):
    status, out = orl_run
    assert status == 0
    assert {p.name for p in out.iterdir()} == FIGURES | TABLES | {"results.json", "report.md"}
    assert (out / "frontier.png").read_bytes().startswith(b"\x89PNG")
    results = json.loads((out / "results.json").read_text())
    assert results["faces"]["dataset"] == "orl" and (results["faces"]["width"], results["faces"]["height"]) == (92, 112)
    assert results["settings"]["blocks"] == [4, 8, 46]  # the fast grid's 32 px (half an Olivetti face) scaled to 92
    grid = pd.read_csv(out / "krtio_grid.csv")
    assert sorted(set(grid.block.dropna().astype(int))) == [4, 8, 46]
    report = (out / "report.md").read_text()
    assert "Face set: **ORL**, 92×112 pixels (width x height), grey, 40 people" in report
    assert "Blocks: 4, 8, 46 px" in report and "ORL faces are 92×112 grey crops" in report
    assert "| Figure | Section | Verdict | The paper | Rule |" in report  # the verdict table
    for claim in results["claims"]:
        assert f"| **{claim['verdict']}** |" in report and claim["verdict"] in ("agrees", "partly", "differs", "not measured")
    # the frontier: every k-RTIO cell of the grid for each recogniser, privacy = 1 - rate, Pareto flags that hold
    front = pd.read_csv(out / "frontier.csv")
    assert tuple(front.columns) == evaluate.FRONTIER_COLUMNS
    assert list(dict.fromkeys(front.target)) == ["dlib ResNet", "provider CNN", "eigenfaces"]
    settings = reproduce.Settings.quick("orl")  # lighter than Olivetti's: 3 alphas, 20 people, known-S on 10 faces
    assert results["eval_faces"]["n"] == 20 and pd.read_csv(out / "known_s.csv").query("target == 'eigenfaces'").n.tolist() == [10]
    for target, part in front.groupby("target"):
        assert (part.scheme == "krtio").sum() == len(settings.alphas) * 3 * len(settings.ks)
        assert (part.scheme == "uep").sum() == len([b for b in settings.betas if b > 0])
        for _, scheme in part[part.scheme != "clean"].groupby("scheme"):
            assert (scheme.pareto.to_numpy() == evaluate.pareto_mask(scheme.ssim, scheme.privacy)).all()
    assert (abs(front.privacy - (1 - front.rate)) < 1e-9).all()
    best = pd.read_csv(out / "best_settings.csv")
    for r in best[best.rate.notna()].itertuples():  # each answer is the lowest rate among the settings keeping SSIM
        rows = front[(front.target == r.target) & (front.scheme == r.scheme) & (front.ssim >= r.min_ssim - 1e-12)]
        assert r.rate == rows.rate.min() and r.ssim >= r.min_ssim
    assert "## The privacy-utility frontier" in report and "At 92×112 (ORL), the most private setting" in report
    assert "![frontier.png](frontier.png)" in report
    # the verdicts beside the Olivetti run's
    assert "## Across face sets" in report and "| Claim | this run: ORL 92×112 | Olivetti 64×64 (fast) |" in report
    mine = {c["id"]: c["verdict"] for c in results["claims"]}
    for c in json.loads((fast_run[1] / "results.json").read_text())["claims"]:
        assert f"({c['id']}) | {mine[c['id']]} | {c['verdict']} |" in report
    assert results["compare"][0]["faces"]["dataset"] == "olivetti"
    # the shipped ORL models and UEP were used (the UEP because it was learned by this very search)
    assert any("UEP is the one shipped" in n for n in results["notes"])
    assert results["uep"]["c"] == pytest.approx(ip.uep.cached("orl").c)


def test_reproduce_refuses_what_it_cannot_compare_or_load(tmp_path, capsys):
    (tmp_path / "not_a_run").mkdir()
    out = tmp_path / "new"
    assert cli.main(["reproduce", "--fast", "--faces", "orl", "--compare", str(tmp_path / "not_a_run"),
                     "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not the folder of an earlier imgprivacy reproduce run" in err
    assert not out.exists()  # nothing half-written
    with pytest.raises(ValueError, match=r"faces must be one of 'olivetti', 'orl', 'lfw', got 'yale'"):
        reproduce.run(out, fast=True, faces="yale")
    assert not out.exists()


def test_read_earlier_takes_a_run_from_before_faces_as_olivetti(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "results.json").write_text(json.dumps({"settings": {"fast": False},
                                                  "claims": [{"id": "fig09", "verdict": "partly"}]}))
    (got,) = reproduce.read_earlier(old)
    assert got["faces"]["name"] == "Olivetti" and got["verdicts"] == {"fig09": "partly"} and got["fast"] is False
    assert got["best"] == [] and reproduce.read_earlier(None) == []
    with pytest.raises(TypeError, match="compare must be a path or a list of paths"):
        reproduce.read_earlier([3])


def test_scaled_blocks_keep_the_papers_small_blocks_and_scale_the_large():
    assert reproduce.scaled_blocks((4, 8, 16, 32, 64), 64) == (4, 8, 16, 32, 64)
    assert reproduce.scaled_blocks((4, 8, 16, 32, 64), 92) == (4, 8, 16, 46, 92)
    assert reproduce.scaled_blocks((4, 8, 32), 96) == (4, 8, 48)
    assert reproduce.scaled_blocks((4, 8, 32, 64), 40) == (4, 8, 20, 40)


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
    orl = reproduce.Settings.quick("orl")
    assert orl.alphas == (0.3, 0.45, 0.6) and orl.eval_people == 20 and orl.known_s_faces == 10 and orl.fast
    assert quick.eval_people is None and full.known_s_faces is None
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
