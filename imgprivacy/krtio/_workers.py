"""The one worker thread that lets a large photo use two cores (numpy releases the GIL)."""

from __future__ import annotations

import functools
import os


@functools.lru_cache(maxsize=1)
def worker_pool():
    """The one worker thread, made on first use (and made again in a forked child)."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="imgprivacy-krtio")


if hasattr(os, "register_at_fork"):  # a forked child must not wait on its parent's worker thread
    os.register_at_fork(after_in_child=worker_pool.cache_clear)


def worker_threads() -> int:
    """Threads for one large photo: 2 where two cores are free, 1 if IMGPRIVACY_THREADS=1."""
    if os.environ.get("IMGPRIVACY_THREADS", "").strip() == "1":
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores)
