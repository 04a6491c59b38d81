"""Limits that every reader enforces, so hostile files fail early with a clear message."""

from __future__ import annotations

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
