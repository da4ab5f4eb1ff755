"""Face sets, overlay sets and lossless image I/O.

Three groups of helpers feed the rest of the package:

* **Faces** -- :func:`load_faces` returns a :class:`FaceSet` (float32 images,
  int64 labels, subject names) for the Olivetti faces (through
  scikit-learn's loader and cache) or the ORL/AT&T database (a local folder
  in its original ``sNN/M.pgm`` layout).  Face data is never shipped with
  the package.
* **Overlay sets** -- :func:`overlay_set` returns the public set ``S`` of
  face-free images that k-RTIO mixes into photos: a default set of 30
  images built from pictures bundled inside scikit-image and scikit-learn
  (no download), or every image of a folder.  :func:`overlay_fingerprint`
  identifies a set by its pixels.
* **Conversion and storage** -- :func:`to_float` / :func:`to_uint` are the
  only doors between 8/16-bit integers and canonical float images;
  :func:`read_image` / :func:`write_png` read any image Pillow opens and
  write 8- or 16-bit PNG (grey, grey+alpha, RGB, RGBA) atomically, with
  text metadata and nothing else; :func:`storage_roundtrip` shows what a
  storage format does to a (perturbed) image.

Canonical images are float32 in [0, 1], shape (H, W) or (H, W, C), channel
last.  No function here modifies its input.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import types
import warnings
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import publish
from ._validation import _short, check_image, check_int, check_range_01

__all__ = [
    "LOSSLESS_SUFFIXES",
    "FaceSet",
    "LoadedImage",
    "OverlaySet",
    "load_faces",
    "overlay_fingerprint",
    "overlay_set",
    "read_image",
    "storage_roundtrip",
    "to_float",
    "to_uint",
    "write_png",
]

#: File suffixes :func:`write_png` accepts (compared case-insensitively).
LOSSLESS_SUFFIXES = (".png",)

_FACE_SETS = ("olivetti", "orl")
_ORL_ENV = "IMGPRIVACY_ORL"
_ORL_DEFAULT = Path("~") / "imgprivacy_data" / "orl_faces"
_DEPTHS = (8, 16)
_CODECS = ("png", "jpeg")
_ORIENTATION_TAG = 0x0112


# =========================================================================== converters
def _check_depth(depth: Any) -> int:
    depth = check_int(depth, "depth")
    if depth not in _DEPTHS:
        raise ValueError(f"depth must be 8 or 16 (bits per sample), got {depth}")
    return depth


def to_float(image: np.ndarray) -> np.ndarray:
    """Convert an image (or a stack) to canonical float32 in [0, 1].

    Parameters
    ----------
    image : ndarray of any shape
        ``uint8`` (divided by 255), ``uint16`` (divided by 65535), ``bool``
        (0 or 1) or floating point already in [0, 1] (cast to float32).

    Returns
    -------
    ndarray, float32, same shape
        Always a new array.

    Raises
    ------
    TypeError
        For any other dtype (signed integers, uint32, ...): their range is
        not known, so it is not guessed.
    ValueError
        For a floating-point input outside [0, 1] or not finite.

    Examples
    --------
    >>> to_float(np.array([0, 51, 255], dtype=np.uint8)).tolist()
    [0.0, 0.20000000298023224, 1.0]
    >>> to_float(np.array([True, False])).dtype
    dtype('float32')
    """
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    dtype = image.dtype
    if dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    if dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535)
    if dtype == np.bool_:
        return image.astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        check_range_01(image, "image")
        return image.astype(np.float32, copy=True)
    raise TypeError(
        f"image must have dtype uint8, uint16, bool or float in [0, 1], got dtype {dtype}; "
        "rescale other integer data to uint8 or uint16 yourself (its range cannot be guessed)"
    )


def to_uint(image: np.ndarray, *, depth: int = 8) -> np.ndarray:
    """Quantise a float image in [0, 1] to ``uint8`` or ``uint16``.

    Parameters
    ----------
    image : ndarray of any shape
        Floating point, values in [0, 1].
    depth : {8, 16}, default 8
        Bits per sample: ``uint8`` (scale 255) or ``uint16`` (scale 65535).

    Returns
    -------
    ndarray, uint8 or uint16, same shape
        ``np.rint(image * scale)`` computed in float64 (round half to even).
        ``to_uint(to_float(v), depth=d) == v`` for every ``d``-bit value.

    Raises
    ------
    TypeError
        For a non-floating input (convert with :func:`to_float` first).
    ValueError
        For values outside [0, 1] or a depth other than 8 or 16.

    Examples
    --------
    >>> to_uint(np.array([0.0, 0.5, 1.0], dtype=np.float32)).tolist()
    [0, 128, 255]
    >>> to_uint(np.array([0.5]), depth=16).tolist()
    [32768]
    """
    depth = _check_depth(depth)
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, got {type(image).__name__}")
    if not np.issubdtype(image.dtype, np.floating):
        raise TypeError(
            f"image must be a floating-point image in [0, 1], got dtype {image.dtype}; "
            "integer images are already quantised (use to_float to convert them)"
        )
    check_range_01(image, "image")
    scale = 255.0 if depth == 8 else 65535.0
    out_dtype = np.uint8 if depth == 8 else np.uint16
    return np.rint(image.astype(np.float64) * scale).astype(out_dtype)


def storage_roundtrip(
    image: np.ndarray, *, codec: str = "png", depth: int = 8, quality: int = 90
) -> np.ndarray:
    """Encode an image in memory with a storage codec and decode it again.

    Shows what saving a perturbed photo does to it: k-RTIO recovery
    divides by ``alpha``, so storage error is amplified.

    Parameters
    ----------
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1].  C is 1, 2, 3 or 4 for PNG; 1 or 3 for JPEG.
    codec : {"png", "jpeg"}, default "png"
        ``"png"`` is lossless apart from quantisation to ``depth`` bits;
        ``"jpeg"`` uses Pillow's encoder (8 bits, 4:2:0 chroma subsampling
        for RGB, Pillow's default tables scaled by ``quality``).
    depth : {8, 16}, default 8
        Bits per sample for PNG.  JPEG requires 8.
    quality : int, default 90
        JPEG quality, 1 to 95 (ignored for PNG).

    Returns
    -------
    ndarray, float32, same shape as ``image``
        For PNG exactly ``to_float(to_uint(image, depth=depth))``.

    Raises
    ------
    ValueError
        For an unknown codec, a bad depth or quality, or an image JPEG
        cannot hold (alpha channel).

    Examples
    --------
    >>> x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    >>> bool(np.abs(storage_roundtrip(x, depth=16) - x).max() <= 0.5 / 65535)
    True
    >>> storage_roundtrip(x, codec="jpeg", quality=75).shape
    (8, 8)
    """
    if not isinstance(codec, str) or codec not in _CODECS:
        raise ValueError(f"codec must be one of {', '.join(map(repr, _CODECS))}, got {_short(codec)}")
    depth = _check_depth(depth)
    img = check_image(image)
    if codec == "png":
        data = _encode_png(to_uint(img, depth=depth), None)
        out = _decode_png(data).image
        return out.reshape(img.shape)
    quality = check_int(quality, "quality", minimum=1, maximum=95)
    if depth != 8:
        raise ValueError(f"depth must be 8 for codec='jpeg' (JPEG stores 8 bits per sample), got {depth}")
    channels = 1 if img.ndim == 2 else img.shape[2]
    if channels not in (1, 3):
        raise ValueError(
            f"image must be grey or RGB for codec='jpeg' (JPEG has no alpha channel), got shape {img.shape}; "
            "drop the alpha channel first, e.g. image[..., :3]"
        )
    from PIL import Image

    u8 = to_uint(img, depth=8)
    pil = Image.fromarray(u8.reshape(img.shape[:2]) if channels == 1 else u8)  # uint8: mode L or RGB
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as decoded:
        out = to_float(np.asarray(decoded.convert("L" if channels == 1 else "RGB")))
    return out.reshape(img.shape)


# =========================================================================== faces
@dataclass(frozen=True, eq=False)
class FaceSet:
    """A labelled set of grey face images.

    Attributes
    ----------
    images : ndarray of shape (N, H, W)
        float32 in [0, 1].
    labels : ndarray of shape (N,)
        int64 subject index, ``0 .. n_subjects - 1``.
    names : tuple of str
        Subject name of each label (``names[label]``), e.g. ``"s1"``.
    dataset : str
        ``"olivetti"`` or ``"orl"`` (or what the creator chose).

    Examples
    --------
    >>> faces = FaceSet(np.zeros((4, 2, 2), np.float32), np.array([0, 0, 1, 1]), ("s1", "s2"), "toy")
    >>> len(faces), faces.n_subjects
    (4, 2)
    """

    images: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    dataset: str

    def __post_init__(self) -> None:
        if not isinstance(self.images, np.ndarray) or self.images.ndim != 3:
            raise ValueError(f"images must be an ndarray of shape (N, H, W), got {_shape_of(self.images)}")
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


def load_faces(name: str = "olivetti", *, data_home: str | os.PathLike | None = None, download: bool = True) -> FaceSet:
    """Load a face database as a :class:`FaceSet`.

    Parameters
    ----------
    name : {"olivetti", "orl"}, default "olivetti"
        ``"olivetti"``: 400 images of 64 x 64 pixels, 40 subjects x 10,
        loaded with :func:`sklearn.datasets.fetch_olivetti_faces` (cached
        as ``olivetti_py3.pkz`` in scikit-learn's data home).
        ``"orl"``: the same 400 photos as the original ORL/AT&T database,
        112 x 92 pixels, read from a folder of ``sNN/M.pgm`` files.
    data_home : str or path, optional
        For ``"olivetti"``: scikit-learn's data home (default: the
        ``SCIKIT_LEARN_DATA`` environment variable, else
        ``~/scikit_learn_data``).  For ``"orl"``: the folder holding
        ``s1 .. s40`` (default: the ``IMGPRIVACY_ORL`` environment variable,
        else ``~/imgprivacy_data/orl_faces``).
    download : bool, default True
        Let scikit-learn download the Olivetti faces if they are not cached.
        The ORL database is never downloaded.

    Returns
    -------
    FaceSet
        Images float32 (N, H, W) in [0, 1], labels int64.  Subjects are
        named with the AT&T numbering, ``"s1" .. "s40"``: Olivetti target
        ``t`` is ORL subject ``s{t + 1}``.  ORL subjects are sorted
        numerically (``s1, s2, .., s40``), images by their number ``M``.

    Raises
    ------
    FileNotFoundError
        If the data is not on disk (and, for Olivetti, cannot be
        downloaded); the message says how to get it.
    ValueError
        For an unknown ``name`` or malformed ORL files.

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
    if name == "olivetti":
        return _load_olivetti(data_home, download)
    return _load_orl(data_home)


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
        if data_home is not None:
            where = Path(data_home)
        else:
            where = Path(os.environ.get("SCIKIT_LEARN_DATA", Path("~") / "scikit_learn_data"))
        why = "it could not be downloaded" if download else "download=False"
        raise FileNotFoundError(
            f"Olivetti faces not found in scikit-learn's data home {where.expanduser()} and {why} ({err}). "
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
def overlay_fingerprint(images: Sequence[np.ndarray]) -> str:
    """SHA-256 fingerprint of an overlay set's pixels (format version 1).

    The hash runs over, for each overlay in order, its shape ``(h, w, c)``
    as three little-endian uint32 (``c = 1`` for a 2-D image) followed by
    its pixels as little-endian float32 in C order.  It is stored in
    protected files (format 1) so that recovery refuses an overlay set
    other than the one used for protection.

    Parameters
    ----------
    images : sequence of ndarray of shape (h, w) or (h, w, C)
        Float images in [0, 1] (an :class:`OverlaySet` or a list).

    Returns
    -------
    str
        64 lowercase hex digits.

    Examples
    --------
    >>> overlay_fingerprint([np.zeros((1, 1, 3), np.float32)])[:16]
    '2689a5643c8b2c64'
    """
    if isinstance(images, np.ndarray) and images.ndim in (3, 4):
        images = list(images)
    if not isinstance(images, Sequence) or isinstance(images, (str, bytes)):
        raise TypeError(f"images must be a sequence of images, got {type(images).__name__}")
    digest = hashlib.sha256()
    for index, image in enumerate(images):
        img = check_image(image, f"images[{index}]")
        h, w = img.shape[:2]
        c = 1 if img.ndim == 2 else img.shape[2]
        digest.update(np.array([h, w, c], dtype="<u4").tobytes())
        digest.update(np.ascontiguousarray(img, dtype="<f4").tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class OverlaySet(Sequence):
    """The public overlay set ``S`` of k-RTIO: a read-only sequence of RGB images.

    Indexing, ``len`` and iteration act on :attr:`images`, so an
    ``OverlaySet`` can be passed wherever a list of overlays is expected.

    Attributes
    ----------
    images : tuple of ndarray of shape (h, w, 3)
        float32 RGB in [0, 1], read-only; sizes differ.
    names : tuple of str
        One name per image, e.g. ``"coffee"``, ``"china[0:427,0:320]"``
        or a file name.
    fingerprint : str
        :func:`overlay_fingerprint` of ``images``.
    source : str
        ``"default"`` or the folder the images came from.

    Examples
    --------
    >>> img = np.zeros((2, 2, 3), np.float32)
    >>> S = OverlaySet((img,), ("black",), overlay_fingerprint([img]), "toy")
    >>> len(S), S[0].shape
    (1, (2, 2, 3))
    """

    images: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    fingerprint: str
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", tuple(self.images))
        object.__setattr__(self, "names", tuple(self.names))
        if len(self.images) != len(self.names):
            raise ValueError(
                f"names must have one entry per image, got {len(self.names)} names for {len(self.images)} images"
            )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index]

    def __iter__(self):
        return iter(self.images)

    def __contains__(self, value: object) -> bool:
        return any(_same_image(value, im) for im in self.images)

    def index(self, value: object, start: int = 0, stop: int | None = None) -> int:
        """Position of the first overlay equal (pixel for pixel) to ``value``."""
        stop = len(self) if stop is None else stop
        for i in range(*slice(start, stop).indices(len(self))):
            if _same_image(value, self.images[i]):
                return i
        raise ValueError("image is not in the overlay set")

    def count(self, value: object) -> int:
        """Number of overlays equal (pixel for pixel) to ``value``."""
        return sum(_same_image(value, im) for im in self.images)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OverlaySet):
            return NotImplemented
        return self.fingerprint == other.fingerprint and self.names == other.names

    def __hash__(self) -> int:
        return hash((self.fingerprint, self.names))

    def __repr__(self) -> str:
        return f"OverlaySet(source={self.source!r}, m={len(self)}, fingerprint={self.fingerprint[:16]}...)"


