"""Freed memory handed back to the operating system after a one-off burst of temporaries.

glibc's allocator keeps memory a program has freed: a block freed between
two blocks still in use stays in the process (its resident set) until the
heap above it is freed too.  The bursts that build the bundled overlay set,
train a network or enrol a dlib gallery free tens of MB this way, and a
notebook kernel carries that memory into every later cell (Binder gives a
session 2 GB, and each open notebook has a kernel).  ``malloc_trim(0)``
gives the free pages of every arena back (``MADV_DONTNEED``); it changes no
value, costs a few milliseconds, and is a no-op where glibc is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["release_free_memory"]


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Give the allocator's free pages back to the operating system (glibc); True if any were.

    Returns
    -------
    bool
        True if glibc released memory, False if it had none to give or the
        C library is not glibc.

    Examples
    --------
    >>> release_free_memory() in (True, False)
    True
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
