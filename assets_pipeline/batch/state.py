"""Batch and job state in the catalog database: written by ``batch`` and by every worker, read by ``batch status``.

Each change is one short transaction on one job row, so any number of workers on any machines can share it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from ..catalog.repository import Catalog
from ..errors import NotFound
from .manifest import ManifestRow
from .models import FINAL_STATES, BatchJobRow, BatchRow, JobState


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime | None) -> datetime | None:
    return t if t is None or t.tzinfo else t.replace(tzinfo=UTC)  # SQLite gives naive datetimes back


def new_batch_id() -> str:
    """A sortable, unique batch id: ``20261204-051500-3fa2``."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)


@dataclass(frozen=True, slots=True)
class Failure:
    """A job that failed or was skipped, with its one-line reason."""

    line: int
    sku: str
    state: str
    reason: str
    attempts: int


@dataclass(slots=True)
class BatchStatus:
    """Totals by state, throughput and the failures of one batch."""

    batch_id: str
    manifest: str
    mode: str
    total: int
    created_at: datetime
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    first_started: datetime | None = None
    last_finished: datetime | None = None
    attempts: int = 0

    @property
    def finished(self) -> int:
        """Jobs in a final state (published, unchanged, failed, skipped)."""
        return sum(n for s, n in self.counts.items() if s in FINAL_STATES)

    @property
    def done(self) -> bool:
        """True when every job is in a final state."""
        return self.finished >= self.total

    @property
    def per_minute(self) -> float | None:
        """Jobs finished per minute since the first one started (None before any finished)."""
        worked = self.finished - self.counts.get(JobState.skipped, 0)
        if not worked or self.first_started is None or self.last_finished is None:
            return None
        seconds = max((self.last_finished - self.first_started).total_seconds(), 1e-3)
        return worked * 60.0 / seconds

    @property
    def eta_seconds(self) -> float | None:
        """Estimated seconds left at the current throughput."""
        rate = self.per_minute
        if self.done:
            return 0.0
        return None if not rate else (self.total - self.finished) * 60.0 / rate

    def to_dict(self) -> dict[str, object]:
        """JSON view (``batch status --json``)."""
        return {"batch": self.batch_id, "manifest": self.manifest, "mode": self.mode, "total": self.total,
                "created_at": self.created_at.isoformat(), "counts": dict(self.counts), "finished": self.finished,
                "done": self.done, "models_per_minute": self.per_minute, "eta_seconds": self.eta_seconds,
                "attempts": self.attempts,
                "failures": [{"line": f.line, "sku": f.sku, "state": f.state, "reason": f.reason,
                              "attempts": f.attempts} for f in self.failures]}