def _same_image(value: object, image: np.ndarray) -> bool:
    return value is image or (isinstance(value, np.ndarray) and np.array_equal(value, image))


# The default set S, format version 1.  Order matters: k-RTIO selects
# overlays by index and the fingerprint covers the order.  Each entry is
# (base image, crop (row0, row1, col0, col1) or None).  Sources:
# scikit-image's bundled data (skimage.data) and scikit-learn's
# load_sample_images (china.jpg, flower.jpg); none shows a face.
_DEFAULT_TABLE: tuple[tuple[str, tuple[int, int, int, int] | None], ...] = (
    ("coffee", None),
    ("rocket", None),
    ("hubble_deep_field", None),
    ("brick", None),
    ("grass", None),
    ("gravel", None),
    ("moon", None),
    ("page", None),
    ("text", None),
    ("clock", None),
    ("retina", None),
    ("immunohistochemistry", None),
    ("colorwheel", None),
    ("logo", None),
    ("motorcycle_left", None),
    ("motorcycle_right", None),
    ("china", None),
    ("flower", None),
    ("hubble_deep_field", (0, 436, 0, 500)),
    ("hubble_deep_field", (0, 436, 500, 1000)),
    ("hubble_deep_field", (436, 872, 0, 500)),
    ("hubble_deep_field", (436, 872, 500, 1000)),
    ("retina", (353, 1058, 353, 1058)),
    ("china", (0, 427, 0, 320)),
    ("china", (0, 427, 320, 640)),
    ("flower", (0, 427, 0, 320)),
    ("flower", (0, 427, 320, 640)),
    ("coffee", (0, 400, 0, 300)),
    ("coffee", (0, 400, 300, 600)),
    ("rocket", (0, 427, 160, 480)),
)


