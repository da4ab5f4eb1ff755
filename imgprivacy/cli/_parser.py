"""The argument parser and the entry point of the ``imgprivacy`` command.

Building the parser imports neither numpy nor the commands: each command's
module loads when it runs, so ``imgprivacy --help`` answers in the time of
a bare interpreter plus argparse (issue 13).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ._errors import CLIError, default_max_pixels, show


def _command(module: str, name: str):
    """A command function loaded from ``imgprivacy.cli.<module>`` when it is called."""

    def run(args):
        return getattr(importlib.import_module(f".{module}", __package__), name)(args)

    run.__name__ = name
    return run



def _block_arg(text: str) -> tuple[int, int]:
    from .._validation import check_block

    try:
        parts = [int(p) for p in text.lower().replace("x", ",").split(",")]
        if len(parts) not in (1, 2):
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"block must be N or HxW in pixels, got {text!r}") from None
    try:
        return check_block(parts[0] if len(parts) == 1 else tuple(parts))
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _alpha_arg(text: str) -> float:
    from .._validation import check_alpha

    try:
        return check_alpha(float(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _k_arg(text: str) -> int:
    from .._validation import check_int

    try:
        return check_int(int(text), "k", minimum=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pixels_arg(text: str) -> int:
    from .._validation import check_int

    try:
        return check_int(int(text.replace("_", "")), "--max-pixels", minimum=1)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--max-pixels must be a positive number of pixels, got {text!r} ({exc})") from None


def _limits(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-pixels", type=_pixels_arg, default=default_max_pixels(), metavar="N",
                   help=f"refuse images declaring more pixels than N before decoding them (default {default_max_pixels():,}, "
                        "Pillow's MAX_IMAGE_PIXELS; raise it for trusted large photos)")
    p.add_argument("--no-manifest", action="store_true", help="do not use the manifest beside the key file")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``imgprivacy`` command."""
    parser = argparse.ArgumentParser(
        prog="imgprivacy",
        description="Protect photos from face recognition with k-RTIO overlays, and recover them with your key.",
    )
    parser.add_argument("--version", action="version", version=f"imgprivacy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="make a new secret key file (mode 0600)")
    p.add_argument("keyfile", help="path of the new key file (not a folder)")
    p.add_argument("--force", action="store_true", help="replace an existing key file (its photos become unrecoverable)")
    p.set_defaults(func=_command("_commands", "cmd_keygen"))

    p = sub.add_parser("protect", help="perturb photos with k-RTIO (format 2) into lossless PNGs")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the protected PNGs (created if missing)")
    p.add_argument("--key", required=True, metavar="KEYFILE", help="key file made by `imgprivacy keygen`")
    p.add_argument("--alpha", type=_alpha_arg, default=0.45, help="weight of the photo, in (0, 1) (default 0.45; at least 0.34 at 8 bits)")
    p.add_argument("-k", type=_k_arg, default=3, help="overlays mixed into each photo (default 3)")
    p.add_argument("--block", type=_block_arg, default=(8, 8), help="block size in pixels, N or HxW (default 8)")
    p.add_argument("--depth", type=int, choices=(8, 16), help="bits per sample of the PNG (default: the photo's; 16 recovers 8-bit photos exactly)")
    p.add_argument("--overlays", metavar="DIR", help="a folder of your own overlay images (default: a set derived from your key)")
    p.add_argument("--pool", metavar="DIR", help="the public pool exported by `imgprivacy overlays --export` (default: the bundled images)")
    p.add_argument("--id", help="experts: an explicit image id for a single photo (default: a fresh random nonce)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    _limits(p)
    p.set_defaults(func=_command("_protect", "cmd_protect"))

    p = sub.add_parser("recover", help="verify protected PNGs and remove their k-RTIO overlay")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="protected PNG files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUTDIR", help="folder for the recovered PNGs (created if missing)")
    p.add_argument("--key", required=True, metavar="KEYFILE", help="the key file used to protect them")
    p.add_argument("--overlays", metavar="DIR", help="the overlay folder used to protect them, if your own")
    p.add_argument("--pool", metavar="DIR", help="an exported copy of the public pool, if the bundled images changed")
    p.add_argument("--id", help="the nonce (or format-1 id), if the metadata was stripped and the manifest does not have it")
    p.add_argument("--alpha", type=_alpha_arg, help="alpha, if the metadata was stripped")
    p.add_argument("-k", type=_k_arg, help="k, if the metadata was stripped")
    p.add_argument("--block", type=_block_arg, help="block size, if the metadata was stripped")
    p.add_argument("--depth", type=int, choices=(8, 16), help="bit depth of the original, if the metadata was stripped (default 8)")
    p.add_argument("--format", type=int, choices=(1, 2), default=2, help="format of a stripped photo given by hand (default 2)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    _limits(p)
    p.set_defaults(func=_command("_protect", "cmd_recover"))

    p = sub.add_parser("info", help="show the public imgprivacy settings of protected PNGs (nothing is decoded)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.set_defaults(func=_command("_commands", "cmd_info"))

    p = sub.add_parser("manifest", help="list the photos protected with a key (the local manifest beside it)")
    p.add_argument("--key", required=True, metavar="KEYFILE")
    p.add_argument("--json", action="store_true", help="one JSON object per photo")
    p.set_defaults(func=_command("_commands", "cmd_manifest"))

    p = sub.add_parser("overlays", help="list an overlay set, or save the bundled pool as PNGs to keep with your key")
    p.add_argument("source", nargs="?", help="an overlay folder (default: the bundled pool)")
    p.add_argument("--export", metavar="DIR", help="save the set into this new (or empty) folder")
    p.set_defaults(func=_command("_commands", "cmd_overlays"))

    p = sub.add_parser("reproduce", help="regenerate the paper's figures and numbers, with a report, into a new folder")
    p.add_argument("--out", required=True, metavar="DIR", help="a new or empty folder for the PNGs, JSON, CSVs and report.md")
    p.add_argument("--fast", action="store_true", help="a coarse grid on 40 faces (about 2 minutes) instead of the full run (about 16)")
    p.add_argument("--faces", choices=("olivetti", "orl", "lfw"), default="olivetti",
                   help="the face set, at its resolution: olivetti (64x64, default), orl (92x112), lfw (96x96 colour; "
                        "downloads about 200 MB once, trains every model)")
    p.add_argument("--compare", nargs="+", metavar="DIR",
                   help="folders of earlier runs (e.g. on another face set) whose verdicts the report puts beside these")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_command("_commands", "cmd_reproduce"))

    p = sub.add_parser("lab", help="the course's graded exercises: write the student version, show solutions")
    labs = p.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")
    q = labs.add_parser("student", help="write the notebooks with every solution replaced by `raise NotImplementedError()`")
    q.add_argument("dir", metavar="DIR", help="a new or empty folder (existing notebooks there are never replaced)")
    q.add_argument("--source", metavar="NOTEBOOKS", help="the instructor notebooks (default: this checkout's notebooks/)")
    q.set_defaults(func=_command("_lab", "cmd_lab_student"))
    q = labs.add_parser("solutions", help="list the exercises, or show one exercise's reference solution")
    q.add_argument("name", nargs="?", metavar="NAME", help="an exercise, e.g. 02_fisher_yates")
    q.set_defaults(func=_command("_lab", "cmd_lab_solutions"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``imgprivacy`` command; returns the exit status (2 for a refusal)."""
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
    except MemoryError:
        print(f"imgprivacy {args.command}: error: not enough memory; close other programs or use a larger machine", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" ({show(exc.filename)})" if exc.filename else ""
        print(f"imgprivacy {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"imgprivacy {args.command}: interrupted", file=sys.stderr)
        return 130
