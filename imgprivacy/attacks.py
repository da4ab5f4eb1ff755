"""Attacks on perturbation schemes: what a provider can do without the key.

* **Blind signal separation** (:func:`bss_fastica`), the attack that
  motivates k-RTIO (section 5.2 and appendix D of the paper), removes a
  *naive* transparent overlay, one overlay ``O`` shared by many photos
  (``I' = alpha * I + (1 - alpha) * O``, :func:`naive_overlay`), without
  knowing ``O`` or ``alpha``.
* **Median estimation** (:func:`median_estimate`, :func:`median_removal`,
  :func:`median_sweep`; section 6.3 of the paper) estimates a perturbation
  shared by many photos -- a UEP -- as the pixel-wise median of the
  perturbed photos and blends its inverse back in.

Later issues add the provider's filters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ._validation import check_alpha, check_image, check_images

__all__ = ["BSSResult", "MedianSweep", "bss_fastica", "median_estimate", "median_removal", "median_sweep", "naive_overlay"]


def _stack(images, name: str) -> np.ndarray:
    items = check_images(images, name, channels=(1, 3))
    shapes = {im.shape for im in items}
    if len(shapes) > 1:
        raise ValueError(f"{name} must all have the same shape, got {sorted(shapes)}; resize or crop them first")
    return np.stack(items)


def naive_overlay(images: np.ndarray, overlay: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """The naive scheme: one overlay for every photo, ``alpha * I + (1 - alpha) * O``.

    This is what k-RTIO improves on: reusing ``O`` lets blind signal
    separation remove it (:func:`bss_fastica`).

    Parameters
    ----------
    images : ndarray of shape (N, H, W) or (N, H, W, C), or list of such images
        Photos, float in [0, 1], all of one shape.
    overlay : ndarray of shape (H, W) or (H, W, C)
        The shared overlay, float in [0, 1], the shape of one photo.
    alpha : float, default 0.45
        Weight of the photo, in (0, 1].

    Returns
    -------
    ndarray of shape (N, H, W[, C]), float32

    Examples
    --------
    >>> x = np.zeros((2, 4, 4), dtype=np.float32)
    >>> naive_overlay(x, np.ones((4, 4), dtype=np.float32), alpha=0.25)[0, 0, 0]
    np.float32(0.75)
    """
    stack = _stack(images, "images")
    overlay = check_image(overlay, "overlay", channels=(1, 3))
    if overlay.shape != stack.shape[1:]:
        raise ValueError(
            f"overlay must have the shape of one image, {stack.shape[1:]}, got {overlay.shape}; "
            "fit it with imgprivacy.krtio.prepare_overlays(...).fitted(i) or crop it"
        )
    a = np.float32(check_alpha(alpha))
    return np.clip(a * stack + (np.float32(1) - a) * overlay, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class BSSResult:
    """What :func:`bss_fastica` found.

    Attributes
    ----------
    recovered : ndarray of shape (N, H, W[, C])
        The photos with the shared component removed, float32 in [0, 1]; each
        keeps the mean brightness and contrast of its input (the attack cannot
        know the photos' true scale: compare with affine-invariant scores,
        :func:`imgprivacy.metrics.ssim_affine`).
    overlay : ndarray of shape (H, W[, C])
        The estimated overlay, float32 in [0, 1] (its sign is fixed so that it
        is *added* to every photo; its scale is stretched to [0, 1]).
    mixing : ndarray of shape (N, n_components)
        ICA's mixing matrix: ``mixing[i, j]`` is the weight of source ``j`` in
        photo ``i``.
    component : int
        Index of the source taken for the overlay.
    uniformity : ndarray of shape (n_components,)
        Coefficient of variation of each source's mixing weights
        (``std / |mean|`` over photos); the overlay has the smallest.
    """

    recovered: np.ndarray
    overlay: np.ndarray
    mixing: np.ndarray
    component: int
    uniformity: np.ndarray


def _dog(stack: np.ndarray, sigmas: tuple[float, float]) -> np.ndarray:
    from scipy import ndimage

    s1, s2 = sigmas
    spatial = (0, s1, s1) + ((0,) if stack.ndim == 4 else ())
    wide = (0, s2, s2) + ((0,) if stack.ndim == 4 else ())
    return ndimage.gaussian_filter(stack, spatial) - ndimage.gaussian_filter(stack, wide)


def _like(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Give each row of ``values`` the mean and standard deviation of ``reference``'s row."""
    std = values.std(axis=1, keepdims=True)
    std[std == 0] = 1.0
    return (values / std) * reference.std(axis=1, keepdims=True) + reference.mean(axis=1, keepdims=True)


