"""The student version of the notebooks, as ``nbgrader generate_assignment`` makes it (json only, no numpy).

In every solution cell (nbgrader metadata ``"solution": true``) the code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the indentation of
the BEGIN line, and the cell cannot be deleted (``"deletable": false``); the code before and after is kept.
Every code cell's outputs and execution count are cleared; graded cells are kept as they are (read-only in
JupyterLab: ``"editable": false``).  This is what nbgrader 0.9's ``generate_assignment`` writes, less its
checksums.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from .._atomic import publish

__all__ = ["BEGIN", "END", "default_source", "is_graded", "is_solution", "strip_solution", "student_notebook",
           "write_student_version"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
STUB = "raise NotImplementedError()"
PROMPT = "# YOUR CODE HERE"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _nbgrader(cell: dict) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_solution(cell: dict) -> bool:
    """Whether ``cell`` is an nbgrader solution cell."""
    return bool(_nbgrader(cell).get("solution"))


def is_graded(cell: dict) -> bool:
    """Whether ``cell`` is an nbgrader graded (test) cell."""
    return bool(_nbgrader(cell).get("grade"))


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region by ``raise NotImplementedError()``.

    Raises
    ------
    ValueError
        If the markers are missing or unbalanced.

    Examples
    --------
    >>> print(strip_solution("def f(x):\\n    ### BEGIN SOLUTION\\n    return x\\n    ### END SOLUTION"))
    def f(x):
        # YOUR CODE HERE
        raise NotImplementedError()
    """
    out, inside = [], False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"{where}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [indent + PROMPT, indent + STUB]
        elif marker == END:
            if not inside:
                raise ValueError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN} without {END}")
    if STUB not in "\n".join(out):
        raise ValueError(f"{where}: a solution cell without a {BEGIN} ... {END} region")
    return "\n".join(out)


def student_notebook(nb: dict, name: str = "notebook") -> dict:
    """The student version of a notebook (a dict as read by :func:`json.load`); ``nb`` is not changed."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.get("cells", [])):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        if is_solution(cell) and cell.get("cell_type") == "code":
            cell["source"] = strip_solution(_source(cell), f"{name}, cell {i + 1}")
            cell.setdefault("metadata", {})["deletable"] = False
    out.get("metadata", {}).pop("widgets", None)
    return out


def default_source() -> Path:
    """The instructor notebooks of this checkout: ``notebooks/`` beside the package."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def write_student_version(out_dir, *, source=None) -> list[Path]:
    """Write the student version of every notebook of ``source`` into ``out_dir``; returns the files written.

    Every notebook is read and converted before anything is written; an existing file of the same name
    is never replaced (``FileExistsError``, nothing written).  Each file is written atomically.
    """
    source = default_source() if source is None else Path(source)
    out_dir = Path(out_dir)
    paths = sorted(source.glob("*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) in {source}")
    texts = {}
    for path in paths:
        nb = json.loads(path.read_text(encoding="utf-8"))
        texts[out_dir / path.name] = json.dumps(student_notebook(nb, path.name), sort_keys=True, indent=1,
                                                ensure_ascii=False) + "\n"
    existing = [p for p in texts if p.exists()]
    if existing:
        raise FileExistsError(f"{existing[0]} already exists ({len(existing)} of the {len(texts)} notebooks do); "
                              "refusing to overwrite: choose a new or empty folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        publish(text.encode("utf-8"), path, overwrite=False)
    return list(texts)
