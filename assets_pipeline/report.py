"""Reports returned by the pipeline (data only; the CLI renders them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SIZE_DECIMALS = 4
"""Sizes are shown and stored to 0.1 mm (4 decimals in meters): finer digits are float noise, not the product."""


def round_size(value: float) -> float:
    """One size rounded to 0.1 mm (in meters) for reports, manifests and listings."""
    return round(float(value), SIZE_DECIMALS)


@dataclass(slots=True)
class StepReport:
    """One transform's run: its name, seconds and triangles after it."""
    name: str
    seconds: float
    triangles: int


@dataclass(slots=True)
class LodReport:
    """One output level: ratio, path, triangles, bytes, measured error and texture sizes."""
    ratio: float
    path: str | None
    triangles: int
    bytes: int = 0
    error: float | None = None
    """Symmetric Hausdorff distance to the input, as a fraction of the bounding-box diagonal."""
    textures: list[list[int]] = field(default_factory=list)
    """[width, height] in pixels of each image the output carries (a LOD's are scaled down with its triangles)."""


@dataclass(slots=True)
class AnimationReport:
    """What animation compression did: channels, keys and bytes before and after, bounds and measured errors.

    Bytes are the decoded size of the keyframe data (times and values) before meshopt compression.
    Errors are the largest measured on any channel: rotation as an angle in radians, translation as a
    fraction of the model's bounding-box diagonal (in world units), scale relative, weights absolute.
    """
    channels: int = 0
    channels_dropped: int = 0
    """Of ``channels``, those left out: they held their node at its rest value (within the bound)."""
    keys_in: int = 0
    keys_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rotation_bound_rad: float = 0.0
    translation_bound: float = 0.0
    scale_bound: float = 0.0
    weight_bound: float = 0.0
    rotation_error_rad: float = 0.0
    translation_error: float = 0.0
    scale_error: float = 0.0
    weight_error: float = 0.0


@dataclass(slots=True)
class OptimizeReport:
    """What ``optimize`` did: input and output, bytes, triangles, LODs, steps, size in meters, warnings."""
    input: str
    output: str | None
    bytes_in: int
    bytes_out: int = 0
    triangles_in: int = 0
    dimensions_m: list[float] = field(default_factory=list)
    extensions_used: list[str] = field(default_factory=list)
    lods: list[LodReport] = field(default_factory=list)
    steps: list[StepReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    animation: AnimationReport | None = None
    """Set when the input has animations and they were compressed."""
    flat_normals_dropped: int = 0
    """Primitives whose NORMAL was only their face normals (flat shading) and was dropped so that their vertices
    weld; glTF clients compute flat normals themselves and the USDZ writer writes per-face normals."""

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)
