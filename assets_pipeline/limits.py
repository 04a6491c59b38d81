"""Limits that every reader enforces, so hostile files fail early with a clear message."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits every reader enforces: file bytes, image pixels, JSON size and depth, element counts."""
    max_file_bytes: int = 512 * 1024 * 1024
    """Largest input file (and largest external resource) read."""
    max_image_pixels: int = 8192 * 8192
    """Largest declared image size (width * height) decoded."""
    max_json_bytes: int = 64 * 1024 * 1024
    max_json_depth: int = 64
    max_elements: int = 50_000_000
    """Largest accessor element count, vertex count or index count."""


DEFAULT_LIMITS = Limits()


def processors() -> int:
    """How many processors this process may run on (its affinity where the system tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
