"""What every check shares: the failure type, running an answer under a time limit, and telling in the
student's terms how an answer differs from the library's (shape, range, a constant factor, off by one,
two swapped entries, the first differing element)."""

from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .._validation import check_real

__all__ = ["CheckFailed", "CheckResult", "call_limited", "describe_difference", "same", "short", "time_limit"]

#: seconds one call of a student's function may take by default (the library's answer takes milliseconds)
TIME_LIMIT = 20.0
_limit = [TIME_LIMIT]  # the limit in force: ip.lab.check(..., time_limit=) sets it for one check


@contextlib.contextmanager
def time_limit(seconds: float):
    """Limit every call of a student's function to ``seconds`` inside the block."""
    seconds = check_real(seconds, "time_limit", low=0, high=3600, low_open=True, accepted=" of seconds in (0, 3600]")
    _limit.append(seconds)
    try:
        yield
    finally:
        _limit.pop()


class CheckFailed(AssertionError):
    """An answer that does not match the library's; the message says what differs and how to fix it.

    A subclass of ``AssertionError``, so that nbgrader, otter-grader and pytest count a failed check cell
    as a failed test.  In a notebook, IPython shows the message alone (:meth:`_render_traceback_`): the
    frames inside the library would only hide it and look as if the library had crashed.
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows instead of a traceback: the exception's name in red, then the message."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


@dataclass(frozen=True)
class CheckResult:
    """A passed check: ``repr`` is the one line a notebook shows.

    Attributes
    ----------
    name : str
        The exercise.
    points : int
        Its points.
    cases : int
        How many cases the answer was tried on.
    detail : str
        What was checked, in a few words.
    """

    name: str
    points: int
    cases: int
    detail: str

    def __repr__(self) -> str:
        plural = "s" if self.points != 1 else ""
        return f"✓ {self.name}: correct ({self.detail}; {self.points} point{plural})"

    def __bool__(self) -> bool:
        return True


def short(value: Any, digits: int = 4) -> str:
    """A value as a short text for a message.

    Examples
    --------
    >>> short(0.123456), short(np.arange(3)), short("abc")
    ('0.1235', '[0, 1, 2]', "'abc'")
    """
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{digits}g}"
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return str(np.round(value, digits).tolist()) if value.dtype.kind == "f" else str(value.tolist())
        return f"an array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _TimeUp(BaseException):
    """Raised inside a student's function by the alarm (a BaseException, so ``except Exception`` cannot swallow it)."""


def call_limited(fn: Callable, *args, name: str, limit: float | None = None, **kwargs):
    """Call a student's function with a time limit; its errors become a :class:`CheckFailed` that says which.

    In the main thread of a POSIX process (a notebook kernel, pytest) a timer signal interrupts the call;
    elsewhere the call runs in a daemon thread that is abandoned after ``limit`` seconds.

    Examples
    --------
    >>> call_limited(lambda x: x + 1, 1, name="f")
    2
    >>> call_limited(lambda: 1 / 0, name="f")
    Traceback (most recent call last):
    ...
    imgprivacy.lab._feedback.CheckFailed: f raised ZeroDivisionError: division by zero (a modulus or divisor became 0: ...)
    """
    if not callable(fn):
        raise CheckFailed(f"{name} must be a function (def {name}(...): ...), got {type(fn).__name__} {short(fn)}")
    limit = _limit[-1] if limit is None else limit
    use_signal = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    try:
        if use_signal:
            return _with_alarm(fn, args, kwargs, limit)
        return _with_thread(fn, args, kwargs, limit)
    except _TimeUp:
        raise CheckFailed(
            f"{name} did not finish within the time limit of {limit:g} s (the library's answer takes milliseconds): "
            "look for a loop that never ends, e.g. a while loop whose counter never changes"
        ) from None
    except NotImplementedError:
        raise CheckFailed(
            f"{name} still raises NotImplementedError: replace `raise NotImplementedError()` by your solution"
        ) from None
    except CheckFailed:
        raise
    except Exception as exc:  # the student's bug, reported in one line
        raise CheckFailed(f"{name} raised {_hint(exc)}") from exc


