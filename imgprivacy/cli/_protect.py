"""``imgprivacy protect`` and ``imgprivacy recover``: check everything first, then write photo by photo."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__, _prf, data, krtio, manifest
from ._common import (
    IMAGE_SUFFIXES,
    CLIError,
    Header,
    check_decode_limit,
    check_output_folder,
    collect,
    decode,
    derived_overlays,
    load_key,
    note,
    output_paths,
    own_overlays,
    public_pool,
    read_header,
    show,
)
from ._stream import prepared, write_all


# --------------------------------------------------------------------------- safe settings
def check_alpha_safe(alpha: float, *, depth: int, source_depth: int, k: int, where: str) -> None:
    """Refuse an alpha that publishes the photo (1) or cannot be recovered within one grey level.

    The bound is :func:`imgprivacy.krtio.max_recovery_error`: 8-bit storage
    puts each sample within 0.5/255 and recovery divides by alpha.

    Examples
    --------
    >>> check_alpha_safe(0.45, depth=8, source_depth=8, k=3, where="x")
    >>> check_alpha_safe(0.2, depth=8, source_depth=8, k=3, where="x")
    Traceback (most recent call last):
    ...
    imgprivacy.cli._errors.CLIError: --alpha 0.2 would recover x off by up to 3 grey levels ...
    """
    if alpha >= 1:
        raise CLIError(
            "--alpha 1 publishes the photo unchanged (alpha is the photo's weight); choose a value below 1, "
            "e.g. the paper's 0.45"
        )
    if source_depth > depth:
        raise CLIError(
            f"{where} has 16-bit samples, which --depth {depth} cannot store; use --depth 16 (the default for 16-bit photos)"
        )
    error = krtio.max_recovery_error(alpha, depth=depth, source_depth=source_depth, k=k)
    if error >= 1.5:
        floor = krtio.min_safe_alpha(depth=depth, source_depth=source_depth, k=k)
        lower = ""
        if depth == 8:
            lower = f"; --depth 16 allows alpha down to {krtio.min_safe_alpha(depth=16, source_depth=source_depth, k=k)}"
        raise CLIError(
            f"--alpha {alpha:g} would recover {where} off by up to {math.floor(error + 0.5)} grey levels "
            f"({depth}-bit storage error 0.5/{2**depth - 1} grows by 1/alpha on recovery); the smallest alpha that "
            f"recovers {source_depth}-bit photos within one level at --depth {depth} is {floor}{lower}"
        )


def largest_safe_block(height: int, width: int, k: int) -> int:
    """The largest square block that still cuts an image into :func:`imgprivacy.krtio.min_blocks` blocks.

    Examples
    --------
    >>> largest_safe_block(171, 256, 3)  # 85-pixel blocks: 3 x 4 = 12 blocks
    85
    """
    need = krtio.min_blocks(k)
    for side in range(max(height, width), 0, -1):
        if math.ceil(height / side) * math.ceil(width / side) >= need:
            return side
    return 0


def check_grid_safe(block: tuple[int, int], *, height: int, width: int, k: int, where: str) -> None:
    """Refuse a block grid whose ``k`` keyed shuffles carry fewer than 80 bits of key space.

    ``krtio.keyspace(m, k, b) = C(m, k) * (b!)**k``: the overlay choice adds
    only ``log2 C(m, k)`` bits (12 for 3 of 30 public images), so the
    shuffles must carry the key space; 80 bits is the floor below which
    exhaustive search is practical (:func:`imgprivacy.krtio.shuffle_bits`).

    Examples
    --------
    >>> check_grid_safe((8, 8), height=171, width=256, k=3, where="x")
    >>> check_grid_safe((3000, 3000), height=171, width=256, k=3, where="x")
    Traceback (most recent call last):
    ...
    imgprivacy.cli._errors.CLIError: --block 3000x3000 cuts x (256x171) into 1 block(s)...
    """
    gh, gw = krtio.grid_shape((height, width), block)
    bits = krtio.shuffle_bits(k, gh * gw)
    if bits < krtio.MIN_SHUFFLE_BITS:
        side = largest_safe_block(height, width, k)
        fix = f"use --block {side} or smaller" if side else f"this photo is too small for k={k}"
        raise CLIError(
            f"--block {block[0]}x{block[1]} cuts {where} ({width}x{height}) into {gh * gw} block(s); the {k} keyed "
            f"shuffles then carry {bits:.0f} bits of key space, below the {krtio.MIN_SHUFFLE_BITS}-bit floor "
            f"against exhaustive search (k={k} needs at least {krtio.min_blocks(k)} blocks): {fix}"
        )


# --------------------------------------------------------------------------- protect
@dataclass
class _ProtectJob:
    src: Path
    out: Path
    header: Header
    depth: int
    skip: bool = False


def _overlay_choice(args, key: bytes):
    """(set, kind, pool fingerprint) of the overlays to protect or recover with."""
    if args.overlays:
        return own_overlays(args.overlays), "own", None
    pool = public_pool(getattr(args, "pool", None))
    return derived_overlays(key, pool), "derived", pool.fingerprint


def _finished(job: _ProtectJob, key: bytes, args, the_set, db: Path | None) -> bool:
    """Whether an existing output is this input's finished, verified format-2 protection."""
    if db is None or not db.is_file():
        return False
    try:
        meta = krtio.read_metadata(read_header(job.out).text)
    except (CLIError, krtio.MetadataError):
        return False
    if not isinstance(meta, krtio.Format2Metadata):
        return False
    wanted = (args.alpha, args.k, tuple(args.block), job.depth, job.header.depth)
    if (meta.alpha, meta.k, meta.block, meta.depth, meta.source_depth) != wanted:
        return False
    try:
        krtio.verify_tag(key, meta, set_fingerprint=the_set.fingerprint)
        rows = manifest.find_by_nonce(db, meta.nonce)
    except (krtio.TagMismatch, FileNotFoundError, ValueError):
        return False
    if not rows or rows[0].source_name != manifest.safe_name(job.src):
        return False
    stored = data.read_image(job.out)
    return krtio.pixels_sha256(data.to_uint(stored.image, depth=stored.depth)) == rows[0].pixels_sha256


