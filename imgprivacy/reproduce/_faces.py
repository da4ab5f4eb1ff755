"""The face set a run evaluates: what it is, its block sizes, and the models trained for it.

Olivetti and ORL have shipped checkpoints (:data:`imgprivacy.models.SHIPPED_FACES`: the user's ensemble, the
provider CNN, the robust CNN and the UEP); for another face set (LFW) every model is trained in the run, by
the same code and seeds as the shipped ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import data

__all__ = ["FACE_SETS", "describe", "ensemble_for", "load", "provider_for", "robust_for", "scaled_blocks", "uep_matches"]

#: The face sets ``imgprivacy reproduce --faces`` knows, with their names in the report.
FACE_SETS = {"olivetti": "Olivetti", "orl": "ORL", "lfw": "LFW"}
#: The side of the Olivetti faces, which the paper-style block grid (4 .. 64 px) was chosen for.
_BASE_SIDE = 64
#: Blocks up to this size keep their pixel size at every resolution (the paper's claims name them: block < 10,
#: block <= 8, block < 20); larger ones are fractions of the face (32: half of it, 64: all of it) and scale.
_ABSOLUTE_UP_TO = 16


def scaled_blocks(blocks, short_side: int) -> tuple[int, ...]:
    """Block sizes for faces whose short side is ``short_side``: small blocks kept, large ones scaled.

    Blocks of at most 16 px are the paper's own pixel sizes and stay; a larger block is a fraction of
    the 64-px Olivetti face (32: half, 64: the whole face) and becomes that fraction of ``short_side``.

    Examples
    --------
    >>> scaled_blocks((4, 8, 16, 32, 64), 64), scaled_blocks((4, 8, 16, 32, 64), 92)
    ((4, 8, 16, 32, 64), (4, 8, 16, 46, 92))
    """
    out = []
    for b in blocks:
        b = int(b)
        out.append(b if b <= _ABSOLUTE_UP_TO else max(_ABSOLUTE_UP_TO + 1, round(b * short_side / _BASE_SIDE)))
    return tuple(dict.fromkeys(out))


def describe(faces) -> dict[str, Any]:
    """The face set as the report names it: name, size ("92x112": width x height), colour, people, photos."""
    h, w = faces.images.shape[1:3]
    return {"dataset": faces.dataset, "name": FACE_SETS.get(faces.dataset, faces.dataset), "width": int(w),
            "height": int(h), "size": f"{w}×{h}", "colour": faces.images.ndim == 4, "people": faces.n_subjects,
            "photos": len(faces), "shipped": faces.dataset in _shipped()}


def _shipped() -> tuple[str, ...]:
    from ..models import SHIPPED_FACES

    return SHIPPED_FACES


def _train_split(faces):
    from ..models import split_per_subject

    return split_per_subject(faces.labels, subjects=None, train_per_subject=7, seed=0, images=faces.images)


def provider_for(faces, device, progress: bool, notes: list[str]):
    """The provider CNN of this face set: the shipped one, else trained here (40 epochs, 7 photos per person)."""
    from ..targets import ProviderCNN

    if faces.dataset in _shipped():
        return ProviderCNN.cached(faces=faces, dataset=faces.dataset)
    split = _train_split(faces)
    provider = ProviderCNN(seed=0).fit(faces.images[split.train], faces.labels[split.train], progress=progress,
                                       device=device)
    provider.split_ = split
    provider.dataset_ = faces.dataset
    notes.append(f"The provider CNN was trained in this run on {len(split.train)} {describe(faces)['name']} photos "
                 "(no shipped checkpoint fits these faces).")
    return provider


def robust_for(faces, train, labels, retrain: bool, device, progress: bool, notes: list[str]):
    """The robust CNN: retrained here when asked or when no shipped checkpoint fits, else the shipped one."""
    from ..targets import RobustCNN

    if retrain or faces.dataset not in _shipped():
        if not retrain:
            notes.append("The robust CNN was trained in this run (no shipped checkpoint fits these faces).")
        return RobustCNN(seed=0).fit(faces.images[train], labels[train], progress=progress, device=device)
    notes.append("The robust CNN is the one shipped in data/checkpoints, trained by the same code "
                 "(retrain_robust=False).")
    return RobustCNN.cached(faces=faces, dataset=faces.dataset)


def ensemble_for(faces, device, progress: bool, notes: list[str]):
    """The user's three local CNNs for this face set: shipped for Olivetti and ORL, else trained here."""
    from .. import models

    if faces.dataset in _shipped():
        return models.cached_ensemble(faces=faces, device=device, dataset=faces.dataset)
    notes.append("The user's local ensemble was trained in this run (no shipped checkpoint fits these faces).")
    return models.local_ensemble(faces.images, faces.labels, seed=0, device=device, progress=progress,
                                 dataset=faces.dataset)


def load(name: str) -> data.FaceSet:
    """``imgprivacy.data.load_faces(name)`` for one of :data:`FACE_SETS`."""
    if name not in FACE_SETS:
        raise ValueError(f"faces must be one of {', '.join(map(repr, FACE_SETS))}, got {name!r}")
    return data.load_faces(name)


def uep_matches(shipped, faces, ensemble, user: np.ndarray, settings) -> bool:
    """Whether the shipped UEP was learned by this very search on these faces and models."""
    meta = shipped.metadata
    return bool(meta.get("dataset") == faces.dataset and meta.get("split") == ensemble.split.to_dict()
                and meta.get("images") == user.tolist() and shipped.models == ensemble.names
                and meta.get("settings", {}).get("c_range") == list(settings.uep_c_range)
                and meta.get("settings", {}).get("search_steps") == settings.uep_search_steps)
