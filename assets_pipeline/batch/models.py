"""SQLAlchemy models of batch state, kept in the catalog database (migration 0005): one ``batches`` row per
submitted manifest, one ``batch_jobs`` row per manifest row. Every worker, on any machine, updates them; the
``batch status`` command reads them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..catalog.models import Base


class JobState(enum.StrEnum):
    """Where a job is; the last four are final."""

    queued = "queued"
    running = "running"
    retrying = "retrying"
    published = "published"
    unchanged = "unchanged"
    failed = "failed"
    skipped = "skipped"


FINAL_STATES = frozenset({JobState.published, JobState.unchanged, JobState.failed, JobState.skipped})


class BatchRow(Base):
    """One submitted manifest."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    manifest: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str] = mapped_column(String(16))
    """``broker`` (jobs on the task queue) or ``local`` (embedded worker processes)."""
    total: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BatchJobRow(Base):
    """One manifest row: its state, attempts, outcome, and the store keys an unfinished attempt may have left."""

    __tablename__ = "batch_jobs"
    __table_args__ = (UniqueConstraint("batch_id", "line", name="uq_batch_jobs_batch_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    publish_key: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    pending_keys: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Store keys this job put (or was about to put) that no committed version may reference yet."""
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
