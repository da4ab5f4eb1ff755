"""The package's layout rules (ARCHITECTURE.md), checked on the source itself.

* no module over 800 lines;
* no module uses another module's private names (the shared helper modules
  ``_validation``, ``_prf``, ``_resample``, ``_atomic`` and ``_memory`` excepted), nor
  imports another package's private modules; a compiled extension (``_cfit``) is
  imported by the one module that owns it;
* no import cycle between the package's modules, function-level imports
  included;
* a layer imports only from its own layer or the layers below it;
* the headless parts (evaluate, plotting, reproduce, lab, cli) never reach
  ipywidgets or the widgets, not even from inside a function;
* notebooks use only the public API.

Every rule is also run on a small made-up tree that breaks it, so that a
check that cannot fail would show here.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "imgprivacy"
MAX_LINES = 800

#: private helper modules any module of the package may use, private names included
SHARED = {"imgprivacy._validation", "imgprivacy._prf", "imgprivacy._resample", "imgprivacy._atomic", "imgprivacy._memory"}

#: compiled extension modules (no Python source) and the one module that imports each, lazily
COMPILED = {"imgprivacy._cfit": "imgprivacy._resample"}

#: the layers, lowest first; a unit is a top-level module or subpackage of imgprivacy
LAYERS = {
    "imgprivacy._validation": 0,
    "imgprivacy._prf": 0,
    "imgprivacy._resample": 0,
    "imgprivacy._atomic": 0,
    "imgprivacy._memory": 0,
    "imgprivacy.data": 1,
    "imgprivacy.metrics": 1,
    "imgprivacy.krtio": 1,
    "imgprivacy.attacks": 1,
    "imgprivacy.manifest": 1,
    "imgprivacy.models": 2,
    "imgprivacy.uep": 2,
    "imgprivacy.targets": 2,
    "imgprivacy.evaluate": 3,
    "imgprivacy.plotting": 4,
    "imgprivacy.reproduce": 5,
    "imgprivacy.lab": 5,
    "imgprivacy.widgets": 6,
    "imgprivacy.cli": 7,
}
LAYER_NAMES = ("shared helpers", "numpy algorithms", "torch learning", "evaluation", "static plots",
               "the paper's run", "widgets", "command line")
HEADLESS = ("imgprivacy.evaluate", "imgprivacy.plotting", "imgprivacy.reproduce", "imgprivacy.lab", "imgprivacy.cli")


# --------------------------------------------------------------------------- the analysis

def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path, module: str, known: set[str]) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import in the file, at any depth."""
    package = package_of(module, path)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(node, package)
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:  # `from . import krtio` imports the module imgprivacy.krtio
                    found.append((sub, None, node.lineno))
                else:
                    found.append((target, a.name, node.lineno))
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _own_private_module(importer: str, imported: str) -> bool:
    """Whether ``imported`` is a private module that ``importer`` may use: its own package's."""
    parent, _, last = imported.rpartition(".")
    return not _private(last) or imported in SHARED or importer == parent or importer.startswith(parent + ".")


def _defined_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
    return names