def _hint(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, ZeroDivisionError):
        text += " (a modulus or divisor became 0: check the range of your loop)"
    return text


def _with_alarm(fn, args, kwargs, limit):
    def ring(signum, frame):
        raise _TimeUp()

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _with_thread(fn, args, kwargs, limit):
    box: dict[str, Any] = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit)
    if worker.is_alive():
        raise _TimeUp()
    if "error" in box:
        raise box["error"]
    return box["value"]


# --------------------------------------------------------------------------- comparing answers
def same(got: Any, expected: Any, *, atol: float = 1e-5) -> bool:
    """Whether an answer equals the expected one (arrays: same shape, close values).

    Examples
    --------
    >>> same([1, 2], np.array([1, 2])), same(0.5, 0.5 + 1e-9), same([1, 2], [2, 1])
    (True, True, False)
    """
    try:
        a = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    b = np.asarray(expected, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.isclose(a, b, atol=atol, rtol=1e-4)))


def describe_difference(got: Any, expected: Any, *, what: str = "your answer", alpha: float | None = None,
                        unit_range: bool = False, atol: float = 1e-5) -> str:
    """Say how ``got`` differs from ``expected``, in the terms a student would look for.

    Parameters
    ----------
    got, expected : array-like or scalar
        The student's answer and the library's.
    what : str
        How to name the answer in the message.
    alpha : float, optional
        A weight of the exercise (k-RTIO's α, Eq. 5's α): a result off by exactly a factor α, 1/α, 1 − α
        or 1/(1 − α) is named so.
    unit_range : bool
        The answer is an image in [0, 1]: values outside are reported first.
    atol : float
        Absolute tolerance of "equal".

    Returns
    -------
    str
        One sentence (empty if the answers agree).

    Examples
    --------
    >>> describe_difference([0, 2, 1], [0, 1, 2])
    'your answer has entries 1 and 2 swapped: expected [0, 1, 2], got [0, 2, 1]'
    >>> describe_difference(np.full((2, 2), 0.45), np.ones((2, 2)), alpha=0.45)
    'your answer is off by a factor α = 0.45 everywhere (expected 1, got 0.45 at [0, 0]): a missing or extra division by α?'
    >>> describe_difference(np.ones((3, 2)), np.ones((2, 3)))
    'your answer has shape (3, 2) but should have shape (2, 3): the axes are swapped (transposed)'
    """
    if got is None:
        return f"{what} is None: did the function forget to `return` its result?"
    try:
        a = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{what} should be a number or an array like {short(np.asarray(expected))}, got {type(got).__name__} {short(got)}"
    b = np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        return _shape_message(a, b, what)
    if same(a, b, atol=atol):
        return ""
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        return f"{what} has NaN or infinite values (first at {_where(bad)}): a division by zero or a log of 0?"
    if unit_range and (a.min() < -atol or a.max() > 1 + atol):
        return (f"{what} is not in [0, 1] (min {a.min():.3g}, max {a.max():.3g}): images are float in [0, 1]; "
                "is a weight, a division or the final np.clip missing?")
    if a.ndim >= 2 and a.shape[-1] == a.shape[-2] and np.allclose(a, np.swapaxes(b, -1, -2), atol=atol):
        return f"{what} has rows and columns swapped (transposed)"
    for message in (_factor(a, b, what, alpha, atol), _integers(a, b, what), _shifted(a, b, what, atol)):
        if message:
            return message
    if a.ndim == 0:
        return f"{what} is {short(float(a))}, expected {short(float(b))}"
    diff = ~np.isclose(a, b, atol=atol, rtol=1e-4)
    first = np.argwhere(diff)[0]
    return (f"{what} differs from the library's in {int(diff.sum())} of {diff.size} values; the first at {_where(first)}: "
            f"expected {short(float(b[tuple(first)]))}, got {short(float(a[tuple(first)]))}")


