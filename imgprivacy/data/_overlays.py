"""Overlay sets: the public set S of k-RTIO (bundled default or a folder) and its fingerprint."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._memory import release_free_memory
from .._validation import check_image
from ._convert import to_float, to_uint
from ._images import pil_pixels


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
    return _fingerprint(check_image(image, f"images[{index}]") for index, image in enumerate(images))


def _fingerprint(images) -> str:
    """:func:`overlay_fingerprint` of images already checked (made one at a time by an iterable)."""
    digest = hashlib.sha256()
    for img in images:
        h, w = img.shape[:2]
        c = 1 if img.ndim == 2 else img.shape[2]
        digest.update(np.array([h, w, c], dtype="<u4").tobytes())
        digest.update(np.ascontiguousarray(img, dtype="<f4"))  # the buffer itself: no copy of the pixels
    return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class OverlaySet(Sequence):
    """The public overlay set ``S`` of k-RTIO: a read-only sequence of RGB images.

    Indexing, ``len`` and iteration act on :attr:`images`, so an
    ``OverlaySet`` can be passed wherever a list of overlays is expected.

    Attributes
    ----------
    images : sequence of ndarray of shape (h, w, 3)
        float32 RGB in [0, 1], read-only; sizes differ.  Images on the
        8-bit grid (every value ``n / 255``, as every image read from an
        8-bit file is) are kept as uint8, a quarter of the memory (the 30
        bundled images: 26 MB instead of 102), and each access gives the
        same float32 pixels back, bit for bit, as a new read-only array.
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
        if not isinstance(self.images, _Images):
            object.__setattr__(self, "images", _Images(_pack(im, i) for i, im in enumerate(self.images)))
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

    def encoded(self, index: int) -> tuple[np.ndarray, tuple[int, ...], bool] | None:
        """The 8-bit samples behind image ``index``, undecoded: ``(pixels, order, invert)``, or None.

        ``pixels`` is a read-only uint8 view of the stored samples (cut,
        turned and mirrored as the image is; any strides, no copy), such that
        ``self[index]`` is ``to_float(pixels[..., order])``, and ``1 -`` that
        (in float32) when ``invert``, bit for bit
        (:func:`imgprivacy._resample.decode_u8`).  The overlay fitting reads
        them so, without making the float image (four times the bytes).  None
        for an image stored as float32 (off the 8-bit grid) or made otherwise.

        Examples
        --------
        >>> img = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)
        >>> S = OverlaySet((to_float(img),), ("tiny",), overlay_fingerprint([to_float(img)]), "toy")
        >>> pixels, order, invert = S.encoded(0)
        >>> pixels.dtype, order, invert, bool((to_float(pixels) == S[0]).all())
        (dtype('uint8'), (0, 1, 2), False, True)
        """
        return self.images.encoded(index) if isinstance(self.images, _Images) else None

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
        if self.source == "derived":  # its fingerprint comes from the key: printed, it would link the key's photos
            return f"OverlaySet(source='derived', m={len(self)})"
        return f"OverlaySet(source={self.source!r}, m={len(self)}, fingerprint={self.fingerprint[:16]}...)"


def _same_image(value: object, image: np.ndarray) -> bool:
    return value is image or (isinstance(value, np.ndarray) and np.array_equal(value, image))


def _pack(image: object, index: int) -> np.ndarray:
    """One overlay as stored: uint8 if it lies on the 8-bit grid (read back exactly), else float32; read-only."""
    img = check_image(image, f"images[{index}]")
    if img.dtype == np.float32:
        packed = to_uint(img)  # rint(x * 255): exact wherever x = n / 255 in float32
        if np.array_equal(to_float(packed), img):
            packed.setflags(write=False)
            return packed
    out = np.array(img, dtype=np.float32)  # a copy: the set never changes under its fingerprint
    out.setflags(write=False)
    return out


class _Images(Sequence):
    """The images of an :class:`OverlaySet` as stored by :func:`_pack` (or made by ``make``), read as float32."""

    __slots__ = ("_stored", "_make", "_encoded")

    def __init__(self, stored, make=None, encoded=None) -> None:
        self._stored = tuple(stored)
        self._make = _unpack if make is None else make
        self._encoded = _as_stored if make is None else encoded

    def __len__(self) -> int:
        return len(self._stored)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self._make(s) for s in self._stored[index])
        return self._make(self._stored[index])

    def __iter__(self):
        return (self._make(s) for s in self._stored)

    def encoded(self, index: int):
        """(uint8 view, channel order, inverted) behind image ``index``, or None (see OverlaySet.encoded)."""
        return None if self._encoded is None else self._encoded(self._stored[index])

    @property
    def nbytes(self) -> int:
        """Bytes the stored pixels take (0 for images made when read)."""
        return sum(getattr(s, "nbytes", 0) for s in self._stored)