def cmd_protect(args) -> int:
    """Protect photos in format 2 (see ``imgprivacy protect --help``)."""
    if args.id is not None and not args.id:
        raise CLIError("--id must not be empty; leave --id out and each photo gets a fresh random nonce")
    key = load_key(args.key, "protect")
    files = collect(args.inputs, IMAGE_SUFFIXES)
    if args.id is not None and len(files) != 1:
        raise CLIError(f"--id names one photo, but {len(files)} inputs were given; leave it out (every photo gets a fresh nonce)")
    outdir = Path(args.output)
    check_output_folder(outdir)
    outs = output_paths(files, outdir)
    jobs = []
    for src, out in zip(files, outs):
        header = read_header(src)
        check_decode_limit(src, header, args.max_pixels, "protect")
        if "imgprivacy" in header.text:
            raise CLIError(f"{show(src)} is already protected by imgprivacy; recover it first")
        depth = args.depth or header.depth
        check_alpha_safe(args.alpha, depth=depth, source_depth=header.depth, k=args.k, where=show(src))
        check_grid_safe(args.block, height=header.height, width=header.width, k=args.k, where=show(src))
        jobs.append(_ProtectJob(src, out, header, depth))
    the_set, kind, pool = _overlay_choice(args, key)
    if args.k > len(the_set):
        raise CLIError(f"-k must be at most the number of overlays ({len(the_set)}), got {args.k}")
    db = None if args.no_manifest else manifest.manifest_path(args.key)
    existing = [j for j in jobs if j.out.exists()]
    if existing and not args.force:
        for job in existing:
            job.skip = _finished(job, key, args, the_set, db)
        unfinished = [j for j in existing if not j.skip]
        if unfinished:
            more = f" (and {len(unfinished) - 1} more)" if len(unfinished) > 1 else ""
            raise CLIError(
                f"{show(unfinished[0].out)}{more} already exists and is not a finished protection of "
                f"{show(unfinished[0].src)} with these settings; pass --force to overwrite, or choose another folder"
            )
    todo = [j for j in jobs if not j.skip]
    outdir.mkdir(parents=True, exist_ok=True)  # every check passed: now write
    prep_cache: dict = {}

    def protect_one(job: _ProtectJob):  # computed beside the last photo's write: writes nothing
        loaded = decode(job.src, args.max_pixels)
        if loaded.image.shape[:2] != job.header.shape[:2]:
            raise CLIError(f"{show(job.src)} decoded to {loaded.image.shape}, not the {job.header.shape} its header declares")
        image, source_depth = loaded.image, loaded.depth
        del loaded
        protected, meta = krtio.protect_photo(
            image, key, overlays=prepared(prep_cache, the_set, image.shape, args.block),
            set_fingerprint=the_set.fingerprint, kind=kind, pool=pool, alpha=args.alpha, k=args.k, block=args.block,
            depth=job.depth, source_depth=source_depth, nonce=args.id,
        )
        del image
        pixels = data.to_uint(protected, depth=job.depth)  # quantised here, beside the last photo's write, once
        del protected
        digest = krtio.pixels_sha256(pixels) if db is not None else None
        return pixels, meta, digest

    def write_one(job: _ProtectJob, result) -> None:
        protected, meta, digest = result
        if db is not None:  # recorded first: a published photo is always in the manifest
            manifest.record(db, nonce=meta.nonce, metadata=meta.to_json(), source_name=str(job.src),
                            output_name=str(job.out), pixels_sha256=digest)
        try:
            data.write_png(job.out, protected, depth=job.depth, text=meta.to_text(software=f"imgprivacy {__version__}"),
                           overwrite=args.force)
        except BaseException:  # disk full, an interrupt: the photo was not published, so it is not in the manifest
            if db is not None:
                manifest.forget(db, meta.nonce)
            raise

    done, status = write_all(todo, "protect", protect_one, write_one)
    if status:
        return status
    skipped = len(jobs) - len(todo)
    print(f"protected {done} photo(s) into {args.output}" + (f"; skipped {skipped} already finished" if skipped else ""))
    return 0


