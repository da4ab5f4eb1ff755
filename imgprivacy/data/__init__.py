"""Face sets, overlay sets and lossless image I/O.

Three groups of helpers feed the rest of the package:

* **Faces** -- :func:`load_faces` returns a :class:`FaceSet` (float32 images,
  int64 labels, subject names) for the Olivetti faces (through
  scikit-learn's loader and cache), the ORL/AT&T database (a local folder
  in its original ``sNN/M.pgm`` layout) or LFW (colour, through
  scikit-learn's ``fetch_lfw_people``).  Face data is never shipped with
  the package.
* **Overlay sets** -- :func:`overlay_set` returns the public set ``S`` of
  face-free images that k-RTIO mixes into photos: a default set of 30
  images built from pictures bundled inside scikit-image and scikit-learn
  (no download), or every image of a folder.  :func:`overlay_fingerprint`
  identifies a set by its pixels; :func:`view_set` cuts, turns and recolours
  a set's images when they are read (format 2's key-derived set), and
  :func:`dihedral_set` gives every flip and rotation of them.
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

from ._convert import to_float, to_uint
from ._faces import FaceSet, load_faces
from ._images import LOSSLESS_SUFFIXES, LoadedImage, read_image, storage_roundtrip, write_png
from ._overlays import OverlaySet, dihedral_set, overlay_fingerprint, overlay_set, view_set

__all__ = [
    "LOSSLESS_SUFFIXES",
    "FaceSet",
    "LoadedImage",
    "OverlaySet",
    "dihedral_set",
    "load_faces",
    "overlay_fingerprint",
    "overlay_set",
    "read_image",
    "storage_roundtrip",
    "to_float",
    "to_uint",
    "view_set",
    "write_png",
]