def _bundled_images() -> dict[str, np.ndarray]:
    import skimage.data as skd

    out = {
        name: getattr(skd, name)()
        for name in (
            "coffee", "rocket", "hubble_deep_field", "brick", "grass", "gravel", "moon", "page", "text",
            "clock", "retina", "immunohistochemistry", "colorwheel", "logo",
        )
    }
    left, right, _disparity = skd.stereo_motorcycle()
    out["motorcycle_left"], out["motorcycle_right"] = left, right
    out.update(_sklearn_sample_images())
    return out


def _sklearn_sample_images() -> dict[str, np.ndarray]:
    """china.jpg and flower.jpg, decoded as ``load_sample_images`` does, without importing sklearn (slow)."""
    import importlib.util

    from PIL import Image

    spec = importlib.util.find_spec("sklearn")
    folders = [Path(p) / "datasets" / "images" for p in (spec.submodule_search_locations or [])] if spec else []
    files = [folder / f"{stem}.jpg" for folder in folders[:1] for stem in ("china", "flower")]
    if files and all(f.is_file() for f in files):
        out = {}
        for file in files:
            with Image.open(file) as pil:
                out[file.stem] = np.asarray(pil)
        return out
    from sklearn.datasets import load_sample_images  # e.g. a zipped installation

    samples = load_sample_images()
    return {Path(f).stem: im for f, im in zip(samples.filenames, samples.images)}