def _where(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _shape_message(a: np.ndarray, b: np.ndarray, what: str) -> str:
    text = f"{what} has shape {a.shape} but should have shape {b.shape}"
    if a.ndim == b.ndim and sorted(a.shape) == sorted(b.shape):
        return text + ": the axes are swapped (transposed)"
    if a.size == b.size:
        return text + ": the right number of values in the wrong layout (a reshape along the wrong axes?)"
    if a.ndim == b.ndim - 1 and a.shape == b.shape[1:]:
        return text + ": one image where a stack was expected (did you reduce over the photos' axis?)"
    if a.ndim == b.ndim + 1 and a.shape[1:] == b.shape:
        return text + ": a stack where one image was expected"
    if a.ndim == b.ndim and a.shape[0] == b.shape[0] - 1:
        return text + ": one entry too few (off by one in a loop's range?)"
    if a.ndim == b.ndim and a.shape[0] == b.shape[0] + 1:
        return text + ": one entry too many (off by one in a loop's range?)"
    return text


def _factor(a, b, what, alpha, atol) -> str:
    scale_b = float(np.abs(b).max())
    if scale_b <= atol or not np.all(np.isfinite(b)):
        return ""
    s = float(np.sum(a * b) / np.sum(b * b))
    if not np.allclose(a, s * b, atol=max(atol, 1e-4 * scale_b), rtol=1e-3) or np.isclose(s, 1.0, rtol=1e-3):
        return ""
    at = np.unravel_index(int(np.argmax(np.abs(b))), b.shape)
    example = f"expected {short(float(b[at]))}, got {short(float(a[at]))}" + (f" at {_where(at)}" if b.ndim else "")
    named = []  # (factor, its name, a hint)
    if alpha is not None:
        by_alpha = ": a missing or extra division by α?"
        named += [(alpha, f"α = {alpha:.3g}", by_alpha), (1 / alpha, f"1/α = {1 / alpha:.3g}", by_alpha)]
        if alpha < 1:
            named += [(1 - alpha, f"1 − α = {1 - alpha:.3g}", ""), (1 / (1 - alpha), f"1/(1 − α) = {1 / (1 - alpha):.3g}", "")]
    named += [(100.0, "100 (a percentage instead of a fraction?)", ""), (0.01, "1/100", ""), (-1.0, "−1 (a sign error?)", "")]
    where = " everywhere" if b.ndim else ""
    for value, label, hint in named:
        if np.isclose(s, value, rtol=1e-3):
            return f"{what} is off by a factor {label}{where} ({example}){hint}"
    return f"{what} is off by a constant factor {s:.4g} ({example})"


def _integers(a, b, what) -> str:
    if not (np.allclose(a, np.round(a)) and np.allclose(b, np.round(b))) or a.ndim != 1:
        return ""
    ai, bi = np.round(a).astype(np.int64), np.round(b).astype(np.int64)
    d = ai - bi
    if np.all(d == d[0]) and abs(d[0]) == 1:
        return (f"{what} is off by one: every entry is 1 {'too high' if d[0] > 0 else 'too low'} "
                "(Python counts from 0)")
    if sorted(ai.tolist()) == sorted(bi.tolist()):
        wrong = np.flatnonzero(d)
        if len(wrong) == 2 and ai[wrong[0]] == bi[wrong[1]]:
            return (f"{what} has entries {wrong[0]} and {wrong[1]} swapped: expected {short(bi)}, got {short(ai)}")
        if sorted(bi.tolist()) == list(range(len(bi))) and np.array_equal(np.argsort(bi), ai):
            return (f"{what} is the inverse permutation: perm[p] must be where block p comes from, "
                    "not where it goes")
    return ""


def _shifted(a, b, what, atol) -> str:
    if a.ndim != 1 or len(a) < 3:
        return ""
    for shift in (1, -1):
        if np.allclose(np.roll(b, shift), a, atol=atol):
            return f"{what} is the expected sequence shifted by one position ({'right' if shift == 1 else 'left'})"
    return ""
