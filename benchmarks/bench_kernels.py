"""Kernel memory: the peak resident memory (RSS) of each notebook's kernel, and its run time.

Binder gives a session 2 GB, and JupyterLab keeps a kernel for every notebook
opened from the index: issue 11 asks that every notebook's kernel peak at
**700 MB or less** in full mode.  This script executes each notebook
(``notebooks/00_*`` ... ``09_*``, every numbered notebook) in a fresh kernel with
nbclient, as nbmake and JupyterLab do, from the notebook's folder, and
measures the kernel process:

* its **peak** RSS: the kernel's ``VmHWM`` (high-water mark of its resident
  memory, kept by Linux in ``/proc/PID/status``), read after every cell, so a
  short-lived peak between two samples is not missed.  The mark is then reset
  (``5`` written to ``/proc/PID/clear_refs``), so each cell's own peak is
  known too; the notebook's peak is the largest of them.  Without ``/proc``
  the maximum of the sampled RSS (psutil) stands in for it;
* the RSS sampled every 0.1 s (psutil when installed, else ``VmRSS``), whose
  maximum is printed beside the peak; child processes are added when there
  are any (the notebooks start none);
* the cells with the highest peaks (``--cells N`` lists N of them): the RSS
  when the cell started, its peak and the RSS it left, which is where memory
  is worth saving (what a cell leaves, every later cell starts from);
* the wall-clock time of the whole run.

MB here are 2**20 bytes, as ``top`` and ``ps`` count them; PASS means a peak
of at most 700 MB.  By default the notebooks run in full mode
(``IMGPRIVACY_FAST=0``, what a student runs); ``--fast`` runs them as CI
does.  Face data come from ``SCIKIT_LEARN_DATA`` / ``IMGPRIVACY_ORL`` or
``../shared/data`` beside the repository, as in ``conftest.py``.

Run: ``python benchmarks/bench_kernels.py [--fast] [--only 04,05] [--cells 3] [--timeout 1800] [--executed DIR]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

GOAL_MB = 700.0
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
MB = 2.0**20

try:  # optional: finer sampling and child processes on any OS
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None


def _status_kb(pid: int, field: str) -> float | None:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``) in bytes, or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        return None
    return None


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (``/proc/PID/task/*/children``)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def _rss(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, in bytes (0 once it is gone)."""
    if psutil is not None:
        try:
            proc = psutil.Process(pid)
            return float(proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True)))
        except psutil.Error:
            return 0.0
    return float(sum(_status_kb(p, "VmRSS") or 0.0 for p in [pid, *_children(pid)]))


