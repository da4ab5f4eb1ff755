"""The ``imgprivacy`` command line: make a key, protect photos, recover them.

    imgprivacy keygen KEYFILE
    imgprivacy protect --key KEYFILE [options] INPUTS... -o OUTDIR
    imgprivacy recover --key KEYFILE [options] INPUTS... -o OUTDIR
    imgprivacy info [--json] FILES...
    imgprivacy manifest --key KEYFILE [--json]
    imgprivacy overlays [DIR] [--export DIR]
    imgprivacy reproduce [--fast] --out DIR
    imgprivacy lab student DIR | imgprivacy lab solutions [NAME]

Protected photos are lossless PNGs in k-RTIO format 2 (see
:mod:`imgprivacy.krtio`): each gets a fresh random nonce, the overlay set is
derived from the key by default, and the text metadata (settings and an
HMAC tag, never the key or the file name) is all ``recover`` needs besides
the key; ``recover`` verifies the tag before writing anything.  Format-1
photos keep recovering.  Each protected photo is also recorded in a local
manifest beside the key (:mod:`imgprivacy.manifest`), which recovers photos
whose metadata a service stripped.

Every run checks all its inputs, settings and outputs first and writes
nothing if any is refused (one line ``imgprivacy CMD: error: ...``, exit
status 2); files are written atomically; SIGINT and SIGTERM leave no
temporary file, and running the same command again skips the photos already
finished.  After the checks, photos stream one at a time, the next decoded
and perturbed while the last is written (:mod:`imgprivacy.cli._stream`), so
memory does not grow with the folder.

>>> build_parser().parse_args(["protect", "--key", "k", "a.png", "-o", "out"]).alpha
0.45
"""

from __future__ import annotations

from ._errors import CLIError
from ._parser import build_parser, main

__all__ = ["CLIError", "build_parser", "main"]
