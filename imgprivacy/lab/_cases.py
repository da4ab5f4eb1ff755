"""Running a function answer on many cases and naming the mistake it makes, if it is a known one."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._feedback import CheckFailed, call_limited, describe_difference, same

__all__ = ["Case", "Mistake", "run_cases"]


@dataclass
class Case:
    """One input of a function answer: its arguments, the library's answer, and how to describe it.

    Attributes
    ----------
    args : tuple
        Positional arguments of the student's function.
    expected : object
        The library's answer for them.
    about : str
        The case in words, for a message ("3 photos of 5x7, α = 0.43").
    compare : dict
        Keywords of :func:`describe_difference` (``alpha``, ``unit_range``, ``atol``).
    """

    args: tuple
    expected: Any
    about: str
    compare: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong answer: the function that makes it, and what to tell the student who made it."""

    message: str
    answer: Callable[..., Any]


def _unchanged(before: Any, after: Any) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and before.shape == after.shape and np.array_equal(before, after)
    if isinstance(before, (list, tuple)):
        return len(before) == len(after) and all(_unchanged(b, a) for b, a in zip(before, after))
    return True


def run_cases(answer: Callable, cases: list[Case], *, name: str, mistakes: tuple[Mistake, ...] = (),
              validate: Callable[[Any, Case], str] | None = None) -> int:
    """Run ``answer`` on every case; raise :class:`CheckFailed` saying what is wrong, or return the count.

    A known mistake is named when the answer equals that mistake's on every case (and the mistake differs
    from the library's on at least one); otherwise the first case that differs is described.  An answer
    that changes its input arrays in place is refused.

    Examples
    --------
    >>> cases = [Case((np.array([1.0, 2.0]),), np.array([2.0, 4.0]), "x = [1, 2]")]
    >>> run_cases(lambda x: 2 * x, cases, name="double")
    1
    >>> run_cases(lambda x: x + 1, cases, name="double",
    ...           mistakes=(Mistake("double adds 1 instead of doubling", lambda x: x + 1),))
    Traceback (most recent call last):
    ...
    imgprivacy.lab._feedback.CheckFailed: double adds 1 instead of doubling (on x = [1, 2])
    """
    results = []
    for case in cases:
        args = copy.deepcopy(case.args)
        got = call_limited(answer, *args, name=name)
        if not all(_unchanged(b, a) for b, a in zip(case.args, args)):
            raise CheckFailed(f"{name} changed its input in place (on {case.about}): work on a copy, "
                              "e.g. `x = x.copy()` or `y = x - ...` rather than `x -= ...`")
        if validate is not None:
            problem = validate(got, case)
            if problem:
                raise CheckFailed(f"{name}: {problem} (on {case.about})")
        results.append(got)
    atol = [case.compare.get("atol", 1e-5) for case in cases]
    if all(same(got, case.expected, atol=tol) for got, case, tol in zip(results, cases, atol)):
        return len(cases)
    for mistake in mistakes:
        wrong = [mistake.answer(*copy.deepcopy(case.args)) for case in cases]
        if all(same(got, w, atol=tol) for got, w, tol in zip(results, wrong, atol)) and not all(
                same(w, case.expected, atol=tol) for w, case, tol in zip(wrong, cases, atol)):
            first = next(case for w, case, tol in zip(wrong, cases, atol) if not same(w, case.expected, atol=tol))
            raise CheckFailed(f"{mistake.message} (on {first.about})")
    got, case = next((g, c) for g, c, tol in zip(results, cases, atol) if not same(g, c.expected, atol=tol))
    if isinstance(case.args[0], np.ndarray) and same(got, case.args[0], atol=0):
        raise CheckFailed(f"{name} returned its input unchanged (on {case.about})")
    raise CheckFailed(f"{describe_difference(got, case.expected, what=f'the answer of {name}', **case.compare)} "
                      f"(on {case.about})")
