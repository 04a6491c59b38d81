"""Errors raised by the scanning package.

Hierarchy::

    ScanError                  base; structured fields file, field, problem
    ├── InputError             the caller sent something bad (files, arrays, options)
    │   ├── FrameError         an RGB-D frame or its metadata (intrinsics, poses) is unusable
    │   └── CloudError         a point cloud is unusable
    └── ReconstructionError    the input was readable but we could not build a trustworthy model
        ├── PoseError          poses could not be estimated (noise, no overlap)
        └── HandoffError       the asset pipeline is missing or rejected the mesh

Every error renders as one line: ``"<file>: <field>: <problem>"`` (missing parts are left out).
"""

from __future__ import annotations

from pathlib import Path


class ScanError(Exception):
    """Base class: one-line message built from ``file``, ``field`` and ``problem``."""

    def __init__(self, problem: str, *, file: str | Path | None = None, field: str | None = None) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.field) if p]
        parts.append(self.problem)
        return ": ".join(parts)


class InputError(ScanError):
    """Bad input: the file, array or option given to us cannot be used."""


class FrameError(InputError):
    """An RGB-D frame, the intrinsics or the poses are missing or malformed."""


class CloudError(InputError):
    """A point cloud is missing, malformed or too small."""


class ReconstructionError(ScanError):
    """The input was readable but no trustworthy model could be built from it."""


class PoseError(ReconstructionError):
    """Camera poses could not be estimated reliably."""


class HandoffError(ReconstructionError):
    """The asset pipeline is unavailable or failed on the reconstructed mesh."""