class _Sampler:
    """Samples the kernel's RSS in a thread; records each cell's start, peak and end."""

    def __init__(self, interval: float = 0.1):
        self.interval, self.pid, self.max_rss = interval, None, 0.0
        self.cells: list[tuple[int, float, float, float]] = []  # (cell index, start RSS, peak, end RSS)
        self._start = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, pid: int) -> None:
        self.pid = pid
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.max_rss = max(self.max_rss, _rss(self.pid))
            self._stop.wait(self.interval)

    def cell_start(self) -> None:
        self._start = _rss(self.pid)

    def cell_done(self, index: int) -> None:
        end = _rss(self.pid)
        hwm = _status_kb(self.pid, "VmHWM")
        self.max_rss = max(self.max_rss, end)
        self.cells.append((index, self._start, max(hwm if hwm is not None else self.max_rss, end), end))
        try:  # reset the high-water mark: the next cell's own peak (Linux >= 4.0)
            with open(f"/proc/{self.pid}/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def peak(self) -> float:
        return max([self.max_rss] + [c[2] for c in self.cells])


def _kernel_pid(client: NotebookClient) -> int:
    provisioner = client.km.provisioner
    process = getattr(provisioner, "process", None)
    pid = getattr(process, "pid", None) or getattr(provisioner, "pid", None)
    if pid is None:
        raise RuntimeError("cannot find the kernel's process id (jupyter_client's local provisioner expected)")
    return int(pid)


def run_notebook(path: Path, *, timeout: float, executed: Path | None = None) -> dict:
    """Execute one notebook in a fresh kernel; its peak RSS, sampled maximum, time, cells by peak and error."""
    nb = nbformat.read(path, as_version=4)
    sampler = _Sampler()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.on_notebook_start = lambda notebook: sampler.start(_kernel_pid(client))
    client.on_cell_start = lambda cell, cell_index: sampler.cell_start()
    client.on_cell_executed = lambda cell, cell_index, execute_reply: sampler.cell_done(cell_index)
    error = None
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        error = str(err).strip().splitlines()[-1][:200]
    except Exception as err:  # a timeout, a dead kernel
        error = f"{type(err).__name__}: {err}"[:200]
    finally:
        sampler.stop()
    seconds = time.perf_counter() - start
    if executed is not None:  # the notebook with its outputs, to read what a student sees
        nbformat.write(nb, executed / path.name)
    return {"peak": sampler.peak, "sampled": sampler.max_rss, "seconds": seconds, "error": error,
            "cells": sorted(sampler.cells, key=lambda c: -c[2])}


def _pick(only: str | None, folder: Path = NOTEBOOKS) -> list[Path]:
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if only is None:
        return found
    wanted = [w.strip().zfill(2) for w in only.split(",") if w.strip()]
    picked = [p for w in dict.fromkeys(wanted) for p in found if p.name[:2] == w]  # in the order given
    missing = set(wanted) - {p.name[:2] for p in picked}
    if missing:
        raise SystemExit(f"--only names notebooks that do not exist: {', '.join(sorted(missing))}; "
                         f"there are {', '.join(p.name[:2] for p in found)}")
    return picked


def _environment(fast: bool) -> None:
    shared = ROOT.parent / "shared" / "data"
    if (shared / "scikit_learn_data").is_dir():
        os.environ.setdefault("SCIKIT_LEARN_DATA", str(shared / "scikit_learn_data"))
    if (shared / "orl_faces").is_dir():
        os.environ.setdefault("IMGPRIVACY_ORL", str(shared / "orl_faces"))
    os.environ["IMGPRIVACY_FAST"] = "1" if fast else "0"
    # the kernel draws figures with the inline backend, as in JupyterLab (rendering PNGs costs memory too)
    os.environ.pop("MPLBACKEND", None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="run the notebooks with IMGPRIVACY_FAST=1 (as CI)")
    parser.add_argument("--only", metavar="NN,NN", help="notebook numbers to run, e.g. 04,05 (default: all)")
    parser.add_argument("--cells", type=int, default=3, metavar="N", help="list the N cells with the highest peaks")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per cell (default 1800)")
    parser.add_argument("--executed", type=Path, metavar="DIR", help="write the executed notebooks there")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, metavar="DIR",
                        help="run the notebooks of this folder (default: the repository's notebooks/)")
    args = parser.parse_args(argv)
    if args.executed is not None:
        args.executed.mkdir(parents=True, exist_ok=True)
    _environment(args.fast)
    paths = _pick(args.only, args.notebooks)
    mode = "fast (IMGPRIVACY_FAST=1)" if args.fast else "full (IMGPRIVACY_FAST=0)"
    source = "psutil" if psutil is not None else "/proc VmRSS"
    print(f"kernel peak RSS per notebook, {mode}; goal <= {GOAL_MB:.0f} MB (MB = 2**20 bytes); "
          f"peak = VmHWM, sampled = {source} every 0.1 s", flush=True)
    failed = 0
    for path in paths:
        r = run_notebook(path, timeout=args.timeout, executed=args.executed)
        verdict = "PASS" if r["peak"] <= GOAL_MB * MB and r["error"] is None else "FAIL"
        failed += verdict == "FAIL"
        print(f"{path.name[:40]:<40} peak {r['peak'] / MB:7.0f} MB  sampled {r['sampled'] / MB:7.0f} MB  "
              f"{r['seconds']:7.0f} s  {verdict}", flush=True)
        for index, begin, top, end in r["cells"][:args.cells]:
            print(f"    cell {index:>2}: {begin / MB:5.0f} MB at its start, peak {top / MB:5.0f} MB "
                  f"(+{(top - begin) / MB:4.0f}), left {end / MB:5.0f} MB", flush=True)
        if r["error"]:
            print(f"    error: {r['error']}", flush=True)
    print(f"{len(paths) - failed} of {len(paths)} notebooks within {GOAL_MB:.0f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
