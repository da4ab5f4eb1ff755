"""Universal Ensemble Perturbation (UEP): learn one perturbation on the user's local CNNs, apply it, remove it.

UEP (section 5.1 of the paper) is the learning-based half of the paper.  The
user trains a few small local CNNs on the few people she knows
(:func:`imgprivacy.models.local_ensemble`) and learns **one** perturbation
``delta`` that makes all of them misclassify most of her faces, hoping it
transfers to the provider's unknown recogniser.  Because ``delta`` is added
in the arctanh ("tanh") space of the pixels rather than to the pixels, the
perturbed image stays in [0, 1] without clipping and the owner, who keeps
``delta``, can remove it again.

* :func:`learn` -- the search of Fig. 3: minimise Eq. 3 for a few values of
  ``c`` chosen by bisection on a log scale and keep the smallest ``delta``
  that fools every local model on at least ``p * N`` images.  Returns a
  :class:`UEPResult`.
* :func:`apply` / :func:`remove` -- Eq. 4 and its inverse, in numpy (no torch
  needed), for a grey or RGB image, a stack, a list of images of different
  sizes, or a face box inside a larger photo.  :func:`recovery_bound` is the
  proven worst-case error of :func:`remove` after quantised storage.
* :func:`fooling_rate` -- which local models a set of (perturbed) faces fools.
* :func:`save` / :func:`load` -- a learned UEP with its metadata (models,
  resolution, p, kappa, c, data split), atomic, never silently overwritten.
  :func:`cached` loads the UEP notebook 04 learns, shipped in
  ``data/checkpoints`` (:data:`CACHED_UEP`) beside the model checkpoints.

This subpackage imports torch lazily: :func:`apply`, :func:`remove`,
:func:`recovery_bound`, :func:`save` and :func:`load` run without it; only
:func:`learn` and :func:`fooling_rate` load it (through
:mod:`imgprivacy.models`).  The code lives in private modules, every public
name re-exported here: ``_transform.py`` (Eq. 4 in numpy: :func:`apply`,
:func:`remove`, :func:`recovery_bound`), ``_result.py`` (:class:`UEPResult`,
:class:`CTrial`), ``_learn.py`` (:func:`learn`, the ``c`` search, and
:func:`fooling_rate`) and ``_io.py`` (:func:`save`, :func:`load`, :func:`cached`).

Measured (``benchmarks/bench_uep.py``; Olivetti, 64 x 64 grey; the cached
local ensemble ``vgg_a``, ``vgg_b``, ``facescrub_thumb`` on the first 10
subjects; a UEP learned with the defaults over the user's 100 faces, 42 s on
one torch thread of a 2-core CPU, 21 s on two, ``||delta|| = 9.9``).
Recognition rate of the user's faces by the provider's recognisers, and the
mean SSIM of perturbed against clean faces:

====  ============  ===============  ===============  ===========  =====
beta  local (all)   provider CNN     Eigenfaces       dlib ResNet  SSIM
      fooled        user/held-out    user/held-out    held-out
====  ============  ===============  ===============  ===========  =====
0     0.00          0.99 / 0.97      1.00 / 1.00      1.00         1.000
1     0.70          0.31 / 0.30      0.99 / 0.97      0.93         0.73
2     0.80          0.00 / 0.00      0.95 / 0.83      0.23         0.49
3     0.80          0.00 / 0.00      0.83 / 0.63      0.07         0.35
5     0.80          0.00 / 0.00      0.46 / 0.30      0.00         0.21
====  ============  ===============  ===============  ===========  =====

("held-out": the user's 30 faces no model was trained on; the provider CNN
also falls to 0.04 at beta = 2 on the 300 faces of the 30 people the user
does not know: the perturbation is universal.)  The UEP transfers to the
provider's CNN and to dlib's pretrained ResNet at beta >= 2, far less to
Eigenfaces, and it is very visible at those strengths.  The median attack
(:func:`imgprivacy.attacks.median_sweep`) undoes much of it for Eigenfaces
and dlib.
"""

from __future__ import annotations

from ._io import CACHED_UEP, UEP_FORMAT_VERSION, cached, load, save
from ._learn import EPS, UEPConvergenceWarning, fooling_rate, learn
from ._result import CTrial, UEPResult
from ._transform import apply, recovery_bound, remove

__all__ = [
    "CACHED_UEP",
    "EPS",
    "UEP_FORMAT_VERSION",
    "CTrial",
    "UEPConvergenceWarning",
    "UEPResult",
    "apply",
    "cached",
    "fooling_rate",
    "learn",
    "load",
    "recovery_bound",
    "remove",
    "save",
]
