"""What is stored and how: :class:`Checkpoint`, :class:`LocalEnsemble`, the checkpoint file, the shipped checkpoints.

:class:`LocalEnsemble` lives here, with the file format, because it saves
itself (:meth:`LocalEnsemble.save`) and :func:`save_checkpoint` /
:func:`load_ensemble` write and rebuild it: one module, no import cycle.
Training one is :func:`imgprivacy.models.local_ensemble` (``_ensemble.py``).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._atomic import publish
from .._validation import _short, check_path
from ._nets import ARCHITECTURES, FaceCNN
from ._split import Split
from ._torch import pick_device
from ._train import TrainHistory

__all__ = ["CACHED_FILES", "CHECKPOINT_FORMAT_VERSION", "SHIPPED_FACES", "Checkpoint", "LocalEnsemble", "cached_file",
           "cached_path", "checkpoint_dir", "load_checkpoint", "load_ensemble", "save_checkpoint", "shipped_dataset",
           "training_faces"]

#: Version of the checkpoint file layout written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT_VERSION = 1
_CHECKPOINT_FORMAT = "imgprivacy.models checkpoint"


# =========================================================================== the user's ensemble
@dataclass(frozen=True, eq=False)
class LocalEnsemble:
    """The user's trained local CNNs, with the data they saw.

    Attributes
    ----------
    models : dict of str to FaceCNN
        The trained networks in eval mode, in :data:`LOCAL_ARCHITECTURES`
        order (``"vgg_a"``, ``"vgg_b"``, ``"facescrub_thumb"``).  Each maps
        (N, C, H, W) in [0, 1] to logits over ``len(split.subjects)`` classes.
    split : Split
        Training and held-out images (indices into the face set) and the
        subjects (class ``i`` is subject ``split.subjects[i]``).
    history : dict of str to TrainHistory
    accuracy : dict of str to float
        Held-out accuracy of each model (NaN with no held-out images).
    settings : dict
        The training settings (JSON-able).
    dataset : str or None
        Name of the face set (``"olivetti"``), if known.
    """

    models: dict[str, FaceCNN]
    split: Split
    history: dict[str, TrainHistory] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    dataset: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Model names, in order."""
        return tuple(self.models)

    def __len__(self) -> int:
        return len(self.models)

    def __iter__(self) -> Iterator[FaceCNN]:
        return iter(self.models.values())

    def __repr__(self) -> str:
        acc = ", ".join(f"{k}={v:.3f}" for k, v in self.accuracy.items())
        return (
            f"LocalEnsemble(models={list(self.models)}, subjects={len(self.split.subjects)}, "
            f"train={len(self.split.train)}, held_out={len(self.split.test)}, accuracy: {acc})"
        )

    def to(self, device: torch.device | str) -> LocalEnsemble:
        """Move every model to ``device`` (in place) and return the ensemble."""
        dev = pick_device(device)
        for model in self.models.values():
            model.to(dev)
        return self

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save with :func:`save_checkpoint`."""
        return save_checkpoint(path, self, overwrite=overwrite)



# =========================================================================== checkpoints
@dataclass(frozen=True, eq=False)
class Checkpoint:
    """What :func:`load_checkpoint` read.

    Attributes
    ----------
    kind : str
        ``"ensemble"`` (a :class:`LocalEnsemble`) or ``"model"``.
    models : dict of str to FaceCNN
        Rebuilt networks in eval mode.
    metadata : dict
        JSON-able metadata: ``split``, ``settings``, ``accuracy``,
        ``history``, ``dataset`` and whatever the writer added.
    library_version : str
        imgprivacy version that wrote the file.
    path : pathlib.Path
    """

    kind: str
    models: dict[str, FaceCNN]
    metadata: dict[str, Any]
    library_version: str
    path: Path

    @property
    def model(self) -> FaceCNN:
        """The only model of a single-model checkpoint."""
        if len(self.models) != 1:
            raise ValueError(f"this checkpoint holds {len(self.models)} models ({list(self.models)}); pick one from .models")
        return next(iter(self.models.values()))

    @property
    def split(self) -> Split | None:
        """The data split, if recorded."""
        data = self.metadata.get("split")
        return None if data is None else Split.from_dict(data)


def _library_version() -> str:
    from .. import __version__

    return __version__



def save_checkpoint(
    path: str | os.PathLike,
    obj: nn.Module | LocalEnsemble,
    *,
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save trained networks with the settings and data split they were trained on.

    Parameters
    ----------
    path : str or path
        The file to write (conventionally ``*.pt``).  Written atomically: a
        temporary file in the same folder is renamed over it.
    obj : FaceCNN or LocalEnsemble
        A single network (from :func:`imgprivacy.models.build_model`) or the user's ensemble
        (its split, history, accuracy, settings and dataset are saved too).
    metadata : dict, optional
        Extra JSON-able information (split, settings, accuracy, dataset, ...);
        for an ensemble it is merged over the ensemble's own.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    TypeError, ValueError
        For an object that is not one of this module's networks, or
        metadata that is not JSON-able.

    Notes
    -----
    The file holds only tensors, strings and numbers (the metadata as one
    JSON string), so it loads with ``torch.load(weights_only=True)``: no
    pickled code runs on loading.  Layout version
    :data:`CHECKPOINT_FORMAT_VERSION`.

    Examples
    --------
    >>> import tempfile
    >>> from imgprivacy.models import build_model
    >>> net = build_model("facescrub_thumb", n_classes=3, seed=0).eval()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = save_checkpoint(os.path.join(tmp, "net.pt"), net, metadata={"dataset": "toy"})
    ...     back = load_checkpoint(p)
    ...     x = torch.rand(2, 1, 32, 32)
    ...     bool(torch.equal(back.model(x), net(x))), back.metadata["dataset"]
    (True, 'toy')
    """
    path = check_path(path)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    if isinstance(obj, LocalEnsemble):
        kind, models = "ensemble", dict(obj.models)
        meta: dict[str, Any] = {
            "split": obj.split.to_dict(), "settings": obj.settings, "accuracy": obj.accuracy,
            "history": {k: h.to_dict() for k, h in obj.history.items()}, "dataset": obj.dataset,
        }
    elif isinstance(obj, FaceCNN):
        kind, models, meta = "model", {obj.arch: obj}, {}
    else:
        raise TypeError(
            f"obj must be a FaceCNN (from imgprivacy.models.build_model) or a LocalEnsemble, got {type(obj).__name__}"
        )
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of JSON-able values or None, got {type(metadata).__name__}")
        meta.update(metadata)
    try:
        meta_json = json.dumps(meta, allow_nan=True)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-able (str, numbers, lists, dicts), got {err}") from None
    if path.exists() and not overwrite:
        raise FileExistsError(f"checkpoint {path} already exists; pass overwrite=True to replace it")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} of checkpoint {path} does not exist; create it first")
    payload = {
        "format": _CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_FORMAT_VERSION,
        "library_version": _library_version(),
        "torch_version": str(torch.__version__),
        "kind": kind,
        "models": [
            {"name": name, "config": dict(m.config), "state_dict": {k: v.detach().cpu().clone() for k, v in m.state_dict().items()}}
            for name, m in models.items()
        ],
        "metadata_json": meta_json,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    publish(
        buffer.getvalue(),
        path,
        overwrite=overwrite,
        exists_message=f"checkpoint {path} already exists; pass overwrite=True to replace it",
    )
    return path


def load_checkpoint(path: str | os.PathLike, *, device: torch.device | str | None = "cpu") -> Checkpoint:
    """Load a file written by :func:`save_checkpoint`; rebuild and validate its networks.

    Parameters
    ----------
    path : str or path
    device : torch.device or str, default "cpu"
        Where to put the networks (``None``: :func:`pick_device`).

    Returns
    -------
    Checkpoint
        Networks in eval mode.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable checkpoint (corrupt, truncated, another
        format or a newer layout version) or names an unknown architecture,
        or its weights do not fit the architecture.

    Examples
    --------
    >>> try:
    ...     load_checkpoint("no/such/file.pt")
    ... except FileNotFoundError as err:
    ...     print(str(err).split(";")[0])
    checkpoint no/such/file.pt does not exist
    """
    path = check_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist; train and save one (imgprivacy.models.save_checkpoint) "
            "or use the cached ones (imgprivacy.models.cached_ensemble)"
        )
    dev = pick_device(device)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise ValueError(f"checkpoint {path} is corrupt or not a torch checkpoint ({type(err).__name__}: {err})") from None
    if not isinstance(payload, dict) or payload.get("format") != _CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path} is not an imgprivacy.models checkpoint (no {_CHECKPOINT_FORMAT!r} marker)")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"checkpoint {path} has layout version {version!r}, this imgprivacy reads up to {CHECKPOINT_FORMAT_VERSION}; "
            "upgrade imgprivacy"
        )
    try:
        metadata = json.loads(payload["metadata_json"])
        entries = payload["models"]
        kind = str(payload["kind"])
        library_version = str(payload["library_version"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {path} is corrupt: missing or malformed field ({err})") from None
    models: dict[str, FaceCNN] = {}
    for entry in entries:
        config = entry.get("config", {}) if isinstance(entry, dict) else {}
        arch = config.get("arch")
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"checkpoint {path} holds an unknown architecture {arch!r}; this imgprivacy knows {', '.join(ARCHITECTURES)}"
            )
        model = FaceCNN(arch, in_channels=config["in_channels"], n_classes=config["n_classes"])
        try:
            model.load_state_dict(entry["state_dict"], strict=True)
        except (RuntimeError, KeyError) as err:
            raise ValueError(f"checkpoint {path}: the weights of {entry.get('name')!r} do not fit architecture {arch!r} ({err})") from None
        models[str(entry["name"])] = model.to(dev).eval()
    return Checkpoint(kind, models, metadata, library_version, path)


def _ensemble_from(ckpt: Checkpoint) -> LocalEnsemble:
    if ckpt.kind != "ensemble":
        raise ValueError(f"checkpoint {ckpt.path} holds a single {ckpt.kind}, not a LocalEnsemble; use load_checkpoint")
    meta = ckpt.metadata
    history, acc = meta.get("history", {}), meta.get("accuracy", {})
    return LocalEnsemble(
        ckpt.models,
        Split.from_dict(meta["split"]),
        {k: TrainHistory.from_dict(history[k]) for k in ckpt.models if k in history},
        {k: float(acc[k]) for k in ckpt.models if k in acc},
        dict(meta.get("settings", {})),
        meta.get("dataset"),
    )


def load_ensemble(path: str | os.PathLike, *, device: torch.device | str | None = "cpu") -> LocalEnsemble:
    """Load a :class:`LocalEnsemble` saved with :meth:`LocalEnsemble.save` / :func:`save_checkpoint`."""
    return _ensemble_from(load_checkpoint(path, device=device))


# =========================================================================== cached checkpoints
_CHECKPOINT_ENV = "IMGPRIVACY_CHECKPOINTS"
_CACHED_STEMS = {"ensemble": "local_ensemble", "provider": "provider_cnn", "robust": "robust_cnn"}
#: Face sets with shipped checkpoints (the ensemble, the provider CNN, the robust CNN and the UEP).
SHIPPED_FACES = ("olivetti", "orl")


def cached_file(name: str, dataset: str = "olivetti") -> str:
    """File name of a shipped checkpoint: ``{local_ensemble,provider_cnn,robust_cnn}_{dataset}.pt``.

    Parameters
    ----------
    name : {"ensemble", "provider", "robust"}
    dataset : {"olivetti", "orl"}, default "olivetti"
        The face set it was trained on (:data:`SHIPPED_FACES`).

    Returns
    -------
    str

    Examples
    --------
    >>> cached_file("provider"), cached_file("ensemble", "orl")
    ('provider_cnn_olivetti.pt', 'local_ensemble_orl.pt')
    """
    if name not in _CACHED_STEMS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _CACHED_STEMS))}, got {_short(name)}")
    if dataset not in SHIPPED_FACES:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, SHIPPED_FACES))} (the face sets with shipped "
                         f"checkpoints), got {_short(dataset)}; train the models for other faces")
    return f"{_CACHED_STEMS[name]}_{dataset}.pt"


