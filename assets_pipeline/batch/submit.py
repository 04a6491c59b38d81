"""Submitting a manifest: check every row (files, options, the catalog's categories), record the batch, then
enqueue one job per row on the broker, or run them in local processes when no broker is configured."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from ..catalog.models import Product
from ..service import AssetService
from .manifest import Manifest, ManifestError, Problem, read_manifest
from .sources import is_bucket_url
from .state import BatchState, new_batch_id


def check_manifest(path: Path, service: AssetService) -> Manifest:
    """Read the manifest and add the rows whose SKU exists in the catalog with another category to its problems."""
    manifest = read_manifest(path, service.settings.limits())
    skus = [r.sku for r in manifest.rows]
    known: dict[str, str] = {}
    with service.catalog.session() as s:
        for i in range(0, len(skus), 500):
            known.update({sku: cat.value for sku, cat in s.execute(
                select(Product.sku, Product.category).where(Product.sku.in_(skus[i:i + 500])))})
    keep = []
    for row in manifest.rows:
        bucket_problem = _bucket_problem(service, row.source) if is_bucket_url(row.source) else None
        if bucket_problem is not None:
            manifest.problems.append(Problem(row.line, "path", bucket_problem))
            manifest.bad_lines.append(row.line)
            manifest.bad_skus[row.line] = row.sku
        elif row.sku in known and known[row.sku] != row.category:
            manifest.problems.append(Problem(row.line, "category", f"SKU {row.sku!r} already exists as "
                                                                   f"{known[row.sku]}, not {row.category}"))
            manifest.bad_lines.append(row.line)
            manifest.bad_skus[row.line] = row.sku
        else:
            keep.append(row)
    manifest.rows = keep
    manifest.problems.sort(key=lambda p: p.line)
    manifest.bad_lines.sort()
    return manifest


def _bucket_problem(service: AssetService, url: str) -> str | None:
    """What is wrong with a model in a bucket (missing, too large, unreachable), or None."""
    from ..errors import AssetError
    from .sources import object_size

    try:
        size = object_size(service.settings, url)
    except AssetError as exc:
        return f"{url!r}: {'no such object' if exc.code == 'not_found' else exc.problem}"
    limit = service.settings.limits().max_file_bytes
    if size == 0:
        return f"{url!r}: object is empty"
    if size > limit:
        return f"{url!r}: {size:,} bytes exceeds the limit of {limit:,}"
    return None


def submit(manifest: Manifest, service: AssetService, *, skip_bad: bool = False,
           run_local: Callable[[str, Manifest], None] | None = None, processes: int | None = None) -> str:
    """Record the batch and enqueue its jobs (broker) or run them here (local); returns the batch id.

    Raises ManifestError, enqueuing nothing, when any row is bad and ``skip_bad`` is not set.
    """
    from .local import LocalRunner, default_processes

    if manifest.problems and (not skip_bad or not manifest.rows):
        raise ManifestError(manifest.path, manifest.problems)
    settings = service.settings
    batch_id = new_batch_id()
    state = BatchState(service.catalog)
    skipped = []
    for line in manifest.bad_lines:
        reasons = "; ".join(f"{p.field}: {p.message}" if p.field else p.message
                            for p in manifest.problems if p.line == line)
        skipped.append((line, manifest.bad_skus.get(line, ""), str(manifest.path), reasons))
    mode = "broker" if settings.batch_broker_url else "local"
    state.create(batch_id, str(manifest.path), mode, manifest.rows, skipped)
    if settings.batch_broker_url:
        from .broker import enqueue

        try:
            enqueue(settings, batch_id, manifest.rows)
        except BaseException:
            state.withdraw(batch_id)  # jobs enqueued before the failure find no batch and do nothing
            raise
    else:
        runner = LocalRunner(settings, service, processes or default_processes())
        runner.run(batch_id, manifest.rows, (lambda: run_local(batch_id, manifest)) if run_local else None)
    return batch_id
