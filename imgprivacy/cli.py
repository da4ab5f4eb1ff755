"""The ``imgprivacy`` command line: make a key, protect photos, recover them.

    imgprivacy keygen KEYFILE
    imgprivacy protect --key KEYFILE [options] INPUTS... -o OUTDIR
    imgprivacy recover --key KEYFILE [options] INPUTS... -o OUTDIR
    imgprivacy info FILES...
    imgprivacy overlays [DIR] [--export DIR]
    imgprivacy reproduce [--fast] --out DIR

Protected photos are lossless PNGs whose text metadata (format version,
image id, alpha, k, block, overlay-set fingerprint, bit depths and a key
check value, never the key) is all ``recover`` needs besides the key.
Nothing of the original's metadata (EXIF, GPS, ...) is copied.  Every run
checks all its inputs and outputs first and writes nothing if any is
refused; files are written atomically and never overwritten without
``--force``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import __version__, _prf, data, krtio
from ._validation import check_alpha, check_block, check_int

META_KEY = "imgprivacy"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm", ".ppm", ".pnm")


class CLIError(Exception):
    """A refusal with a message for the user; nothing has been written."""


# --------------------------------------------------------------------------- helpers
def _collect(inputs: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise CLIError(f"folder {item!r} holds no image files ({', '.join(suffixes)})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise CLIError(f"input {item!r} does not exist")
    return files


def _outputs(files: list[Path], outdir: Path, force: bool) -> list[Path]:
    if outdir.exists() and not outdir.is_dir():
        raise CLIError(f"output folder {str(outdir)!r} is a file; give a folder (it is created if missing)")
    outs = [outdir / (f.stem + ".png") for f in files]
    seen: dict[Path, Path] = {}
    for src, out in zip(files, outs):
        if out in seen:
            raise CLIError(f"{str(seen[out])!r} and {str(src)!r} would both be written to {str(out)!r}; rename one")
        if src.resolve() == out.resolve():
            raise CLIError(f"{str(out)!r} would overwrite its own input; choose another output folder")
        seen[out] = src
    if not force:
        existing = [str(o) for o in outs if o.exists()]
        if existing:
            more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
            raise CLIError(f"{existing[0]!r}{more} already exists; pass --force to overwrite")
    return outs


def _load_key(path: str) -> bytes:
    try:
        return _prf.read_key(path)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None


def _overlays(folder: str | None) -> data.OverlaySet:
    try:
        return data.overlay_set(folder if folder else "default")
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"--overlays: {exc}") from None


def _read(path: Path) -> data.LoadedImage:
    try:
        return data.read_image(path)
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CLIError(f"cannot read {str(path)!r}: {exc}") from None


def _progress(items, desc: str):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="photo", disable=len(items) < 2, file=sys.stderr)


@dataclass(frozen=True)
class Protection:
    """The metadata a protected PNG carries (format 1)."""

    image_id: str
    alpha: float
    k: int
    block: tuple[int, int]
    overlay_set: str
    overlay_count: int
    depth: int
    source_depth: int
    key_check: str
    format: int = _prf.FORMAT_VERSION
    scheme: str = "k-rtio"

    def to_text(self) -> dict[str, str]:
        payload = {
            "format": self.format,
            "scheme": self.scheme,
            "image_id": self.image_id,
            "alpha": self.alpha,
            "k": self.k,
            "block": list(self.block),
            "overlay_set": self.overlay_set,
            "overlay_count": self.overlay_count,
            "depth": self.depth,
            "source_depth": self.source_depth,
            "key_check": self.key_check,
        }
        return {META_KEY: json.dumps(payload, sort_keys=True), "Software": f"imgprivacy {__version__}"}

    @classmethod
    def from_text(cls, text: dict, where: str) -> "Protection | None":
        raw = text.get(META_KEY)
        if raw is None:
            return None
        try:
            meta = json.loads(raw)
            if meta.get("format") != _prf.FORMAT_VERSION or meta.get("scheme") != "k-rtio":
                raise CLIError(
                    f"{where}: protected with format {meta.get('format')!r} / scheme {meta.get('scheme')!r}; "
                    f"this imgprivacy reads format {_prf.FORMAT_VERSION} (k-rtio): upgrade imgprivacy"
                )
            return cls(
                image_id=str(meta["image_id"]),
                alpha=float(meta["alpha"]),
                k=int(meta["k"]),
                block=tuple(int(b) for b in meta["block"]),
                overlay_set=str(meta["overlay_set"]),
                overlay_count=int(meta["overlay_count"]),
                depth=int(meta["depth"]),
                source_depth=int(meta["source_depth"]),
                key_check=str(meta["key_check"]),
            )
        except (KeyError, TypeError, ValueError, json.JSONDecodeError):
            raise CLIError(f"{where}: its imgprivacy metadata is damaged; give --id, --alpha, -k and --block by hand") from None


def _block_arg(text: str) -> tuple[int, int]:
    try:
        parts = [int(p) for p in text.lower().replace("x", ",").split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"block must be N or HxW in pixels, got {text!r}") from None
    try:
        return check_block(parts[0] if len(parts) == 1 else tuple(parts))
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _alpha_arg(text: str) -> float:
    try:
        return check_alpha(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _k_arg(text: str) -> int:
    try:
        return check_int(int(text), "k", minimum=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --------------------------------------------------------------------------- commands
def cmd_keygen(args) -> int:
    try:
        path = _prf.write_key(args.keyfile, _prf.generate_key(), force=args.force)
    except FileExistsError as exc:
        raise CLIError(str(exc).replace("force=True / --force", "--force")) from None
    except OSError as exc:
        raise CLIError(f"cannot write key file {args.keyfile!r}: {exc}") from None
    kcv = _prf.key_check_value(_prf.read_key(path))
    print(
        f"wrote a new key to {path} (mode 0600, key check value {kcv}).\n"
        "Keep it secret and back it up: without it, protected photos cannot be recovered."
    )
    return 0


def cmd_protect(args) -> int:
    key = _load_key(args.key)
    overlays = _overlays(args.overlays)
    if args.k > len(overlays):
        raise CLIError(f"-k must be at most the number of overlays ({len(overlays)}), got {args.k}")
    files = _collect(args.inputs, IMAGE_SUFFIXES)
    if args.id is not None and len(files) != 1:
        raise CLIError(f"--id names one photo, but {len(files)} inputs were given; leave it out to use file names")
    ids = [args.id] if args.id is not None else [f.name for f in files]
    seen: dict[str, Path] = {}
    for f, i in zip(files, ids):
        if i in seen:
            raise CLIError(
                f"{str(seen[i])!r} and {str(f)!r} share the image id {i!r}; the same id gives the same overlay, "
                "which blind signal separation can remove. Rename one"
            )
        seen[i] = f
    outs = _outputs(files, Path(args.output), args.force)
    loaded = []
    for f in files:
        img = _read(f)
        if META_KEY in img.text:
            raise CLIError(f"{str(f)!r} is already protected by imgprivacy; recover it first")
        loaded.append(img)
    if args.depth == 8 and args.alpha < 0.4:
        print(
            f"note: at --alpha {args.alpha} 8-bit storage may recover pixels off by more than one level; "
            "--depth 16 recovers 8-bit photos exactly",
            file=sys.stderr,
        )
    kcv = _prf.key_check_value(key)
    prepared = krtio.OverlayCache(overlays)
    Path(args.output).mkdir(parents=True, exist_ok=True)  # every check passed: now write
    for f, i, img, out in zip(files, ids, loaded, _progress(outs, "protect")):
        prep = prepared.get(img.image.shape, block=args.block)
        protected = krtio.perturb(img.image, key, image_id=i, overlays=prep, k=args.k, alpha=args.alpha, block=args.block)
        meta = Protection(i, args.alpha, args.k, args.block, overlays.fingerprint, len(overlays), args.depth, img.depth, kcv)
        data.write_png(out, protected, depth=args.depth, text=meta.to_text(), overwrite=args.force)
    print(f"protected {len(files)} photo(s) into {args.output}")
    return 0


def cmd_recover(args) -> int:
    key = _load_key(args.key)
    overlays = _overlays(args.overlays)
    files = _collect(args.inputs, (".png",))
    if args.id is not None and len(files) != 1:
        raise CLIError(f"--id names one photo, but {len(files)} inputs were given")
    outs = _outputs(files, Path(args.output), args.force)
    kcv = _prf.key_check_value(key)
    jobs = []
    for f in files:
        img = _read(f)
        meta = Protection.from_text(img.text, str(f))
        if meta is None:
            missing = [n for n, v in (("--id", args.id), ("--alpha", args.alpha), ("-k", args.k), ("--block", args.block)) if v is None]
            if missing:
                raise CLIError(
                    f"{str(f)!r} carries no imgprivacy metadata (stripped?); give {', '.join(missing)} by hand"
                )
            meta = Protection(args.id, args.alpha, args.k, args.block, overlays.fingerprint, len(overlays), img.depth, args.depth, kcv)
        else:
            given = {"--id": (args.id, meta.image_id), "--alpha": (args.alpha, meta.alpha), "-k": (args.k, meta.k), "--block": (args.block, meta.block)}
            for flag, (value, stored) in given.items():
                if value is not None and value != stored:
                    raise CLIError(f"{str(f)!r} was protected with {flag} {stored!r}, but {value!r} was given; leave {flag} out")
            if meta.key_check != kcv:
                raise CLIError(f"{str(f)!r} was protected with another key (key check {meta.key_check}, yours {kcv})")
            if meta.overlay_set != overlays.fingerprint:
                where = "the default overlay set" if not args.overlays else f"overlay folder {args.overlays!r}"
                raise CLIError(
                    f"{str(f)!r} was protected with overlay set {meta.overlay_set[:12]}..., but {where} is "
                    f"{overlays.fingerprint[:12]}...; pass the folder used with --overlays"
                )
        if meta.k > len(overlays):
            raise CLIError(f"{str(f)!r} needs k={meta.k} overlays, but the set has {len(overlays)}")
        jobs.append((img, meta))
    prepared = krtio.OverlayCache(overlays)
    Path(args.output).mkdir(parents=True, exist_ok=True)  # every check passed: now write
    for (img, meta), out in zip(jobs, _progress(outs, "recover")):
        prep = prepared.get(img.image.shape, block=meta.block)
        original = krtio.recover(img.image, key, image_id=meta.image_id, overlays=prep, k=meta.k, alpha=meta.alpha, block=meta.block)
        data.write_png(out, original, depth=meta.source_depth, overwrite=args.force)
    print(f"recovered {len(files)} photo(s) into {args.output}")
    return 0


def cmd_overlays(args) -> int:
    overlays = _overlays(args.source)
    if args.export is None:
        print(f"{len(overlays)} overlays from {overlays.source}, fingerprint {overlays.fingerprint}")
        for i, name in enumerate(overlays.names):
            h, w, _ = overlays[i].shape
            print(f"{i:3d}  {name}  ({w}x{h})")
        return 0
    folder = Path(args.export)
    if folder.exists() and any(folder.iterdir()):
        raise CLIError(f"export folder {args.export!r} is not empty; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(len(overlays) - 1))
    for i, (name, image) in enumerate(zip(overlays.names, overlays)):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
        data.write_png(folder / f"{i:0{width}d}_{safe}.png", image, depth=8)
    check = data.overlay_set(folder).fingerprint
    if check != overlays.fingerprint:
        raise CLIError(f"the exported set has fingerprint {check[:12]}..., not {overlays.fingerprint[:12]}...")
    print(f"saved {len(overlays)} overlays to {folder} (fingerprint {check[:12]}..., the same as the set's).")
    print("Keep this folder with your key: `--overlays` with it recovers your photos whatever versions you install.")
    return 0


def cmd_info(args) -> int:
    for f in _collect(args.files, (".png",)):
        meta = Protection.from_text(_read(f).text, str(f))
        if meta is None:
            print(f"{f}: no imgprivacy metadata")
        else:
            print(
                f"{f}: k-RTIO format {meta.format}, id {meta.image_id!r}, alpha {meta.alpha}, k {meta.k}, "
                f"block {meta.block[0]}x{meta.block[1]}, {meta.depth}-bit (original {meta.source_depth}-bit), "
                f"overlay set {meta.overlay_set[:12]}... ({meta.overlay_count}), key check {meta.key_check}"
            )
    return 0


def cmd_reproduce(args) -> int:
    from . import reproduce

    try:
        reproduce.check_output_dir(args.out)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    report = reproduce.run(args.out, fast=args.fast, progress=not args.no_progress)
    counts: dict[str, int] = {}
    for verdict in report.verdicts().values():
        counts[verdict] = counts.get(verdict, 0) + 1
    print(f"wrote {len(report.files)} files into {report.out} in {report.seconds['total']:.0f} s: "
          + ", ".join(f"{n} claim(s) {v}" for v, n in counts.items()))
    print(f"read {report.out / 'report.md'}")
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imgprivacy",
        description="Protect photos from face recognition with k-RTIO overlays, and recover them with your key.",
    )
    parser.add_argument("--version", action="version", version=f"imgprivacy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="make a new secret key file (mode 0600)")
    p.add_argument("keyfile", help="path of the new key file")
    p.add_argument("--force", action="store_true", help="replace an existing key file (its photos become unrecoverable)")
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("protect", help="perturb photos with k-RTIO into lossless PNGs")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the protected PNGs (created if missing)")
    p.add_argument("--key", required=True, metavar="KEYFILE", help="key file made by `imgprivacy keygen`")
    p.add_argument("--alpha", type=_alpha_arg, default=0.45, help="weight of the photo, in (0, 1] (default 0.45)")
    p.add_argument("-k", type=_k_arg, default=3, help="overlays mixed into each photo (default 3)")
    p.add_argument("--block", type=_block_arg, default=(8, 8), help="block size in pixels, N or HxW (default 8)")
    p.add_argument("--depth", type=int, choices=(8, 16), default=8, help="bits per sample of the PNG (16: exact recovery)")
    p.add_argument("--overlays", metavar="DIR", help="folder of your own overlay images (default: the bundled set of 30)")
    p.add_argument("--id", help="image id for a single input (default: the file name)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=cmd_protect)

    p = sub.add_parser("recover", help="remove the k-RTIO overlay from protected PNGs")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="protected PNG files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the recovered PNGs (created if missing)")
    p.add_argument("--key", required=True, metavar="KEYFILE", help="the key file used to protect them")
    p.add_argument("--overlays", metavar="DIR", help="the overlay folder used to protect them, if not the bundled set")
    p.add_argument("--id", help="image id, if the metadata was stripped")
    p.add_argument("--alpha", type=_alpha_arg, help="alpha, if the metadata was stripped")
    p.add_argument("-k", type=_k_arg, help="k, if the metadata was stripped")
    p.add_argument("--block", type=_block_arg, help="block size, if the metadata was stripped")
    p.add_argument("--depth", type=int, choices=(8, 16), default=8, help="bit depth to write when the metadata was stripped (default 8)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.set_defaults(func=cmd_recover)

    p = sub.add_parser("overlays", help="list the overlay set, or save it as PNGs to keep with your key")
    p.add_argument("source", nargs="?", help="an overlay folder (default: the bundled set)")
    p.add_argument("--export", metavar="DIR", help="save the set into this new (or empty) folder")
    p.set_defaults(func=cmd_overlays)

    p = sub.add_parser("reproduce", help="regenerate the paper's figures and numbers, with a report, into a new folder")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder for the PNGs, JSON, CSVs and report.md")
    p.add_argument("--fast", action="store_true", help="a coarse grid on 40 faces (about 2 minutes) instead of the full run (about 16)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("info", help="show the imgprivacy metadata of protected PNGs")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``imgprivacy`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"imgprivacy {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileExistsError as exc:  # a race with another writer; nothing was overwritten
        print(f"imgprivacy {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
