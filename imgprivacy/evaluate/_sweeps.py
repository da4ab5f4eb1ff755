"""Evaluation of section 6 of the paper: sweeps into tidy tables and recovery SSIM.

* :func:`sweep` perturbs a set of faces over a grid of scheme parameters
  (k-RTIO ``alpha x block x k``, UEP ``beta``), optionally filters them
  (section 6.3, Fig. 17), shows them to every target and returns one tidy
  :class:`pandas.DataFrame` row per (cell, filter, target): the rate and the
  mean SSIM of what a human would see.
* :func:`bss_sweep` measures what blind signal separation
  (:func:`imgprivacy.attacks.bss_fastica`) wins back from a naive overlay
  (one overlay shared by many photos), or from k-RTIO, over the photo's
  weight and the number of photos attacked together (section 5.2).
* :func:`known_overlay_sweep` scores the known-S block attack over k-RTIO
  settings.
* :func:`krtio_recovery_ssim` and :func:`uep_recovery_ssim` measure what
  storing a perturbed photo in 8 bits costs the owner who recovers it
  (Fig. 13).

The figures drawn from these tables live in :mod:`imgprivacy.plotting`
(``plot_rates``, ``plot_heatmaps``, ``plot_beta``, ``plot_filters``,
``plot_krtio_examples``, ``plot_ssim_histograms``).

``import imgprivacy`` loads this module lazily, and the module imports pandas
only when a function needs it; it never imports torch or matplotlib itself.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from .. import _prf, attacks, data, krtio, metrics, uep
from .._validation import (
    _short, check_alpha, check_beta, check_delta, check_depth, check_ids, check_image, check_int, check_labels,
    check_limits, check_search, check_sequence, check_stack,
)

__all__ = [
    "BSS_COLUMNS",
    "COLUMNS",
    "EVALUATION_KEY",
    "KNOWN_S_COLUMNS",
    "PARAMS",
    "SCHEMES",
    "SCHEME_PARAMS",
    "bss_sweep",
    "known_overlay_sweep",
    "krtio_recovery_ssim",
    "sweep",
    "uep_recovery_ssim",
]

#: The fixed key every evaluation uses unless told otherwise, so that tables are
#: reproducible.  It is public: never protect a real photo with it (make a key
#: with :func:`imgprivacy.generate_key`).
EVALUATION_KEY = bytes(range(16))

#: Columns of the table :func:`sweep` returns, in order.
COLUMNS = ("scheme", "alpha", "block", "k", "beta", "filter", "strength", "target", "task", "rate", "n", "ssim")

#: The scheme parameters a table's rows may set, and which of them each scheme uses.
PARAMS = ("alpha", "block", "k", "beta")
SCHEMES = ("clean", "krtio", "uep")
SCHEME_PARAMS = {"clean": (), "krtio": ("alpha", "block", "k"), "uep": ("beta",)}


# =========================================================================== input checks
def _task_of(target: Any, name: str) -> str:
    if callable(getattr(target, "predict", None)):
        return "recognition"
    if callable(getattr(target, "detect", None)):
        return "detection"
    raise TypeError(
        f"targets[{name!r}] must be a fitted recogniser with predict(images) or a detector with detect(images) "
        f"(see imgprivacy.targets), got {type(target).__name__}"
    )


def _check_targets(targets: Any) -> dict[str, tuple[Any, str]]:
    if not isinstance(targets, Mapping):
        raise TypeError(
            "targets must be a mapping of display name to target, e.g. {'eigenfaces': ip.targets.Eigenfaces().fit(X, y)}, "
            f"got {type(targets).__name__}"
        )
    if not targets:
        raise ValueError("targets must name at least one recogniser or detector, got an empty mapping")
    out = {}
    for name, target in targets.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"targets must be keyed by non-empty display names (str), got the key {_short(name)}")
        out[name] = (target, _task_of(target, name))
    return out


def _check_filters(filters: Any) -> list[tuple[str, float | int]]:
    pairs = check_sequence(filters, "filters")
    if not pairs:
        raise ValueError("filters must hold at least one (name, strength) pair; use (('none', 0),) for no filter")
    probe = np.zeros((1, 8, 8), np.float32)
    out = []
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], str)):
            raise TypeError(f"filters[{i}] must be a (name, strength) pair such as ('median', 1), got {_short(pair)}")
        name, strength = pair
        try:  # checks the name and the strength now, not after minutes of perturbation
            attacks.apply_filter(probe, name, strength=strength)
        except (TypeError, ValueError) as err:
            raise type(err)(f"filters[{i}] = {_short(tuple(pair))}: {err}") from None
        out.append((name, strength))
    return out


def _check_ids(image_ids: Any, n: int) -> list:
    """``image_ids`` checked as one unique id per image; None is ``["face-0", "face-1", ...]``."""
    if image_ids is None:
        return [f"face-{i}" for i in range(n)]
    return check_ids(image_ids, n)


def _bar(iterable, *, desc: str, progress: bool, total: int | None = None):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not progress, leave=True)


def _rate(target, task: str, images, labels) -> float:
    """Recognition rate (against ``labels``) or detection rate of one target."""
    if task == "recognition":
        return metrics.recognition_rate(target, images, labels)
    return metrics.detection_rate(target, images)


# =========================================================================== the sweep
def sweep(
    images,
    labels,
    targets: Mapping[str, Any],
    *,
    alphas: Sequence[float] = (),
    blocks: Sequence[int] = (8,),
    ks: Sequence[int] = (3,),
    betas: Sequence[float] = (),
    delta=None,
    filters: Sequence[tuple[str, float]] = (("none", 0),),
    key: bytes | str | None = None,
    overlays=None,
    image_ids: Sequence[str | bytes] | None = None,
    limits: Mapping[str, int] | None = None,
    clean: bool = True,
    progress: bool = True,
):
    """Recognition and detection rates of perturbed faces over a grid of parameters.

    Every *cell* is one way of showing the faces: the clean faces, k-RTIO
    with one ``(alpha, block, k)``, or UEP with one ``beta``.  Each cell's
    images are filtered with every filter of ``filters`` (after the
    perturbation, as a provider would) and shown to every target.

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images of one shape
        Clean faces, float in [0, 1], grey or RGB (C = 1 or 3).
    labels : array-like of shape (N,) or None
        The subject of each face, compared with the recognisers' predictions
        (None is accepted when every target is a detector).
    targets : mapping of str to target
        Display name to a fitted recogniser (has ``predict(images)``; task
        ``"recognition"``, rate :func:`imgprivacy.metrics.recognition_rate`)
        or a detector (has ``detect(images)``; task ``"detection"``, rate
        :func:`imgprivacy.metrics.detection_rate`), e.g. from
        :mod:`imgprivacy.targets`.
    alphas : sequence of float, default ()
        k-RTIO weights of the photo, in (0, 1].  No k-RTIO cell when empty.
    blocks : sequence of int, default (8,)
        k-RTIO block sides in pixels (square blocks).
    ks : sequence of int, default (3,)
        k-RTIO numbers of overlays, ``1 <= k <= len(overlays)``.  One k-RTIO
        cell per element of ``alphas x blocks x ks``.
    betas : sequence of float, default ()
        UEP weights (>= 0), one UEP cell each.
    delta : ndarray or UEPResult, optional
        The UEP (:func:`imgprivacy.uep.learn`); required when ``betas`` is
        not empty.
    filters : sequence of (str, strength) pairs, default (("none", 0),)
        Filters of :data:`imgprivacy.attacks.FILTERS` with their strengths;
        ``("none", 0)`` is the unfiltered view.
    key : bytes or str, optional
        k-RTIO key; default :data:`EVALUATION_KEY`.
    overlays : sequence of ndarray, optional
        The overlay set ``S``; default :func:`imgprivacy.data.overlay_set`.
        It is fitted to the image shape once per block size.
    image_ids : sequence of str or bytes, optional
        One unique id per face; default ``["face-0", "face-1", ...]``.
    limits : mapping of str to int, optional
        Target name to the number of images it sees: that target is only
        shown the first ``n`` images of every cell (for slow targets such as
        the dlib ResNet, about 80 ms a face on a CPU).
    clean : bool, default True
        Include the clean cell (the baseline every plot draws dashed).
    progress : bool, default True
        Show a progress bar over the cells.

    Returns
    -------
    pandas.DataFrame
        One row per (cell, filter, target): the clean cell first, then the
        k-RTIO cells in the order of ``itertools.product(alphas, blocks, ks)``,
        then the UEP cells in the order of ``betas``; within a cell the
        filters, within a filter the targets, in the order given.  Columns:

        ========  =========  ====================================================
        column    dtype      meaning
        ========  =========  ====================================================
        scheme    str        ``"clean"``, ``"krtio"`` or ``"uep"``
        alpha     float64    k-RTIO weight of the photo (NaN for other schemes)
        block     Int64      k-RTIO block side in pixels (<NA> for other schemes)
        k         Int64      k-RTIO overlays combined (<NA> for other schemes)
        beta      float64    UEP weight of delta (NaN for other schemes)
        filter    str        filter applied after perturbation (``"none"``)
        strength  float64    its strength, in the filter's unit (0 for none)
        target    str        the target's display name (key of ``targets``)
        task      str        ``"recognition"`` or ``"detection"``
        rate      float64    recognition rate (predicted == label) or detection
                             rate (at least one face found), in [0, 1]
        n         int64      images the target saw (``limits``, else N)
        ssim      float64    mean SSIM of the clean face against the image shown
                             (perturbed, then filtered), over all N images of the
                             cell: what a human sees; 1.0 for the clean,
                             unfiltered cell
        ========  =========  ====================================================

    Raises
    ------
    TypeError, ValueError
        For malformed images, labels, targets, grids, filters or limits, or
        ``betas`` without ``delta``; checked before anything is computed.

    Notes
    -----
    The result is deterministic: k-RTIO overlays follow from the key and
    the ids, and the default key is fixed.  :data:`EVALUATION_KEY` is
    public (``bytes(range(16))``): it is fine for measuring, never for
    protecting a real photo.

    References
    ----------
    Section 6 of the paper: Fig. 8 (UEP against beta), Fig. 11 and 12
    (k-RTIO against alpha and block size), Fig. 16 (plain and robust CNN),
    Fig. 17 (filters).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((4, 8, 8), dtype=np.float32)
    >>> y = (X.mean(axis=(1, 2)) > 0.5).astype(int)     # a "subject" the toy recogniser can read
    >>> class Brightness:
    ...     def predict(self, images):
    ...         return (np.asarray(images).mean(axis=(1, 2)) > 0.5).astype(int)
    >>> S = [rng.random((8, 8, 3), dtype=np.float32) for _ in range(4)]
    >>> table = sweep(X, y, {"toy": Brightness()}, alphas=[0.5], blocks=[4], ks=[2], overlays=S, progress=False)
    >>> list(table.columns) == list(COLUMNS)
    True
    >>> table[["scheme", "alpha", "block", "k", "rate", "n"]]
      scheme  alpha  block     k  rate  n
    0  clean    NaN   <NA>  <NA>  1.00  4
    1  krtio    0.5      4     2  0.75  4
    """
    import pandas as pd

    stack = check_stack(images, "images")
    n_images = len(stack)
    if n_images == 0:
        raise ValueError("images must hold at least one face, got none")
    named = _check_targets(targets)
    labels = check_labels(labels, n_images, required=any(task == "recognition" for _, task in named.values()))
    alphas = [check_alpha(a, "alphas") for a in check_sequence(alphas, "alphas")]
    betas = [check_beta(b, "betas") for b in check_sequence(betas, "betas")]
    filters = _check_filters(filters)
    limits = check_limits(limits, list(named), n_images)
    if betas:
        if delta is None:
            raise ValueError(
                "delta must be given when betas is not empty: pass the learned UEP "
                "(imgprivacy.uep.learn(...) or its .delta), or betas=() for no UEP cell"
            )
        check_delta(delta)  # fail before any work
    blocks = [check_int(b, "blocks", minimum=1) for b in check_sequence(blocks, "blocks")]
    ks = [check_int(k, "ks", minimum=1) for k in check_sequence(ks, "ks")]
    cells: list[dict[str, Any]] = [{"scheme": "clean"}] if clean else []
    if alphas:
        if not blocks or not ks:
            raise ValueError(f"blocks and ks must not be empty when alphas is not, got blocks={blocks}, ks={ks}")
        key = _prf.check_key(EVALUATION_KEY if key is None else key)
        S = krtio.resolve_overlays(overlays)
        ks = [check_int(k, "ks", minimum=1, maximum=len(S)) for k in ks]
        ids = _check_ids(image_ids, n_images)
        cells += [{"scheme": "krtio", "alpha": a, "block": b, "k": k} for a, b, k in itertools.product(alphas, blocks, ks)]
    cells += [{"scheme": "uep", "beta": b} for b in betas]
    if not cells:
        raise ValueError("the sweep has no cell: pass clean=True, some alphas (k-RTIO) or some betas (UEP)")

    cache = krtio.OverlayCache(S) if alphas else None  # S fitted to the faces once per block size
    rows = []
    for cell in _bar(cells, desc="sweep", progress=progress):
        scheme = cell["scheme"]
        if scheme == "clean":
            shown = stack
        elif scheme == "krtio":
            block = cell["block"]
            shown = krtio.perturb_batch(
                stack, key, image_ids=ids, overlays=cache.get(stack.shape[1:], block=block), k=cell["k"],
                alpha=cell["alpha"], block=block, progress=False,
            )
        else:
            shown = np.stack(uep.apply(list(stack), delta, beta=cell["beta"]))
        for name, strength in filters:
            seen = shown if name == "none" else attacks.apply_filter(shown, name, strength=strength)
            ssim = float(np.mean([metrics.ssim(x, s) for x, s in zip(stack, seen)]))
            for target_name, (target, task) in named.items():
                n = limits.get(target_name, n_images)
                rate = _rate(target, task, seen[:n], None if labels is None else labels[:n])
                rows.append({
                    "scheme": scheme,
                    "alpha": cell.get("alpha", np.nan),
                    "block": cell.get("block", pd.NA),
                    "k": cell.get("k", pd.NA),
                    "beta": cell.get("beta", np.nan),
                    "filter": name,
                    "strength": float(strength),
                    "target": target_name,
                    "task": task,
                    "rate": float(rate),
                    "n": int(n),
                    "ssim": ssim,
                })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({
        "alpha": "float64", "block": "Int64", "k": "Int64", "beta": "float64", "strength": "float64",
        "rate": "float64", "n": "int64", "ssim": "float64",
    })


# =========================================================================== recovery (Fig. 13)
def _store(image: np.ndarray, depth: int) -> np.ndarray:
    # exactly what an 8- or 16-bit PNG holds (imgprivacy.data.storage_roundtrip, without the codec)
    return data.to_float(data.to_uint(image, depth=depth))


def krtio_recovery_ssim(
    images,
    key: bytes | str | None = None,
    *,
    overlays=None,
    alpha: float = 0.45,
    k: int = 3,
    block: int = 8,
    image_ids: Sequence[str | bytes] | None = None,
    depth: int = 8,
    progress: bool = True,
) -> np.ndarray:
    """SSIM of each face against itself after k-RTIO, storage with ``depth`` bits and recovery.

    The owner's view of k-RTIO's loss (section 6.2, "Recoverability"):
    each face is perturbed, quantised to ``depth`` bits as a PNG file
    would hold it (:func:`imgprivacy.data.storage_roundtrip` with
    ``codec="png"``), recovered with the key, and compared with the original.

    Parameters
    ----------
    images : ndarray of shape (N, H, W[, C]) or list of images of one shape
        Clean faces, float in [0, 1].
    key : bytes or str, optional
        Default :data:`EVALUATION_KEY` (public: for measuring only).
    overlays : sequence of ndarray, optional
        Default :func:`imgprivacy.data.overlay_set`.
    alpha, k, block
        k-RTIO parameters; the defaults are the paper's (0.45, 3, 8).
    image_ids : sequence of str or bytes, optional
        Default ``["face-0", "face-1", ...]``.
    depth : {8, 16}, default 8
        Bits per sample of the stored perturbed photo.
    progress : bool, default True

    Returns
    -------
    ndarray of shape (N,), float64

    References
    ----------
    Fig. 13: the paper measures a mean of 0.96 (SD 0.07) over 1000 FaceScrub
    photos at k = 3, block 8, alpha = 0.45.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((2, 16, 16), dtype=np.float32)
    >>> S = [rng.random((16, 16, 3), dtype=np.float32) for _ in range(4)]
    >>> s = krtio_recovery_ssim(X, overlays=S, k=2, block=4, progress=False)
    >>> s.shape, bool(s.min() > 0.98)
    ((2,), True)
    """
    stack = check_stack(images, "images")
    key = _prf.check_key(EVALUATION_KEY if key is None else key)
    S = krtio.resolve_overlays(overlays)
    alpha = check_alpha(alpha)
    k = check_int(k, "k", minimum=1, maximum=len(S))
    block = check_int(block, "block", minimum=1)
    depth = check_depth(depth)
    ids = _check_ids(image_ids, len(stack))
    prep = krtio.prepare_overlays(S, stack.shape[1:], block=block) if len(stack) else None
    out = []
    for x, image_id in zip(_bar(stack, desc="k-RTIO recovery SSIM", progress=progress), ids):
        stored = _store(krtio.perturb(x, key, image_id=image_id, overlays=prep, k=k, alpha=alpha, block=block), depth)
        recovered = krtio.recover(stored, key, image_id=image_id, overlays=prep, k=k, alpha=alpha, block=block)
        out.append(metrics.ssim(x, recovered))
    return np.asarray(out, dtype=np.float64)


def uep_recovery_ssim(images, delta, *, beta: float = 1.0, depth: int = 8, progress: bool = True) -> np.ndarray:
    """SSIM of each face against itself after UEP, storage with ``depth`` bits and removal.

    Parameters
    ----------
    images : ndarray of shape (N, H, W[, C]) or list of images of one shape
        Clean faces, float in [0, 1].
    delta : ndarray or UEPResult
        The UEP.
    beta : float, default 1.0
        Its weight (>= 0).
    depth : {8, 16}, default 8
        Bits per sample of the stored perturbed photo.
    progress : bool, default True

    Returns
    -------
    ndarray of shape (N,), float64

    References
    ----------
    Fig. 13: the paper measures a mean of 0.99 (SD 0.0038) over 1000
    FaceScrub photos.  :func:`imgprivacy.uep.recovery_bound` is the proven
    worst case per pixel.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((2, 16, 16), dtype=np.float32)
    >>> d = rng.normal(0, 0.3, (16, 16)).astype(np.float32)
    >>> s = uep_recovery_ssim(X, d, beta=1.0, progress=False)
    >>> s.shape, bool(s.min() > 0.99)
    ((2,), True)
    """
    stack = check_stack(images, "images")
    check_delta(delta)
    beta = check_beta(beta)
    depth = check_depth(depth)
    out = []
    for x in _bar(stack, desc="UEP recovery SSIM", progress=progress):
        stored = _store(uep.apply([x], delta, beta=beta)[0], depth)
        out.append(metrics.ssim(x, uep.remove([stored], delta, beta=beta)[0]))
    return np.asarray(out, dtype=np.float64)


# =========================================================================== blind signal separation
#: Columns of the table :func:`bss_sweep` returns, in order.
BSS_COLUMNS = ("scheme", "alpha", "n", "seed", "overlay", "draw", "ssim_perturbed", "ssim_recovered", "gain",
               "overlay_corr", "recovered_corr", "difference_corr")


def _check_shared(overlays: Any, shape: tuple) -> dict[str, np.ndarray]:
    if not isinstance(overlays, Mapping) or not overlays:
        raise TypeError(
            "overlays must be a non-empty mapping of name to shared overlay (one image of the photos' shape) "
            f"when scheme='naive', got {_short(overlays)}"
        )
    out = {}
    for name, ov in overlays.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"overlays must be keyed by non-empty names (str), got the key {_short(name)}")
        ov = check_image(ov, f"overlays[{name!r}]", channels=(1, 3))
        if ov.shape != shape:
            raise ValueError(
                f"overlays[{name!r}] must have the shape of one image, {shape}, got {ov.shape}; "
                "fit it with imgprivacy.krtio.prepare_overlays(...).fitted(i) or crop it"
            )
        out[name] = ov
    return out


def bss_sweep(images, overlays=None, *, scheme: str = "naive", alphas: Sequence[float] = (0.45,),
              ns: Sequence[int] = (20,), seeds: Sequence[int] = (0,), draws: int = 1, key=None, image_ids=None,
              k: int = 3, block: int = 8, highpass=(1.0, 3.0), return_images: bool = False, progress: bool = True):
    """What blind signal separation (:func:`imgprivacy.attacks.bss_fastica`) wins back, over a grid.

    For every ``alpha``, number of photos ``n``, seed and overlay, ``n``
    faces are drawn from ``images``, perturbed (with the one shared overlay
    of the naive scheme, :func:`imgprivacy.attacks.naive_overlay`, or with
    k-RTIO, where every photo has its own), attacked, and scored with affine
    SSIM (:func:`imgprivacy.metrics.ssim_affine`, blind to the brightness,
    contrast and sign the attack cannot know).

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list of images of one shape
        The pool of clean faces, float in [0, 1].
    overlays : mapping of str to ndarray, or sequence of ndarray, PreparedOverlays or None
        ``scheme="naive"``: the shared overlays by display name, each of the
        shape of one face (e.g. ``prepare_overlays(S, shape).fitted(i)``);
        one cell per overlay.  ``scheme="krtio"``: the overlay set ``S``
        (default :func:`imgprivacy.data.overlay_set`); one cell, named
        ``"k-RTIO"``.
    scheme : {"naive", "krtio"}, default "naive"
    alphas : sequence of float, default (0.45,)
        Weights of the photo, in (0, 1].
    ns : sequence of int, default (20,)
        Photos attacked together (sharing the overlay), ``2 <= n <= N``.
    seeds : sequence of int, default (0,)
        Seeds of the draws of faces.
    draws : int, default 1
        Draws of ``n`` faces per overlay (k-RTIO: groups attacked in turn).
    key, image_ids, k, block
        k-RTIO only: the key (default :data:`EVALUATION_KEY`), one unique id
        per face of ``images`` (default ``["face-0", ...]``) and the scheme's
        parameters.
    highpass : (float, float) or None, default (1.0, 3.0)
        Passed to :func:`imgprivacy.attacks.bss_fastica`.
    return_images : bool, default False
        Also return one ``(indices, perturbed, result)`` per row: the faces
        drawn (indices into ``images``), the photos attacked and the
        :class:`imgprivacy.attacks.BSSResult`.
    progress : bool, default True

    Returns
    -------
    pandas.DataFrame
        One row per (alpha, n, seed, overlay, draw), in that nesting, columns
        :data:`BSS_COLUMNS`: the cell; ``ssim_perturbed`` and
        ``ssim_recovered``, the mean affine SSIM of the faces to the photos
        before and after the attack; ``gain``, their difference (> 0: the
        attack improved on doing nothing); ``overlay_corr``, the mean over
        photos of ``|corr(estimated overlay, the photo's true overlay)|``;
        ``recovered_corr``, ``|corr|`` of the first two recovered photos,
        and ``difference_corr``, ``|corr|`` of the first recovered photo with
        the difference of the first two faces (with ``n = 2`` both are near
        1: BSS returns that difference twice).
    list, only with ``return_images=True``

    Notes
    -----
    The faces are drawn with ``rng.choice(N, n, replace=False)``, one
    ``rng = np.random.default_rng(seed)`` per (seed, n, alpha) drawing in turn
    for every overlay and draw: the first draw of a seed is the one the BSS
    explorer shows, and every alpha sees the same faces.

    References
    ----------
    Section 5.2 and appendix D (Fig. 21) of the paper; notebook
    ``01_break_naive_overlays``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> faces = rng.random((8, 16, 16), dtype=np.float32)
    >>> shared = {"bars": np.tile(np.arange(16) % 2, (16, 1)).astype(np.float32)}
    >>> t = bss_sweep(faces, shared, ns=(2, 6), highpass=None, progress=False)
    >>> t[["scheme", "n", "overlay"]].values.tolist()
    [['naive', 2, 'bars'], ['naive', 6, 'bars']]
    >>> bool(t["recovered_corr"].iloc[0] > 0.9)
    True
    """
    import pandas as pd

    stack = check_stack(images, "images")
    if scheme not in ("naive", "krtio"):
        raise ValueError(f"scheme must be 'naive' or 'krtio', got {_short(scheme)}")
    alphas = [check_alpha(a, "alphas") for a in check_sequence(alphas, "alphas")]
    if len(stack) < 2:
        raise ValueError(f"images must hold at least 2 faces to draw from, got {len(stack)}")
    ns = [check_int(n, "ns", minimum=2, maximum=len(stack)) for n in check_sequence(ns, "ns")]
    seeds = [check_int(s, "seeds", minimum=0) for s in check_sequence(seeds, "seeds")]
    draws = check_int(draws, "draws", minimum=1)
    if scheme == "naive":
        cells = _check_shared(overlays, stack.shape[1:])
    else:
        key = _prf.check_key(EVALUATION_KEY if key is None else key)
        S = krtio.resolve_overlays(overlays)
        k = check_int(k, "k", minimum=1, maximum=len(S))
        block = check_int(block, "block", minimum=1)
        ids = _check_ids(image_ids, len(stack))
        prep = krtio.prepare_overlays(overlays if isinstance(overlays, krtio.PreparedOverlays) else S,
                                      stack.shape[1:], block=block)
        cells = {"k-RTIO": None}
    rows, runs = [], []
    grid = [(a, n, s) for a in alphas for n in ns for s in seeds]
    bar = _bar(None, total=len(grid) * len(cells) * draws, desc="BSS sweep", progress=progress)
    for alpha, n, seed in grid:
        rng = np.random.default_rng(seed)
        for name, shared in cells.items():
            for draw in range(draws):
                pick = rng.choice(len(stack), n, replace=False)
                f = stack[pick]
                if shared is not None:
                    x = attacks.naive_overlay(f, shared, alpha=alpha)
                else:
                    drawn = [ids[i] for i in pick]
                    x = krtio.perturb_batch(f, key, image_ids=drawn, overlays=prep, k=k, alpha=alpha, block=block,
                                            progress=False)
                r = attacks.bss_fastica(x, highpass=highpass)
                ssim_rec = np.mean([metrics.ssim_affine(a, b) for a, b in zip(f, r.recovered)])
                ssim_pert = np.mean([metrics.ssim_affine(a, b) for a, b in zip(f, x)])
                if shared is not None:
                    corr = abs(metrics.correlation(shared, r.overlay))
                else:
                    own = [krtio.overlay_for(key, i, overlays=prep, shape=f[0].shape, k=k, block=block) for i in drawn]
                    corr = np.mean([abs(metrics.correlation(o, r.overlay)) for o in own])
                rows.append({
                    "scheme": scheme, "alpha": alpha, "n": n, "seed": seed, "overlay": name, "draw": draw,
                    "ssim_perturbed": float(ssim_pert), "ssim_recovered": float(ssim_rec),
                    "gain": float(ssim_rec - ssim_pert), "overlay_corr": float(corr),
                    "recovered_corr": abs(metrics.correlation(r.recovered[0], r.recovered[1])),
                    "difference_corr": abs(metrics.correlation(r.recovered[0], f[0] - f[1])),
                })
                if return_images:
                    runs.append((pick, x, r))
                bar.update()
    bar.close()
    table = pd.DataFrame(rows, columns=list(BSS_COLUMNS))
    return (table, runs) if return_images else table


# =========================================================================== the known-S block attack
#: Columns of the table :func:`known_overlay_sweep` returns, in order.
KNOWN_S_COLUMNS = ("alpha", "k", "block", "search", "overlays_found", "all_found", "ssim_protected", "ssim_attacked",
                   "target", "task", "rate_protected", "rate_attacked", "n", "seconds")


def known_overlay_sweep(images, labels, targets, *, settings=((0.45, 3, 8),), key=None, overlays=None,
                        attack_overlays=None, image_ids=None, limits=None, depth: int | None = 8,
                        progress: bool = True, return_images: bool | int = False, search: str = "greedy",
                        beam_width: int | None = None):
    """The known-S block attack (:func:`imgprivacy.attacks.known_overlay_attack`) over k-RTIO settings, scored.

    For each ``(alpha, k, block)`` the faces are protected with the user's
    ``key`` (:func:`imgprivacy.krtio.perturb_batch`), stored as the provider
    receives them (``depth``-bit PNG pixels), attacked with the overlay set
    known (or with the provider's best guess of it, ``attack_overlays``), and
    shown to every target before and after the attack.

    Parameters
    ----------
    images, labels, targets, key, overlays, image_ids, limits, progress
        As in :func:`sweep`.
    settings : sequence of (alpha, k, block)
        The k-RTIO settings attacked; the default is the paper's sweet spot.
    attack_overlays : sequence of ndarray, optional
        The set the provider attacks with, when it does not know the one the
        photos were protected with (``overlays``): e.g. the public pool
        against format 2's key-derived set
        (:func:`imgprivacy.krtio.derived_overlays`).  Default: ``overlays``
        itself, the known-S threat model.  When it is another set (by
        fingerprint), ``overlays_found`` and ``all_found`` are NaN: its
        indices do not name the protecting set's overlays.
    depth : {8, 16} or None, default 8
        Bits per sample of the protected photos the provider receives
        (``None``: the float photos, no storage).
    return_images : bool or int, default False
        Also return ``{(alpha, k, block): (protected, attacked)}`` stacks:
        True for every photo, a number ``n`` for the first ``n`` of each
        setting (what a figure shows: the stacks of every setting are not
        kept in memory).
    search, beam_width
        The attack's search, as in
        :func:`imgprivacy.attacks.known_overlay_attack` (the table's
        ``search`` column names it; ``"beam"`` is about ``beam_width``
        times slower).

    Returns
    -------
    pandas.DataFrame
        One row per setting and target, columns :data:`KNOWN_S_COLUMNS`:
        the setting and ``search``; ``overlays_found`` (fraction of the chosen overlays
        the attack names) and ``all_found`` (fraction of photos with all k
        named), checked against the key's true choice (NaN when
        ``attack_overlays`` is another set); mean SSIM to the
        clean faces before and after the attack; the target, its task, its
        rate on the protected and on the attacked photos, the images it saw
        (``n``) and the seconds the attack took for the setting.
    dict, only with ``return_images`` True or a number

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[0:16, 0:16] / 16.0
    >>> X = np.stack([0.3 + 0.4 * (yy * a + xx * (1 - a)) for a in (0.2, 0.8)]).astype(np.float32)  # smooth "faces"
    >>> S = [rng.random((16, 16), dtype=np.float32) for _ in range(5)]
    >>> class Detector:  # "finds a face" in smooth images only
    ...     def detect(self, images):
    ...         return [[(0, 0, 16, 16)] if np.abs(np.diff(im, axis=1)).mean() < 0.08 else [] for im in images]
    >>> table = known_overlay_sweep(X, None, {"smooth": Detector()}, settings=[(0.5, 2, 4)], overlays=S, progress=False)
    >>> table[["overlays_found", "rate_protected", "rate_attacked"]].round(2).values.tolist()
    [[1.0, 0.0, 1.0]]
    """
    import time

    import pandas as pd

    stack = check_stack(images, "images")
    check_search(search, beam_width, default_width=1)  # refused before any photo is protected
    named = _check_targets(targets)
    labels = check_labels(labels, len(stack), required=any(task == "recognition" for _, task in named.values()))
    key = _prf.check_key(EVALUATION_KEY if key is None else key)
    S = krtio.resolve_overlays(overlays)
    guess = S if attack_overlays is None else krtio.resolve_overlays(attack_overlays)
    known = guess is S or data.overlay_fingerprint(guess) == data.overlay_fingerprint(S)
    ids = _check_ids(image_ids, len(stack))
    limits = check_limits(limits, list(named), len(stack))
    if depth is not None:
        depth = check_depth(depth)
    if isinstance(return_images, (bool, np.bool_)):
        keep = len(stack) if return_images else 0
    else:
        keep = check_int(return_images, "return_images", minimum=1)
    cells = []
    for i, setting in enumerate(check_sequence(settings, "settings")):
        if not (isinstance(setting, (tuple, list)) and len(setting) == 3):
            raise TypeError(f"settings[{i}] must be an (alpha, k, block) triple such as (0.45, 3, 8), got {_short(setting)}")
        a, k, b = setting
        cells.append((check_alpha(a, f"settings[{i}] alpha"),
                      check_int(k, f"settings[{i}] k", minimum=1, maximum=min(len(S), len(guess))),
                      check_int(b, f"settings[{i}] block", minimum=1)))
    rows, shown = [], {}
    for alpha, k, block in _bar(cells, desc="known-S attack", progress=progress):
        protected = krtio.perturb_batch(stack, key, image_ids=ids, overlays=S, k=k, alpha=alpha, block=block,
                                        progress=False)
        if depth is not None:
            protected = np.stack([_store(p, depth) for p in protected])
        start = time.perf_counter()
        result = attacks.known_overlay_attack(protected, guess, alpha=alpha, k=k, block=block, search=search,
                                              beam_width=beam_width)
        seconds = time.perf_counter() - start
        truth = [set(krtio.select_overlays(key, i, k=k, m=len(S))) for i in ids]
        found = [set(np.asarray(sel).tolist()) for sel in np.asarray(result.selection).reshape(len(stack), k)]
        common = {
            "alpha": alpha, "k": k, "block": block, "search": search,
            "overlays_found": attacks.overlays_found(result.selection, [sorted(t) for t in truth]) if known else np.nan,
            "all_found": float(np.mean([f == t for f, t in zip(found, truth)])) if known else np.nan,
            "ssim_protected": float(np.mean([metrics.ssim(a, b) for a, b in zip(stack, protected)])),
            "ssim_attacked": float(np.mean([metrics.ssim(a, b) for a, b in zip(stack, result.recovered)])),
        }
        for name, (target, task) in named.items():
            n = limits.get(name, len(stack))
            few = None if labels is None else labels[:n]
            rows.append({**common, "target": name, "task": task,
                         "rate_protected": _rate(target, task, protected[:n], few),
                         "rate_attacked": _rate(target, task, result.recovered[:n], few), "n": n, "seconds": seconds})
        if keep:
            shown[alpha, k, block] = (protected[:keep].copy(), result.recovered[:keep].copy())
        del protected, result
    table = pd.DataFrame(rows, columns=list(KNOWN_S_COLUMNS))
    return (table, shown) if keep else table
