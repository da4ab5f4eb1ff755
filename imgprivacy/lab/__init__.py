"""Graded lab exercises with feedback that teaches: :func:`check`, :func:`solution`, :func:`exercises`.

Each of the notebooks 01 to 06 holds exercises in nbgrader's format: a solution cell where the student
writes one function (between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in the instructor version) and
a locked, graded check cell that calls ``ip.lab.check(name, answer)``.  The check runs the answer on fresh
random cases (or on the notebook's own data, passed as keywords) against the library's public functions,
each call under a time limit, and on a difference says what differs in the student's terms: a known
mistake by name (α and 1 − α swapped, the textbook off-by-one Fisher–Yates, a mean for a median, ...), or
the wrong shape, a range outside [0, 1], a constant factor, an off-by-one, two swapped entries or the
first differing element.  A failed check raises :class:`CheckFailed` (an ``AssertionError``), so nbgrader
and pytest count it.

``imgprivacy lab student DIR`` writes the student version (:func:`write_student_version`), and
``notebooks/INSTRUCTORS.md`` is the instructor's guide.  No widgets here: headless, like the layers it
checks against.

Examples
--------
>>> import numpy as np
>>> check("01_remove_overlay", lambda p, o, a: np.clip((p - (1 - a) * o) / a, 0, 1), seed=0)
✓ 01_remove_overlay: correct (on 6 fresh random cases; 2 points)
>>> check("01_remove_overlay", lambda p, o, a: (p - a * o) / (1 - a), seed=0)
Traceback (most recent call last):
...
imgprivacy.lab._feedback.CheckFailed: 01_remove_overlay: α and 1 − α are swapped: ...
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np

from ._feedback import TIME_LIMIT, CheckFailed, CheckResult
from ._feedback import time_limit as _limited
from ._registry import EXERCISES, Exercise
from ._student import (BEGIN, END, default_source, is_graded, is_solution, strip_solution, student_notebook,
                       write_student_version)

__all__ = [
    "BEGIN",
    "END",
    "TIME_LIMIT",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "Solution",
    "check",
    "default_source",
    "exercise",
    "exercises",
    "is_graded",
    "is_solution",
    "solution",
    "strip_solution",
    "student_notebook",
    "write_student_version",
]


def exercise(name: str) -> Exercise:
    """The exercise called ``name``; an unknown name is refused with the closest ones.

    Examples
    --------
    >>> exercise("02_fisher_yates").points
    3
    >>> exercise("02_fisher_yate")
    Traceback (most recent call last):
    ...
    ValueError: no exercise named '02_fisher_yate'; did you mean '02_fisher_yates'? (ip.lab.exercises() lists them)
    """
    if name in EXERCISES:
        return EXERCISES[name]
    close = difflib.get_close_matches(str(name), list(EXERCISES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ";"
    raise ValueError(f"no exercise named {name!r}{hint} (ip.lab.exercises() lists them)")


def exercises(notebook: str | None = None) -> list[Exercise]:
    """Every exercise, in course order, or those of one notebook (its file name or its number, e.g. ``"02"``).

    Examples
    --------
    >>> [(e.name, e.points) for e in exercises("04")]
    [('04_remove_eq4', 3), ('04_kept_fooling_rate', 2)]
    >>> sum(e.points for e in exercises())
    28
    """
    found = list(EXERCISES.values())
    if notebook is not None:
        found = [e for e in found if e.notebook == notebook or e.notebook[:2] == str(notebook)]
    return found


def check(name: str, answer, *, seed: int | None = None, time_limit: float = TIME_LIMIT, **context) -> CheckResult:
    """Check a student's ``answer`` to the exercise ``name`` against the library's own implementation.

    Parameters
    ----------
    name : str
        The exercise (``ip.lab.exercises()`` lists them).
    answer : callable
        The student's function.  It runs on fresh random cases (or on the notebook's data in ``context``),
        each call limited to ``time_limit`` seconds.
    seed : int, optional
        Seeds the random cases (default: fresh ones every time).
    time_limit : float, default :data:`TIME_LIMIT` (20 s)
        Seconds one call of ``answer`` may take.
    **context
        The notebook's data some exercises are checked on (the check cell passes them).

    Returns
    -------
    CheckResult
        Shown in a notebook as one line, ``✓ name: correct (...)``.

    Raises
    ------
    CheckFailed
        The answer is wrong; the message says how (an ``AssertionError``, so graders count it).
    ValueError
        For an unknown exercise name.
    """
    ex = exercise(name)
    rng = np.random.default_rng(seed)
    try:
        with _limited(time_limit):
            outcome = ex.check(answer, rng=rng, **context)
    except CheckFailed as exc:
        raise CheckFailed(f"{name}: {exc}") from None
    cases, detail = outcome if isinstance(outcome, tuple) else (outcome, None)
    if detail is None:
        detail = f"on {cases} fresh random case{'s' if cases != 1 else ''}" if not context else \
            f"on {cases} case{'s' if cases != 1 else ''} from this notebook's data"
    return CheckResult(name, ex.points, cases, detail)


@dataclass(frozen=True)
class Solution:
    """One reference solution, for self-study: ``print`` it, or let the notebook show it."""

    name: str
    code: str

    def __str__(self) -> str:
        return self.code

    def __repr__(self) -> str:
        return f"# {self.name}: one possible solution\n{self.code}"

    def _repr_markdown_(self) -> str:
        return f"**{self.name}**: one possible solution\n\n```python\n{self.code}\n```"


def solution(name: str) -> Solution:
    """The instructor's solution of one exercise (the solution cell, markers included).

    Examples
    --------
    >>> print(solution("03_thumbnail"))
    def thumbnail(images):
        ...
        return images.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
        ### END SOLUTION
    """
    ex = exercise(name)
    return Solution(ex.name, ex.solution)
