"""One batch job: publish one manifest row, idempotently, and record what happened.

The same function runs under a broker worker and in the embedded local mode. Order:

1. mark the job running (attempt n);
2. compute the row's content address; if the product already has a version with it, nothing is published
   (``unchanged``; an older such version is made current again);
3. otherwise publish, journaling each store key *before* the object is put, and commit the version with the key
   (the catalog keeps one version per key and product, so a job that runs twice leaves one version);
4. set the name and try-on attributes; mark the job published;
5. whatever happened, delete the journaled objects that no version references (what a killed or failed attempt
   left behind), then forget them.

Bad input fails at once (``final``); store, database and broker trouble is ``transient`` and retried.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..catalog.models import Asset, Category
from ..errors import AssetError, Conflict, NotFound, PipelineFailure, StorageError
from ..service import AssetService
from ..store.base import file_sha256, object_key, sha_of_key
from .content import publish_key
from .manifest import ManifestRow
from .models import JobState
from .sources import fetch, is_bucket_url
from .state import BatchState

logger = logging.getLogger(__name__)


class JobFailed(Exception):
    """A job attempt failed; ``transient`` ones are retried with backoff, the others go to the dead-letter list."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


@dataclass(frozen=True, slots=True)
class JobResult:
    """What a finished job did."""

    line: int
    sku: str
    state: str
    version: int | None
    seconds: float
    attempt: int


def worker_name() -> str:
    """host:pid of this process (kept on the job row)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def one_line(exc: BaseException) -> str:
    """A single line describing an exception for the status and the dead-letter list."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, AssetError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Store, database and network trouble (and our own crashes) may pass; bad input does not."""
    if isinstance(exc, StorageError | PipelineFailure):
        return True
    if isinstance(exc, Conflict):
        return "concurrently" in exc.problem
    if isinstance(exc, AssetError):
        return False
    return isinstance(exc, SQLAlchemyError | OSError | ConnectionError | TimeoutError | MemoryError)


def run_job(service: AssetService, row: ManifestRow, batch_id: str) -> JobResult:
    """Publish one row (see the module docstring); raises JobFailed when the attempt fails."""
    t0 = time.perf_counter()
    state = BatchState(service.catalog)
    try:
        attempt = state.start(batch_id, row.line, worker_name())
    except NotFound:  # withdrawn (its enqueuing failed half-way), or enqueued against another catalog
        logger.warning("line %d (%s): batch %s is not in this worker's catalog: it was withdrawn, or it was "
                       "submitted with another catalog (workers and `batch` must share PHYGITAL_ASSETS_CATALOG_URL; "
                       "deployments sharing a broker need their own PHYGITAL_ASSETS_BATCH_NAMESPACE)",
                       row.line, row.sku, batch_id)
        return JobResult(row.line, row.sku, "withdrawn", None, time.perf_counter() - t0, 0)
    except AssetError as exc:  # the catalog database is unreachable: try again later
        raise JobFailed(one_line(exc), transient=True) from exc
    try:
        with tempfile.TemporaryDirectory(prefix="phygital-batch-") as tmp:
            source = fetch(service.settings, row.source, Path(tmp)) if is_bucket_url(row.source) else Path(row.source)
            version, outcome, key, note = _publish_row(service, state, row, batch_id, source)
        state.finish(batch_id, row.line, outcome, version, key, note)
    except Exception as exc:
        transient = is_transient(exc)
        reason = one_line(exc)
        if not isinstance(exc, AssetError):
            logger.warning("line %d (%s): %s", row.line, row.sku, reason, exc_info=True)
        with contextlib.suppress(Exception):
            state.fail(batch_id, row.line, reason, final=not transient)
        raise JobFailed(reason, transient=transient) from exc
    finally:
        with contextlib.suppress(Exception):
            cleanup(service, state, batch_id, row.line)
    return JobResult(row.line, row.sku, outcome.value, version, time.perf_counter() - t0, attempt)


def _publish_row(service: AssetService, state: BatchState, row: ManifestRow, batch_id: str,
                 source: Path) -> tuple[int, JobState, str, str | None]:
    """Steps 2-4 of the module docstring; returns (version, outcome, content address, note)."""
    from ..publish import PublishHooks, PublishOptions, PublishRequest, publish

    key = publish_key(row, source)
    category = Category(row.category)
    existing = service.catalog.version_with_key(row.sku, key)
    if existing is not None:
        product = service.catalog.get(row.sku)
        note = None
        if product.current_version != existing.number:
            service.catalog.rollback(row.sku, existing.number)
            note = f"version {existing.number} made current again"
        version, outcome = existing.number, JobState.unchanged
    else:
        def journal(path: Path) -> None:
            state.add_pending(batch_id, row.line, object_key(file_sha256(path)))

        request = PublishRequest(source, row.sku, category, row.name, row.variants, row.note,
                                 publish_key=key)
        options = PublishOptions(lods=row.lods, texture_format=row.texture_format,
                                 texture_max_size=row.texture_max_size, lod_textures=row.lod_textures,
                                 units=row.units, up=row.up)
        report = publish(request, service.store, service.catalog, limits=service.settings.limits(),
                         options=options, hooks=PublishHooks(before_put=journal))
        version, outcome, note = report.version, JobState.published, None
    if row.tryon:
        service.catalog.set_tryon(row.sku, row.tryon, row.name)
    return version, outcome, key, note


def cleanup(service: AssetService, state: BatchState, batch_id: str, line: int,
            stale_after_s: float | None = None) -> list[str]:
    """Delete the journaled objects no version references (and a local store's partial copies untouched for
    ``stale_after_s``, default the heartbeat timeout; 0 when the caller knows the attempt is dead); returns them."""
    keys = state.pending(batch_id, line)
    if not keys:
        return []
    with service.catalog.session() as s:
        used = set(s.scalars(select(Asset.storage_key).where(Asset.storage_key.in_(keys))).all())
    removed = [k for k in keys if k not in used]
    for key in removed:
        service.store.delete(key)
    stale = service.settings.batch_heartbeat_timeout_s if stale_after_s is None else stale_after_s
    for key in keys:  # a copy killed half-way, even of an object a later attempt stored whole
        _remove_partials(service, key, stale)
    state.clear_pending(batch_id, line, keys)
    if removed:
        logger.info("line %d: removed %d object(s) an earlier attempt left in the store", line, len(removed))
    return removed


def _remove_partials(service: AssetService, key: str, stale_s: float) -> None:
    """A local store writes ``.<sha[:16]>.*.part`` first; a killed copy leaves one behind. Only partial files no
    one has written to for ``stale_s`` are removed (a live copy of the same bytes keeps writing; a dead worker's
    job is retried only after the heartbeat timeout)."""
    from ..store.local import LocalStore

    if isinstance(service.store, LocalStore):
        sha = sha_of_key(key)
        for part in service.store.path_of(key).parent.glob(f".{sha[:16]}.*.part"):
            with contextlib.suppress(FileNotFoundError):
                if time.time() - part.stat().st_mtime >= stale_s:
                    part.unlink()