def _to_rgb(image: np.ndarray) -> np.ndarray:
    """Grey -> repeated RGB; alpha composited over white; float32 result."""
    img = image if image.ndim == 3 else image[..., None]
    c = img.shape[2]
    if c in (2, 4):
        colour, alpha = img[..., : c - 1], img[..., c - 1 :]
        img = colour * alpha + (np.float32(1) - alpha)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img, dtype=np.float32)


def _freeze(images: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    for img in images:
        img.setflags(write=False)
    return tuple(images)


@functools.lru_cache(maxsize=1)
def _default_overlay_set() -> OverlaySet:
    bundled = _bundled_images()
    images, names = [], []
    for base, crop in _DEFAULT_TABLE:
        img = bundled[base]
        if crop is None:
            names.append(base)
        else:
            r0, r1, c0, c1 = crop
            if r1 > img.shape[0] or c1 > img.shape[1]:
                raise RuntimeError(
                    f"the bundled image {base!r} has shape {img.shape}, too small for the crop {crop} of "
                    "the default overlay set; this scikit-image/scikit-learn version ships different images"
                )
            img = img[r0:r1, c0:c1]
            names.append(f"{base}[{r0}:{r1},{c0}:{c1}]")
        # snapped to the 8-bit grid (only the composited logo is off it), so that the set
        # saved as 8-bit PNGs (`imgprivacy overlays export`) loads back with the same fingerprint
        images.append(to_float(to_uint(_to_rgb(to_float(img)))))
    images = _freeze(images)
    return OverlaySet(images, tuple(names), overlay_fingerprint(images), "default")


def overlay_set(source: str | os.PathLike = "default") -> OverlaySet:
    """The public overlay set ``S``: the bundled default or a folder of images.

    Parameters
    ----------
    source : "default" or path, default "default"
        ``"default"`` (the string) gives the built-in set of 30 face-free
        images, built from pictures bundled inside scikit-image and
        scikit-learn without any download, and cached.  Any other value is
        a folder: every file in it that Pillow can open (not recursive),
        sorted by file name byte-wise, EXIF orientation applied, converted
        to RGB (grey repeated, alpha composited over white).  Use
        ``pathlib.Path("default")`` for a folder named ``default``.

    Returns
    -------
    OverlaySet
        Read-only float32 RGB images with their names and fingerprint.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist.
    ValueError
        If it holds no readable image, or a file Pillow recognises cannot be
        decoded (the set would silently change).

    Notes
    -----
    The default set, in order (``name[r0:r1,c0:c1]`` is a crop of rows
    ``r0:r1`` and columns ``c0:c1``):

    ==  ===================================  ===================================
    #   overlay                              source
    ==  ===================================  ===================================
    0   coffee                               skimage.data.coffee
    1   rocket                               skimage.data.rocket
    2   hubble_deep_field                    skimage.data.hubble_deep_field
    3   brick                                skimage.data.brick (grey)
    4   grass                                skimage.data.grass (grey)
    5   gravel                               skimage.data.gravel (grey)
    6   moon                                 skimage.data.moon (grey)
    7   page                                 skimage.data.page (grey)
    8   text                                 skimage.data.text (grey)
    9   clock                                skimage.data.clock (grey)
    10  retina                               skimage.data.retina
    11  immunohistochemistry                 skimage.data.immunohistochemistry
    12  colorwheel                           skimage.data.colorwheel
    13  logo                                 skimage.data.logo (RGBA over white)
    14  motorcycle_left                      skimage.data.stereo_motorcycle()[0]
    15  motorcycle_right                     skimage.data.stereo_motorcycle()[1]
    16  china                                sklearn load_sample_images china.jpg
    17  flower                               sklearn load_sample_images flower.jpg
    18  hubble_deep_field[0:436,0:500]       top-left quadrant
    19  hubble_deep_field[0:436,500:1000]    top-right quadrant
    20  hubble_deep_field[436:872,0:500]     bottom-left quadrant
    21  hubble_deep_field[436:872,500:1000]  bottom-right quadrant
    22  retina[353:1058,353:1058]            centre (inside the fundus)
    23  china[0:427,0:320]                   left half
    24  china[0:427,320:640]                 right half
    25  flower[0:427,0:320]                  left half
    26  flower[0:427,320:640]                right half
    27  coffee[0:400,0:300]                  left half
    28  coffee[0:400,300:600]                right half
    29  rocket[0:427,160:480]                centre half
    ==  ===================================  ===================================

    Several of these are JPEG files decoded by Pillow's libjpeg-turbo, and
    the bundled pictures may change between scikit-image releases: the
    fingerprint tells whether two installations build the same set.

    Examples
    --------
    >>> S = overlay_set()
    >>> len(S), S.names[0], S[0].shape, S[0].dtype
    (30, 'coffee', (400, 600, 3), dtype('float32'))
    """
    if isinstance(source, str) and source == "default":
        return _default_overlay_set()
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be 'default' or a folder path, got {type(source).__name__}")
    folder = Path(source)
    if not folder.exists():
        raise FileNotFoundError(f"overlay folder not found: {folder}")
    if not folder.is_dir():
        raise ValueError(f"source must be 'default' or a folder of images, got the file {folder}")
    from PIL import Image, UnidentifiedImageError

    files = sorted((e for e in folder.iterdir() if e.is_file()), key=lambda e: os.fsencode(e.name))
    images, names = [], []
    for file in files:
        try:
            with Image.open(file) as pil:
                arr, _ = _pil_pixels(pil)
        except UnidentifiedImageError:
            continue  # not an image (README, .DS_Store, ...)
        except (OSError, ValueError, SyntaxError) as err:
            raise ValueError(f"cannot decode overlay image {file}: {err}") from err
        images.append(_to_rgb(arr))
        names.append(file.name)
    if not images:
        raise ValueError(f"overlay folder {folder} holds no image file that Pillow can open")
    images = _freeze(images)
    return OverlaySet(images, tuple(names), overlay_fingerprint(images), str(folder))


# =========================================================================== image I/O
@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image read from a file by :func:`read_image`.

    Attributes
    ----------
    image : ndarray of shape (H, W), (H, W, 2), (H, W, 3) or (H, W, 4)
        float32 in [0, 1]: grey, grey+alpha, RGB or RGBA, EXIF orientation
        applied.
    depth : int
        8 or 16, the bits per sample of the file (PNG files of 1, 2 or 4
        bits report 8).
    text : mapping of str to str
        PNG text chunks (tEXt, zTXt, iTXt), read-only; empty for other
        formats.
    format : str
        Pillow's format name: ``"PNG"``, ``"JPEG"``, ...

    Examples
    --------
    >>> li = LoadedImage(np.zeros((2, 2), np.float32), 8, {}, "PNG")
    >>> li.image.shape, li.depth
    ((2, 2), 8)
    """

    image: np.ndarray
    depth: int
    text: Mapping[str, str]
    format: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", types.MappingProxyType(dict(self.text)))


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an array, as PIL.ImageOps.exif_transpose does."""
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = np.swapaxes(arr, 0, 1)
    elif orientation == 6:
        arr = np.rot90(arr, -1)
    elif orientation == 7:
        arr = np.rot90(arr, 2).swapaxes(0, 1)
    elif orientation == 8:
        arr = np.rot90(arr, 1)
    return np.ascontiguousarray(arr)


def _pil_pixels(pil) -> tuple[np.ndarray, int]:
    """Decode a Pillow image (EXIF orientation applied) to a float32 array and its depth."""
    from PIL import ImageOps

    pil = ImageOps.exif_transpose(pil)
    mode = pil.mode
    transparent = "transparency" in pil.info
    if mode == "1":
        pil, mode = pil.convert("L"), "L"
    elif mode in ("P", "PA"):
        mode = "RGBA" if (mode == "PA" or transparent) else "RGB"
        pil = pil.convert(mode)
    elif mode in ("L", "RGB") and transparent:
        mode = "LA" if mode == "L" else "RGBA"
        pil = pil.convert(mode)
    elif mode in ("La", "RGBa"):
        mode = mode.upper()
        pil = pil.convert(mode)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return to_float(np.asarray(pil)), 8
    if mode.startswith("I;16") or mode == "I":
        arr = np.asarray(pil)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ValueError(f"32-bit integer samples outside the 16-bit range (mode {mode}) are not supported")
        return to_float(arr.astype(np.uint16)), 16
    if mode == "F":
        raise ValueError("32-bit floating-point images (mode F) are not supported; save them as 16-bit PNG")
    mode = "RGBA" if "A" in pil.getbands() else "RGB"
    return to_float(np.asarray(pil.convert(mode))), 8


def _png_text(chunks) -> dict[str, str]:
    text: dict[str, str] = {}
    for kind, data in chunks:
        if kind == b"tEXt":
            key, _, value = data.partition(b"\0")
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = data.partition(b"\0")
            text[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = data.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _translated, _, value = rest.partition(b"\0")
            if compressed:
                value = zlib.decompress(value)
            text[key.decode("latin-1")] = value.decode("utf-8")
    return text


def _decode_png(data: bytes) -> LoadedImage:
    import png
    from PIL import Image

    chunks = list(png.Reader(bytes=data).chunks())
    text = _png_text(chunks)
    ihdr = next(body for kind, body in chunks if kind == b"IHDR")
    bitdepth = ihdr[8]
    with Image.open(io.BytesIO(data)) as pil:
        if bitdepth != 16:  # Pillow decodes 1-8 bit PNG exactly and much faster than pure-Python pypng
            arr, _ = _pil_pixels(pil)
            return LoadedImage(arr, 8, text, "PNG")
        pil.load()
        orientation = int(pil.getexif().get(_ORIENTATION_TAG, 1) or 1)
    # 16 bits per sample: Pillow truncates 16-bit RGB/RGBA (and grey+alpha) to 8 bits, pypng does not.
    width, height, flat, info = png.Reader(bytes=data).read_flat()
    planes = info["planes"]
    arr = np.frombuffer(flat, dtype=np.uint16).reshape(height, width, planes)
    if "transparent" in info and not info["alpha"]:
        key = np.asarray(info["transparent"], dtype=np.uint16).reshape(1, 1, planes)
        alpha = np.where(np.all(arr == key, axis=2, keepdims=True), 0, 65535).astype(np.uint16)
        arr = np.concatenate([arr, alpha], axis=2)
    if arr.shape[2] == 1:
        arr = arr[..., 0]
    return LoadedImage(_orient(to_float(arr), orientation), 16, text, "PNG")


def read_image(path: str | os.PathLike) -> LoadedImage:
    """Read any image Pillow opens, exactly, as a canonical float image.

    Parameters
    ----------
    path : str or path
        The image file.

    Returns
    -------
    LoadedImage
        ``image`` is float32 in [0, 1]: (H, W) grey, (H, W, 2) grey+alpha,
        (H, W, 3) RGB or (H, W, 4) RGBA, with the EXIF orientation applied
        (``PIL.ImageOps.exif_transpose``).  Palette, CMYK and other modes
        become RGB, or RGBA when the file has transparency; 1-bit images
        become grey.  Multi-frame files give their first frame.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not an image that can be decoded.

    Notes
    -----
    16-bit PNG (grey, grey+alpha, 48-bit RGB, 64-bit RGBA) is decoded with
    pypng, which keeps all 16 bits (Pillow truncates 16-bit colour to 8
    bits); PNG text chunks (tEXt latin-1, zTXt, iTXt UTF-8) are read with
    pypng too.  PNG of 8 bits or fewer is decoded with Pillow, which is
    exact there.  An EXIF orientation stored in a PNG is applied as well.

    Examples
    --------
    >>> import tempfile
    >>> x = np.random.default_rng(0).random((8, 8, 3), dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_png(os.path.join(d, "x.png"), x, depth=16, text={"id": "x"})
    ...     loaded = read_image(p)
    >>> loaded.depth, loaded.format, dict(loaded.text), loaded.image.shape
    (16, 'PNG', {'id': 'x'}, (8, 8, 3))
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.is_dir():
        raise ValueError(f"path must be an image file, got the folder {path}")
    data = path.read_bytes()
    import png
    from PIL import Image, UnidentifiedImageError

    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n"):
            return _decode_png(data)
        with Image.open(io.BytesIO(data)) as pil:
            fmt = pil.format or ""
            arr, depth = _pil_pixels(pil)
        return LoadedImage(arr, depth, {}, fmt)
    except UnidentifiedImageError as err:
        raise ValueError(f"cannot read {path}: not an image format Pillow can open") from err
    except (OSError, ValueError, SyntaxError, EOFError, zlib.error, png.Error, StopIteration, IndexError) as err:
        raise ValueError(f"cannot read image {path}: {err}") from err


def _check_text(text: Any) -> list[tuple[bytes, bytes]]:
    """Validate PNG text metadata and encode it as tEXt / iTXt chunks."""
    if text is None:
        return []
    if not isinstance(text, Mapping):
        raise TypeError(f"text must be a mapping of str to str or None, got {type(text).__name__}")
    chunks = []
    for key, value in text.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"text keys and values must be str, got {_short(key)}: {_short(value)}")
        ok = 1 <= len(key) <= 79 and all(32 <= ord(ch) <= 126 or 161 <= ord(ch) <= 255 for ch in key)
        if not ok or key != key.strip(" ") or "  " in key:
            raise ValueError(
                f"text keys must be 1-79 printable Latin-1 characters without leading, trailing or double "
                f"spaces (PNG keyword rules), got {_short(key)}"
            )
        if "\0" in value:
            raise ValueError(f"text values must not contain NUL characters, got {_short(value)} for key {key!r}")
        try:
            chunks.append((b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
        except UnicodeEncodeError:  # not Latin-1: uncompressed iTXt, UTF-8, no language tag
            chunks.append((b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode("utf-8")))
    return chunks


def _encode_png(pixels: np.ndarray, text_chunks: list[tuple[bytes, bytes]] | None) -> bytes:
    """PNG bytes for a uint8/uint16 (H, W) or (H, W, C) array, text chunks before the first IDAT."""
    import png

    planes = 1 if pixels.ndim == 2 else pixels.shape[2]
    height, width = pixels.shape[:2]
    depth = 16 if pixels.dtype == np.uint16 else 8
    packed = np.ascontiguousarray(pixels, dtype=">u2" if depth == 16 else np.uint8).reshape(height, -1)
    writer = png.Writer(
        width, height, greyscale=planes in (1, 2), alpha=planes in (2, 4), bitdepth=depth, compression=6
    )
    buf = io.BytesIO()
    writer.write_packed(buf, (row.tobytes() for row in packed))
    if not text_chunks:
        return buf.getvalue()
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    first_idat = next(i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT")
    chunks[first_idat:first_idat] = text_chunks
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()


def write_png(
    path: str | os.PathLike,
    image: np.ndarray,
    *,
    depth: int = 8,
    text: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a canonical image as an 8- or 16-bit PNG, atomically.

    Only the pixels and the given text are written: no EXIF, ICC profile
    or other metadata from an original file.

    Parameters
    ----------
    path : str or path
        Destination; must end in ``.png`` (any case).  Its folder must exist.
    image : ndarray of shape (H, W) or (H, W, C)
        float in [0, 1]; C is 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA).
    depth : {8, 16}, default 8
        Bits per sample; samples are quantised with :func:`to_uint`.
        16 bits keeps a perturbed photo recoverable to within
        ``0.5 / 65535 / alpha``.
    text : mapping of str to str, optional
        PNG text metadata, written before the image data: tEXt chunks
        when the value is Latin-1, uncompressed iTXt (UTF-8) otherwise.
        Keys are 1-79 printable Latin-1 characters.
    overwrite : bool, default False
        Replace an existing file.  Without it an existing file is never
        touched.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For a suffix other than ``.png`` (a lossy or other format would
        destroy the perturbation that recovery needs), a bad depth, image
        or text.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        If the folder of ``path`` does not exist.

    Notes
    -----
    The PNG is encoded with pypng (Pillow cannot write 48/64-bit colour)
    into a temporary file in the destination folder, which is then
    hard-linked to ``path`` (fails if ``path`` exists; no race) or, with
    ``overwrite=True``, renamed over it with :func:`os.replace`.  The
    temporary file is removed in every case.

    Examples
    --------
    >>> import tempfile
    >>> x = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = write_png(os.path.join(d, "x.png"), x)
    ...     same = np.array_equal(read_image(p).image, to_float(to_uint(x)))
    >>> p.name, same
    ('x.png', True)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if path.suffix.lower() not in LOSSLESS_SUFFIXES:
        raise ValueError(
            f"path must end in .png, got {str(path)!r}: write_png writes lossless PNG only, because a lossy "
            "or other format (JPEG, WebP, ...) would destroy the perturbation needed for recovery"
        )
    depth = _check_depth(depth)
    img = check_image(image)
    text_chunks = _check_text(text)
    if not isinstance(overwrite, bool):
        raise TypeError(f"overwrite must be True or False, got {_short(overwrite)}")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} does not exist; create it first")
    pixels = to_uint(img[..., 0] if img.ndim == 3 and img.shape[2] == 1 else img, depth=depth)
    publish(_encode_png(pixels, text_chunks), path, overwrite=overwrite)
    return path
