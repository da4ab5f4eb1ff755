"""Face sets: FaceSet and the Olivetti, ORL/AT&T and LFW loaders."""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import _short, check_int
from ._convert import to_float

_FACE_SETS = ("olivetti", "orl", "lfw")
#: The LFW crop: rows and columns of the 250 x 250 funneled photo kept (its central 128 x 128 pixels: the face,
#: some hair and background, like ORL's wider crop), then scaled by ``_LFW_RESIZE`` to 96 x 96.
_LFW_SLICE = (slice(61, 189), slice(61, 189))
_LFW_RESIZE = 0.75
_ORL_ENV = "IMGPRIVACY_ORL"
_ORL_DEFAULT = Path("~") / "imgprivacy_data" / "orl_faces"


@dataclass(frozen=True, eq=False)
class FaceSet:
    """A labelled set of face images (grey, or RGB as LFW's).

    :func:`load_faces` returns one for a face database; build one from your
    own arrays with ``FaceSet(images, labels, names)``.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, 3)
        float32 grey (or RGB, channel last) images in [0, 1] (kept as
        given, not copied).
    labels : array-like of shape (N,)
        Subject index of each image, ``0 .. len(names) - 1``; stored as int64.
    names : sequence of str
        Subject name of each label (``names[label]``), e.g. ``"s1"``; stored
        as a tuple.
    dataset : str, default "custom"
        Where the faces come from: ``"olivetti"``, ``"orl"`` or ``"lfw"`` for
        :func:`load_faces`, ``"custom"`` unless you name it.

    Attributes
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, 3)
        float32 in [0, 1].
    labels : ndarray of shape (N,)
        int64 subject index, ``0 .. n_subjects - 1``.
    names : tuple of str
        Subject name of each label (``names[label]``), e.g. ``"s1"``.
    dataset : str
        ``"olivetti"``, ``"orl"``, ``"lfw"``, ``"custom"`` or what the creator chose.

    Raises
    ------
    ValueError
        If ``images`` is not an (N, H, W) or (N, H, W, 3) array, ``labels`` has not one entry
        per image, or a label is not an index into ``names``.

    Examples
    --------
    >>> faces = FaceSet(np.zeros((4, 2, 2), np.float32), np.array([0, 0, 1, 1]), ("s1", "s2"))
    >>> len(faces), faces.n_subjects, faces.dataset
    (4, 2, 'custom')
    >>> FaceSet(np.zeros((2, 2, 2), np.float32), [0, 0], ("a",), "toy").labels.dtype
    dtype('int64')
    """

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    dataset: str = "custom"

    def __post_init__(self) -> None:
        if not isinstance(self.images, np.ndarray) or not (
            self.images.ndim == 3 or (self.images.ndim == 4 and self.images.shape[3] == 3)
        ):
            raise ValueError(
                f"images must be an ndarray of shape (N, H, W) or (N, H, W, 3), got {_shape_of(self.images)}"
            )
        labels = np.asarray(self.labels)
        if labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},) (one per image), got {labels.shape}"
            )
        object.__setattr__(self, "labels", labels.astype(np.int64, copy=False))
        object.__setattr__(self, "names", tuple(self.names))
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.names)):
            raise ValueError(
                f"labels must be in [0, {len(self.names) - 1}] (indices into names), "
                f"got range [{labels.min()}, {labels.max()}]"
            )

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"FaceSet(dataset={self.dataset!r}, n_images={len(self)}, n_subjects={self.n_subjects}, "
            f"image_shape={self.images.shape[1:]})"
        )

    @property
    def n_subjects(self) -> int:
        """Number of subjects (``len(names)``)."""
        return len(self.names)

    def subset(self, subjects: int | None = None, per_subject: int | None = None) -> FaceSet:
        """The first ``subjects`` subjects, each with its first ``per_subject`` images.

        Deterministic (no sampling): subjects are taken in label order and
        images in their order within the set.  Labels are kept (they stay
        ``0 .. subjects - 1``) and the result is a copy.

        Parameters
        ----------
        subjects : int, optional
            Number of subjects to keep, 1 to ``n_subjects``; all if None.
        per_subject : int, optional
            Images to keep per subject, at least 1 and at most the smallest
            count among the kept subjects; all if None.

        Returns
        -------
        FaceSet

        Examples
        --------
        >>> faces = FaceSet(np.zeros((6, 2, 2), np.float32), np.array([0, 0, 0, 1, 1, 1]), ("a", "b"), "toy")
        >>> small = faces.subset(1, 2)
        >>> len(small), small.names, small.labels.tolist()
        (2, ('a',), [0, 0])
        """
        n = self.n_subjects
        subjects = n if subjects is None else check_int(subjects, "subjects", minimum=1, maximum=n)
        groups = [np.flatnonzero(self.labels == label) for label in range(subjects)]
        smallest = min(len(g) for g in groups)
        if per_subject is None:
            keep = np.concatenate(groups)
        else:
            if smallest < 1:
                raise ValueError("per_subject cannot be met: some of the kept subjects have no images")
            per_subject = check_int(per_subject, "per_subject", minimum=1, maximum=smallest)
            keep = np.concatenate([g[:per_subject] for g in groups])
        return FaceSet(self.images[keep].copy(), self.labels[keep].copy(), self.names[:subjects], self.dataset)


