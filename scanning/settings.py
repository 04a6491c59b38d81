"""Settings for the scanning package (environment prefix ``PHYGITAL_SCAN_``).

Read once at the entry point (the CLI) and passed down; library functions take options objects.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from scanning.cleanup import CleanupOptions
from scanning.fusion import FusionOptions
from scanning.reconstruct import CaptureOptions, CloudOptions
from scanning.surface import SurfaceOptions


class ScanSettings(BaseSettings):
    """Defaults a deployment may change without touching code.

    ``PHYGITAL_SCAN_VOXELS_ACROSS=256`` makes every fusion finer, for example.
    """

    model_config = SettingsConfigDict(env_prefix="PHYGITAL_SCAN_", env_nested_delimiter="__", extra="ignore")

    # defaults are the library options' own (one place each)
    voxels_across: int = Field(FusionOptions().voxels_across, ge=32, le=1024,
                          description="fusion grid resolution along the object's diagonal")
    target_triangles: int = Field(CleanupOptions().target_triangles, ge=100,
                          description="cleanup simplifies to at most this many triangles")
    max_frames: int = Field(CaptureOptions().max_frames, ge=2,
                          description="refuse captures with more frames than this")
    max_cloud_points: int = Field(CloudOptions().max_points, ge=4,
                          description="refuse point clouds larger than this")
    poisson_depth: int = Field(SurfaceOptions().depth, ge=5, le=11,
                          description="octree depth of Poisson reconstruction for clouds")
