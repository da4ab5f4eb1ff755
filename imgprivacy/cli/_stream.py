"""Photo by photo, on two cores: the next photo is computed while the last one is written.

``protect`` and ``recover`` check every input's header first, then stream:
one photo at a time is decoded and perturbed (or recovered) in one
background thread while the main thread encodes and writes the one before
it.  Pillow's decoders, numpy and OpenCV's PNG encoder release the GIL, so
the two overlap on two cores; at most one computed photo waits for its
write, so memory holds about two photos whatever the size of the folder.

Every file is written by the main thread, where signals arrive: SIGINT or
SIGTERM stops the run, the photo being written leaves no temporary file,
and the background thread is abandoned (it writes nothing).  The thread
policy (``IMGPRIVACY_THREADS``, README "Speed") was chosen by measurement.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future
from typing import Any, Callable

from ._common import CLIError, Interrupted, os_error_line, remove_temporaries, show, signals_interrupt


def stream_threads(photos: int) -> int:
    """Threads for a run of ``photos``: 2 (compute beside write) where two cores are free, else 1.

    ``IMGPRIVACY_THREADS=1`` forces one thread.

    Examples
    --------
    >>> stream_threads(1)
    1
    """
    if photos < 2 or os.environ.get("IMGPRIVACY_THREADS", "").strip() == "1":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores)


def _in_background(fn: Callable[[Any], Any], job: Any) -> Future:
    """Run ``fn(job)`` in a daemon thread: an interrupted run exits without waiting for it."""
    future: Future = Future()

    def run() -> None:
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(job))
            except BaseException as exc:  # handed to the main thread, which reports it
                future.set_exception(exc)

    threading.Thread(target=run, name="imgprivacy-compute", daemon=True).start()
    return future


def _progress(count: int, desc: str):
    """A progress bar on stderr for runs of two photos or more, else None.  The terminal's bar
    (``tqdm.std``): a command line runs in a terminal, and ``tqdm.auto`` would import asyncio."""
    if count < 2:
        return None
    from tqdm.std import tqdm

    return tqdm(total=count, desc=desc, unit="photo", file=sys.stderr)


def write_all(jobs: list, command: str, compute: Callable[[Any], Any], write: Callable[[Any, Any], None]) -> tuple[int, int]:
    """``write(job, compute(job))`` for each job, the next ``compute`` overlapping the last ``write``.

    Returns (photos done, exit status).  ``compute`` writes no file;
    ``write`` runs in the main thread with SIGINT/SIGTERM caught.  An
    interrupt removes the current photo's temporary file and returns 128 +
    the signal number; memory and OS errors become one line (finished
    photos are kept: running the same command again skips them).
    """
    threads = stream_threads(len(jobs))
    done, current, ahead, bar = 0, None, None, None
    try:
        with signals_interrupt():
            if threads > 1 and jobs:
                ahead = _in_background(compute, jobs[0])  # the bar is made (tqdm imported) while it computes
            bar = _progress(len(jobs), command)
            for i, job in enumerate(jobs):
                current = job
                if threads == 1:
                    result = compute(job)
                else:
                    result = ahead.result()
                    ahead = _in_background(compute, jobs[i + 1]) if i + 1 < len(jobs) else None
                write(job, result)
                del result
                done += 1
                if bar is not None:
                    bar.update()
    except Interrupted as stop:
        bar = _close(bar)  # before the line below, so that the line is not overdrawn
        if ahead is not None:
            ahead.cancel()
        if current is not None:
            remove_temporaries(current.out)
        print(f"imgprivacy {command}: interrupted; {done} photo(s) finished and kept, no partial file left. "
              "Run the same command again to resume", file=sys.stderr)
        return done, 128 + stop.signum
    except MemoryError:
        bar = _close(bar)
        if current is not None:
            remove_temporaries(current.out)
        where = show(current.src) if current is not None else "the first photo"
        raise CLIError(f"not enough memory to {command} {where}; {done} finished photo(s) are kept and "
                       "skipped on the next run") from None
    except OSError as exc:
        bar = _close(bar)
        if current is not None:
            remove_temporaries(current.out)
        raise CLIError(os_error_line(exc, show(current.out) if current else "the outputs")) from None
    finally:
        _close(bar)
    return done, 0


def _close(bar) -> None:
    if bar is not None:
        bar.close()


def prepared(caches: dict, the_set, shape: tuple, block: tuple[int, int]):
    """The set fitted to one geometry, from one :class:`krtio.OverlayCache` per overlay set.

    ``caches`` holds the cache of the latest set only (format 2 gives each
    photo its own derived set; format 1 photos share one).  The cache's
    byte-bounded store is what decides which fitted overlays are kept for
    the next photo: at 12 MP (144 MB an overlay) with k = 3 none are, and each photo
    fits only the overlays it chooses, strip by strip.
    """
    from .. import krtio

    held = caches.get(id(the_set))
    if held is None:
        caches.clear()
        held = caches[id(the_set)] = (the_set, krtio.OverlayCache(the_set))  # the set kept alive: its id stays its own
    return held[1].get(shape, block=block)