def _shape_of(obj: Any) -> str:
    return str(getattr(obj, "shape", type(obj).__name__))


def load_faces(
    name: str = "olivetti",
    *,
    data_home: str | os.PathLike | None = None,
    download: bool = True,
    min_faces: int | None = None,
    per_person: int | None = None,
) -> FaceSet:
    """Load a face database as a :class:`FaceSet`.

    Parameters
    ----------
    name : {"olivetti", "orl", "lfw"}, default "olivetti"
        ``"olivetti"``: 400 images of 64 x 64 pixels, 40 subjects x 10,
        loaded with :func:`sklearn.datasets.fetch_olivetti_faces` (cached
        as ``olivetti_py3.pkz`` in scikit-learn's data home).
        ``"orl"``: the same 400 photos as the original ORL/AT&T database,
        112 x 92 pixels, read from a folder of ``sNN/M.pgm`` files.
        ``"lfw"``: Labeled Faces in the Wild through
        :func:`sklearn.datasets.fetch_lfw_people` (the funneled photos,
        about 200 MB downloaded once into scikit-learn's data home as
        ``lfw_home``), in colour: of each 250 x 250 photo the central
        128 x 128 pixels (rows and columns 61-188: the face with some hair
        and background, like ORL's crop), scaled by 0.75 to 96 x 96 RGB.
    data_home : str or path, optional
        For ``"olivetti"`` and ``"lfw"``: scikit-learn's data home (default:
        the ``SCIKIT_LEARN_DATA`` environment variable, else
        ``~/scikit_learn_data``).  For ``"orl"``: the folder holding
        ``s1 .. s40`` (default: the ``IMGPRIVACY_ORL`` environment variable,
        else ``~/imgprivacy_data/orl_faces``).
    download : bool, default True
        Let scikit-learn download the Olivetti faces or LFW if they are not
        cached (``download_if_missing``).  The ORL database is never
        downloaded.
    min_faces : int, optional
        LFW only: keep the people with at least this many photos (default
        20: 62 people, 3,023 photos; scikit-learn's ``min_faces_per_person``).
    per_person : int, optional
        LFW only: keep each kept person's first ``per_person`` photos
        (default 10, as Olivetti and ORL have; at most ``min_faces``).

    Returns
    -------
    FaceSet
        Images float32 (N, H, W) in [0, 1] ((N, 96, 96, 3) for LFW), labels
        int64.  Olivetti and ORL subjects are named with the AT&T numbering,
        ``"s1" .. "s40"``: Olivetti target ``t`` is ORL subject
        ``s{t + 1}``.  ORL subjects are sorted numerically
        (``s1, s2, .., s40``), images by their number ``M``.  LFW people
        are named as in LFW (``"George W Bush"``), in alphabetical order,
        each person's photos in file order (``_0001`` first).

    Raises
    ------
    FileNotFoundError
        If the data is not on disk (and, for Olivetti and LFW, cannot be
        downloaded); the message says how to get it.
    ValueError
        For an unknown ``name``, malformed ORL files, ``min_faces`` or
        ``per_person`` out of range or given for another set than LFW.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as home:
    ...     try:
    ...         load_faces("orl", data_home=os.path.join(home, "missing"))
    ...     except FileNotFoundError as err:
    ...         print("IMGPRIVACY_ORL" in str(err))
    True
    >>> faces = load_faces("olivetti")  # doctest: +SKIP
    >>> faces.images.shape, faces.n_subjects  # doctest: +SKIP
    ((400, 64, 64), 40)
    """
    if not isinstance(name, str) or name not in _FACE_SETS:
        raise ValueError(f"name must be one of {', '.join(map(repr, _FACE_SETS))}, got {_short(name)}")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {_short(download)}")
    if data_home is not None and not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a path (str or os.PathLike) or None, got {type(data_home).__name__}")
    if name != "lfw" and (min_faces is not None or per_person is not None):
        raise ValueError(f"min_faces and per_person are options of the LFW set only, got them for {name!r}; "
                         "use FaceSet.subset to keep fewer people or photos")
    if name == "olivetti":
        return _load_olivetti(data_home, download)
    if name == "lfw":
        min_faces = 20 if min_faces is None else check_int(min_faces, "min_faces", minimum=1)
        per_person = min(10, min_faces) if per_person is None else check_int(
            per_person, "per_person", minimum=1, maximum=min_faces)
        return _load_lfw(data_home, download, min_faces, per_person)
    return _load_orl(data_home)


