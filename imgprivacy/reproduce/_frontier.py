"""The privacy-utility frontier of one face set, without the rest of the run: what notebook 09 draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evaluate import EVALUATION_KEY
from ._faces import describe, load, provider_for, scaled_blocks

__all__ = ["FaceSetFrontier", "face_set_frontier"]


@dataclass(frozen=True)
class FaceSetFrontier:
    """What :func:`face_set_frontier` measured on one face set.

    Attributes
    ----------
    faces : FaceSet
    info : dict
        Name, size ("92×112"), colour, people, photos.
    test : ndarray of int
        The evaluated faces (held out from the provider's training; dlib's gallery people first).
    targets : dict of str to recogniser
        eigenfaces, the provider CNN and, when installed, dlib's ResNet (enrolled on clean training photos).
    limits : dict of str to int
        Faces each recogniser saw (dlib: the first ``dlib_probes``).
    delta : UEPResult
        The shipped UEP of the face set.
    blocks : tuple of int
        The k-RTIO blocks (:func:`imgprivacy.reproduce.scaled_blocks` of those asked).
    sweeps : tuple of pandas.DataFrame
        The k-RTIO grid and the UEP betas (:func:`imgprivacy.evaluate.sweep`).
    table : pandas.DataFrame
        :func:`imgprivacy.evaluate.frontier` of both.
    best : pandas.DataFrame
        :func:`imgprivacy.evaluate.best_settings` for every recogniser, at SSIM >= 0.5, 0.6, 0.7.
    """

    faces: Any
    info: dict
    test: np.ndarray
    targets: dict
    limits: dict
    delta: Any
    blocks: tuple
    sweeps: tuple
    table: Any
    best: Any


def face_set_frontier(faces: str = "olivetti", *, alphas=(0.3, 0.4, 0.45, 0.5, 0.6, 0.7), blocks=(4, 8, 16, 32, 64),
                      ks=(3, 8), betas=(1.0, 2.0, 3.0, 5.0), faces_per_person: int = 3, dlib_people: int = 40,
                      dlib_probes: int = 60, key: bytes = EVALUATION_KEY, overlays=None,
                      progress: bool = True) -> FaceSetFrontier:
    """Both schemes' privacy-utility frontier on a face set with shipped models (Olivetti or ORL).

    The recognisers are the run's (:func:`imgprivacy.reproduce.run`) without
    the robust CNN and the detectors: eigenfaces and the provider CNN
    trained on the clean training photos, dlib's ResNet enrolled on the
    clean training photos of the first ``dlib_people`` people.  The faces
    are the provider's held-out ones, ``faces_per_person`` each.  Blocks
    are scaled to the face set (:func:`imgprivacy.reproduce.scaled_blocks`).

    Parameters
    ----------
    faces : {"olivetti", "orl"}, default "olivetti"
    alphas, blocks, ks : sequences
        The k-RTIO grid (the run's full grid by default).
    betas : sequence of float
        The UEP strengths.
    faces_per_person, dlib_people, dlib_probes : int
        As in :class:`imgprivacy.reproduce.Settings`.
    key : bytes, default ``EVALUATION_KEY``
    overlays : OverlaySet, optional
        Default :func:`imgprivacy.data.overlay_set`.
    progress : bool, default True

    Returns
    -------
    FaceSetFrontier

    Raises
    ------
    ValueError
        For a face set without shipped models (train them with :func:`imgprivacy.reproduce.run`).
    """
    import pandas as pd

    from .. import data, evaluate, uep
    from ..models import SHIPPED_FACES
    from ..targets import Eigenfaces

    if faces not in SHIPPED_FACES:
        raise ValueError(f"faces must be one of {', '.join(map(repr, SHIPPED_FACES))} (the face sets with shipped "
                         f"models), got {faces!r}; imgprivacy.reproduce.run(faces=...) trains them for others")
    face_set = load(faces)
    info = describe(face_set)
    blocks = scaled_blocks(blocks, min(info["width"], info["height"]))
    overlays = data.overlay_set() if overlays is None else overlays
    provider = provider_for(face_set, None, progress, [])
    train, test = provider.split_.train, provider.split_.test
    labels = face_set.labels
    test = np.concatenate([test[labels[test] == s][:faces_per_person] for s in np.unique(labels[test])])
    targets: dict[str, Any] = {}
    limits: dict[str, int] = {}
    try:
        from ..targets import DlibRecognizer

        people = np.unique(labels)[:dlib_people]
        gallery = train[np.isin(labels[train], people)]
        targets["dlib ResNet"] = DlibRecognizer().fit(face_set.images[gallery], labels[gallery])
        enrolled = np.isin(labels[test], people)
        test = np.concatenate([test[enrolled], test[~enrolled]])
        limits["dlib ResNet"] = int(min(dlib_probes, enrolled.sum()))
    except ImportError:
        pass
    targets["provider CNN"] = provider
    targets["eigenfaces"] = Eigenfaces().fit(face_set.images[train], labels[train])
    x, y = face_set.images[test], labels[test]
    delta = uep.cached(faces)
    grid = evaluate.sweep(x, y, targets, alphas=alphas, blocks=blocks, ks=ks, key=key, overlays=overlays,
                          limits=limits, progress=progress)
    uep_table = evaluate.sweep(x, y, targets, betas=betas, delta=delta, limits=limits, progress=progress)
    table = evaluate.frontier(grid, uep_table)
    best = pd.concat([evaluate.best_settings(table, target=t) for t in dict.fromkeys(table["target"])],
                     ignore_index=True)
    return FaceSetFrontier(face_set, info, test, targets, limits, delta, blocks, (grid, uep_table), table, best)