def dihedral_set(overlays: OverlaySet) -> OverlaySet:
    """The 8 flips and rotations of every image of a set, made when read: a guess at a set derived from it.

    Format 2's key-derived overlay set (:func:`imgprivacy.krtio.derived_overlays`)
    turns each public image by one of these 8, among other keyed choices; a
    provider who knows the public pool but not the key can attack with all of
    them as ``S`` (8 times the candidates, and the attack's time).  The
    images are made from ``overlays`` each time they are read, so the set
    takes no memory of its own (240 images of the bundled set would take
    800 MB as float32).

    Parameters
    ----------
    overlays : OverlaySet
        The public images, e.g. :func:`overlay_set`.

    Returns
    -------
    OverlaySet
        ``8 * len(overlays)`` images: for each image in turn, variant ``d = 0
        .. 7`` is ``numpy.rot90(image, d % 4)``, mirrored left to right when
        ``d >= 4``; named ``"name/d"``, source ``"dihedral(...)"``.

    Examples
    --------
    >>> img = np.arange(6, dtype=np.float32).reshape(1, 2, 3) / 5
    >>> S = OverlaySet((img,), ("tiny",), overlay_fingerprint([img]), "toy")
    >>> D = dihedral_set(S)
    >>> len(D), D.names[1], D[1].shape, bool((D[4] == img[:, ::-1]).all())
    (8, 'tiny/1', (2, 1, 3), True)
    """
    _check_set(overlays, "overlays")
    views = [(i, None, d, (0, 1, 2), False) for i in range(len(overlays)) for d in range(8)]
    names = tuple(f"{name}/{d}" for name in overlays.names for d in range(8))
    return view_set(overlays, views, names=names, source=f"dihedral({overlays.source})")


def _check_set(overlays, name: str) -> None:
    if not isinstance(overlays, OverlaySet):
        raise TypeError(f"{name} must be an OverlaySet (imgprivacy.data.overlay_set()), got {type(overlays).__name__}")


def view_set(overlays: OverlaySet, views, *, names, source: str) -> OverlaySet:
    """Images cut, turned and recoloured from a set's images, made when read: a set with no pixels of its own.

    Each image is made from ``overlays`` whenever it is read (an 8-bit
    stored image is cut before it is converted, so a read costs the crop,
    not the whole picture); the set holds only the views and a reference to
    ``overlays``.  Format 2's key-derived set
    (:func:`imgprivacy.krtio.derived_overlays`) and :func:`dihedral_set`
    are such sets: as float32 copies, the 30 derived images of the bundled
    pool took about 100 MB, the 240 of its dihedral set 800 MB.

    Parameters
    ----------
    overlays : OverlaySet
        The images the views are cut from.
    views : sequence of (int, (int, int, int, int) or None, int, (int, int, int), bool)
        Per image ``(index, crop, transform, order, invert)``: rows
        ``r0:r1`` and columns ``c0:c1`` of image ``index`` (``crop = (r0, r1,
        c0, c1)``, None for the whole image), turned by ``numpy.rot90(.,
        transform % 4)`` and mirrored left to right when ``transform >= 4``;
        channel ``c`` taken from channel ``order[c]``; ``1 - value``
        (float32) when ``invert``.
    names : sequence of str
        One name per view.
    source : str
        The set's :attr:`OverlaySet.source`.

    Returns
    -------
    OverlaySet
        Read-only float32 RGB images, the same bits as the operations above
        applied to the float32 images of ``overlays``, with their fingerprint.

    Examples
    --------
    >>> img = np.arange(6, dtype=np.float32).reshape(1, 2, 3) / 5
    >>> S = OverlaySet((img,), ("tiny",), overlay_fingerprint([img]), "toy")
    >>> V = view_set(S, [(0, (0, 1, 1, 2), 1, (2, 1, 0), True)], names=["cut"], source="views")
    >>> V[0].shape, bool((V[0] == 1 - img[:, 1:, ::-1]).all())
    ((1, 1, 3), True)
    """
    _check_set(overlays, "overlays")
    base = overlays.images
    plain = isinstance(base, _Images) and base._make is _unpack  # stored pixels: cut before converting
    entries = []
    for j, view in enumerate(views):
        try:
            index, crop, transform, order, invert = view
            index, transform, order = int(index), int(transform), tuple(int(c) for c in order)
            crop = None if crop is None else tuple(int(v) for v in crop)
        except (TypeError, ValueError) as err:
            raise ValueError(f"views[{j}] must be (index, crop, transform, order, invert), got {view!r}") from err
        if not 0 <= index < len(overlays) or not 0 <= transform < 8 or sorted(order) != [0, 1, 2] or (
            crop is not None and (len(crop) != 4 or not (0 <= crop[0] < crop[1] and 0 <= crop[2] < crop[3]))
        ):
            raise ValueError(f"views[{j}] = {view!r} is not a view of an image of this {len(overlays)}-image set")
        entries.append((index, crop, transform, order, bool(invert)))
    names = tuple(names)
    if len(names) != len(entries):
        raise ValueError(f"names must have one entry per view ({len(entries)}), got {len(names)}")

    def make(entry) -> np.ndarray:
        index, crop, transform, order, invert = entry
        img = _cut(base._stored[index] if plain else base[index], crop, transform)
        if order != (0, 1, 2):
            img = img[..., list(order)]
        # made contiguous while still 8-bit (a quarter of the bytes), so the float copy is the only one
        out = to_float(np.ascontiguousarray(img)) if img.dtype == np.uint8 else np.array(img, dtype=np.float32, order="C")
        if invert:
            np.subtract(np.float32(1), out, out=out)
        out.setflags(write=False)
        return out

    def encoded(entry):
        index, crop, transform, order, invert = entry
        if not plain or base._stored[index].dtype != np.uint8:
            return None
        return _cut(base._stored[index], crop, transform), order, invert

    images = _Images(entries, make, encoded)
    # the made images are valid (cut from a valid set by exact float32 operations): hashed without a range check
    return OverlaySet(images, names, _fingerprint(make(entry) for entry in entries), source)


