"""Threads for the stages whose heavy calls release the GIL (Open3D registration, large numpy operations).

Work is always split the same way whatever the number of threads, so results do not depend on the machine.
OpenMP inside Open3D stays at one thread in the CLI (see ``scanning/__main__.py``): its threads spin while
waiting and tripled the time on a loaded 2-core machine, while these threads block.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

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