def bss_fastica(
    perturbed: np.ndarray,
    *,
    highpass: tuple[float, float] | None = (1.0, 3.0),
    n_components: int | None = None,
    max_iter: int = 1000,
    tol: float = 1e-4,
    random_state: int | None = 0,
) -> BSSResult:
    """Blind signal separation of an overlay shared by several photos (FastICA).

    Parameters
    ----------
    perturbed : ndarray of shape (N, H, W) or (N, H, W, C), or list of such images
        ``N >= 2`` photos of one shape, float in [0, 1], believed to share one overlay.
    highpass : (float, float) or None, default (1.0, 3.0)
        Standard deviations (pixels) of the difference-of-Gaussians band-pass
        the unmixing is fitted on; ``None`` fits on the raw photos.
    n_components : int, optional
        Sources to separate, ``2 <= n_components <= N``; default ``min(N, 4)``.
        FastICA first whitens the photos with PCA down to this many
        components.  A few components keep the shared variance (the overlay)
        and drop most of each face's own: on Olivetti faces with a shared
        overlay at alpha = 0.45, 3-4 components recovered clearly better than
        ``N`` for N = 10 and 20 (SSIM gain +0.24 against +0.16 at N = 20).
    max_iter, tol : int, float
        Passed to :class:`sklearn.decomposition.FastICA`.
    random_state : int or None, default 0
        Seed of FastICA's initial unmixing matrix.

    Returns
    -------
    BSSResult

    Raises
    ------
    ValueError
        Fewer than two photos, photos of different shapes, out-of-range values,
        or a bad parameter.
    TypeError
        Non-float photos.

    Notes
    -----
    The photos are the mixed signals and their pixels the samples: photo ``i``
    is ``x_i = alpha * f_i + (1 - alpha) * O``, so ``O`` is one source that
    every photo contains with (nearly) the same weight.

    1. The unmixing matrix ``W`` is fitted on band-passed photos (a
       difference of Gaussians).  Aligned faces share a smooth mean face,
       which on raw photos sits in the same shared component as the overlay;
       the band-pass keeps the overlay's texture and drops most of the mean
       face, so ICA can tell them apart.  Fitting on raw photos gets worse as
       ``N`` grows.
    2. Filtering is linear, so the same ``W`` applies to the raw centred
       photos and gives the sources in full resolution.
    3. The overlay is the source whose mixing weights are the most uniform
       across photos (smallest ``std / |mean|``).
    4. It is removed by subtracting its mixing column times the source,
       ``x_i - A[i, c] * s_c``, which carries ICA's sign and scale with it.

    What remains is each face minus the part of it that lies in the overlay's
    source (mostly smooth, low-frequency content), so recovery is partial;
    with only two photos (the paper's Fig. 21) there are three unknown images
    (two faces and the overlay) in two mixtures, and the remainder is mostly
    the difference of the two faces.  The notebook
    ``01_break_naive_overlays`` measures both cases.

    References
    ----------
    Section 5.2 and appendix D (Fig. 21) of the paper; A. Hyvärinen and
    E. Oja, "Independent component analysis: algorithms and applications",
    Neural Networks 13 (2000).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> faces = rng.random((6, 16, 16)).astype(np.float32)
    >>> overlay = (rng.random((16, 16)) > 0.5).astype(np.float32)
    >>> result = bss_fastica(naive_overlay(faces, overlay, alpha=0.5), highpass=None)
    >>> result.recovered.shape, result.overlay.shape, result.mixing.shape
    ((6, 16, 16), (16, 16), (6, 4))
    """
    from sklearn.decomposition import FastICA

    stack = _stack(perturbed, "perturbed")
    n = stack.shape[0]
    if n < 2:
        raise ValueError(f"perturbed must hold at least 2 images sharing an overlay, got {n}")
    if n_components is None:
        n_components = min(n, 4)
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or not 2 <= n_components <= n:
        raise ValueError(f"n_components must be an integer in [2, {n}] (the number of images), got {n_components!r}")
    if highpass is not None:
        if len(highpass) != 2 or not 0 < highpass[0] < highpass[1]:
            raise ValueError(f"highpass must be None or (sigma1, sigma2) with 0 < sigma1 < sigma2, got {highpass!r}")
    x = stack.reshape(n, -1).astype(np.float64)
    centred = x - x.mean(axis=1, keepdims=True)
    fit_on = centred if highpass is None else _dog(stack.astype(np.float64), highpass).reshape(n, -1)
    fit_on = fit_on - fit_on.mean(axis=1, keepdims=True)
    ica = FastICA(n_components=int(n_components), whiten="unit-variance", max_iter=max_iter, tol=tol, random_state=random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # whitening / convergence chatter
        warnings.simplefilter("ignore", category=RuntimeWarning)
        ica.fit(fit_on.T)  # samples = pixels, features = photos
    unmixing = ica.components_  # (n_components, N)
    mixing = np.linalg.pinv(unmixing)  # (N, n_components)
    sources = unmixing @ centred
    mean_weight = mixing.mean(axis=0)
    uniformity = mixing.std(axis=0) / np.maximum(np.abs(mean_weight), 1e-12)
    c = int(np.argmin(uniformity))
    if mean_weight[c] < 0:  # the overlay is added to every photo: make its weights positive
        mixing[:, c] *= -1
        sources[c] *= -1
    remainder = centred - np.outer(mixing[:, c], sources[c])
    recovered = np.clip(_like(remainder, x), 0.0, 1.0).astype(np.float32).reshape(stack.shape)
    src = sources[c]
    lo, hi = np.percentile(src, [0.5, 99.5])
    overlay = np.clip((src - lo) / max(hi - lo, 1e-12), 0.0, 1.0).astype(np.float32).reshape(stack.shape[1:])
    return BSSResult(recovered, overlay, mixing, c, uniformity)


# =========================================================================== median estimation (UEP)
def median_estimate(perturbed) -> np.ndarray:
    """Estimate a perturbation shared by many photos: their pixel-wise median.

    Parameters
    ----------
    perturbed : ndarray of shape (N, H, W) or (N, H, W, C), or list of such images
        ``N >= 1`` photos of one shape, float in [0, 1], believed to carry
        the same perturbation (e.g. one UEP).

    Returns
    -------
    ndarray of shape (H, W) or (H, W, C), float32 in [0, 1]
        The median over the photos, pixel by pixel (the paper's ``delta'``).
        It holds the perturbation *and* the median face: aligned faces do not
        average out to zero.

    References
    ----------
    Section 6.3 ("Perturbation Estimation and Removal") and Fig. 14.

    Examples
    --------
    >>> x = np.stack([np.full((2, 2), v, np.float32) for v in (0.1, 0.5, 0.2)])
    >>> median_estimate(x).tolist()
    [[0.20000000298023224, 0.20000000298023224], [0.20000000298023224, 0.20000000298023224]]
    """
    _nonempty(perturbed)
    return np.median(_stack(perturbed, "perturbed"), axis=0).astype(np.float32)


def _nonempty(perturbed) -> None:
    if isinstance(perturbed, (np.ndarray, list, tuple)) and len(perturbed) == 0:
        raise ValueError("perturbed must hold at least 1 image, got none")


def _check_lam(lam) -> float:
    return check_alpha(lam, "lam")


def median_removal(perturbed: np.ndarray, estimate: np.ndarray, *, lam: float) -> np.ndarray:
    """Blend the inverted median into perturbed photos: ``x = lam * x' + (1 - lam) * (1 - median)``, clipped to [0, 1].

    Parameters
    ----------
    perturbed : ndarray of shape (H, W[, C]) or (N, H, W[, C]), or list of images
        One photo or a stack, float in [0, 1].
    estimate : ndarray of shape (H, W[, C])
        The estimated perturbation, from :func:`median_estimate`.
    lam : float
        Weight of the photo, in (0, 1]; the paper sweeps 0.40 to 0.56 and
        reports its best at 0.44-0.48.  Near 0.5 the result is, up to a
        constant, ``(x' - median) / 2``: whatever the photos share (the
        perturbation and the median face) is subtracted.

    Returns
    -------
    ndarray, float32, the shape of ``perturbed`` (a stack for a list)

    Raises
    ------
    ValueError, TypeError
        For a malformed image, shapes that do not match or ``lam`` outside (0, 1].

    Notes
    -----
    ``inv(delta) = 1 - delta`` is the paper's notation (its table of
    symbols).  The attack is exact for a perturbation *added to the pixels*
    and linear photo statistics (the paper's own assumption,
    ``x' = x + delta``); a UEP is added in tanh space, where it is only
    approximately additive for mid-tones.  What it achieves against each
    recogniser is in :func:`median_sweep`.

    References
    ----------
    Section 6.3 ("Perturbation Estimation and Removal"), Fig. 14 and 15.

    Examples
    --------
    >>> x = np.full((2, 2), 0.8, np.float32)
    >>> median_removal(x, np.full((2, 2), 0.6, np.float32), lam=0.5).tolist()
    [[0.6000000238418579, 0.6000000238418579], [0.6000000238418579, 0.6000000238418579]]
    """
    lam32 = np.float32(_check_lam(lam))
    estimate = check_image(estimate, "estimate", channels=(1, 3))
    if isinstance(perturbed, np.ndarray) and perturbed.shape == estimate.shape:
        stack = check_image(perturbed, "perturbed", channels=(1, 3))
    else:
        stack = _stack(perturbed, "perturbed")
        if stack.shape[1:] != estimate.shape:
            raise ValueError(
                f"estimate must have the shape of one perturbed image, {stack.shape[1:]}, got {estimate.shape}; "
                "estimate it with median_estimate from photos of the same size"
            )
    out = lam32 * stack + (np.float32(1) - lam32) * (np.float32(1) - estimate)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True, eq=False)