def private_reaches(root: Path) -> list[str]:
    """Every place where a module uses a private name it does not own."""
    mods = modules(root)
    known = set(mods)
    problems = []
    for module, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        own = _defined_names(tree)
        aliases = {}  # local name -> imgprivacy module it stands for
        for imported, name, line in imports(path, module, known):
            if not imported.startswith("imgprivacy"):
                continue
            where = f"{path.relative_to(root.parent)}:{line}"
            if not _own_private_module(module, imported):
                problems.append(f"{where}: imports the private module {imported}")
            if (name is not None and _private(name) and imported not in SHARED and imported != module
                    and COMPILED.get(f"{imported}.{name}") != module):
                problems.append(f"{where}: imports the private name {imported}.{name}")
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for a in node.names:
                    full = (f"{_resolve(node, package_of(module, path))}.{a.name}"
                            if isinstance(node, ast.ImportFrom) else a.name)
                    if full in known:
                        aliases[a.asname or a.name] = full
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _private(node.attr)):
                continue
            where = f"{path.relative_to(root.parent)}:{node.lineno}"
            base = node.value
            if isinstance(base, ast.Name) and base.id in aliases:
                target = aliases[base.id]
                if target not in SHARED and target != module:
                    problems.append(f"{where}: uses {target}.{node.attr}")
            elif node.attr not in own:
                problems.append(f"{where}: uses .{node.attr}, which this module does not define")
    return sorted(set(problems))


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    graph = {m: set() for m in mods}
    for module, path in mods.items():
        for imported, _name, _line in imports(path, module, known):
            # `import imgprivacy.x.y` or `from imgprivacy.x import y`: the deepest module named
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target not in (module, root.name):  # the root package is the facade, not a layer
                graph[module].add(target)
    # a subpackage's __init__ stands for everything it (lazily) re-exports: all of its modules
    for module, path in mods.items():
        if path.name == "__init__.py" and module != root.name:
            graph[module] |= {m for m in mods if m.rpartition(".")[0] == module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def unit_of(module: str, layers: dict[str, int]) -> str | None:
    while module and module not in layers:
        module = module.rpartition(".")[0]
    return module or None


def layer_violations(root: Path, layers: dict[str, int]) -> list[str]:
    graph = import_graph(root)
    problems = []
    for module, targets in sorted(graph.items()):
        unit = unit_of(module, layers)
        if unit is None:
            if module != "imgprivacy":
                problems.append(f"{module} is in no layer of ARCHITECTURE.md")
            continue
        for target in sorted(targets):
            other = unit_of(target, layers)
            if other is not None and layers[other] > layers[unit]:
                problems.append(f"{module} (layer {layers[unit]}) imports {target} (layer {layers[other]})")
    return problems


def reaches(root: Path, start: str, *, external: bool = True) -> set[str]:
    """Every module, of the package or (with ``external``) top-level third-party, that ``start`` can import."""
    mods = modules(root)
    known = set(mods)
    seen, todo, outside = set(), [start], set()
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for imported, _name, _line in imports(mods[m], m, known):
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target:
                todo.append(target)
            elif external:
                outside.add(imported.partition(".")[0])
    return seen | outside


# --------------------------------------------------------------------------- the rules on the real tree

def test_no_module_over_800_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_no_private_reaches():
    problems = private_reaches(PACKAGE)
    assert not problems, "\n".join(problems)


def test_no_import_cycles():
    found = cycles(import_graph(PACKAGE))
    assert not found, f"import cycles: {found}"


def test_every_module_in_a_layer_and_imports_only_downwards():
    problems = layer_violations(PACKAGE, LAYERS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_parts_never_reach_ipywidgets(module):
    reached = reaches(PACKAGE, module)
    assert "ipywidgets" not in reached
    assert not any(m == "imgprivacy.widgets" or m.startswith("imgprivacy.widgets.") for m in reached)


def test_architecture_md_names_every_unit_and_layer():
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for unit in LAYERS:
        short = unit.removeprefix("imgprivacy.")
        assert f"`{short}" in text, f"ARCHITECTURE.md does not name {short}"
    for name in LAYER_NAMES:
        assert name in text, f"ARCHITECTURE.md does not name the layer {name!r}"


def test_notebooks_use_only_the_public_api():
    import re

    bad = re.compile(r"\bip\.(?:\w+\.)*_[a-zA-Z]\w*|\bimgprivacy\.(?:\w+\.)*_[a-zA-Z]\w*|SimpleNamespace")
    problems = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for i, cell in enumerate(json.loads(nb.read_text(encoding="utf-8"))["cells"]):
            if cell["cell_type"] == "code":
                for m in bad.finditer("".join(cell["source"])):
                    problems.append(f"{nb.name} cell {i}: {m.group(0)}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the checks can fail

def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "imgprivacy"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checks_find_a_private_reach(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "_validation.py": "def _short(x): return x\n",
        "a.py": "def _helper(): pass\nclass A:\n    def _own(self): pass\n",
        "b.py": ("from . import a\nfrom .a import _helper\nfrom ._validation import _short\n"
                 "def f(x):\n    a._helper()\n    x._own()\n    return x._secret\n"),
        "pkg/__init__.py": "from ._impl import public\n",
        "pkg/_impl.py": "def public(): pass\n",
        "c.py": "from .pkg._impl import public\n",
        "_resample.py": "def load():\n    from . import _cfit\n",
        "d.py": "def load():\n    from . import _cfit\n",
    })
    problems = "\n".join(private_reaches(root))
    assert "imports the private name imgprivacy.a._helper" in problems
    assert "uses imgprivacy.a._helper" in problems
    assert "uses ._secret" in problems
    assert "imports the private module imgprivacy.pkg._impl" in problems
    assert "_short" not in problems and "pkg/__init__" not in problems
    assert "imgprivacy/d.py:2: imports the private name imgprivacy._cfit" in problems  # only its owner loads it
    assert "_resample.py" not in problems


def test_checks_find_a_cycle_through_a_function_level_import(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "a.py": "from . import b\n",
        "b.py": "def f():\n    from .c import g\n",
        "c.py": "def g():\n    import imgprivacy.a\n",
        "d.py": "from . import a\n",
    })
    assert cycles(import_graph(root)) == [["imgprivacy.a", "imgprivacy.b", "imgprivacy.c"]]


def test_checks_find_an_upward_import_and_a_widget_reach(tmp_path):
    root = _tree(tmp_path, {
        "__init__.py": "",
        "krtio.py": "def f():\n    from . import evaluate\n",
        "evaluate.py": "def plot():\n    from .widgets import show\n",
        "widgets/__init__.py": "import ipywidgets\nfrom ._show import show\n",
        "widgets/_show.py": "def show(): pass\n",
    })
    layers = {"imgprivacy.krtio": 1, "imgprivacy.evaluate": 3, "imgprivacy.widgets": 6}
    problems = layer_violations(root, layers)
    assert problems == ["imgprivacy.evaluate (layer 3) imports imgprivacy.widgets (layer 6)",
                        "imgprivacy.krtio (layer 1) imports imgprivacy.evaluate (layer 3)"]
    reached = reaches(root, "imgprivacy.evaluate")
    assert "ipywidgets" in reached and "imgprivacy.widgets" in reached