# --------------------------------------------------------------------------- recover
@dataclass
class _RecoverJob:
    src: Path
    out: Path
    header: Header
    meta: object
    verified: bool = True
    skip: bool = False


def _by_hand(args, header: Header, src: Path, db: Path | None, pool):
    """Settings of a file without metadata: from the manifest (by its pixels' hash), else from the flags."""
    if db is not None and db.is_file():
        loaded = decode(src, args.max_pixels)
        digest = krtio.pixels_sha256(data.to_uint(loaded.image, depth=loaded.depth))
        try:
            rows = manifest.find_by_pixels(db, digest)
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        if rows:
            return krtio.read_metadata({"imgprivacy": rows[0].metadata}), True
    missing = [n for n, v in (("--id", args.id), ("--alpha", args.alpha), ("-k", args.k), ("--block", args.block)) if v is None]
    if missing:
        where = f"the manifest {show(db)} has no photo with its pixels" if db is not None and db.is_file() else (
            f"there is no manifest beside the key ({show(db)})" if db is not None else "--no-manifest was given")
        raise CLIError(
            f"{show(src)} carries no imgprivacy metadata (stripped?) and {where}; give {', '.join(missing)} by hand "
            "(format 2: --id is the photo's nonce; add --format 1 for photos of format 1)"
        )
    depth = args.depth or 8
    if args.format == 1:
        return krtio.Format1Metadata(args.id, args.alpha, args.k, tuple(args.block), "", 0, header.depth, depth, ""), False
    kind, fingerprint = ("own", None) if args.overlays else ("derived", pool().fingerprint)
    meta = krtio.Format2Metadata(args.id, args.alpha, args.k, tuple(args.block), header.depth, depth, header.shape, kind,
                                 fingerprint)
    return meta, False