def _cut(img: np.ndarray, crop, transform: int) -> np.ndarray:
    """A view of ``img``: rows ``r0:r1`` and columns ``c0:c1``, turned by ``rot90(., transform % 4)``,
    mirrored left to right when ``transform >= 4``."""
    if crop is not None:
        img = img[crop[0] : crop[1], crop[2] : crop[3]]
    img = np.rot90(img, transform % 4)
    return img[:, ::-1] if transform >= 4 else img


def _as_stored(stored: np.ndarray):
    return (stored, (0, 1, 2), False) if stored.dtype == np.uint8 else None


def _unpack(stored: np.ndarray) -> np.ndarray:
    if stored.dtype != np.uint8:
        return stored
    out = to_float(stored)
    out.setflags(write=False)
    return out


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


_CACHE_ENV = "IMGPRIVACY_CACHE"


def _cache_file() -> Path | None:
    """Where the built default set is kept: ``$IMGPRIVACY_CACHE`` (``off``: nowhere), else the user's cache folder.

    The name carries the versions of scikit-image and scikit-learn, whose bundled pictures the set is cut from.
    """
    folder = os.environ.get(_CACHE_ENV, "").strip()
    if folder.lower() == "off":
        return None
    if not folder:
        folder = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                              "imgprivacy")
    skimage, sklearn = _dist_version("scikit-image", "skimage"), _dist_version("scikit-learn", "sklearn")
    if skimage is None or sklearn is None:
        return None
    return Path(folder) / f"overlays-default-v1-skimage{skimage}-sklearn{sklearn}.npz"


def _dist_version(dist: str, module: str) -> str | None:
    """The installed version of ``dist`` (imported as ``module``), or None if it is not installed.

    Read from the name of its one ``.dist-info`` folder beside the package, which is where
    :mod:`importlib.metadata` finds it too, without importing that (40 ms of a command's start-up);
    :mod:`importlib.metadata` answers where there is no such folder (an egg, a zipped install).
    """
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    prefix = dist.replace("-", "_")
    if spec.origin:
        found = list(Path(spec.origin).parent.parent.glob(f"{prefix}-*.dist-info"))
        if len(found) == 1:
            return found[0].name[len(prefix) + 1 : -len(".dist-info")]
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


#: stored digest -> fingerprint of the default set as built from the bundled pictures of the scikit-image and
#: scikit-learn versions tested (the fingerprint is format 1's known answer): a cache file whose digest is known
#: needs no second pass over its pixels (0.15 s a run); any other is checked against its recorded fingerprint
_KNOWN_DEFAULT = {
    "20445d7a37ea6ec4d97828f1b5d7ecf736cc54301fc78eb01c720e822978390c":
        "b99df6c37eb3c0c3c67190c9ed855ad63ffe7e188960b37657fe6751289994ee",
}