def shipped_dataset(faces=None, dataset: str | None = None) -> str:
    """Which shipped checkpoints fit: ``dataset`` if given, else ``faces.dataset`` when shipped, else ``"olivetti"``.

    Examples
    --------
    >>> shipped_dataset(), shipped_dataset(dataset="orl")
    ('olivetti', 'orl')
    """
    if dataset is not None:
        return dataset
    found = getattr(faces, "dataset", None)
    return found if found in SHIPPED_FACES else "olivetti"


#: File names of the shipped Olivetti checkpoints in :func:`checkpoint_dir` (:func:`cached_file` names the others).
CACHED_FILES = {name: cached_file(name) for name in _CACHED_STEMS}


def checkpoint_dir() -> Path:
    """Folder of the shipped checkpoints: ``$IMGPRIVACY_CHECKPOINTS`` or the repository's ``data/checkpoints``."""
    env = os.environ.get(_CHECKPOINT_ENV)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[2] / "data" / "checkpoints"


def cached_path(name: str, dataset: str = "olivetti") -> Path:
    """The path of a shipped checkpoint, by its key in :data:`CACHED_FILES` and its face set.

    Parameters
    ----------
    name : {"ensemble", "provider", "robust"}
        The user's ensemble (:func:`imgprivacy.models.cached_ensemble`), the
        provider's CNN or its robust CNN (:meth:`imgprivacy.targets.ProviderCNN.cached`,
        :meth:`imgprivacy.targets.RobustCNN.cached`).
    dataset : {"olivetti", "orl"}, default "olivetti"
        The face set it was trained on (:func:`cached_file`).

    Returns
    -------
    pathlib.Path
        In :func:`checkpoint_dir`.

    Raises
    ------
    FileNotFoundError
        If the file is missing (the message says how to get it).

    Examples
    --------
    >>> cached_path("ensemble").name
    'local_ensemble_olivetti.pt'
    """
    path = checkpoint_dir() / cached_file(name, dataset)
    if not path.is_file():
        raise FileNotFoundError(
            f"the cached {name} checkpoint {path} is missing; it ships in the repository's data/checkpoints "
            f"(install with pip install -e . from a clone), set {_CHECKPOINT_ENV} to its folder, or regenerate it "
            f"with python benchmarks/bench_models.py --faces {dataset} --write-checkpoints data/checkpoints"
        )
    return path


def training_faces(dataset: str | None, faces=None):
    """The face set a shipped checkpoint was trained on: ``faces`` when given, else ``load_faces(dataset)``.

    What :func:`imgprivacy.models.cached_ensemble` and
    :meth:`imgprivacy.targets.ProviderCNN.cached` check a checkpoint's
    data split against.

    Parameters
    ----------
    dataset : str or None
        The data set recorded in the checkpoint; None means ``"olivetti"``.
    faces : FaceSet, optional
        Returned as it is when given (nothing is loaded).

    Returns
    -------
    FaceSet

    Examples
    --------
    >>> training_faces(None, faces="mine")
    'mine'
    >>> training_faces("olivetti").images.shape
    (400, 64, 64)
    """
    if faces is not None:
        return faces
    from ..data import load_faces

    return load_faces(dataset or "olivetti")