def _sklearn_home(data_home) -> Path:
    if data_home is not None:
        return Path(data_home).expanduser()
    return Path(os.environ.get("SCIKIT_LEARN_DATA", Path("~") / "scikit_learn_data")).expanduser()


def _load_lfw(data_home, download: bool, min_faces: int, per_person: int) -> FaceSet:
    from sklearn.datasets import fetch_lfw_people

    try:
        bunch = fetch_lfw_people(data_home=data_home, funneled=True, resize=_LFW_RESIZE, min_faces_per_person=min_faces,
                                 color=True, slice_=_LFW_SLICE, download_if_missing=download)
    except OSError as err:  # no internet (URLError), an interrupted download, or a file missing with download=False
        why = "it could not be downloaded" if download else "download=False"
        raise FileNotFoundError(
            f"LFW (Labeled Faces in the Wild) not found in scikit-learn's data home {_sklearn_home(data_home)} and "
            f"{why} ({err}). To get it, run imgprivacy.data.load_faces('lfw') once on a machine with internet access "
            "(scikit-learn downloads about 200 MB into lfw_home there), or set the SCIKIT_LEARN_DATA environment "
            "variable (or pass data_home) to a folder holding lfw_home (lfw_funneled/ and the pairs*.txt files)"
        ) from err
    except ValueError as err:  # scikit-learn: "min_faces_per_person=N is too restrictive"
        raise ValueError(f"min_faces={min_faces}: no person of LFW has that many photos ({err})") from None
    target = np.asarray(bunch.target, dtype=np.int64)
    order = _lfw_file_order(target)
    keep = np.concatenate([order[target[order] == t][:per_person] for t in np.unique(target)])
    images = np.ascontiguousarray(bunch.images[keep], dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    names = tuple(str(n) for n in bunch.target_names)
    return FaceSet(images, target[keep], names, "lfw")


def _lfw_file_order(target: np.ndarray) -> np.ndarray:
    """Indices that put scikit-learn's LFW photos back in file order (person by person, ``_0001`` first).

    ``fetch_lfw_people`` shuffles the photos with ``RandomState(42)``; undoing that shuffle makes the photos
    kept per person not depend on ``min_faces``.  Should a scikit-learn version shuffle otherwise (the undone
    order would not be sorted by person), the photos are only grouped by person, in the order given.
    """
    shuffled = np.arange(len(target))
    np.random.RandomState(42).shuffle(shuffled)
    order = np.argsort(shuffled)
    if np.all(np.diff(target[order]) >= 0):
        return order
    return np.argsort(target, kind="stable")


def _load_olivetti(data_home, download: bool) -> FaceSet:
    from sklearn.datasets import fetch_olivetti_faces

    try:
        with warnings.catch_warnings():
            # Caches written by old scikit-learn/joblib versions (such as the
            # one used in CI) make joblib warn about the pickle format.
            warnings.filterwarnings(
                "ignore", message=r".*generated with a joblib version less than", category=DeprecationWarning
            )
            bunch = fetch_olivetti_faces(data_home=data_home, download_if_missing=download)
    except OSError as err:  # URLError, HTTPError, timeouts and "Data not found" are all OSErrors
        why = "it could not be downloaded" if download else "download=False"
        raise FileNotFoundError(
            f"Olivetti faces not found in scikit-learn's data home {_sklearn_home(data_home)} and {why} ({err}). "
            "To get them, run imgprivacy.data.load_faces('olivetti') once on a machine with internet access "
            "(scikit-learn caches the file olivetti_py3.pkz there), or set the SCIKIT_LEARN_DATA environment "
            "variable (or pass data_home) to a folder holding olivetti_py3.pkz, as CI does with "
            "shared/data/scikit_learn_data/olivetti_py3.pkz"
        ) from err
    images = np.ascontiguousarray(bunch.images, dtype=np.float32).reshape(400, 64, 64)
    labels = np.asarray(bunch.target, dtype=np.int64)
    names = tuple(f"s{t + 1}" for t in range(int(labels.max()) + 1))
    return FaceSet(images, labels, names, "olivetti")


def _numbered(entries, pattern: re.Pattern) -> list[tuple[int, Any]]:
    found = []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry))
    return sorted(found, key=lambda pair: (pair[0], pair[1].name))