def _stored_digest(stored: Sequence[np.ndarray], names: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(names).encode())
    for img in stored:
        digest.update(f"{img.dtype.str}{img.shape}".encode())
        digest.update(np.ascontiguousarray(img).data)
    return digest.hexdigest()


def _trusted(path: Path) -> bool:
    """Whether a cache file and its folder belong to this user and nobody else may write them (POSIX)."""
    if not hasattr(os, "getuid"):
        return True
    try:
        for entry in (path, path.parent):
            st = entry.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o022:
                return False
    except OSError:
        return False
    return True


def _load_cached_set(path: Path) -> OverlaySet | None:
    """The default set from its cache file, or None if there is none, someone else may have written it,
    or it does not match its digest and its recorded fingerprint (the set is then built again)."""
    import zipfile

    if not _trusted(path):  # another user could have swapped in flat overlays under the true fingerprint
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = tuple(str(n) for n in npz["names"])
            stored = [npz[f"image{i}"] for i in range(len(names))]
            fingerprint, digest = str(npz["fingerprint"]), str(npz["digest"])
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if len(names) != len(_DEFAULT_TABLE) or _stored_digest(stored, names) != digest:
        return None
    for img in stored:
        img.setflags(write=False)
    images = _Images(stored)
    # the fingerprint written into protected files is the pixels': known for the known digest, else computed
    if _KNOWN_DEFAULT.get(digest) != fingerprint and overlay_fingerprint(images) != fingerprint:
        return None
    return OverlaySet(images, names, fingerprint, "default")


def _save_cached_set(path: Path, the_set: OverlaySet) -> None:
    """Keep the built default set for the next process (best effort: an unwritable cache is skipped)."""
    import io

    from .._atomic import publish

    stored = the_set.images._stored
    buf = io.BytesIO()
    np.savez(buf, names=np.array(the_set.names), fingerprint=np.array(the_set.fingerprint),
             digest=np.array(_stored_digest(stored, the_set.names)), **{f"image{i}": s for i, s in enumerate(stored)})
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        publish(buf.getvalue(), path, overwrite=True)
    except OSError:
        pass


@functools.lru_cache(maxsize=1)
def _default_overlay_set() -> OverlaySet:
    cache = _cache_file()
    if cache is not None and cache.is_file():
        cached = _load_cached_set(cache)
        if cached is not None:
            return cached
    built = _build_default_overlay_set()
    if cache is not None and (not cache.exists() or _trusted(cache)):
        _save_cached_set(cache, built)
    return built


def _build_default_overlay_set() -> OverlaySet:
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
        if img.dtype == np.uint8 and (img.ndim == 2 or img.shape[2] == 3):
            # 8-bit RGB or grey: stored as it is (grey repeated), with no float copy on the way
            # (the float path below gives the same bytes, at up to 100 MB of temporaries for the retina)
            rgb = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else np.array(img, order="C")
            rgb.setflags(write=False)
            images.append(rgb)
            continue
        # snapped to the 8-bit grid (only the composited logo is off it), so that the set
        # saved as 8-bit PNGs (`imgprivacy overlays export`) loads back with the same fingerprint;
        # packed one at a time (uint8), so that the float32 set never exists whole in memory
        images.append(_pack(to_float(to_uint(_to_rgb(to_float(img)))), len(images)))
    images = _Images(images)
    result = OverlaySet(images, tuple(names), overlay_fingerprint(images), "default")
    del bundled
    release_free_memory()  # the decoded pictures and their temporaries (about 40 MB a kernel kept)
    return result


def overlay_set(source: str | os.PathLike = "default") -> OverlaySet:
    """The public overlay set ``S``: the bundled default or a folder of images.

    Parameters
    ----------
    source : "default" or path, default "default"
        ``"default"`` (the string) gives the built-in set of 30 face-free
        images, built from pictures bundled inside scikit-image and
        scikit-learn without any download, and cached: in the
        process, and in a file of the user's cache folder
        (``$IMGPRIVACY_CACHE``, else ``~/.cache/imgprivacy``; ``off`` for
        none), checked against its SHA-256 when read, so that a command
        line run does not decode the bundled pictures again (seconds).  Any other value is
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
                arr, _ = pil_pixels(pil)
        except UnidentifiedImageError:
            continue  # not an image (README, .DS_Store, ...)
        except (OSError, ValueError, SyntaxError) as err:
            raise ValueError(f"cannot decode overlay image {file}: {err}") from err
        images.append(_pack(_to_rgb(arr), len(images)))
        names.append(file.name)
    if not images:
        raise ValueError(f"overlay folder {folder} holds no image file that Pillow can open")
    images = _Images(images)
    return OverlaySet(images, tuple(names), overlay_fingerprint(images), str(folder))
