"""A learned UEP on disk: :func:`save` and :func:`load` (a numpy ``.npz``, no pickled code)."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import publish
from .._validation import _short, check_path
from ._result import CTrial, UEPResult

__all__ = ["CACHED_UEP", "UEP_FORMAT_VERSION", "cached", "load", "save"]

#: Version of the file layout written by :func:`save`.
UEP_FORMAT_VERSION = 1
_FORMAT = "imgprivacy.uep"
#: File name of the shipped UEP (:func:`cached`) in :func:`imgprivacy.models.checkpoint_dir`.
CACHED_UEP = "uep_olivetti.uep.npz"


def save(path, result: UEPResult, *, metadata: Mapping[str, Any] | None = None, overwrite: bool = False) -> Path:
    """Save a learned UEP with its metadata, atomically (conventionally ``*.uep.npz``).

    The file is a numpy ``.npz`` archive holding ``delta`` (float32) and one
    JSON text: the format marker and version, ``c``, ``p``, ``kappa``, the
    fooling rates, the model names, the resolution, the ``c`` search, and
    whatever :func:`learn` recorded (data split and data set of a
    :class:`~imgprivacy.models.LocalEnsemble`, a SHA-256 of the learning
    images, settings) merged with ``metadata``.

    Parameters
    ----------
    path : str or path
        Written through a temporary file in the same folder, then linked (or,
        with ``overwrite``, renamed) into place: an existing file is never
        replaced unless asked, even by a concurrent writer.
    result : UEPResult
    metadata : dict, optional
        Extra JSON-able facts (e.g. ``{"split": ens.split.to_dict(), "images": idx.tolist()}``);
        merged over ``result.metadata``.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder does not exist.
    TypeError, ValueError
        For a non-UEPResult or metadata that is not JSON-able.

    Examples
    --------
    >>> import os, tempfile
    >>> r = UEPResult(np.zeros((4, 4), np.float32), 0.1, {"all": 0.8}, True, (), 0.7, 5.0, ("vgg_a",))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     f = save(os.path.join(tmp, "me.uep.npz"), r, metadata={"dataset": "olivetti"})
    ...     back = load(f)
    >>> back.c, back.metadata["dataset"], back.delta.shape
    (0.1, 'olivetti', (4, 4))
    """
    path = check_path(path)
    if not isinstance(result, UEPResult):
        raise TypeError(f"result must be a UEPResult (from imgprivacy.uep.learn), got {type(result).__name__}")
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    meta = dict(result.metadata)
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of JSON-able values or None, got {type(metadata).__name__}")
        meta.update(metadata)
    from .. import __version__

    payload = {
        "format": _FORMAT, "format_version": UEP_FORMAT_VERSION, "library_version": __version__,
        "c": result.c, "p": result.p, "kappa": result.kappa, "converged": result.converged,
        "fooling_rate": result.fooling_rate, "models": list(result.models), "resolution": list(result.shape),
        "seconds": result.seconds, "device": result.device, "history": [t.to_dict() for t in result.history],
        "metadata": meta,
    }
    try:
        text = json.dumps(payload, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-able (str, numbers, lists, dicts), got {err}") from None
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} of UEP file {path} does not exist; create it first")
    buffer = io.BytesIO()
    np.savez(buffer, delta=np.asarray(result.delta, dtype=np.float32), info=np.array(text))
    publish(buffer.getvalue(), path, overwrite=overwrite,
            exists_message=f"UEP file {path} already exists; pass overwrite=True to replace it")
    return path


def load(path) -> UEPResult:
    """Read a UEP written by :func:`save` (no pickled code is loaded).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable UEP file (corrupt, another format, a newer
        layout version).

    Examples
    --------
    >>> try:
    ...     load("no/such/file.uep.npz")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(";")[0])
    UEP file no/such/file.uep.npz does not exist
    """
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"UEP file {path} does not exist; learn one with imgprivacy.uep.learn and save it")
    try:
        with np.load(path, allow_pickle=False) as archive:
            delta = np.array(archive["delta"], dtype=np.float32)
            info = json.loads(str(archive["info"][()]))
    except Exception as err:  # zipfile, KeyError, ValueError, JSON errors...
        raise ValueError(f"UEP file {path} is corrupt or not a UEP file ({type(err).__name__}: {err})") from None
    if not isinstance(info, dict) or info.get("format") != _FORMAT:
        raise ValueError(f"UEP file {path} is not an imgprivacy UEP file (no {_FORMAT!r} marker)")
    version = info.get("format_version")
    if not isinstance(version, int) or version > UEP_FORMAT_VERSION:
        raise ValueError(
            f"UEP file {path} has layout version {version!r}, this imgprivacy reads up to {UEP_FORMAT_VERSION}; "
            "upgrade imgprivacy"
        )
    try:
        return UEPResult(
            delta, float(info["c"]), {str(k): float(v) for k, v in info["fooling_rate"].items()}, bool(info["converged"]),
            tuple(CTrial.from_dict(t) for t in info.get("history", [])), float(info["p"]), float(info["kappa"]),
            tuple(info["models"]), float(info.get("seconds", 0.0)), str(info.get("device", "cpu")),
            dict(info.get("metadata", {})),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"UEP file {path} is corrupt: missing or malformed field ({err})") from None


def cached(dataset: str = "olivetti") -> UEPResult:
    """The UEP notebook 04 learns, shipped in ``data/checkpoints`` beside the model checkpoints.

    ``dataset="orl"`` reads ``uep_orl.uep.npz``, learned the same way on the
    user's 100 ORL faces (112 x 92) with the shipped ORL ensemble
    (``cached_ensemble(dataset="orl")``).

    Learned by :func:`imgprivacy.uep.learn` with its defaults (``p = 0.7``,
    ``kappa = 5``, the full ``c`` search: 6 bisection steps over ``c`` in
    ``[1e-3, 10]``) and ``batch_size=50``, as notebook 04 does in full mode,
    on the user's 100 Olivetti faces (the 10 subjects of the cached local
    ensemble, :func:`imgprivacy.models.cached_ensemble`) with their class
    indices.  Learning takes about two minutes on a 2-core CPU and about
    200 MB of memory; notebooks 05 and 06 and the reproduction
    (:func:`imgprivacy.reproduce.run`) load it instead.  The search is
    deterministic (the thread count does not change it), so learning it
    again gives this ``delta``.  Its metadata records the data split, the
    data set, the faces (``images``: indices into the face set, and a
    SHA-256 of their pixels) and the settings; ``fooling_rate`` is what
    :func:`imgprivacy.uep.fooling_rate` gives on the cached ensemble at
    ``beta = 1``.  Regenerate it with::

        faces = imgprivacy.data.load_faces("olivetti")
        ensemble = imgprivacy.models.cached_ensemble(faces=faces)
        user = np.flatnonzero(np.isin(faces.labels, ensemble.split.subjects))
        result = imgprivacy.uep.learn(ensemble, faces.images[user],
                                      ensemble.split.class_index(faces.labels[user]), batch_size=50)
        imgprivacy.uep.save("data/checkpoints/uep_olivetti.uep.npz", result,
                            metadata={"images": user.tolist(), "batch_size": 50})

    The folder is :func:`imgprivacy.models.checkpoint_dir`
    (``$IMGPRIVACY_CHECKPOINTS`` or the repository's ``data/checkpoints``);
    finding it imports torch, reading the file does not need it.

    Returns
    -------
    UEPResult
        ``delta`` of shape (64, 64), float32.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message says how to get it).
    ValueError
        If it is not a readable UEP file.

    Examples
    --------
    >>> r = cached()
    >>> r.delta.shape, r.models, r.converged
    ((64, 64), ('vgg_a', 'vgg_b', 'facescrub_thumb'), True)
    """
    from ..models import SHIPPED_FACES, checkpoint_dir

    if dataset not in SHIPPED_FACES:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, SHIPPED_FACES))} (the face sets with a shipped "
                         f"UEP), got {dataset!r}; learn one with imgprivacy.uep.learn")
    path = checkpoint_dir() / (CACHED_UEP if dataset == "olivetti" else f"uep_{dataset}.uep.npz")
    if not path.is_file():
        raise FileNotFoundError(
            f"the cached UEP {path} is missing; it ships in the repository's data/checkpoints (install with "
            "pip install -e . from a clone), set IMGPRIVACY_CHECKPOINTS to its folder, or learn it again as "
            "the docstring of imgprivacy.uep.cached shows"
        )
    return load(path)