class MedianSweep:
    """What :func:`median_sweep` measured for one recogniser.

    Attributes
    ----------
    lams : ndarray of shape (L,)
        The values of ``lam`` tried.
    n_images : tuple of int
        Perturbed photos the attacker used to estimate the median (capped at
        the number available, duplicates dropped).
    recognition : ndarray of shape (len(n_images), L)
        Recognition rate on all ``N`` attacked photos, per ``n`` and ``lam``.
    best_per_image : ndarray of shape (len(n_images),)
        The paper's "best lambda per image" variant: a photo counts as
        recognised if *some* ``lam`` makes the recogniser right (an upper
        bound: it assumes the attacker knows when it is right).
    baseline : float
        Recognition rate on the perturbed photos without the attack.
    correct : ndarray of bool, shape (len(n_images), L, N)
        Per photo: recognised after the attack.
    """

    lams: np.ndarray
    n_images: tuple[int, ...]
    recognition: np.ndarray
    best_per_image: np.ndarray
    baseline: float
    correct: np.ndarray

    def rows(self) -> list[dict]:
        """Tidy records ``{"n": ..., "lam": ..., "recognition": ...}``, one per ``n`` and ``lam``, then
        ``{"n": ..., "lam": None, "recognition": best_per_image}`` per ``n``."""
        out = [
            {"n": n, "lam": round(float(lam), 6), "recognition": float(self.recognition[i, j])}
            for i, n in enumerate(self.n_images)
            for j, lam in enumerate(self.lams)
        ]
        out += [{"n": n, "lam": None, "recognition": float(self.best_per_image[i])} for i, n in enumerate(self.n_images)]
        return out

    def best(self) -> tuple[int, float, float]:
        """``(n, lam, recognition)`` of the best single ``lam`` (the first in case of ties)."""
        i, j = np.unravel_index(int(np.argmax(self.recognition)), self.recognition.shape)
        return self.n_images[i], float(self.lams[j]), float(self.recognition[i, j])


