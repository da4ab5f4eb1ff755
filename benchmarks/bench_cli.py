"""The command line end to end: ``imgprivacy protect`` and ``recover`` on folders of JPEG photos (issue 13).

Everything is measured side by side in this one run, on the same folders:

* ``imgprivacy protect`` / ``recover`` at the default settings, each a fresh
  process (wall time per photo, start-up included; the process's own peak
  RSS, its VmHWM), on 20 photos of 1024x768, 12 of 12 MP and 1 of 12 MP;
  with bytecode caches written and read as an installed package has them
  (``PYTHONDONTWRITEBYTECODE`` is dropped for the measured processes);
* the code before the change (``--before DIR``: a checkout of the old code,
  e.g. ``/work/main``), the same commands with ``PYTHONPATH=DIR``;
* a naive pipeline in this process: Pillow decode, the numpy blend
  ``alpha * x + (1 - alpha) / k * (o1 + o2 + o3)`` with ready-made overlays,
  Pillow's PNG encoder at its default level;
* the paper authors' k-RTIO script (``KRTIO_UEP.py --mode Enc``, their
  defaults), when a checkout is found outside the project: ``--authors DIR``
  or ``IMGPRIVACY_AUTHORS_KRTIO``.  It is run as it is, in a scratch folder,
  with two stand-ins for what today's libraries removed (``numpy.float``;
  ``sewar``, imported but unused by k-RTIO); it needs pycryptodome.
  Nothing of it is copied here;
* the lossless floor: a process that only decodes each JPEG with Pillow and
  writes it as PNG with imgprivacy's encoder (loaded on its own: numpy, zlib,
  ISA-L), on two threads, perturbing nothing -- what any tool with lossless
  output costs here with the fastest codecs measured, and so the most a
  recoverable ``protect`` could gain on the authors' script;
* the PNG encoders (size and time on protected photos), for the choice of
  :mod:`imgprivacy.data`'s encoder: OpenCV's libpng (the encoder before),
  Pillow, and the chosen Sub filter with ISA-L's deflate or zlib's;
* the thread policy: ``IMGPRIVACY_THREADS=1`` against the default (2), on
  the machine as it is and with a busy process on one core.

Photos are synthetic but photo-like: ``data/examples/coffee.jpg`` cropped,
flipped, upscaled and given sensor-like noise, saved as JPEG (quality 92).
The one-photo and 1024x768 folders are run three times, each round with its own key (the same for
before and after; protect and recover alternated), and the mean time kept; the authors' script twice
(the best kept).
Every goal of issue 13 is printed with its figure, the ratio and PASS/FAIL;
absolute times depend on the machine and its load, the ratios much less.

Run: ``python benchmarks/bench_cli.py [--before /work/main] [--authors DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 3  # rounds of the 1024x768 and one-photo folders, one key each
SETS = {"1024x768 x20": ((1024, 768), 20), "12 MP x12": ((4000, 3000), 12), "12 MP x1": ((4000, 3000), 1)}
STAND_INS = """
import runpy, sys, types
import numpy
numpy.float = float  # removed from numpy in 1.24; the script uses it as the builtin float
full_ref = types.ModuleType("sewar.full_ref")
full_ref.uqi = full_ref.ssim = full_ref.msssim = full_ref.mse = None  # imported, used only by its UEP comparison
sys.modules["sewar"] = types.ModuleType("sewar"); sys.modules["sewar.full_ref"] = full_ref
sys.argv = [sys.argv[1], *sys.argv[2:]]
sys.path.insert(0, __import__("os").path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# --------------------------------------------------------------------------- photos
def make_photos(folder: Path, size: tuple[int, int], count: int, seed: int) -> list[Path]:
    """``count`` photo-like JPEGs of ``size`` (W, H): crops of the bundled coffee photo, upscaled, with noise."""
    folder.mkdir(parents=True)
    src = Image.open(ROOT / "data" / "examples" / "coffee.jpg").convert("RGB")
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        w, h = src.size
        left, top = int(rng.integers(0, w // 6)), int(rng.integers(0, h // 6))
        crop = src.crop((left, top, left + w * 5 // 6, top + h * 5 // 6))
        if i % 2:
            crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        big = np.asarray(crop.resize(size, Image.Resampling.BICUBIC), dtype=np.float32)
        big += rng.normal(0.0, 3.0, big.shape).astype(np.float32)  # sensor-like noise, in grey levels
        path = folder / f"IMG_{i:04d}.jpg"
        Image.fromarray(np.clip(np.rint(big), 0, 255).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- running
#: run first in a measured Python process: its own peak RSS (VmHWM of its address space) is written at exit to
#: the file named by IMGPRIVACY_BENCH_HWM.  ``os.wait4``'s ru_maxrss cannot be used: Linux carries the
#: spawning process's high-water mark into the child's across exec, so every child of this (large) process
#: would report at least this process's own peak
HWM = """
import atexit, os
def _hwm(path=os.environ.pop("IMGPRIVACY_BENCH_HWM")):
    with open("/proc/self/status") as f, open(path, "w") as out:
        out.write(next(line.split()[1] for line in f if line.startswith("VmHWM")))
atexit.register(_hwm)
"""


def run(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Run a Python command ``[python, -c, code, args...]``; (wall seconds, peak RSS in MiB of that process).

    The peak is the process's own (``/proc/self/status`` VmHWM at exit, see :data:`HWM`); where there is no
    ``/proc``, ``os.wait4``'s ru_maxrss stands in (an upper bound)."""
    with tempfile.TemporaryDirectory() as scratch:
        mark = Path(scratch) / "hwm"
        if cmd[1] == "-c" and Path("/proc/self/status").exists():
            cmd = [cmd[0], "-c", HWM + cmd[2], *cmd[3:]]
            env = {**(env if env is not None else os.environ), "IMGPRIVACY_BENCH_HWM": str(mark)}
        with open(Path(scratch) / "log", "w+b") as log:
            start = time.perf_counter()
            proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode != 0:
                log.seek(0)
                raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{log.read().decode()[-2000:]}")
        peak = int(mark.read_text()) / 1024 if mark.exists() else usage.ru_maxrss / 1024
    return wall, peak


#: the lossless floor (run with: imgprivacy/data/_png.py, the JPEG folder, a new output folder): decode, encode, write
FLOOR = """
import importlib.util, os, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from PIL import Image
spec = importlib.util.spec_from_file_location("png_alone", sys.argv[1])
png = importlib.util.module_from_spec(spec)
spec.loader.exec_module(png)
src, out = sys.argv[2], sys.argv[3]
os.mkdir(out)
def one(name):
    x = np.asarray(Image.open(os.path.join(src, name)).convert("RGB"))
    with open(os.path.join(out, name.rsplit(".", 1)[0] + ".png"), "wb") as f:
        f.writelines(png.encode_parts(x, []))
with ThreadPoolExecutor(2) as pool:
    list(pool.map(one, sorted(os.listdir(src))))
"""


def floor(photos: Path, out: Path) -> float:
    """Wall seconds of the lossless floor on a folder (a fresh process, start-up included); its first PNG is
    checked to hold the JPEG's decoded pixels."""
    wall, _ = run([sys.executable, "-c", FLOOR, str(ROOT / "imgprivacy" / "data" / "_png.py"), str(photos), str(out)],
                  env=child_env())
    first = sorted(photos.iterdir())[0]
    if not np.array_equal(np.asarray(Image.open(out / (first.stem + ".png"))), np.asarray(Image.open(first).convert("RGB"))):
        raise RuntimeError("the lossless floor wrote other pixels than the JPEG's")
    return wall


#: ``python -m imgprivacy.cli`` as ``python -c``, so that :data:`HWM` can run first
CLI = "import runpy, sys; sys.argv[0] = 'imgprivacy'; runpy.run_module('imgprivacy.cli', run_name='__main__')"


def child_env(**extra) -> dict:
    """The environment of a measured process: this one's, but writing and reading bytecode caches as an
    installed package does (``PYTHONDONTWRITEBYTECODE``, which some sandboxes set, makes every process
    compile the package's modules again: 0.1 s of each run here)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def cli(code: Path, *args, env_extra: dict | None = None) -> tuple[float, float]:
    env = child_env(PYTHONPATH=str(code), **(env_extra or {}))
    return run([sys.executable, "-c", CLI, *map(str, args)], env=env)


def naive(photos: list[Path], out: Path, *, alpha: float = 0.45, k: int = 3) -> float:
    """Seconds per photo of Pillow decode + the numpy blend with ready-made overlays + Pillow PNG (default level)."""
    out.mkdir()
    rng = np.random.default_rng(1)
    times = []
    for path in photos:
        with Image.open(path) as pil:
            shape = (pil.size[1], pil.size[0], 3)
        overlays = [rng.random(shape, dtype=np.float32) for _ in range(k)]  # ready-made: not timed
        start = time.perf_counter()
        x = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / np.float32(255)
        mixed = alpha * x + (1 - alpha) / k * (overlays[0] + overlays[1] + overlays[2])
        Image.fromarray(np.rint(mixed * 255).astype(np.uint8)).save(out / (path.stem + ".png"))
        times.append(time.perf_counter() - start)
        del overlays, x, mixed
    return statistics.fmean(times)


def authors(script_dir: Path, photos: Path, scratch: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of the authors' k-RTIO script on a folder, run in a scratch folder."""
    scratch.mkdir()
    shim = scratch / "stand_ins.py"
    shim.write_text(STAND_INS)
    cmd = [sys.executable, "-c", f"exec(open({str(shim)!r}).read())", str(script_dir / "KRTIO_UEP.py"), "--input",
           str(photos), "--mode", "Enc", "--overlays_folder", str(script_dir / "overlays")]
    return run(cmd, env=child_env(), cwd=scratch)


# --------------------------------------------------------------------------- PNG encoders
def png_candidates(image: np.ndarray) -> list[tuple[str, float, float]]:
    """(encoder, seconds, MB) for one uint8/uint16 RGB image."""
    import zlib

    import cv2

    from imgprivacy.data import _png

    def pillow(level):
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=level)
        return buf.getvalue()

    def opencv(level, *extra):
        return cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, level, *extra])[1]

    def sub_zlib():  # the chosen framing and filters with the standard library's deflate (where ISA-L has no build)
        saved = _png._deflate, _png.DEFLATE_STRATEGY
        _png._deflate, _png.DEFLATE_STRATEGY = zlib, zlib.Z_RLE
        try:
            return b"".join(_png.encode_parts(image, []))
        finally:
            _png._deflate, _png.DEFLATE_STRATEGY = saved

    fast_filters = [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
    if hasattr(cv2, "IMWRITE_PNG_FILTER"):
        fast_filters += [cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FAST_FILTERS]
    rows = []
    cands = {"OpenCV level 1, default strategy": lambda: opencv(1), "OpenCV level 3, default strategy": lambda: opencv(3),
             "OpenCV, run-length, fast filters (before)": lambda: opencv(1, *fast_filters),
             "Sub/Up by row + zlib level 1 run-length": sub_zlib,
             f"chosen: Sub/Up by row + {_png.DEFLATE} level {_png.DEFLATE_LEVEL}": lambda: b"".join(_png.encode_parts(image, []))}
    if image.dtype == np.uint8:
        cands = {"Pillow level 6 (its default)": lambda: pillow(6), "Pillow level 1": lambda: pillow(1), **cands}
    for name, fn in cands.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            size = len(fn())
            times.append(time.perf_counter() - start)
        rows.append((name, min(times), size / 1e6))
    return rows


# --------------------------------------------------------------------------- report
class Report:
    def __init__(self):
        self.goals = []

    def goal(self, name: str, figure: str, ratio: float | None, ok: bool | None):
        self.goals.append((name, figure, ratio, ok))
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        r = "" if ratio is None else f"{ratio:6.2f}"
        print(f"  {verdict:4s}  {name:62s} {figure:40s} {r}", flush=True)


@contextlib.contextmanager
def busy_core():
    """A process that keeps one core busy (the 'under load' case)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a checkout of the code before the change (e.g. /work/main)")
    parser.add_argument("--authors", type=Path, default=os.environ.get("IMGPRIVACY_AUTHORS_KRTIO"),
                        help="a checkout of the authors' repository, outside this project")
    parser.add_argument("--quick", action="store_true", help="the 1024x768 folder and one 12-MP photo only")
    parser.add_argument("--authors-12mp", action="store_true", help="also run the authors' script on 12-MP photos (slow)")
    args = parser.parse_args(argv)
    if args.authors is not None and ROOT in args.authors.resolve().parents:
        parser.error("--authors must lie outside this project")
    sets = {k: v for k, v in SETS.items() if not (args.quick and k == "12 MP x12")}
    uptime = os.getloadavg()
    kernel = subprocess.run([sys.executable, "-c", "import imgprivacy._resample as r; print(r.backend())"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.strip()
    print(f"bench_cli: {os.cpu_count()} cores, load average {uptime[0]:.2f} at the start; code {ROOT} (fitting kernel: "
          f"{kernel})" + (f", before {args.before}" if args.before else ""), flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    rep = Report()
    results: dict = {}
    try:
        codes = {"after": ROOT, **({"before": args.before} if args.before else {})}
        # the same keys for both codes: format 2 derives the overlay set from the key, whose crops change
        # the fitting work (before/after differed from -12% to +30% between single keys at 1024x768), so each
        # round has its own key, and each code its own copy of it (each keeps its manifest beside its key)
        for round_ in range(ROUNDS):
            cli(ROOT, "keygen", work / f"after{round_}.key")
            if "before" in codes:
                shutil.copy(work / f"after{round_}.key", work / f"before{round_}.key")
        # import and --help
        imp = min(float(subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import imgprivacy; "
                                        "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True,
                                       env=child_env(PYTHONPATH=str(ROOT))).stdout) for _ in range(5))
        helps = min(cli(ROOT, "--help")[0] for _ in range(5))
        bare = min(run([sys.executable, "-c", "pass"])[0] for _ in range(5))
        results["import"], results["help"], results["bare"] = imp, helps, bare
        starts = []  # start-up of protect: the key, the pool, the derived set and one 64x64 photo
        for i in range(3):
            probe = make_photos(work / f"startup_{i}", (64, 64), 1, seed=i)[0]
            starts.append(cli(ROOT, "protect", "--no-manifest", "--block", "4", "--key", work / "after0.key", probe.parent,
                              "-o", work / f"startup_out_{i}")[0])
        results["startup"] = min(starts)
        for name, (size, count) in sets.items():
            folder = work / name.replace(" ", "_")
            photos = make_photos(folder, size, count, seed=count)
            row = results.setdefault(name, {})
            row["naive"] = naive(photos, work / f"naive_{folder.name}")
            # a 2-s sample varies by +-30% on a shared machine: 3 rounds, one key each, for the one-photo and
            # the 1024x768 folders (before and after, protect and recover alternated); the mean time of the
            # rounds is kept, and the largest peak
            rounds = 1 if name == "12 MP x12" else ROUNDS
            for round_ in range(rounds):
                if name == "1024x768 x20":  # the lossless floor, in the same rounds
                    row["floor"] = row.get("floor", 0.0) + floor(folder, work / f"floor_{round_}") / count / rounds
                    shutil.rmtree(work / f"floor_{round_}")
                for label, code in codes.items():
                    out, rec = work / f"out_{label}_{folder.name}", work / f"rec_{label}_{folder.name}"
                    for key, cmd in (("protect", ("protect", folder, "-o", out)), ("recover", ("recover", out, "-o", rec))):
                        wall, rss = cli(code, cmd[0], "--key", work / f"{label}{round_}.key", *cmd[1:])
                        was = row.get(f"{label} {key}", (0.0, 0.0))
                        row[f"{label} {key}"] = (was[0] + wall / count / rounds, max(was[1], rss))
                    if round_ + 1 < rounds:
                        shutil.rmtree(out), shutil.rmtree(rec)
            for label in codes:
                out, rec = work / f"out_{label}_{folder.name}", work / f"rec_{label}_{folder.name}"
                if label == "after":  # the round trip: within one grey level of the decoded JPEG
                    original = np.asarray(Image.open(photos[0]).convert("RGB"), dtype=np.int16)
                    back = np.asarray(Image.open(rec / (photos[0].stem + ".png")).convert("RGB"), dtype=np.int16)
                    row["max error"] = int(np.abs(original - back).max())
                    if name == "1024x768 x20":
                        row["png MB"] = statistics.fmean(p.stat().st_size for p in out.iterdir()) / 1e6
                shutil.rmtree(out), shutil.rmtree(rec)
            if args.authors and (size[0] < 2000 or args.authors_12mp):  # best of 2, as ours is best of 3
                for attempt in range(2):
                    wall, rss = authors(args.authors, folder, work / f"authors_{folder.name}_{attempt}")
                    was = row.get("authors protect", (float("inf"), 0.0))
                    row["authors protect"] = (min(was[0], wall / count), max(was[1], rss))
                    shutil.rmtree(work / f"authors_{folder.name}_{attempt}")
            shutil.rmtree(work / f"naive_{folder.name}")
            print(f"  measured {name}: " + ", ".join(f"{k} {v[0]:.3f} s/photo {v[1]:.0f} MiB" if isinstance(v, tuple)
                                                    else f"{k} {v:.3f}" for k, v in row.items()), flush=True)
        # thread policy, on the 1024x768 folder (and one 12-MP photo): 1 and 2 threads alternated, best of 2
        threads = {}
        for name in ("1024x768 x20", "12 MP x1"):
            folder = work / name.replace(" ", "_")
            for load in ("as is", "one core busy"):
                with busy_core() if load != "as is" else contextlib.nullcontext():
                    for _ in range(2):
                        for n in ("1", "2"):
                            out = work / f"threads_{n}"
                            wall, _ = cli(ROOT, "protect", "--no-manifest", "--key", work / "after0.key", folder, "-o",
                                          out, env_extra={"IMGPRIVACY_THREADS": n} if n == "1" else {})
                            per = wall / SETS[name][1]
                            threads[(name, load, n)] = min(per, threads.get((name, load, n), per))
                            shutil.rmtree(out)
        # PNG encoders on a protected photo
        prot = work / "png_probe"
        cli(ROOT, "protect", "--no-manifest", "--key", work / "after0.key", work / "12_MP_x1", "-o", prot)
        cli(ROOT, "protect", "--no-manifest", "--depth", "16", "--key", work / "after0.key", work / "12_MP_x1", "-o",
            work / "png_probe16")
        import imgprivacy as ip

        cli(ROOT, "protect", "--no-manifest", "--key", work / "after0.key", work / "1024x768_x20", "-o", work / "png_small")
        small = ip.data.read_image(next((work / "png_small").iterdir())).image
        probes = {
            "12 MP protected, 8-bit": ip.data.to_uint(ip.data.read_image(next(prot.iterdir())).image, depth=8),
            "12 MP protected, 16-bit": ip.data.to_uint(ip.data.read_image(next((work / "png_probe16").iterdir())).image, depth=16),
            "1024x768 protected, 8-bit": ip.data.to_uint(small, depth=8),
        }
        png_rows = {name: png_candidates(image) for name, image in probes.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # ------------------------------------------------------------------- the table
    print(f"\nstart-up: import {results['import'] * 1000:.1f} ms, --help {results['help']:.3f} s, protect of one 64x64 "
          f"photo {results['startup']:.3f} s (bare python {results['bare']:.3f} s)")
    print("\nper photo (wall, start-up included) and peak RSS of the process")
    print(f"  {'':16s} {'':18s} {'s/photo':>8s} {'peak MiB':>9s}")
    for name in sets:
        row = results[name]
        print(f"  {name:16s} {'naive pipeline':18s} {row['naive']:8.3f} {'':>9s}")
        if "floor" in row:
            print(f"  {name:16s} {'lossless floor':18s} {row['floor']:8.3f} {'':>9s}")
        for key in ("authors protect", "before protect", "before recover", "after protect", "after recover"):
            if key in row:
                print(f"  {name:16s} {key:18s} {row[key][0]:8.3f} {row[key][1]:9.0f}")
    print("\nthread policy (protect, s/photo, best of 2 alternated runs): IMGPRIVACY_THREADS=1 vs the default 2")
    for (name, load, n), t in threads.items():
        if n == "1":
            two = threads[(name, load, "2")]
            print(f"  {name:14s} {load:14s} 1 thread {t:.3f}  2 threads {two:.3f}  (2/1 = {two / t:.2f})")
    print("\nPNG encoders (best of 3; the chosen settings are imgprivacy's)")
    for name, rows in png_rows.items():
        for enc, seconds, mb in rows:
            print(f"  {name:24s} {enc:42s} {seconds:7.3f} s {mb:7.2f} MB")

    print("\ngoals of issue 13 (figure, ratio)")
    small_row = results["1024x768 x20"]
    ours = small_row["after protect"][0]
    if "authors protect" in small_row:
        theirs = small_row["authors protect"][0]
        rep.goal("protect 1024x768 >= 10x faster than the authors' script", f"{ours:.3f} vs {theirs:.3f} s/photo",
                 theirs / ours, theirs / ours >= 10)
        # what 10x would need, beside the floor of lossless output: the authors write lossy JPEG (about 2 ms per
        # photo), a recoverable photo needs lossless PNG, whose fastest encoder measured here is the chosen one
        enc = next(s for n, s, _ in png_rows["1024x768 protected, 8-bit"] if n.startswith("chosen"))
        low = small_row["floor"]
        print(f"        10x needs <= {theirs / 10:.3f} s/photo end to end; the chosen lossless PNG encoder alone takes "
              f"{enc:.3f} s per photo on one core ({enc / 2:.3f} s with both cores encoding), start-up "
              f"{results['startup'] / 20:.3f} s/photo over 20 photos", flush=True)
        print(f"        the lossless floor (decode, encode, write on two cores, nothing perturbed) takes {low:.3f} s/photo: "
              f"{theirs / low:.1f}x the authors' speed is the most lossless output allows here "
              f"({'10x is out of reach' if theirs / low < 10 else 'room for 10x'}); protect is {ours / low:.2f}x the floor",
              flush=True)
    else:
        rep.goal("protect 1024x768 >= 10x faster than the authors' script", "authors' script not found", None, None)
    for name in ("1024x768 x20", "12 MP x1"):
        row = results[name]
        t = row["after protect"][0]
        rep.goal(f"protect {name.rsplit(' ', 1)[0]} no slower than the naive pipeline", f"{t:.3f} vs {row['naive']:.3f} s/photo",
                 t / row["naive"], t <= row["naive"])
    for name in sets:
        row = results[name]
        p, r = row["after protect"][0], row["after recover"][0]
        rep.goal(f"recover <= 1.1x protect ({name})", f"{r:.3f} vs {p:.3f} s/photo", r / p, r <= 1.1 * p)
    for name, limit in (("12 MP x12", 1.5), ("12 MP x1", 1.0)):
        if name in results:
            row = results[name]
            peak = max(row["after protect"][1], row["after recover"][1]) * 2**20 / 1e9
            rep.goal(f"peak RSS of protect and recover, {name} <= {limit} GB", f"{peak:.2f} GB", peak / limit, peak <= limit)
    rep.goal("import imgprivacy <= 0.3 s (in the process)", f"{results['import'] * 1000:.1f} ms", results["import"] / 0.3,
             results["import"] <= 0.3)
    rep.goal("imgprivacy --help <= 0.35 s (wall)", f"{results['help']:.3f} s (bare python {results['bare']:.3f} s)",
             results["help"] / 0.35, results["help"] <= 0.35)
    rep.goal("round trip within one grey level of the JPEG", f"max error {small_row['max error']} level(s)", None,
             small_row["max error"] <= 1)
    rep.goal("krtio.perturb, one cold 1024^2 photo <= 3x the numpy floor", "measured by benchmarks/bench_krtio.py", None, None)
    failed = [g for g in rep.goals if g[3] is False]
    print(f"\n{len(rep.goals) - len(failed)} of {len(rep.goals)} goals met or not measured here; {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
