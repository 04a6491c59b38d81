"""Threads for the stages whose heavy calls release the GIL (Open3D registration, large numpy operations).

Work is always split the same way whatever the number of threads, so results do not depend on the machine.
OpenMP inside Open3D stays at one thread in the CLI (see ``scanning/__main__.py``): its threads spin while
waiting and tripled the time on a loaded 2-core machine, while these threads block.

Open3D's random steps (RANSAC registration, plane fitting) draw from one global generator: :func:`open3d_random`
seeds it and keeps it to one thread at a time, so that they give the same result on every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

WORKERS = 2


def thread_safe(progress: Callable[[int], object] | None) -> Callable[[int], object] | None:
    """The progress callback behind a lock, for calls from worker threads."""
    if progress is None:
        return None
    lock = threading.Lock()

    def tick(amount: int) -> None:
        with lock:
            progress(amount)

    return tick


def map_threads(fn: Callable[[T], R], items: Iterable[T], workers: int = WORKERS) -> list[R]:
    """``[fn(x) for x in items]`` on up to ``workers`` threads, in order; the first exception is raised."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


_RANDOM = threading.Lock()  # held while a thread uses Open3D's global random generator
_openmp: Any = None  # threadpoolctl's controller of the loaded OpenMP runtimes, found once


@contextmanager
def open3d_random(seed: int = 0) -> Iterator[None]:
    """Open3D's global random generator seeded with ``seed``, for this thread alone and with OpenMP at one
    thread, for the ``with`` block: random Open3D steps run inside it give the same result on every run.

    Open3D 0.19 draws every sample from one generator behind a mutex: two threads (the pose chains) drawing at
    once interleave their samples in whatever order they get the mutex, and so do the OpenMP threads of one
    RANSAC registration, whose early exit also depends on which thread gets there first (Open3D issue 7475:
    single-threaded processing is the only way to avoid it in this version)."""
    global _openmp
    import open3d as o3d
    from threadpoolctl import ThreadpoolController

    with _RANDOM:
        if _openmp is None:  # after Open3D is loaded, so that its OpenMP runtime is among the libraries found
            _openmp = ThreadpoolController().select(user_api="openmp")
        with _openmp.limit(limits=1):  # OpenMP's thread count is per calling thread: other threads keep theirs
            o3d.utility.random.seed(seed)
            yield
