"""The user's ensemble: :func:`local_ensemble` trains it, :func:`cached_ensemble` loads the shipped one."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import _short, check_int
from ._checkpoints import LocalEnsemble, cached_path, load_ensemble, shipped_dataset, training_faces
from ._nets import ARCHITECTURES, LOCAL_ARCHITECTURES, SPECS, build_model, check_arch
from ._split import split_per_subject
from ._torch import to_tensor
from ._train import BATCH_SIZE, LR, train

__all__ = ["cached_ensemble", "local_ensemble"]


def local_ensemble(
    images,
    labels,
    *,
    subjects: int = 10,
    train_per_subject: int = 7,
    seed: int = 0,
    epochs: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    dataset: str | None = None,
    architectures: tuple[str, ...] = LOCAL_ARCHITECTURES,
) -> LocalEnsemble:
    """Pick the user's subset of a face set and train her three local CNNs on it.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C)
        The whole face set, float in [0, 1] (e.g. ``load_faces().images``).
    labels : array-like of int, shape (N,)
        Subject labels.
    subjects : int, default 10
        The user knows the first ``subjects`` people (paper, section 6.1: 10).
    train_per_subject : int, default 7
        Images per person used for training (drawn with ``seed``, see
        :func:`split_per_subject`); the others are held out to measure accuracy.
    seed : int, default 0
        Seeds the split, the initial weights and the training.
    epochs : int, optional
        Epochs for every model; default: each architecture's own (60 for the
        two VGG-style networks, 40 for the thumbnail FaceScrub CNN).
    device : torch.device or str, optional
        Default :func:`pick_device`.
    progress : bool, default True
    dataset : str, optional
        Name of the face set, recorded for checkpoints.
    architectures : tuple of str, default LOCAL_ARCHITECTURES

    Returns
    -------
    LocalEnsemble

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.random((12, 16, 16), dtype=np.float32), np.repeat([0, 1, 2], 4)
    >>> ens = local_ensemble(x, y, subjects=2, train_per_subject=3, epochs=1, device="cpu", progress=False)
    >>> ens.names, ens.split.test.tolist()
    (('vgg_a', 'vgg_b', 'facescrub_thumb'), [3, 5])
    """
    x = to_tensor(images)  # validates
    labels = np.asarray(labels)
    if labels.shape != (len(x),):
        raise ValueError(f"labels must have one entry per image, shape ({len(x)},), got shape {labels.shape}")
    if not isinstance(architectures, (tuple, list)) or not architectures:
        raise ValueError(f"architectures must be a non-empty tuple of names from {ARCHITECTURES}, got {_short(architectures)}")
    for arch in architectures:
        check_arch(arch, "architectures")
    if len(set(architectures)) != len(architectures):
        raise ValueError(f"architectures must not repeat a name, got {_short(architectures)}")
    if epochs is not None:
        epochs = check_int(epochs, "epochs", minimum=1)
    if dataset is not None and not isinstance(dataset, str):
        raise TypeError(f"dataset must be a string naming the face set or None, got {_short(dataset)}")
    images = np.asarray(images)  # a list of same-shaped images becomes a stack (validated above)
    split = split_per_subject(labels, subjects=subjects, train_per_subject=train_per_subject, seed=seed, images=images)
    xtr, ytr = images[split.train], split.class_index(labels[split.train])
    xte, yte = images[split.test], split.class_index(labels[split.test])
    val = (xte, yte) if len(split.test) else None
    channels = int(x.shape[1])
    models, history, acc = {}, {}, {}
    for arch in architectures:
        model = build_model(arch, in_channels=channels, n_classes=len(split.subjects), seed=seed)
        n_epochs = epochs if epochs is not None else SPECS[arch]["epochs"]
        history[arch] = train(model, xtr, ytr, epochs=n_epochs, device=device, seed=seed, progress=progress, val=val)
        acc[arch] = history[arch].val_accuracy[-1] if val is not None else float("nan")
        models[arch] = model
    settings = {
        "subjects": len(split.subjects), "train_per_subject": split.train_per_subject, "seed": split.seed,
        "epochs": {a: history[a].epochs for a in architectures}, "batch_size": BATCH_SIZE, "lr": LR,
        "augment": True, "image_shape": list(np.asarray(images).shape[1:]),
    }
    return LocalEnsemble(models, split, history, acc, settings, dataset)



def cached_ensemble(*, faces=None, device: torch.device | str | None = "cpu", dataset: str | None = None) -> LocalEnsemble:
    """The default user ensemble, trained once on Olivetti (or ORL) and shipped in ``data/checkpoints``.

    Made with ``local_ensemble(faces.images, faces.labels, dataset="olivetti")``
    (10 subjects, 7 training images each, seed 0) on the CPU, and the same
    on the ORL faces (``dataset="orl"``, 112 x 92); reloading checks that
    the face loader still gives the same images at the split's indices.

    Parameters
    ----------
    faces : FaceSet, optional
        The face set to check the split against; default
        ``imgprivacy.data.load_faces(dataset)``.
    device : torch.device or str, default "cpu"
    dataset : {"olivetti", "orl"}, optional
        Which shipped ensemble; default ``faces.dataset`` when it is one of
        :data:`SHIPPED_FACES`, else ``"olivetti"``.

    Returns
    -------
    LocalEnsemble

    Raises
    ------
    FileNotFoundError
        If the checkpoint (or the Olivetti faces) are missing.
    ValueError
        If the faces differ from those it was trained on.

    Examples
    --------
    >>> ens = cached_ensemble()
    >>> ens.names, ens.accuracy
    (('vgg_a', 'vgg_b', 'facescrub_thumb'), {'vgg_a': 1.0, 'vgg_b': 1.0, 'facescrub_thumb': 1.0})
    >>> from imgprivacy.data import load_faces
    >>> faces = load_faces("olivetti")
    >>> held_out = faces.images[ens.split.test]
    >>> from imgprivacy.models import accuracy
    >>> accuracy(ens.models["vgg_a"], held_out, ens.split.class_index(faces.labels[ens.split.test]))
    1.0
    """
    ensemble = load_ensemble(cached_path("ensemble", shipped_dataset(faces, dataset)), device=device)
    faces = training_faces(ensemble.dataset, faces)
    ensemble.split.check(faces.images, faces.labels)
    return ensemble
