"""The graded exercises (imgprivacy.lab), their student version and ``imgprivacy lab``.

* every check passes on the instructor's solution (the notebook's solution cell, run here) and fails, with
  the intended message, on plausible wrong answers (the textbook off-by-one Fisher–Yates, α and 1 − α
  swapped, ...); a function answer that hangs fails with a time-limit message;
* the registry (names, notebooks, points, solutions) is the notebooks' nbgrader metadata and solution cells;
* ``imgprivacy lab student DIR`` writes valid nbformat, keeps every graded cell, contains no solution code,
  and refuses to overwrite;
* executed, the student version fails exactly the graded check cells.  CI time: executing all six student
  notebooks would add several minutes, so notebook 02 (about 10 s in fast mode, no torch) is executed
  whole with nbclient (errors allowed, the set of failing cells compared with the graded cells); for all
  six, a static check shows that no cell outside an exercise uses a name an exercise's solution defines
  (each exercise is a side branch), and the instructor notebooks themselves run every check in CI's
  ``--nbmake`` run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import imgprivacy as ip
from imgprivacy.cli import main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NUMBERED = sorted(p for p in NOTEBOOKS.glob("0[1-9]_*.ipynb"))


def _solution_function(name: str):
    """The instructor's solution of an exercise, defined from its solution cell."""
    ex = ip.lab.exercise(name)
    namespace = {"np": np, "ip": ip}
    exec(compile(ex.solution, f"<{name}>", "exec"), namespace)
    return namespace[ex.answer]


def _fails(name, answer, match, **context):
    with pytest.raises(ip.lab.CheckFailed, match=match) as info:
        ip.lab.check(name, answer, seed=3, **context)
    assert isinstance(info.value, AssertionError)  # nbgrader and pytest count it as a failed test
    return str(info.value)


# --------------------------------------------------------------------------- fixtures for the checks on data
class _ParityTarget:
    """A made-up recogniser: right on faces whose first pixel is below 0.5, wrong on the others."""

    def predict(self, images):
        images = np.asarray(images)
        return np.where(images[:, 0, 0] < 0.5, np.arange(len(images)) % 3, -1)


