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

Submodules are private; every public name is re-exported here.  Nothing here
imports torch until a CNN is trained.
"""

from __future__ import annotations

from ._bss import BSSResult, bss_fastica, naive_overlay
from ._median import MedianSweep, median_estimate, median_removal, median_sweep

__all__ = ["BSSResult", "MedianSweep", "bss_fastica", "median_estimate", "median_removal", "median_sweep", "naive_overlay"]
