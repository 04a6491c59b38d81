"""Embedded mode: the same jobs in local worker processes (one per core) when no broker is configured.

The parent hands one row at a time to each child over a pipe, retries transient failures with backoff, stops a
child whose job passes the time limit (the job fails; a new child takes its place) and replaces children that
die. State goes to the same catalog tables as with a broker, so ``batch status`` reads both alike.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from ..limits import processors
from ..service import AssetService
from ..settings import AssetSettings
from .jobs import JobFailed, cleanup, run_job
from .manifest import ManifestRow
from .state import BatchState

logger = logging.getLogger(__name__)


def default_processes() -> int:
    """One worker process per core this process may use."""
    return processors()


def _child(settings: AssetSettings, conn: Connection) -> None:
    service = AssetService.open(settings)
    try:
        while True:
            msg = conn.recv()
            if msg is None:
                return
            batch_id, row = msg
            try:
                result = run_job(service, ManifestRow.from_dict(row), batch_id)
                conn.send(("ok", result.state, ""))
            except JobFailed as exc:
                conn.send(("transient" if exc.transient else "failed", "", exc.reason))
    except (EOFError, KeyboardInterrupt):
        return
    finally:
        service.close()


@dataclass(slots=True)
class _Slot:
    proc: Any
    conn: Connection
    row: ManifestRow | None = None
    started: float = 0.0


class LocalRunner:
    """Runs a batch's rows in ``processes`` child processes; ``run`` returns when every row is final."""

    def __init__(self, settings: AssetSettings, service: AssetService, processes: int) -> None:
        self.settings = settings
        self.service = service
        self.processes = max(1, processes)
        self.ctx = multiprocessing.get_context("fork")
        self.state = BatchState(service.catalog)

    def _spawn(self) -> _Slot:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_child, args=(self.settings, child), daemon=True, name="phygital-batch")
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def _final_failure(self, batch_id: str, row: ManifestRow, reason: str) -> None:
        self.state.fail(batch_id, row.line, reason, final=True)
        with contextlib.suppress(Exception):
            cleanup(self.service, self.state, batch_id, row.line)

    def _dead_attempt(self, batch_id: str, row: ManifestRow) -> None:
        """The child running ``row`` died or was killed: what it left in the store goes now."""
        with contextlib.suppress(Exception):
            cleanup(self.service, self.state, batch_id, row.line, stale_after_s=0)

    def run(self, batch_id: str, rows: Sequence[ManifestRow], tick: Callable[[], None] | None = None) -> None:
        """Process every row (blocking)."""
        s = self.settings
        queue: deque[ManifestRow] = deque(rows)
        delayed: list[tuple[float, int, ManifestRow]] = []
        failures: dict[int, int] = {}
        remaining = len(rows)
        slots = [self._spawn() for _ in range(min(self.processes, max(1, len(rows))))]
        try:
            while remaining:
                now = time.monotonic()
                while delayed and delayed[0][0] <= now:
                    queue.append(heapq.heappop(delayed)[2])
                for i, slot in enumerate(slots):
                    if slot.row is None and queue:
                        if not slot.proc.is_alive():
                            slot.proc.join(5)
                            slots[i] = slot = self._spawn()
                        slot.row, slot.started = queue.popleft(), now
                        slot.conn.send((batch_id, slot.row.to_dict()))
                busy = [slot.conn for slot in slots if slot.row is not None]
                ready = wait(busy, timeout=0.5) if busy else (time.sleep(0.2) or [])
                for i, slot in enumerate(slots):
                    row = slot.row
                    if row is None:
                        continue
                    outcome: tuple[str, str, str] | None = None
                    killed = False
                    if slot.conn in ready:
                        try:
                            outcome = slot.conn.recv()
                        except (EOFError, OSError):
                            outcome = ("transient", "", "the worker process died")
                    elif not slot.proc.is_alive():
                        outcome = ("transient", "", f"the worker process died (exit code {slot.proc.exitcode})")
                    elif time.monotonic() - slot.started > s.batch_time_limit_s:
                        slot.proc.kill()
                        killed = True
                        outcome = ("failed", "", f"time limit of {s.batch_time_limit_s:g} s exceeded")
                    if outcome is None:
                        continue
                    kind, _, reason = outcome
                    if killed or not slot.proc.is_alive():
                        slot.proc.join(5)
                        self._dead_attempt(batch_id, row)
                        slots[i] = slot = self._spawn()
                    slot.row = None
                    if kind == "transient":
                        failures[row.line] = failures.get(row.line, 0) + 1
                        if failures[row.line] <= s.batch_max_retries:
                            self.state.fail(batch_id, row.line, reason, final=False)
                            backoff = min(s.batch_min_backoff_s * 2 ** (failures[row.line] - 1), s.batch_max_backoff_s)
                            heapq.heappush(delayed, (time.monotonic() + backoff, row.line, row))
                            continue
                        self._final_failure(batch_id, row, f"{reason} (after {failures[row.line]} attempts)")
                    elif killed:
                        self._final_failure(batch_id, row, reason)
                    remaining -= 1
                if tick:
                    tick()
        finally:
            for slot in slots:
                with contextlib.suppress(OSError, BrokenPipeError):
                    slot.conn.send(None)
            for slot in slots:
                slot.proc.join(10)
                if slot.proc.is_alive():
                    slot.proc.kill()
                    slot.proc.join(5)