def median_sweep(
    target,
    perturbed,
    labels,
    *,
    lams=np.arange(0.40, 0.561, 0.02),
    n_images=(5, 10, 35, 200),
    seed: int = 0,
) -> MedianSweep:
    """Run the median attack for every ``lam`` and number of photos held, and score a recogniser.

    For each ``n`` in ``n_images`` the attacker holds ``n`` of the perturbed
    photos (drawn at random with ``seed``), estimates the perturbation as
    their median (:func:`median_estimate`) and removes it from **all** ``N``
    photos (:func:`median_removal`) at each ``lam``; ``target.predict``
    scores every result.

    Parameters
    ----------
    target : object with ``predict(images)``
        A fitted recogniser (:mod:`imgprivacy.targets`).
    perturbed : ndarray of shape (N, H, W) or (N, H, W, C)
        Photos perturbed with one shared perturbation, float in [0, 1].
    labels : array-like of shape (N,)
        True labels, as ``target.predict`` returns them.
    lams : sequence of float, default 0.40, 0.42, ..., 0.56
        Values of ``lam`` in (0, 1] (the paper's Fig. 15).
    n_images : sequence of int, default (5, 10, 35, 200)
        Photos the attacker holds; a value above ``N`` means all ``N``.
    seed : int, default 0
        Seeds the choice of the photos held (one draw per ``n``).

    Returns
    -------
    MedianSweep

    Notes
    -----
    **What really happens** (``benchmarks/bench_uep.py``: the 100 faces of
    the user's 10 Olivetti subjects perturbed with the UEP learned by
    :func:`imgprivacy.uep.learn`'s defaults; recognition without the attack
    -> best single ``lam`` (that ``lam``, with the median of ``n`` photos)
    / best ``lam`` per image; the benchmark prints the full tables):

    ===========================  ===========================  ===========================
    recogniser                   beta = 2                     beta = 3
    ===========================  ===========================  ===========================
    Eigenfaces                   0.95 -> 0.93 (0.56, 10)      0.83 -> 0.92 (0.56, 100)
    provider CNN                 0.00 -> 0.11 (0.56, 100)     0.00 -> 0.07 (0.50, 100)
    dlib ResNet (30 held out)    0.23 -> 0.93 (0.56, 30)      0.07 -> 0.90 (0.54, 10)
    ===========================  ===========================  ===========================

    (Eigenfaces at beta = 5: 0.46 -> 0.83.)  The paper (Fig. 15) reports
    70% on Clarifai (80.5% with the best ``lam`` per image) and "60% with
    just 5 images".  That holds here for **dlib's pretrained ResNet**,
    which goes from 7% to 90% with 10 photos (77% with 5), and for
    **Eigenfaces** (a linear model of standardised pixels, for which
    subtracting a shared image is nearly harmless).  It does not hold for
    the **provider CNN** (a small ResNet trained on 7 faces per person),
    and not because of what is left of the UEP: the attack's own
    distortion, a half-contrast face with an inverted median face mixed
    in, is enough to defeat it -- applied to *clean* faces (with their own
    median) it leaves the provider CNN 0.05 at ``lam = 0.5`` and 0.25 at
    0.56 (Eigenfaces 0.71 and 0.93).  Eigenfaces and dlib do best at
    ``lam`` = 0.54-0.56, the top of the paper's range (the paper's best:
    0.44-0.48; the provider CNN's few hits are at 0.48-0.52): below 0.5
    the inverted median face outweighs the photo.

    Against **k-RTIO** the attack has nothing to estimate: every photo has
    its own overlay, so the median is a blur of many overlays and removing
    it only adds the inverted median face (Eigenfaces 0.95 -> at best 0.73,
    provider CNN 0.15 -> 0.00; ``tests/test_median.py``).

    References
    ----------
    Section 6.3 and Fig. 15 of the paper.

    Examples
    --------
    >>> class Bright:  # "recognises" a photo when its mean is above 0.5
    ...     def predict(self, images):
    ...         return (np.asarray(images).mean(axis=(1, 2)) > 0.5).astype(int)
    >>> x = np.random.default_rng(0).random((6, 8, 8)).astype(np.float32)
    >>> s = median_sweep(Bright(), x, np.ones(6, int), lams=[0.4, 0.6], n_images=(3, 50))
    >>> s.n_images, s.recognition.shape, s.best_per_image.shape
    ((3, 6), (2, 2), (2,))
    """
    from ._validation import check_int

    _nonempty(perturbed)
    stack = _stack(perturbed, "perturbed")
    n_total = stack.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n_total,):
        raise ValueError(f"labels must have one entry per perturbed image, shape ({n_total},), got shape {labels.shape}")
    if not hasattr(target, "predict"):
        raise TypeError(f"target must be a fitted recogniser with a predict(images) method, got {type(target).__name__}")
    lam_arr = np.atleast_1d(np.asarray(lams, dtype=np.float64))
    if lam_arr.ndim != 1 or lam_arr.size < 1:
        raise ValueError(f"lams must be a non-empty sequence of numbers in (0, 1], got {lams!r}")
    for lam in lam_arr:
        _check_lam(float(lam))
    if isinstance(n_images, (int, np.integer)) and not isinstance(n_images, bool):
        n_images = (int(n_images),)
    if not isinstance(n_images, (tuple, list, np.ndarray)) or len(n_images) == 0:
        raise ValueError(f"n_images must be a non-empty sequence of positive integers, got {n_images!r}")
    counts: list[int] = []
    for n in n_images:
        n = min(check_int(n, "n_images", minimum=1), n_total)
        if n not in counts:
            counts.append(n)
    seed = check_int(seed, "seed", minimum=0)
    baseline = float(np.mean(np.asarray(target.predict(stack)) == labels))
    correct = np.zeros((len(counts), lam_arr.size, n_total), dtype=bool)
    for i, n in enumerate(counts):
        held = np.random.default_rng([seed, n]).choice(n_total, size=n, replace=False)
        estimate = median_estimate(stack[np.sort(held)])
        attacked = np.concatenate([median_removal(stack, estimate, lam=float(lam)) for lam in lam_arr])
        predicted = np.asarray(target.predict(attacked)).reshape(lam_arr.size, n_total)
        correct[i] = predicted == labels[None, :]
    recognition = correct.mean(axis=2)
    best_per_image = correct.any(axis=1).mean(axis=1)
    return MedianSweep(lam_arr, tuple(counts), recognition, best_per_image, baseline, correct)
