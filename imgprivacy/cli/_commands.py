"""The small commands: ``keygen``, ``info``, ``overlays``, ``manifest`` and ``reproduce``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .. import _prf, data, krtio, manifest
from ._common import CLIError, collect, load_key, read_header, show


def cmd_keygen(args) -> int:
    """Write a new key file with mode 0600; a folder or a missing parent folder is refused."""
    path = Path(args.keyfile)
    if args.keyfile.endswith(("/", os.sep)) or path.is_dir():
        raise CLIError(f"{show(args.keyfile)} is a folder; give the key file's path, e.g. {os.path.join(args.keyfile, 'imgprivacy.key')}")
    if not path.parent.is_dir():
        raise CLIError(f"the folder {show(path.parent)} of the key file does not exist; create it first (mkdir -p {path.parent})")
    try:
        path = _prf.write_key(path, _prf.generate_key(), force=args.force)
    except FileExistsError as exc:
        raise CLIError(str(exc).replace("force=True / --force", "--force")) from None
    except OSError as exc:
        raise CLIError(f"cannot write key file {show(args.keyfile)}: {exc.strerror}") from None
    print(
        f"wrote a new key to {path} (mode 0600).\n"
        "Keep it secret and back it up: without it, protected photos cannot be recovered. "
        f"Protected photos are listed in {manifest.manifest_path(path)} (private too)."
    )
    return 0


def _public(meta) -> dict:
    if isinstance(meta, krtio.Format2Metadata):
        return json.loads(meta.to_json())
    return {f: getattr(meta, f) if f != "block" else list(meta.block) for f in meta.__dataclass_fields__}


def cmd_info(args) -> int:
    """Print the public settings of protected PNGs, from their headers only (nothing is decoded)."""
    for f in collect(args.files, (".png",)):
        header = read_header(f)
        try:
            meta = krtio.read_metadata(header.text)
        except krtio.MetadataError as exc:
            raise CLIError(f"{show(f)}: {exc}") from None
        if args.json:
            print(json.dumps({"file": os.fsencode(f).decode("utf-8", "backslashreplace"),
                              "width": header.width, "height": header.height,
                              "imgprivacy": None if meta is None else _public(meta)}, sort_keys=True))
        elif meta is None:
            print(f"{show(f)}: no imgprivacy metadata ({header.width}x{header.height})")
        elif isinstance(meta, krtio.Format2Metadata):
            h, w, c = meta.shape
            sets = "the set derived from your key" if meta.overlays == "derived" else "an overlay folder of your own"
            print(f"{show(f)}: k-RTIO format 2, alpha {meta.alpha}, k {meta.k}, block {meta.block[0]}x{meta.block[1]}, "
                  f"{meta.depth}-bit (original {meta.source_depth}-bit, {w}x{h}x{c}), overlays: {sets}, nonce {meta.nonce}")
        else:
            print(f"{show(f)}: k-RTIO format 1, id {meta.image_id!r}, alpha {meta.alpha}, k {meta.k}, "
                  f"block {meta.block[0]}x{meta.block[1]}, {meta.depth}-bit (original {meta.source_depth}-bit), "
                  f"overlay set {meta.overlay_set[:12]}... ({meta.overlay_count}), key check {meta.key_check}")
    return 0


def cmd_manifest(args) -> int:
    """List the photos protected with a key, from the manifest beside it."""
    load_key(args.key, "manifest")  # the key file must be there; its manifest is beside it
    db = manifest.manifest_path(args.key)
    try:
        rows = manifest.entries(db)
    except FileNotFoundError:
        raise CLIError(f"no manifest at {show(db)}: nothing was protected with this key yet (or with --no-manifest)") from None
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    for row in rows:
        meta = json.loads(row.metadata)
        if args.json:
            print(json.dumps({"created": row.created, "nonce": row.nonce, "source": row.source_name, "output": row.output_name,
                              "pixels_sha256": row.pixels_sha256, "imgprivacy": meta}, sort_keys=True))
        else:
            print(f"{row.created}  {row.nonce}  {row.source_name} -> {row.output_name}  alpha {meta['alpha']}, k {meta['k']}, "
                  f"block {meta['block'][0]}x{meta['block'][1]}, {meta['depth']}-bit, overlays {meta['overlays']}")
    if not args.json:
        print(f"{len(rows)} photo(s) in {db}")
    return 0


def cmd_overlays(args) -> int:
    """List an overlay set, or export it as PNGs with the same fingerprint."""
    try:
        overlays = data.overlay_set(args.source if args.source else "default")
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    if args.export is None:
        print(f"{len(overlays)} overlays from {overlays.source}, fingerprint {overlays.fingerprint}")
        for i, name in enumerate(overlays.names):
            h, w, _ = overlays[i].shape
            print(f"{i:3d}  {name}  ({w}x{h})")
        return 0
    folder = Path(args.export)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CLIError(f"export folder {show(args.export)} is not empty; choose a new folder")
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(len(overlays) - 1))
    for i, (name, image) in enumerate(zip(overlays.names, overlays)):
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
        data.write_png(folder / f"{i:0{width}d}_{safe}.png", image, depth=8)
    check = data.overlay_set(folder).fingerprint
    if check != overlays.fingerprint:
        raise CLIError(f"the exported set has fingerprint {check[:12]}..., not {overlays.fingerprint[:12]}...")
    print(f"saved {len(overlays)} overlays to {folder} (fingerprint {check[:12]}..., the same as the set's).")
    print("Keep this folder: `--pool` with it re-derives your key's overlay set (and `--overlays` recovers format-1 "
          "photos of the bundled set) whatever versions you install.")
    return 0


def cmd_reproduce(args) -> int:
    """Regenerate the paper's figures and numbers into a new folder."""
    from .. import reproduce

    try:
        reproduce.check_output_dir(args.out)
        reproduce.read_earlier(args.compare)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    report = reproduce.run(args.out, fast=args.fast, progress=not args.no_progress, faces=args.faces,
                           compare=args.compare)
    counts: dict[str, int] = {}
    for verdict in report.verdicts().values():
        counts[verdict] = counts.get(verdict, 0) + 1
    print(f"wrote {len(report.files)} files into {report.out} in {report.seconds['total']:.0f} s: "
          + ", ".join(f"{n} claim(s) {v}" for v, n in counts.items()))
    print(f"read {report.out / 'report.md'}")
    return 0

