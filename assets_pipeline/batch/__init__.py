"""Batch publishing: a manifest of models -> one idempotent publish job per row, on Dramatiq workers sharing a
Redis broker (``phygital-assets worker``) or, with no broker configured, in local worker processes.

Data flow: ``manifest.py`` (read, check) -> ``submit.py`` (record the batch in ``state.py``, enqueue through
``broker.py`` or run through ``local.py``) -> ``jobs.py`` (one row: content address from ``content.py``,
publish, journal and clean up store keys) -> ``state.py`` (``batch status``).
"""

from __future__ import annotations

from .jobs import JobFailed, JobResult, run_job
from .manifest import Manifest, ManifestError, ManifestRow, Problem, read_manifest
from .models import JobState
from .state import BatchState, BatchStatus
from .submit import check_manifest, submit

__all__ = ["BatchState", "BatchStatus", "JobFailed", "JobResult", "JobState", "Manifest", "ManifestError",
           "ManifestRow", "Problem", "check_manifest", "read_manifest", "run_job", "submit"]