class _SmoothTarget:
    """A made-up recogniser that names a face only when it is smooth (little energy between neighbours)."""

    def predict(self, images):
        images = np.asarray(images)
        rough = np.abs(np.diff(images, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(images, axis=2)).mean(axis=(1, 2))
        return np.where(rough < 0.08, 7, -1)  # measured: clean fixture faces 0.05, k-RTIO 0.11, smoothed 0.02-0.03


@pytest.fixture(scope="module")
def faces():
    rng = np.random.default_rng(0)
    base = np.linspace(0.2, 0.8, 32, dtype=np.float32)
    smooth = (base[None, :, None] * base[None, None, :]).repeat(12, axis=0) + rng.normal(0, 0.02, (12, 32, 32))
    return np.clip(smooth, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def overlays():
    rng = np.random.default_rng(1)
    return [rng.random((40, 40), dtype=np.float32) for _ in range(6)]


# --------------------------------------------------------------------------- every check passes on its solution
def _context(name, faces, overlays):
    if name == "03_recognition_rate":
        return {"target": _ParityTarget(), "images": faces, "labels": np.arange(len(faces)) % 3}
    if name == "04_kept_fooling_rate":
        return {"result": ip.uep.cached()}
    if name == "05_overlay_correlation":
        ids = [f"p{i}" for i in range(len(faces))]
        return {"perturbed": ip.krtio.perturb_batch(faces, bytes(16), image_ids=ids, overlays=overlays, block=4,
                                                    progress=False), "originals": faces, "alpha": 0.45}
    if name == "06_filter_attack":
        return {"target": _SmoothTarget(), "images": faces, "labels": np.full(len(faces), 7), "key": bytes(16),
                "overlays": overlays}
    if name == "06_known_s_found":
        ids = [f"s{i}" for i in range(3)]
        protected = ip.krtio.perturb_batch(faces[:3], bytes(16), image_ids=ids, overlays=overlays, k=2, block=8,
                                           progress=False)
        found = ip.attacks.known_overlay_attack(protected, overlays, k=2, block=8, sweeps=0)
        return {"result": found, "key": bytes(16), "image_ids": ids, "m": len(overlays)}
    return {}


@pytest.mark.parametrize("name", [e.name for e in ip.lab.exercises()])
def test_every_check_passes_on_the_solution(name, faces, overlays):
    result = ip.lab.check(name, _solution_function(name), **_context(name, faces, overlays))
    assert result and repr(result).startswith(f"✓ {name}: correct")
    assert f"{ip.lab.exercise(name).points} point" in repr(result)


def test_a_stub_fails_with_the_not_implemented_message():
    def remove_overlay(perturbed, overlay, alpha):
        raise NotImplementedError()

    _fails("01_remove_overlay", remove_overlay, r"still raises NotImplementedError: replace `raise NotImplementedError\(\)`")


def test_an_answer_that_hangs_fails_with_a_time_limit_message():
    import imgprivacy.lab._feedback as feedback

    def shuffle_blocks(key, image_id, j, b):
        while True:
            pass

    start = time.perf_counter()
    with pytest.raises(ip.lab.CheckFailed, match=r"did not finish within the time limit of 0\.5 s"):
        feedback.call_limited(shuffle_blocks, bytes(16), "x", 1, 4, name="shuffle_blocks", limit=0.5)
    assert time.perf_counter() - start < 5


def test_a_check_of_an_answer_that_hangs_fails_with_the_time_limit():
    def shuffle_blocks(key, image_id, j, b):
        perm, i = list(range(b)), 1
        while i <= b:  # the counter never changes
            t = ip.krtio.prf(key, image_id, 1, j, i) % (b - i + 1)
            perm[b - i], perm[t] = perm[t], perm[b - i]
        return perm

    start = time.perf_counter()
    _fails_fast = pytest.raises(ip.lab.CheckFailed, match=r"02_fisher_yates: shuffle_blocks did not finish within the "
                                                          r"time limit of 0\.5 s.*a while loop whose counter never changes")
    with _fails_fast:
        ip.lab.check("02_fisher_yates", shuffle_blocks, seed=0, time_limit=0.5)
    assert time.perf_counter() - start < 5
    with pytest.raises(ValueError, match=r"time_limit must be a finite number of seconds in \(0, 3600\], got 0"):
        ip.lab.check("02_fisher_yates", shuffle_blocks, time_limit=0)


def test_the_time_limit_also_holds_outside_the_main_thread():
    import threading

    import imgprivacy.lab._feedback as feedback

    box = {}

    def run():
        try:
            feedback.call_limited(lambda: time.sleep(5), name="slow", limit=0.3)
        except ip.lab.CheckFailed as exc:
            box["error"] = str(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(10)
    assert "time limit of 0.3 s" in box["error"]


def test_a_non_function_answer_is_named():
    _fails("02_fisher_yates", [1, 2, 3], r"shuffle_blocks must be a function \(def shuffle_blocks\(\.\.\.\)")


def test_an_answer_that_changes_its_input_in_place_is_refused():
    def median_attack(perturbed, lam):
        perturbed *= lam
        return perturbed

    _fails("05_median_attack", median_attack, "changed its input in place")


# --------------------------------------------------------------------------- each check fails on plausible wrong answers
def test_01_remove_overlay_names_swapped_weights_and_a_missing_division():
    _fails("01_remove_overlay", lambda p, o, a: (p - a * o) / (1 - a), "α and 1 − α are swapped")
    _fails("01_remove_overlay", lambda p, o, a: p - (1 - a) * o, "not divided by α")
    _fails("01_remove_overlay", lambda p, o, a: None, "is None: did the function forget to `return`")
    _fails("01_remove_overlay", lambda p, o, a: np.swapaxes((p - (1 - a) * o) / a, 1, 2),
           "axes are swapped|rows and columns swapped")


def test_01_pick_component_names_argmax_and_unnormalised_std():
    _fails("01_pick_component", lambda m: int(np.argmax(m.std(axis=0) / abs(m.mean(axis=0)))), "vary the MOST")
    _fails("01_pick_component", lambda m: int(np.argmin(m.std(axis=0))), "plain standard deviations")
    _fails("01_pick_component", lambda m: m.shape[0] + 1, "only .* sources")


def _fy(key, image_id, j, b, *, modulus, steps, start=1, front=False):
    perm = list(range(b))
    for i in range(start, start + steps):
        t = ip.krtio.prf(key, image_id, 1, j, i) % modulus(i)
        q = i - 1 if front else b - i
        perm[q], perm[t] = perm[t], perm[q]
    return perm


def test_02_fisher_yates_names_the_textbook_off_by_one():
    # the textbook off-by-one: t mod (b - i), which breaks at i = b ...
    _fails("02_fisher_yates", lambda k, d, j, b: _fy(k, d, j, b, modulus=lambda i: b - i, steps=b),
           r"raised ZeroDivisionError.*a modulus or divisor became 0")
    # ... and with the last step dropped, Sattolo's algorithm
    _fails("02_fisher_yates", lambda k, d, j, b: _fy(k, d, j, b, modulus=lambda i: b - i, steps=b - 1),
           "textbook off-by-one .Sattolo's algorithm.")
    _fails("02_fisher_yates", lambda k, d, j, b: _fy(k, d, j, b, modulus=lambda i: b, steps=b), "drawn mod b at every step")
    _fails("02_fisher_yates", lambda k, d, j, b: _fy(k, d, j, b, modulus=lambda i: b - i + 1, steps=b, front=True),
           "from the front")
    _fails("02_fisher_yates", lambda k, d, j, b: np.argsort(ip.krtio.block_permutation(k, d, j=j, b=b)),
           "inverse permutation")
    _fails("02_fisher_yates", lambda k, d, j, b: [0] * b, "some block appears twice")


def test_02_invert_mix_names_a_sum_for_a_mean():
    _fails("02_invert_mix", lambda p, o, a: p / a - (1 - a) / a * np.sum(o, axis=0), "summed but not averaged")
    _fails("02_invert_mix", lambda p, o, a: p - (1 - a) / len(o) * np.sum(o, axis=0), "not divided by α")


def test_03_thumbnail_names_subsampling_and_a_sum():
    _fails("03_thumbnail", lambda x: x[:, ::2, ::2], "keeps every second pixel")
    _fails("03_thumbnail", lambda x: x.reshape(len(x), x.shape[1] // 2, 2, x.shape[2] // 2, 2).sum(axis=(2, 4)), "sums")
    _fails("03_thumbnail", lambda x: x[:, ::4, ::4], r"has shape .* but should have shape")


def test_03_recognition_rate_names_the_error_rate_and_a_percentage(faces):
    context = _context("03_recognition_rate", faces, None)
    _fails("03_recognition_rate", lambda t, x, y: float(np.mean(t.predict(x) != y)), "error rate", **context)
    _fails("03_recognition_rate", lambda t, x, y: 100 * float(np.mean(t.predict(x) == y)), "percentage", **context)
    _fails("03_recognition_rate", lambda t, x, y: float(np.sum(t.predict(x) == y)), "NUMBER of faces", **context)


def test_04_remove_eq4_names_the_sign_and_a_missing_beta():
    _fails("04_remove_eq4", lambda p, d, b: ip.uep.apply(p, d, beta=b), "applies Eq. 4 again")
    _fails("04_remove_eq4", lambda p, d, b: (np.tanh(np.arctanh(2 * p - 1) - d) + 1) / 2, "β is left out")
    _fails("04_remove_eq4", lambda p, d, b: np.tanh(np.arctanh(2 * p - 1) - b * d), r"not in \[0, 1\]")


def test_04_kept_fooling_rate_names_the_last_step_and_one_model():
    result = ip.uep.cached()  # the full search: six values of c, the kept one's last step differs from its kept δ
    _fails("04_kept_fooling_rate", lambda r: [t for t in r.history if t.c == r.c][0].trace_fooling[-1], "LAST Adam step",
           result=result)
    _fails("04_kept_fooling_rate", lambda r: max(t.fooling_rate for t in r.history), "best rate over all values of c",
           result=result)
    _fails("04_kept_fooling_rate", lambda r: r.fooling_rate["vgg_a"], "vgg_a's rate alone", result=result)
    _fails("04_kept_fooling_rate", lambda r: 100 * r.fooling_rate["all"], "factor 100", result=result)


def test_05_median_attack_names_swapped_lambda_and_a_mean():
    _fails("05_median_attack", lambda p, lam: np.clip((1 - lam) * p + lam * (1 - np.median(p, axis=0)), 0, 1),
           "λ and 1 − λ are swapped")
    _fails("05_median_attack", lambda p, lam: np.clip(lam * p + (1 - lam) * (1 - p.mean(axis=0)), 0, 1), "MEAN")
    _fails("05_median_attack", lambda p, lam: np.clip(lam * p + (1 - lam) * (1 - np.median(p, axis=(1, 2))), 0, 1),
           "shape|differs")


def test_05_overlay_correlation_names_a_forgotten_alpha(faces, overlays):
    context = _context("05_overlay_correlation", faces, overlays)
    _fails("05_overlay_correlation", lambda p, o, a: ip.metrics.correlation(p[0] - o[0], p[1] - o[1]), "x' − α·x",
           **context)
    _fails("05_overlay_correlation", lambda p, o, a: ip.metrics.correlation(p[0], p[1]), "perturbed photos themselves",
           **context)
    _fails("05_overlay_correlation", lambda p, o, a: 2.0, r"a number in \[-1, 1\]", **context)


def test_06_filter_attack_fails_on_a_filter_that_does_not_help(faces, overlays):
    context = _context("06_filter_attack", faces, overlays)
    _fails("06_filter_attack", lambda x: x, "unchanged", **context)
    _fails("06_filter_attack", lambda x: np.clip(x + np.random.default_rng(0).normal(0, 0.1, x.shape), 0, 1),
           r"it must gain at least \+0\.10", **context)
    _fails("06_filter_attack", lambda x: x[0], "shape", **context)
    _fails("06_filter_attack", lambda x: 2 * x, r"not in \[0, 1\]", **context)


def test_06_known_s_found_names_a_positional_comparison(faces, overlays):
    context = _context("06_known_s_found", faces, overlays)

    def positional(result, key, ids, m):
        sel = np.asarray(result.selection).reshape(len(ids), -1)
        true = [ip.krtio.select_overlays(key, i, k=sel.shape[1], m=m) for i in ids]
        return float(np.mean(sel == np.array(true)))

    def every_one(result, key, ids, m):
        sel = np.asarray(result.selection).reshape(len(ids), -1)
        return float(np.mean([set(s) == set(ip.krtio.select_overlays(key, i, k=sel.shape[1], m=m))
                              for s, i in zip(sel.tolist(), ids)]))

    _fails("06_known_s_found", positional, "position by position", **context)
    _fails("06_known_s_found", every_one, "ALL found", **context)


def test_the_generic_messages_name_what_differs():
    from imgprivacy.lab._feedback import describe_difference

    assert "off by one: every entry is 1 too high" in describe_difference([1, 2, 3], [0, 1, 2])
    assert "entries 1 and 2 swapped" in describe_difference([0, 2, 1, 3], [0, 1, 2, 3])
    assert "factor α = 0.45" in describe_difference(np.full(4, 0.45), np.ones(4), alpha=0.45)
    assert "factor 1 − α = 0.55" in describe_difference(np.full(4, 0.55), np.ones(4), alpha=0.45)
    assert "the first at [1]: expected 2, got 5" in describe_difference([1, 5, 3.5], [1, 2, 3])
    assert describe_difference([1, 2], [1, 2]) == ""


# --------------------------------------------------------------------------- the registry is the notebooks'
def _cells(path):
    return nbformat.read(path, as_version=4).cells


def _exercise_cells():
    found = {}
    for path in NUMBERED:
        for i, cell in enumerate(_cells(path)):
            meta = cell.metadata.get("nbgrader")
            if meta:
                found.setdefault(path.name, []).append((i, cell, meta))
    return found


def test_the_registry_is_the_notebooks_metadata():
    solutions, graded = {}, {}
    for name, cells in _exercise_cells().items():
        for _, cell, meta in cells:
            assert meta["schema_version"] == 3 and cell.cell_type == "code"
            if meta["solution"]:
                assert meta == {"grade": False, "solution": True, "locked": False, "task": False,
                                "grade_id": meta["grade_id"], "schema_version": 3}
                solutions[meta["grade_id"]] = (name, cell.source)
            else:
                assert meta["grade"] and meta["locked"] and not meta["task"]
                graded[meta["grade_id"]] = (name, meta["points"], cell.source)
    assert set(solutions) == {e.name for e in ip.lab.exercises()}, "every exercise has one solution cell, named by its grade_id"
    for ex in ip.lab.exercises():
        assert solutions[ex.name] == (ex.notebook, ex.solution), f"{ex.name}: the registry's solution is the cell's"
        check_id = f"{ex.name}_check"
        notebook, points, source = graded[check_id]
        assert (notebook, points) == (ex.notebook, ex.points)
        assert f'ip.lab.check("{ex.name}", {ex.answer}' in source
    assert len(graded) == len(solutions) == len(ip.lab.exercises()) >= 12
    assert {n[:2] for n in _exercise_cells()} == {"01", "02", "03", "04", "05", "06"}
    assert all(len(ip.lab.exercises(f"0{i}")) >= 2 for i in range(1, 7))


def _assigned(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _used(source: str) -> set[str]:
    lines = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.splitlines())
    return {n.id for n in ast.walk(ast.parse(lines)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def side_branch_problems(cells, where: str = "notebook") -> list[str]:
    """Cells outside the exercises that use or redefine a name an exercise's solution cell defines."""
    defined = set()
    for cell in cells:
        if cell.cell_type == "code" and ip.lab.is_solution(cell):
            for node in ast.parse(cell.source).body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    defined.add(node.name)
                elif isinstance(node, ast.Assign):
                    defined |= {n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    problems = []
    for i, cell in enumerate(cells):
        if cell.cell_type != "code" or ip.lab.is_solution(cell) or ip.lab.is_graded(cell):
            continue
        if _used(cell.source) & defined:
            problems.append(f"{where} cell {i + 1} uses {sorted(_used(cell.source) & defined)}, defined by a solution")
        if _assigned(cell.source) & defined:
            problems.append(f"{where} cell {i + 1} redefines {sorted(_assigned(cell.source) & defined)}, an answer")
    return problems


@pytest.mark.parametrize("path", NUMBERED, ids=lambda p: p.name)
def test_every_exercise_is_a_side_branch(path):
    """No cell outside an exercise uses a name that a solution cell defines at the top level."""
    assert not side_branch_problems(_cells(path), path.name)


def test_the_side_branch_check_finds_a_cell_that_uses_an_answer():
    solution = nbformat.v4.new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION",
                                         metadata={"nbgrader": {"solution": True, "grade": False}})
    check = nbformat.v4.new_code_cell("ip.lab.check('x', f)", metadata={"nbgrader": {"grade": True, "points": 1}})
    later = nbformat.v4.new_code_cell("y = f(2)")
    assert side_branch_problems([solution, check]) == []
    assert side_branch_problems([solution, check, later]) == ["notebook cell 3 uses ['f'], defined by a solution"]


# --------------------------------------------------------------------------- the student version
@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "lab"
    assert main(["lab", "student", str(out)]) == 0
    return out


def test_the_student_version_is_valid_keeps_graded_cells_and_has_no_solutions(student):
    written = sorted(p.name for p in student.glob("*.ipynb"))
    assert written == sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    for path in NUMBERED:
        original = nbformat.read(path, as_version=4)
        copy = nbformat.read(student / path.name, as_version=4)
        nbformat.validate(copy)
        assert copy.metadata == original.metadata
        assert len(copy.cells) == len(original.cells)
        text = (student / path.name).read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
        for mine, theirs in zip(copy.cells, original.cells):
            if mine.cell_type == "code":
                assert mine.outputs == [] and mine.execution_count is None
            if ip.lab.is_solution(theirs):
                ex = ip.lab.exercise(theirs.metadata.nbgrader.grade_id)
                body = ex.solution.split(ip.lab.BEGIN)[1].split(ip.lab.END)[0]
                code_lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
                assert not any(ln in mine.source for ln in code_lines), f"{ex.name}: solution code left in"
                assert mine.source.splitlines()[0] == theirs.source.splitlines()[0]  # the def line is kept
                assert "raise NotImplementedError()" in mine.source
                assert mine.metadata.deletable is False  # as nbgrader writes it
            else:
                assert mine == theirs or mine.cell_type == "code" and mine.source == theirs.source
            if ip.lab.is_graded(theirs):
                assert mine == theirs and mine.metadata.nbgrader.locked
                assert mine.metadata.editable is False and mine.metadata.deletable is False  # read-only in JupyterLab


def test_student_refuses_to_overwrite_and_writes_nothing(student, capsys):
    before = {p.name: p.read_bytes() for p in student.iterdir()}
    assert main(["lab", "student", str(student)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "imgprivacy lab: error:" in err and "refusing to overwrite" in err
    assert {p.name: p.read_bytes() for p in student.iterdir()} == before


def test_student_refuses_a_folder_without_notebooks(tmp_path, capsys):
    assert main(["lab", "student", str(tmp_path / "out"), "--source", str(tmp_path)]) == 2
    assert "no notebooks" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_student_refuses_a_file_as_the_folder(tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine", encoding="utf-8")
    assert main(["lab", "student", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err and target.read_text(encoding="utf-8") == "mine"


def test_strip_solution_keeps_the_code_around_the_markers():
    source = "x = 1\ndef f(a):\n    b = a\n    ### BEGIN SOLUTION\n    return b\n    ### END SOLUTION\nprint(x)"
    assert ip.lab.strip_solution(source) == ("x = 1\ndef f(a):\n    b = a\n    # YOUR CODE HERE\n"
                                             "    raise NotImplementedError()\nprint(x)")
    with pytest.raises(ValueError, match="without"):
        ip.lab.strip_solution("### BEGIN SOLUTION\nx = 1")


def test_solutions_lists_and_shows_one(capsys):
    assert main(["lab", "solutions"]) == 0
    out = capsys.readouterr().out
    assert all(e.name in out for e in ip.lab.exercises()) and "02_protect_with_krtio.ipynb" in out
    assert main(["lab", "solutions", "02_fisher_yates"]) == 0
    out = capsys.readouterr().out
    assert "def shuffle_blocks" in out and "% (b - i + 1)" in out and "04_remove_eq4" not in out
    assert main(["lab", "solutions", "02_fisher"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean '02_fisher_yates'" in err
    assert "def shuffle_blocks" in str(ip.lab.solution("02_fisher_yates"))


def test_the_student_notebook_02_fails_exactly_the_graded_checks(student):
    """Notebook 02 (about 10 s in fast mode, no torch), executed whole: the cells that fail are the graded ones."""
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(student / "02_protect_with_krtio.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, allow_errors=True, kernel_name="python3",
                                     resources={"metadata": {"path": str(student)}})
    client.execute()
    failing = {i for i, c in enumerate(nb.cells) if c.cell_type == "code"
               and any(o.get("output_type") == "error" for o in c.outputs)}
    graded = {i for i, c in enumerate(nb.cells) if ip.lab.is_graded(c)}
    assert graded and failing == graded
    for i in graded:
        error = next(o for o in nb.cells[i].outputs if o.get("output_type") == "error")
        assert error["ename"] == "CheckFailed" and "NotImplementedError" in error["evalue"]


def test_lab_help_is_fast_and_imports_no_numpy():
    code = ("import sys; from imgprivacy.cli import build_parser; p = build_parser(); "
            "p.parse_args(['lab', 'solutions']); assert 'numpy' not in sys.modules, 'numpy imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=None)
    help_text = subprocess.run([sys.executable, "-m", "imgprivacy.cli", "lab", "--help"], capture_output=True,
                               text=True, check=True).stdout
    assert "student" in help_text and "solutions" in help_text


def test_a_failed_check_shows_its_message_in_a_notebook_not_the_librarys_frames():
    """IPython renders ``_render_traceback_`` instead of a traceback: only the name and the message."""
    with pytest.raises(ip.lab.CheckFailed) as info:
        ip.lab.check("01_remove_overlay", lambda perturbed, overlay, alpha: (perturbed - alpha * overlay) / (1 - alpha))
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "CheckFailed" in lines[0] and "swapped" in lines[0] and "File " not in lines[0]