def _load_orl(data_home) -> FaceSet:
    from PIL import Image

    if data_home is not None:
        root, how = Path(data_home), "data_home"
    elif os.environ.get(_ORL_ENV):
        root, how = Path(os.environ[_ORL_ENV]), f"the {_ORL_ENV} environment variable"
    else:
        root, how = _ORL_DEFAULT, f"the default location (no data_home and no {_ORL_ENV})"
    root = root.expanduser()
    howto = (
        "Download the AT&T/ORL face database (orl_faces: folders s1 .. s40 of 1.pgm .. 10.pgm) and unpack it "
        f"there, or set the {_ORL_ENV} environment variable (or pass data_home) to the folder holding s1 .. s40"
    )
    if not root.is_dir():
        raise FileNotFoundError(f"ORL faces not found: {root} (from {how}) is not a folder. {howto}")
    subjects = _numbered((e for e in root.iterdir() if e.is_dir()), re.compile(r"s(\d+)"))
    if not subjects:
        raise FileNotFoundError(f"ORL faces not found: {root} (from {how}) holds no sNN subject folders. {howto}")
    images, labels, names = [], [], []
    for label, (_, folder) in enumerate(subjects):
        files = _numbered((e for e in folder.iterdir() if e.is_file()), re.compile(r"(\d+)\.pgm", re.IGNORECASE))
        if not files:
            raise ValueError(f"ORL subject folder {folder} holds no M.pgm images")
        for _, file in files:
            try:
                with Image.open(file) as pil:
                    arr = np.asarray(pil.convert("L") if pil.mode != "L" else pil)
            except OSError as err:
                raise ValueError(f"cannot read ORL image {file}: {err}") from err
            if images and arr.shape != images[0].shape:
                raise ValueError(
                    f"ORL images must all have the same size, got {arr.shape} for {file} and "
                    f"{images[0].shape} for the first image"
                )
            images.append(arr)
            labels.append(label)
        names.append(folder.name)
    return FaceSet(to_float(np.stack(images)), np.asarray(labels, dtype=np.int64), tuple(names), "orl")


# =========================================================================== overlay sets
