"""Which faces trained a model: :class:`Split` and :func:`split_per_subject`."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_int

__all__ = ["Split", "split_per_subject"]


def _fingerprint(images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> str:
    digest = hashlib.sha256()
    chosen = np.ascontiguousarray(np.asarray(images)[indices], dtype=np.float32)
    digest.update(repr(chosen.shape).encode())
    digest.update(chosen.tobytes())
    digest.update(np.ascontiguousarray(np.asarray(labels)[indices], dtype=np.int64).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class Split:
    """Which images of a face set trained a model and which were held out.

    Attributes
    ----------
    subjects : tuple of int
        The subject labels used, in class order: class ``i`` is subject
        ``subjects[i]``.
    train, test : ndarray of int
        Indices into the whole face set (sorted).
    train_per_subject : int
        Training images per subject.
    seed : int
        Seed of the per-subject choice.
    n_images : int
        Size of the face set the indices refer to.
    fingerprint : str
        SHA-256 of the chosen images and labels (``""`` if unknown): proves
        that a checkpoint meets the same faces when it is reloaded.
    """

    subjects: tuple[int, ...]
    train: np.ndarray
    test: np.ndarray
    train_per_subject: int
    seed: int
    n_images: int
    fingerprint: str = ""

    def class_index(self, labels) -> np.ndarray:
        """Map subject labels to class indices ``0 .. len(subjects) - 1``.

        Examples
        --------
        >>> s = split_per_subject(np.repeat([3, 5], 4), subjects=2, train_per_subject=3)
        >>> s.class_index([5, 3, 5]).tolist()
        [1, 0, 1]
        """
        arr = np.asarray(labels)
        lookup = {s: i for i, s in enumerate(self.subjects)}
        missing = sorted({int(v) for v in arr.ravel()} - set(lookup))
        if missing:
            raise ValueError(f"labels must be among this split's subjects {list(self.subjects)}, got {missing[:5]}")
        return np.array([lookup[int(v)] for v in arr.ravel()], dtype=np.int64).reshape(arr.shape)

    def check(self, images, labels) -> None:
        """Raise ``ValueError`` unless ``images``/``labels`` are the face set this split was made on."""
        labels = np.asarray(labels)
        if len(labels) != self.n_images or len(images) != self.n_images:
            raise ValueError(
                f"this split was made on a face set of {self.n_images} images, got {len(images)} images and "
                f"{len(labels)} labels; load the same data set or retrain"
            )
        if self.fingerprint:
            both = np.concatenate([self.train, self.test])
            if _fingerprint(images, labels, both) != self.fingerprint:
                raise ValueError(
                    "the images or labels at this split's indices differ from those the model was trained on "
                    "(fingerprint mismatch): the face loader changed; retrain with imgprivacy.models.local_ensemble "
                    "(or ProviderCNN.fit) and save new checkpoints"
                )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for checkpoints)."""
        return {
            "subjects": [int(s) for s in self.subjects], "train": self.train.tolist(), "test": self.test.tolist(),
            "train_per_subject": self.train_per_subject, "seed": self.seed, "n_images": self.n_images,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Split:
        """Inverse of :meth:`to_dict`."""
        return cls(
            tuple(int(s) for s in data["subjects"]), np.asarray(data["train"], dtype=np.int64),
            np.asarray(data["test"], dtype=np.int64), int(data["train_per_subject"]), int(data["seed"]),
            int(data["n_images"]), str(data.get("fingerprint", "")),
        )


def split_per_subject(
    labels, *, subjects: int | None = 10, train_per_subject: int = 7, seed: int = 0, images=None
) -> Split:
    """Choose training and held-out images per subject.

    The first ``subjects`` subjects (in sorted label order) are kept; for
    each, ``train_per_subject`` of its images are drawn for training, the
    rest held out.  The draw for subject ``s`` depends only on ``(seed, s)``,
    so splits of different sizes agree on the subjects they share: the
    user's 10-subject split and the provider's 40-subject split hold out the
    same faces of the first 10 people.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
        Subject label of every image of the face set.
    subjects : int or None, default 10
        How many subjects to keep; None keeps all.
    train_per_subject : int, default 7
        At most the smallest image count among the kept subjects.
    seed : int, default 0
    images : ndarray of shape (N, H, W[, C]), optional
        If given, the split records a fingerprint of the chosen images.

    Returns
    -------
    Split

    Examples
    --------
    >>> labels = np.repeat(np.arange(4), 10)
    >>> s = split_per_subject(labels, subjects=2, train_per_subject=7)
    >>> s.subjects, len(s.train), len(s.test)
    ((0, 1), 14, 6)
    >>> bool(set(s.test) <= set(range(20)))
    True
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integer subject labels, got shape {labels.shape} and dtype {labels.dtype}")
    unique = np.unique(labels)
    if subjects is None:
        subjects = len(unique)
    subjects = check_int(subjects, "subjects", minimum=2, maximum=max(2, len(unique)))
    if subjects > len(unique):
        raise ValueError(f"subjects must be at most the {len(unique)} subjects in labels, got {subjects}")
    kept = unique[:subjects]
    groups = [np.flatnonzero(labels == s) for s in kept]
    smallest = min(len(g) for g in groups)
    train_per_subject = check_int(train_per_subject, "train_per_subject", minimum=1, maximum=smallest)
    seed = check_int(seed, "seed", minimum=0)
    train, test = [], []
    for subject, group in zip(kept, groups):
        order = np.random.default_rng([seed, int(subject)]).permutation(len(group))
        train.append(group[np.sort(order[:train_per_subject])])
        test.append(group[np.sort(order[train_per_subject:])])
    train_idx, test_idx = np.sort(np.concatenate(train)), np.sort(np.concatenate(test))
    fingerprint = ""
    if images is not None:
        if len(images) != len(labels):
            raise ValueError(f"images and labels must have the same length, got {len(images)} and {len(labels)}")
        fingerprint = _fingerprint(images, labels, np.concatenate([train_idx, test_idx]))
    return Split(tuple(int(s) for s in kept), train_idx, test_idx, train_per_subject, seed, len(labels), fingerprint)
