"""``phygital-assets worker``: Dramatiq workers that run batch jobs, on any number of machines.

Each worker process opens the store and catalog once, registers the publish actor on the broker and consumes
the queue with one thread (publishing is CPU-bound; run more processes, not threads). SIGTERM or Ctrl-C stops
it gracefully: the job in hand finishes and is acknowledged, prefetched messages go back to the queue.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable
from typing import Any

from ..service import AssetService
from ..settings import AssetSettings
from .jobs import JobFailed, one_line, run_job
from .manifest import ManifestRow
from .state import BatchState

logger = logging.getLogger(__name__)


def _final_reason(exc: BaseException, settings: AssetSettings) -> str:
    if type(exc).__name__ == "TimeLimitExceeded":
        return f"time limit of {settings.batch_time_limit_s:g} s exceeded"
    if isinstance(exc, JobFailed):
        return exc.reason + (" (retries exhausted)" if exc.transient else "")
    return one_line(exc)


def serve(settings: AssetSettings, *, threads: int = 1, ready: Callable[[], None] | None = None,
          stop: threading.Event | None = None) -> None:
    """Run one worker process until SIGTERM/SIGINT (or ``stop``) arrives."""
    import dramatiq

    from .broker import ACTOR, check_reachable, open_broker

    service = AssetService.open(settings)
    state = BatchState(service.catalog)

    def on_final(message: Any, exc: BaseException) -> None:
        batch_id, row = message.args[0], message.args[1]
        state.fail(batch_id, int(row["line"]), _final_reason(exc, settings), final=True)

    broker = open_broker(settings, on_final)
    try:
        check_reachable(broker, settings)
    except BaseException:
        service.close()
        raise

    def publish_row(batch_id: str, row: dict[str, Any]) -> None:
        run_job(service, ManifestRow.from_dict(row), batch_id)

    dramatiq.actor(publish_row, broker=broker, actor_name=ACTOR, queue_name=settings.batch_queue)
    broker.emit_after("process_boot")  # as Dramatiq's own CLI does: starts the time limit's watcher thread
    worker = dramatiq.Worker(broker, worker_threads=max(1, threads), queues={settings.batch_queue},
                             worker_timeout=1000)
    # one message per thread, none held back: jobs are long, and a prefetched one would wait behind the job in
    # hand while another worker sits idle (Dramatiq's default prefetches two per thread)
    worker.queue_prefetch = max(1, threads)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    worker.start()
    logger.info("worker ready on %s queue %r", settings.batch_namespace, settings.batch_queue)
    if ready:
        ready()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        worker.stop(timeout=int((settings.batch_time_limit_s + 30) * 1000))
        broker.close()
        service.close()


def _serve_child(settings: AssetSettings, threads: int) -> None:
    import random

    random.seed()  # forked children would otherwise draw the same broker maintenance sequence
    logging.basicConfig(level=logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        serve(settings, threads=threads)


def serve_processes(settings: AssetSettings, processes: int, *, threads: int = 1) -> None:
    """Run ``processes`` worker processes (forked) and wait; SIGTERM/SIGINT stops them all."""
    if processes <= 1:
        serve(settings, threads=threads)
        return
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_serve_child, args=(settings, threads), name=f"phygital-worker-{i}")
                for i in range(processes)]
    for child in children:
        child.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            if not any(c.is_alive() for c in children):
                break
    finally:
        for child in children:
            if child.is_alive() and child.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    import os

                    os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(settings.batch_time_limit_s + 60)
