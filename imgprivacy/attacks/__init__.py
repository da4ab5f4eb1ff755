"""Attacks on perturbation schemes: what a provider can do without the key.

* **Blind signal separation** (:func:`bss_fastica`), the attack that
  motivates k-RTIO (section 5.2 and appendix D of the paper), removes a
  *naive* transparent overlay, one overlay ``O`` shared by many photos
  (``I' = alpha * I + (1 - alpha) * O``, :func:`naive_overlay`), without
  knowing ``O`` or ``alpha``; the owner, who knows both, undoes it with
  :func:`remove_naive_overlay`.
* **Median estimation** (:func:`median_estimate`, :func:`median_removal`,
  :func:`median_sweep`, the photos held drawn by :func:`median_pick`;
  section 6.3 of the paper) estimates a perturbation
  shared by many photos -- a UEP -- as the pixel-wise median of the
  perturbed photos and blends its inverse back in.
* **Filters** a provider can run before recognising (section 6.3, "Noise
  Reduction Techniques", Fig. 17): :func:`blur`, :func:`median_filter`,
  :func:`gaussian_blur`, :func:`greyscale`, :func:`jpeg`,
  :func:`reduce_bit_depth`, each with one ``strength`` (0 = untouched),
  listed in :data:`FILTERS` and applied by name with :func:`apply_filter`.
* **Robust retraining** (section 6.3, "Robust CNNs", Fig. 16): the provider
  knows the overlay set ``S`` (not the user's key) and trains on clean plus
  k-RTIO faces made with keys of its own (:func:`krtio_augment`, with
  :data:`DEFAULT_ALPHAS` and :data:`DEFAULT_BLOCKS`; the retraining itself
  and the fitted recogniser are :func:`imgprivacy.targets.robust_retrain`
  and :class:`imgprivacy.targets.RobustCNN`).
* **Known-S block attack** (:func:`known_overlay_attack`), which the paper
  does not try: with ``S`` known, find which overlays and which of their
  blocks were mixed into each block of a photo, and subtract them.

Submodules are private; every public name is re-exported here.  Nothing here
imports torch until a CNN is trained.
"""

from __future__ import annotations

from ._bss import BSSResult, bandpass, bss_fastica, naive_overlay, remove_naive_overlay
from ._filters import FILTERS, FilterSpec, apply_filter, blur, gaussian_blur, greyscale, jpeg, median_filter, reduce_bit_depth
from ._known_overlays import KnownOverlayResult, known_overlay_attack, overlays_found
from ._median import MedianSweep, median_estimate, median_pick, median_removal, median_sweep
from ._robust import DEFAULT_ALPHAS, DEFAULT_BLOCKS, AugmentedFace, krtio_augment

__all__ = [
    "DEFAULT_ALPHAS",
    "DEFAULT_BLOCKS",
    "AugmentedFace",
    "BSSResult",
    "FILTERS",
    "FilterSpec",
    "KnownOverlayResult",
    "MedianSweep",
    "apply_filter",
    "bandpass",
    "blur",
    "bss_fastica",
    "gaussian_blur",
    "greyscale",
    "jpeg",
    "known_overlay_attack",
    "overlays_found",
    "krtio_augment",
    "median_estimate",
    "median_filter",
    "median_pick",
    "median_removal",
    "median_sweep",
    "naive_overlay",
    "reduce_bit_depth",
    "remove_naive_overlay",
]
