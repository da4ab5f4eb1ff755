"""The lab as a student meets it: JupyterLab in a real headless Chromium.

JupyterLab is started on a free port with a token, on a copy of the notebooks
(the repository's files are never modified), with the course's settings from
``.jupyter/overrides.json``.  Playwright drives Debian's Chromium
(``/usr/bin/chromium``, never a browser Playwright downloads): it opens a
notebook, waits for its kernel, runs all cells, checks the saved notebook for
error outputs, moves a slider of every explorer and checks that the
explorer's figure changed, then saves, reopens and checks that every widget
is still displayed (no "model not found").

Under ``CI=true`` a missing Chromium or Playwright fails the test (``.ci/run``
installs Chromium from the Debian packages); elsewhere it skips with a message.
"""

from __future__ import annotations

import json
import os
import platform
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("IMGPRIVACY_CHROMIUM", "/usr/bin/chromium")
NOTEBOOKS = ["01_break_naive_overlays.ipynb", "02_protect_with_krtio.ipynb"]
RUN_TIMEOUT_S = 420


def _require(ok: bool, why: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI must run the browser test: .ci/run installs Chromium from the Debian packages)")
    pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_settings(overrides: Path, into: Path) -> None:
    """The course's overrides.json written as JupyterLab user settings (one file per plugin)."""
    for plugin, values in json.loads(overrides.read_text(encoding="utf-8")).items():
        package, _, name = plugin.partition(":")
        path = into / package / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values), encoding="utf-8")


def _match_kernel_python(folder: Path) -> None:
    """Give the copies the language_info.version of the Python that will run their kernel.

    JupyterLab rewrites language_info from the kernel when a notebook opens and marks it modified if the
    version differs; the notebooks store CI's Python (notebooks/build_index.py).  The server runs kernels
    with its own interpreter (jupyter_client replaces a kernelspec's "python" by it), this one; under CI
    the two agree and the copies are the committed files.
    """
    version = platform.python_version()
    for path in folder.glob("*.ipynb"):
        nb = json.loads(path.read_text(encoding="utf-8"))
        info = nb.get("metadata", {}).get("language_info", {})
        if info.get("version") not in (None, version):
            print(f"{path.name}: language_info.version {info['version']} -> {version} (the kernel's Python)")
            info["version"] = version
            path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require(Path(CHROMIUM).is_file(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _require(False, "Playwright is not installed (pip install -e '.[test]')")
    _require(shutil.which("jupyter") is not None, "JupyterLab is not installed (pip install -e '.[notebooks]')")
    base = tmp_path_factory.mktemp("lab")
    work = base / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    _match_kernel_python(work)
    _user_settings(ROOT / ".jupyter" / "overrides.json", base / "user-settings")
    tracker = base / "user-settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    # render every cell, so that the explorers below the fold are in the page (the course keeps the default)
    tracker.write_text(json.dumps({**json.loads(tracker.read_text(encoding="utf-8")), "windowingMode": "none"}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(base / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"), "IMGPRIVACY_FAST": os.environ.get("IMGPRIVACY_FAST", "1")}
    log = open(base / "lab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (base / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    try:
        yield {"url": url, "token": token, "dir": work}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-quic"])
        yield b
        b.close()


def _wait_idle(page, timeout_s: float) -> None:
    """Wait until the notebook's kernel is idle (the toolbar's execution indicator)."""
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle';
        }""", timeout=timeout_s * 1000)


def _command(page, name: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('{name}')")


def _open(page, lab, name: str) -> None:
    """Open one notebook alone, in a workspace of its own, and wait for its kernel."""
    workspace = name.split("_")[0]
    page.goto(f"{lab['url']}/lab/workspaces/nb{workspace}/tree/{name}?reset&token={lab['token']}")
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    _wait_idle(page, 120)
    # JupyterLab writes the kernel's kernelspec and language_info into the notebook once the kernel has
    # answered; a notebook saved with other metadata is then marked modified before the student did anything
    opened = page.evaluate(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            await panel.sessionContext.session.kernel.info;
            await new Promise(done => setTimeout(done, 1500));
            const model = panel.context.model;
            return {dirty: model.dirty, kernelspec: model.getMetadata('kernelspec'),
                    language_info: model.getMetadata('language_info')};
        }""")
    assert opened["dirty"] is False, (
        f"{name} is marked modified as soon as it opens: JupyterLab writes {opened} "
        "(run python notebooks/build_index.py)")
    page.click(".jp-Notebook .jp-Cell >> nth=0")


def _run_all(page, timeout_s: float) -> None:
    """Run all cells; return when every code cell has run or one has failed, and the kernel is idle."""
    started = """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells
        .some(c => c.cell_type === 'code' && c.execution_count !== null && c.execution_count !== undefined)"""
    for _ in range(3):  # a command sent while the kernel settles can be swallowed: send it again
        _command(page, "notebook:run-all-cells")
        try:
            page.wait_for_function(started, timeout=20_000, polling=500)
            break
        except Exception:
            continue
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
            const cells = panel.content.model.sharedModel.cells.filter(c => c.cell_type === 'code');
            const failed = cells.some(c => (c.outputs || []).some(o => o.output_type === 'error'));
            const done = cells.every(c => c.execution_count !== null && c.execution_count !== undefined);
            return kernel && kernel.status === 'idle' && (failed || done);
        }""", timeout=timeout_s * 1000, polling=1000)


def _explorer_images(page) -> list[str]:
    """The src of the image shown by each explorer (an ipywidgets Output holding a PNG)."""
    return page.eval_on_selector_all(
        ".widget-vbox .widget-output img", "els => els.map(e => e.getAttribute('src') || '')")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_in_the_browser_and_its_explorers_answer(lab, browser, name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    shot = lab["dir"].parent / f"{name}.png"
    try:
        _open(page, lab, name)
        _run_all(page, RUN_TIMEOUT_S)
        _command(page, "docmanager:save")
        page.wait_for_timeout(1500)
        saved = json.loads((lab["dir"] / name).read_text(encoding="utf-8"))
        errors = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"

        sliders = page.locator(".widget-vbox .widget-slider .noUi-handle")
        assert sliders.count() > 0, f"{name} shows no explorer slider"
        before = _explorer_images(page)
        assert before, f"{name}: no explorer figure is displayed"
        handle = sliders.first
        handle.scroll_into_view_if_needed()
        handle.focus()
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "before => { const now = [...document.querySelectorAll('.widget-vbox .widget-output img')]"
            ".map(e => e.getAttribute('src') || ''); return now.join() !== before.join(); }",
            arg=before, timeout=30_000)

        _command(page, "docmanager:save")
        page.wait_for_timeout(1500)
        page.goto(f"{lab['url']}/lab/workspaces/re{name.split('_')[0]}/tree/{name}?reset&token={lab['token']}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        page.wait_for_timeout(5000)
        text = page.inner_text(".jp-Notebook")
        assert "model not found" not in text, f"{name}: a widget is not displayed after reopening"
        state = json.loads((lab["dir"] / name).read_text(encoding="utf-8"))["metadata"].get("widgets", {})
        assert state, f"{name}: no widget state was saved with the notebook"
    except Exception:
        page.screenshot(path=str(shot), full_page=False)
        print(f"screenshot: {shot}")
        raise
    finally:
        page.close()
