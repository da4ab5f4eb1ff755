"""Median estimation and removal of a perturbation shared by many photos (section 6.3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..metrics import recognition_rate
from .._validation import check_alpha, check_image, check_int, check_stack

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
    return np.median(check_stack(perturbed, "perturbed"), axis=0).astype(np.float32)


def median_pick(n_available: int, n: int, *, seed: int) -> np.ndarray:
    """The photos the attacker holds: ``n`` of ``n_available`` positions, drawn without replacement with ``seed``.

    The one draw of the median attack: :func:`median_sweep` (for each of its
    ``n_images``) and :func:`imgprivacy.widgets.median_explorer` both hold
    these photos, so the same ``(n, seed)`` gives the same median in both.

    Parameters
    ----------
    n_available : int
        Photos there are to draw from, at least 1.
    n : int
        Photos drawn, in [1, n_available].
    seed : int
        Non-negative seed; the generator is ``np.random.default_rng([seed, n])``,
        so each ``n`` has its own draw.

    Returns
    -------
    ndarray of int64, shape (n,)
        The positions drawn, sorted ascending.

    Raises
    ------
    ValueError, TypeError
        For a count or seed that is not an integer in range.

    Examples
    --------
    >>> median_pick(10, 3, seed=0).tolist()
    [4, 8, 9]
    >>> median_pick(4, 4, seed=7).tolist()
    [0, 1, 2, 3]
    """
    n_available = check_int(n_available, "n_available", minimum=1)
    n = check_int(n, "n", minimum=1, maximum=n_available)
    seed = check_int(seed, "seed", minimum=0)
    held = np.random.default_rng([seed, n]).choice(n_available, size=n, replace=False)
    return np.sort(held)


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
        stack = check_stack(perturbed, "perturbed")
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
    scores every result.  The photos held for each ``n`` are
    :func:`median_pick`'s ``(N, n, seed=seed)``.

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
    _nonempty(perturbed)
    stack = check_stack(perturbed, "perturbed")
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
    baseline = recognition_rate(target, stack, labels)
    correct = np.zeros((len(counts), lam_arr.size, n_total), dtype=bool)
    for i, n in enumerate(counts):
        estimate = median_estimate(stack[median_pick(n_total, n, seed=seed)])
        attacked = np.concatenate([median_removal(stack, estimate, lam=float(lam)) for lam in lam_arr])
        predicted = np.asarray(target.predict(attacked)).reshape(lam_arr.size, n_total)
        correct[i] = predicted == labels[None, :]
    recognition = correct.mean(axis=2)
    best_per_image = correct.any(axis=1).mean(axis=1)
    return MedianSweep(lam_arr, tuple(counts), recognition, best_per_image, baseline, correct)