class BatchState:
    """Reads and writes ``batches`` and ``batch_jobs`` through the catalog's database."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def create(self, batch_id: str, manifest: str, mode: str, rows: Sequence[ManifestRow],
               skipped: Iterable[tuple[int, str, str, str]] = ()) -> None:
        """Record a batch with one queued job per row and the bad rows as skipped (line, sku, source, reason)."""
        skipped = list(skipped)
        now = _now()
        with self.catalog.session() as s:
            s.add(BatchRow(id=batch_id, manifest=manifest[-500:], mode=mode, total=len(rows) + len(skipped),
                           created_at=now))
            s.flush()
            s.add_all([BatchJobRow(batch_id=batch_id, line=r.line, sku=r.sku, source=r.source[-1000:],
                                   state=JobState.queued.value, attempts=0, pending_keys=[]) for r in rows])
            s.add_all([BatchJobRow(batch_id=batch_id, line=line, sku=sku[:64], source=source[-1000:],
                                   state=JobState.skipped.value, attempts=0, pending_keys=[], error=reason,
                                   finished_at=now) for line, sku, source, reason in skipped])

    def withdraw(self, batch_id: str) -> None:
        """Remove a batch whose jobs could not be enqueued (all or nothing); its rows go with it."""
        with self.catalog.session() as s:
            s.execute(delete(BatchJobRow).where(BatchJobRow.batch_id == batch_id))
            s.execute(delete(BatchRow).where(BatchRow.id == batch_id))

    def _job(self, s: object, batch_id: str, line: int) -> BatchJobRow:
        from sqlalchemy.orm import Session

        assert isinstance(s, Session)
        job = s.scalar(select(BatchJobRow).where(BatchJobRow.batch_id == batch_id, BatchJobRow.line == line))
        if job is None:
            raise NotFound(f"batch {batch_id!r} has no job for line {line}", field="batch")
        return job

    def start(self, batch_id: str, line: int, worker: str) -> int:
        """Mark a job running on ``worker``; returns its attempt number (1 for the first run)."""
        with self.catalog.session() as s:
            job = self._job(s, batch_id, line)
            job.state, job.worker, job.attempts = JobState.running.value, worker[:200], job.attempts + 1
            job.started_at = _now()
            return job.attempts

    def add_pending(self, batch_id: str, line: int, key: str) -> None:
        """Journal a store key before the object is put (cleaned up if no version ends up using it)."""
        with self.catalog.session() as s:
            job = self._job(s, batch_id, line)
            if key not in job.pending_keys:
                job.pending_keys = [*job.pending_keys, key]

    def pending(self, batch_id: str, line: int) -> list[str]:
        """Keys journaled by this job's attempts and not yet cleaned up."""
        with self.catalog.session() as s:
            return list(self._job(s, batch_id, line).pending_keys)

    def clear_pending(self, batch_id: str, line: int, keys: Iterable[str]) -> None:
        """Forget keys that are settled (referenced by a version, or deleted)."""
        drop = set(keys)
        with self.catalog.session() as s:
            job = self._job(s, batch_id, line)
            job.pending_keys = [k for k in job.pending_keys if k not in drop]

    def finish(self, batch_id: str, line: int, state: JobState, version: int | None, publish_key: str | None,
               note: str | None = None) -> None:
        """A job ended well (published or unchanged)."""
        with self.catalog.session() as s:
            job = self._job(s, batch_id, line)
            job.state, job.version, job.publish_key, job.error = state.value, version, publish_key, note
            job.finished_at = _now()

    def fail(self, batch_id: str, line: int, reason: str, *, final: bool) -> None:
        """A job attempt failed: ``final`` (failed, in the dead-letter list) or retrying later."""
        with self.catalog.session() as s:
            job = self._job(s, batch_id, line)
            if job.state in (JobState.published.value, JobState.unchanged.value):
                return  # a duplicate delivery failing after another one finished the job
            job.state = (JobState.failed if final else JobState.retrying).value
            job.error = reason[:2000]
            if final:
                job.finished_at = _now()

    def latest(self) -> str:
        """The id of the most recently created batch."""
        with self.catalog.session() as s:
            batch_id = s.scalar(select(BatchRow.id).order_by(BatchRow.created_at.desc(), BatchRow.id.desc()).limit(1))
        if batch_id is None:
            raise NotFound("no batch has been submitted to this catalog", field="batch")
        return batch_id

    def status(self, batch_id: str) -> BatchStatus:
        """Totals by state, timing and failures of a batch."""
        with self.catalog.session() as s:
            batch = s.get(BatchRow, batch_id)
            if batch is None:
                raise NotFound(f"no batch {batch_id!r}", field="batch")
            counts = {state: n for state, n in s.execute(
                select(BatchJobRow.state, func.count()).where(BatchJobRow.batch_id == batch_id)
                .group_by(BatchJobRow.state)).all()}
            first, last, attempts = s.execute(
                select(func.min(BatchJobRow.started_at), func.max(BatchJobRow.finished_at),
                       func.coalesce(func.sum(BatchJobRow.attempts), 0))
                .where(BatchJobRow.batch_id == batch_id)).one()
            failures = [Failure(j.line, j.sku, j.state, j.error or "", j.attempts) for j in s.scalars(
                select(BatchJobRow).where(BatchJobRow.batch_id == batch_id,
                                          BatchJobRow.state.in_([JobState.failed.value, JobState.skipped.value]))
                .order_by(BatchJobRow.line))]
            return BatchStatus(batch.id, batch.manifest, batch.mode, batch.total, _aware(batch.created_at) or _now(),
                               counts, failures, _aware(first), _aware(last), int(attempts))

    def reason(self, batch_id: str, line: int) -> str | None:
        """The recorded error of a job (None if it has none or does not exist)."""
        with self.catalog.session() as s:
            return s.scalar(select(BatchJobRow.error).where(BatchJobRow.batch_id == batch_id,
                                                            BatchJobRow.line == line))

    def jobs(self, batch_id: str) -> list[BatchJobRow]:
        """Every job row of a batch, by line."""
        with self.catalog.session() as s:
            return list(s.scalars(select(BatchJobRow).where(BatchJobRow.batch_id == batch_id)
                                  .order_by(BatchJobRow.line)))