def _check_against_flags(args, meta, src: Path) -> None:
    stored_id = meta.nonce if isinstance(meta, krtio.Format2Metadata) else meta.image_id
    given = {"--id": (args.id, stored_id), "--alpha": (args.alpha, meta.alpha), "-k": (args.k, meta.k), "--block": (args.block, meta.block)}
    for flag, (value, stored) in given.items():
        if value is not None and value != stored:
            raise CLIError(f"{show(src)} was protected with {flag} {stored!r}, but {value!r} was given; leave {flag} out")


def _recover_one(img: np.ndarray, key: bytes, meta, sets, prep_cache: dict, *, verified: bool) -> np.ndarray:
    the_set = sets(meta)
    prep = prepared(prep_cache, the_set, img.shape, meta.block)
    if isinstance(meta, krtio.Format2Metadata) and verified:
        return krtio.recover_photo(img, key, meta=meta, overlays=prep, set_fingerprint=the_set.fingerprint)
    if isinstance(meta, krtio.Format2Metadata):  # settings given by hand: nothing to verify them against
        return krtio.recover(img, krtio.photo_key(key, meta.nonce), image_id=meta.nonce, overlays=prep, k=meta.k,
                             alpha=meta.alpha, block=meta.block)
    return krtio.recover(img, key, image_id=meta.image_id, overlays=prep, k=meta.k, alpha=meta.alpha, block=meta.block)


