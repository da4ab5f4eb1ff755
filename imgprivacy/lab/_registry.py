"""The exercises: name, notebook, points, what is asked, the check and one reference solution each.

The points and names here are those of the notebooks' nbgrader metadata and the solutions those of their
solution cells (``tests/test_lab.py`` compares them), so that ``ip.lab.solution(name)`` works without the
notebooks, from an installed package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import _schemes as schemes
from . import _targets as targets

__all__ = ["EXERCISES", "Exercise"]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise.

    Attributes
    ----------
    name : str
        Its id: the nbgrader ``grade_id`` of its solution cell, and ``ip.lab.check``'s first argument.
    notebook : str
        The notebook it is in.
    points : int
        Points of its graded check cell.
    title : str
        What is asked, in a few words.
    answer : str
        The name of the function the student writes.
    check : callable
        ``check(answer, *, rng, **context)``: raises ``CheckFailed`` or returns the cases tried
        (or ``(cases, detail)``).
    solution : str
        The instructor's solution cell.
    """

    name: str
    notebook: str
    points: int
    title: str
    answer: str
    check: Callable = field(repr=False)
    solution: str = field(repr=False)


_SOLUTIONS = {
    '01_remove_overlay': '''def remove_overlay(perturbed, overlay, alpha):
    """The photos under a known overlay O: undo I' = α·I + (1 − α)·O (eq. 5); a stack in, a stack out."""
    ### BEGIN SOLUTION
    return np.clip((perturbed - (1 - alpha) * overlay) / alpha, 0, 1)
    ### END SOLUTION''',

    '01_pick_component': '''def pick_component(mixing):
    """The index of the source (a column of ICA's mixing matrix) that is in every photo with the same weight."""
    ### BEGIN SOLUTION
    uniformity = mixing.std(axis=0) / np.abs(mixing.mean(axis=0))
    return int(np.argmin(uniformity))
    ### END SOLUTION''',

    '02_fisher_yates': '''def shuffle_blocks(key, image_id, j, b):
    """perm of the j-th chosen overlay's b blocks: block p of the shuffled overlay is block perm[p] of the original."""
    ### BEGIN SOLUTION
    perm = list(range(b))
    for i in range(1, b + 1):
        t = ip.krtio.prf(key, image_id, 1, j, i) % (b - i + 1)
        perm[b - i], perm[t] = perm[t], perm[b - i]
    return perm
    ### END SOLUTION''',

    '02_invert_mix': '''def unmix(perturbed, parts, alpha):
    """The photo back from I_pert = α·I + (1 − α)/k · Σ_j parts[j], knowing the k shuffled overlays `parts`."""
    ### BEGIN SOLUTION
    k = len(parts)
    return perturbed / alpha - (1 - alpha) / (k * alpha) * np.sum(parts, axis=0)
    ### END SOLUTION''',

    '03_thumbnail': '''def thumbnail(images):
    """What ip.models.Thumbnail does to a stack (N, H, W) of grey faces, H and W even, in numpy."""
    ### BEGIN SOLUTION
    n, h, w = images.shape
    return images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    ### END SOLUTION''',

    '03_recognition_rate': '''def recognition_rate(target, images, labels):
    """The fraction of `images` that the fitted recogniser `target` names correctly (use target.predict)."""
    ### BEGIN SOLUTION
    return float(np.mean(target.predict(images) == np.asarray(labels)))
    ### END SOLUTION''',

    '04_remove_eq4': '''def remove_uep(perturbed, delta, beta):
    """The face back from Eq. 4, x' = (tanh(arctanh(2x − 1) + β·δ) + 1) / 2, with δ of the face's shape."""
    ### BEGIN SOLUTION
    return (np.tanh(np.arctanh(2 * perturbed - 1) - beta * delta) + 1) / 2
    ### END SOLUTION''',

    '04_kept_fooling_rate': '''def kept_fooling_rate(result):
    """From result.history: the fraction of faces that fool all the local CNNs at once with the δ the search kept."""
    ### BEGIN SOLUTION
    kept = [t for t in result.history if t.c == result.c][0]
    return kept.fooling_rate
    ### END SOLUTION''',

    '05_median_attack': '''def median_attack(perturbed, lam):
    """The paper's attack on a stack (N, H, W) of photos sharing one UEP: estimate it, blend its inverse in."""
    ### BEGIN SOLUTION
    estimate = np.median(perturbed, axis=0)
    return np.clip(lam * perturbed + (1 - lam) * (1 - estimate), 0, 1)
    ### END SOLUTION''',

    '05_overlay_correlation': '''def overlay_correlation(perturbed, originals, alpha):
    """The correlation of what is not the face in photo 0 and in photo 1 (k-RTIO photos, their originals, α)."""
    ### BEGIN SOLUTION
    residuals = [p - alpha * x for p, x in zip(perturbed[:2], originals[:2])]
    return ip.metrics.correlation(residuals[0], residuals[1])
    ### END SOLUTION''',

    '06_filter_attack': '''def my_filter(images):
    """A filter for a stack (N, H, W) of protected faces that gives the provider's CNN some of them back."""
    ### BEGIN SOLUTION
    return ip.attacks.apply_filter(images, "blur", strength=1)  # a 3x3 box blur
    ### END SOLUTION''',

    '06_known_s_found': '''def fraction_found(result, key, image_ids, m):
    """The fraction of the overlays k-RTIO chose that the known-S attack found, averaged over the photos."""
    ### BEGIN SOLUTION
    selection = np.asarray(result.selection).reshape(len(image_ids), -1)
    k = selection.shape[1]
    found = []
    for chosen, image_id in zip(selection, image_ids):
        true = ip.krtio.select_overlays(key, image_id, k=k, m=m)
        found.append(len(set(chosen.tolist()) & set(true)) / k)
    return float(np.mean(found))
    ### END SOLUTION''',
}

EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise('01_remove_overlay', '01_break_naive_overlays.ipynb', 2, 'remove a known shared overlay by hand (eq. 5 undone)', 'remove_overlay', schemes.check_remove_overlay,
             _SOLUTIONS['01_remove_overlay']),
    Exercise('01_pick_component', '01_break_naive_overlays.ipynb', 2, 'pick the ICA source that is the overlay from the mixing matrix', 'pick_component', schemes.check_pick_component,
             _SOLUTIONS['01_pick_component']),
    Exercise('02_fisher_yates', '02_protect_with_krtio.ipynb', 3, 'the keyed Fisher–Yates shuffle of Fig. 7 from the PRF', 'shuffle_blocks', schemes.check_fisher_yates,
             _SOLUTIONS['02_fisher_yates']),
    Exercise('02_invert_mix', '02_protect_with_krtio.ipynb', 2, "invert k-RTIO's mix, knowing the k shuffled overlays", 'unmix', schemes.check_invert_mix,
             _SOLUTIONS['02_invert_mix']),
    Exercise('03_thumbnail', '03_train_the_models.ipynb', 2, 'what the thumbnail layer does to an input, in numpy', 'thumbnail', targets.check_thumbnail,
             _SOLUTIONS['03_thumbnail']),
    Exercise('03_recognition_rate', '03_train_the_models.ipynb', 2, 'a recognition rate on a given target', 'recognition_rate', targets.check_recognition_rate,
             _SOLUTIONS['03_recognition_rate']),
    Exercise('04_remove_eq4', '04_learn_a_uep.ipynb', 3, 'the inverse of Eq. 4', 'remove_uep', schemes.check_remove_eq4,
             _SOLUTIONS['04_remove_eq4']),
    Exercise('04_kept_fooling_rate', '04_learn_a_uep.ipynb', 2, "read the kept δ's fooling rate off the c search", 'kept_fooling_rate', schemes.check_kept_fooling_rate,
             _SOLUTIONS['04_kept_fooling_rate']),
    Exercise('05_median_attack', '05_break_uep_with_the_median.ipynb', 3, 'the median estimate and its removal for a given λ', 'median_attack', schemes.check_median_attack,
             _SOLUTIONS['05_median_attack']),
    Exercise('05_overlay_correlation', '05_break_uep_with_the_median.ipynb', 2, "why the median fails against k-RTIO: what two photos' perturbations share", 'overlay_correlation', schemes.check_overlay_correlation,
             _SOLUTIONS['05_overlay_correlation']),
    Exercise('06_filter_attack', '06_countermeasures.ipynb', 3, "a filter that raises the provider CNN's rate on k-RTIO faces", 'my_filter', targets.check_filter_attack,
             _SOLUTIONS['06_filter_attack']),
    Exercise('06_known_s_found', '06_countermeasures.ipynb', 2, 'what fraction of the overlays the known-S attack identified', 'fraction_found', targets.check_known_s_found,
             _SOLUTIONS['06_known_s_found']),
)}
