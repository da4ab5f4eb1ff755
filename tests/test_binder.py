"""Binder's build files, checked statically (CI cannot reach Binder).

repo2docker creates ``environment.yml``'s environment, then runs ``postBuild``,
which must install torch's CPU build *before* the package (else pip takes the
default Linux wheel and its CUDA packages), then the package with the
notebooks' and the recogniser's extras, then the course's JupyterLab settings.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / ".jupyter" / "overrides.json"
SERVER = ROOT / ".jupyter" / "jupyter_server_config.json"


def _pip_installs(script: str) -> list[list[str]]:
    """The argument lists of every ``pip install`` line of a shell script, in order."""
    out = []
    for line in script.splitlines():
        line = line.split("#", 1)[0].strip()
        if re.search(r"\bpip install\b", line):
            words = shlex.split(line)
            out.append(words[words.index("install") + 1:])
    return out


def postbuild_problems(script: str, pinned_torch: str) -> list[str]:
    """What is wrong with a postBuild script, as sentences (empty when it is right)."""
    installs = _pip_installs(script)
    problems = []
    torch_at = [i for i, args in enumerate(installs) if any(a.strip("\"'") == f"torch=={pinned_torch}" for a in args)]
    package_at = [i for i, args in enumerate(installs) if "-e" in args]
    if not torch_at:
        problems.append(f"postBuild does not install torch=={pinned_torch}")
    elif not any(a.endswith("/cpu") for a in installs[torch_at[0]]):
        problems.append("postBuild installs torch from an index that is not a CPU-only one")
    if not package_at:
        problems.append("postBuild does not install the package (pip install -e)")
    else:
        extras = next(a for a in installs[package_at[0]] if a.startswith(".["))
        wanted = {"notebooks", "recognizer"}
        if not wanted <= set(extras[2:-1].split(",")):
            problems.append(f"postBuild installs {extras}, without the extras {sorted(wanted)}")
        if torch_at and torch_at[0] > package_at[0]:
            problems.append("postBuild installs the package before torch's CPU build")
    if "overrides.json" not in script or "share/jupyter/lab/settings" not in script:
        problems.append("postBuild does not install the JupyterLab settings (overrides.json)")
    return problems


def _pinned_torch() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'"torch==([0-9.]+)"', text).group(1)


def test_postbuild_installs_cpu_torch_first_then_the_package_and_the_settings():
    assert postbuild_problems((ROOT / "postBuild").read_text(encoding="utf-8"), _pinned_torch()) == []
    assert (ROOT / "postBuild").stat().st_mode & 0o111, "postBuild must be executable"


@pytest.mark.parametrize("script, problem", [
    ('pip install -e ".[notebooks,recognizer]"\npip install --index-url https://x/whl/cpu "torch==2.13.0"\n'
     "cp overrides.json share/jupyter/lab/settings", "before torch's CPU build"),
    ('pip install "torch==2.13.0"\npip install -e ".[notebooks,recognizer]"\ncp overrides.json share/jupyter/lab/settings',
     "not a CPU-only one"),
    ('pip install --index-url https://x/whl/cpu "torch==2.13.0"\npip install -e ".[notebooks]"\n'
     "cp overrides.json share/jupyter/lab/settings", "without the extras"),
    ('pip install --index-url https://x/whl/cpu "torch==2.13.0"\npip install -e ".[notebooks,recognizer]"\n',
     "JupyterLab settings"),
])
def test_postbuild_check_finds_each_mistake(script, problem):
    found = postbuild_problems(script, "2.13.0")
    assert len(found) == 1 and problem in found[0], found


def _schema(plugin: str) -> dict | None:
    """The installed JSON schema of a JupyterLab plugin's settings (None if JupyterLab is not installed)."""
    jupyter_core = pytest.importorskip("jupyter_core.paths")
    package, _, name = plugin.partition(":")
    for base in jupyter_core.jupyter_path():
        for where in (Path(base) / "lab" / "schemas" / package,
                      Path(base) / "labextensions" / package / "schemas" / package):
            if (where / f"{name}.json").is_file():
                return json.loads((where / f"{name}.json").read_text(encoding="utf-8"))
    return None


def test_jupyterlab_settings_save_widget_state_shut_kernels_down_and_fetch_no_news():
    settings = json.loads(SETTINGS.read_text(encoding="utf-8"))
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"]["saveState"] is True
    assert settings["@jupyterlab/notebook-extension:tracker"]["kernelShutdown"] is True
    assert settings["@jupyterlab/apputils-extension:notification"]["fetchNews"] == "false"
    for plugin, values in settings.items():  # every key is a real setting of the installed JupyterLab
        schema = _schema(plugin)
        assert schema is not None, f"no installed JupyterLab plugin {plugin}"
        for key, value in values.items():
            assert key in schema["properties"], f"{plugin} has no setting {key!r}"
            kind = schema["properties"][key].get("type")
            assert kind is None or {"boolean": bool, "string": str}[kind] is type(value), (plugin, key, value)


def test_server_culls_idle_kernels():
    config = json.loads(SERVER.read_text(encoding="utf-8"))["MappingKernelManager"]
    assert 0 < config["cull_idle_timeout"] <= 3600 and config["cull_interval"] > 0


def test_readme_launch_link_and_a_root_safe_first_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    link = re.search(r"https://mybinder\.org/v2/gh/OWNER/REPO/HEAD\?urlpath=lab/tree/(\S+)", readme)
    assert link, "README has no Launch on Binder URL pattern"
    assert (ROOT / link.group(1)).is_file()
    install = readme.split("<!-- ci:install -->", 1)[1].split("```", 2)[1]
    assert "jupyter lab --allow-root" in install