def cmd_recover(args) -> int:
    """Recover protected photos (see ``imgprivacy recover --help``)."""
    if args.id is not None and not args.id:
        raise CLIError("--id must not be empty; give the nonce `imgprivacy manifest` lists for the photo")
    key = load_key(args.key, "recover")
    files = collect(args.inputs, (".png",))
    if args.id is not None and len(files) != 1:
        raise CLIError(f"--id names one photo, but {len(files)} inputs were given")
    outdir = Path(args.output)
    check_output_folder(outdir)
    outs = output_paths(files, outdir)
    db = None if args.no_manifest else manifest.manifest_path(args.key)
    cache: dict = {}

    def pool() -> data.OverlaySet:  # read once: a --pool folder is decoded image by image
        if "pool" not in cache:
            cache["pool"] = public_pool(args.pool)
        return cache["pool"]

    def sets(meta):
        if isinstance(meta, krtio.Format1Metadata) or meta.overlays == "own":
            name = args.overlays or "default"
            if name not in cache:
                cache[name] = own_overlays(args.overlays) if args.overlays else public_pool(None)
            return cache[name]
        if "derived" not in cache:
            cache["derived"] = derived_overlays(key, pool())
        return cache["derived"]

    kcv = None
    jobs = []
    for src, out in zip(files, outs):
        header = read_header(src)
        check_decode_limit(src, header, args.max_pixels, "recover")
        try:
            meta = krtio.read_metadata(header.text)
        except krtio.MetadataError as exc:
            raise CLIError(f"{show(src)}: {exc}; nothing was written") from None
        verified = True
        if meta is None:
            meta, verified = _by_hand(args, header, src, db, pool)
        else:
            _check_against_flags(args, meta, src)
        if isinstance(meta, krtio.Format2Metadata):
            if meta.overlays == "own" and not args.overlays:
                raise CLIError(f"{show(src)} was protected with an overlay folder of your own; pass it with --overlays DIR")
            if meta.overlays == "derived" and args.overlays:
                raise CLIError(f"{show(src)} was protected with the overlay set derived from your key; leave --overlays out")
            if meta.overlays == "derived" and meta.pool != pool().fingerprint:
                raise CLIError(
                    f"{show(src)} was protected from the public pool {meta.pool[:12]}..., but "
                    f"{'--pool ' + repr(args.pool) if args.pool else 'the bundled images here'} have fingerprint "
                    f"{pool().fingerprint[:12]}...; pass --pool DIR with a copy saved by `imgprivacy overlays --export`"
                )
            the_set = sets(meta)
            if verified:
                try:
                    krtio.verify_tag(key, meta, set_fingerprint=the_set.fingerprint)
                    krtio.check_shape(meta, header.shape)
                except krtio.TagMismatch as exc:
                    raise CLIError(f"{show(src)}: refused, {exc}; nothing was written") from None
                if meta.depth != header.depth:
                    raise CLIError(f"{show(src)} is stored at {header.depth} bits but was protected at {meta.depth}: "
                                   "it was re-encoded, and cannot be recovered exactly; use the file as first written")
        else:  # format 1: the key check value and the set's fingerprint, as format 1 always did
            if kcv is None:
                kcv = _prf.key_check_value(key)  # format 1 only: format 2 stores none
            if verified and meta.key_check and meta.key_check != kcv:
                raise CLIError(f"{show(src)} was protected with another key (key check {meta.key_check}, yours {kcv})")
            the_set = sets(meta)
            if meta.overlay_set and meta.overlay_set != the_set.fingerprint:
                where = "the default overlay set" if not args.overlays else f"overlay folder {args.overlays!r}"
                raise CLIError(
                    f"{show(src)} was protected with overlay set {meta.overlay_set[:12]}..., but {where} is "
                    f"{the_set.fingerprint[:12]}...; pass the folder used with --overlays"
                )
        if meta.k > len(the_set):
            raise CLIError(f"{show(src)} needs k={meta.k} overlays, but the set has {len(the_set)}")
        source_depth = meta.source_depth
        error = krtio.max_recovery_error(meta.alpha, depth=header.depth, source_depth=source_depth, k=meta.k)
        if error > 2**source_depth - 1:
            raise CLIError(f"{show(src)} was protected with alpha {meta.alpha:g}, too small for anything to be recovered "
                           f"from {header.depth}-bit storage (the error grows by 1/alpha); nothing was written")
        if error >= 1.5:
            note("recover", f"{show(src)} was protected with alpha {meta.alpha:g}: expect errors up to {error:.0f} grey levels")
        if not verified:
            note("recover", f"{show(src)}: settings given by hand cannot be checked; a wrong value gives a wrong picture")
        jobs.append(_RecoverJob(src, out, header, meta, verified))
    prep_cache: dict = {}
    existing = [j for j in jobs if j.out.exists()]
    if existing and not args.force:
        for job in existing:  # a finished output is the same pixels this run would write
            img = decode(job.src, args.max_pixels).image
            mine = data.to_uint(_recover_one(img, key, job.meta, sets, prep_cache, verified=job.verified), depth=job.meta.source_depth)
            theirs = data.read_image(job.out) if read_header(job.out).pixels <= args.max_pixels else None
            job.skip = theirs is not None and np.array_equal(data.to_uint(theirs.image, depth=theirs.depth), mine)
        unfinished = [j for j in existing if not j.skip]
        if unfinished:
            more = f" (and {len(unfinished) - 1} more)" if len(unfinished) > 1 else ""
            raise CLIError(f"{show(unfinished[0].out)}{more} already exists and differs from what recovery gives; "
                           "pass --force to overwrite, or choose another folder")
    todo = [j for j in jobs if not j.skip]
    outdir.mkdir(parents=True, exist_ok=True)  # every check passed: now write

    def recover_one(job: _RecoverJob) -> np.ndarray:  # computed beside the last photo's write: writes nothing
        img = decode(job.src, args.max_pixels).image
        try:
            original = _recover_one(img, key, job.meta, sets, prep_cache, verified=job.verified)
        except krtio.TagMismatch as exc:  # the header and the decoded image disagree
            raise CLIError(f"{show(job.src)}: refused, {exc}") from None
        del img
        return data.to_uint(original, depth=job.meta.source_depth)  # quantised here, beside the last photo's write

    def write_one(job: _RecoverJob, original: np.ndarray) -> None:
        data.write_png(job.out, original, depth=job.meta.source_depth, overwrite=args.force)

    done, status = write_all(todo, "recover", recover_one, write_one)
    if status:
        return status
    skipped = len(jobs) - len(todo)
    print(f"recovered {done} photo(s) into {args.output}" + (f"; skipped {skipped} already finished" if skipped else ""))
    return 0
