"""Phygital scanning: RGB-D captures or point clouds in, clean, correctly sized, AR-ready product models out.

Stages, one module each: ``frames`` / ``clouds`` (read + validate) -> ``poses`` (when the capture has none) ->
``region`` (table plane, object bounds) -> ``fusion`` / ``surface`` -> ``cleanup`` -> ``handoff`` (the asset
pipeline's optimize -> GLB). ``synthetic`` renders benchmark captures from real meshes; ``metrics`` scores them.

Library use::

    from assets_pipeline.settings import AssetSettings
    from scanning import publish_product, reconstruct_capture, write_product
    mesh, report = reconstruct_capture("capture/")
    write_product(mesh, "product.glb")
    publish_product(mesh, "product.glb", "SKU-123", settings=AssetSettings())  # GLB + LODs, USDZ, thumbnail

Open3D is imported on first use, so ``python -m scanning --help`` stays fast.
"""

from __future__ import annotations

from scanning.errors import (
    CloudError,
    FrameError,
    HandoffError,
    InputError,
    PoseError,
    ReconstructionError,
    ScanError,
)
from scanning.frames import Frame, Intrinsics, RGBDSequence, read_sequence, write_sequence
from scanning.handoff import publish_product, write_product
from scanning.mesh import Mesh
from scanning.reconstruct import (
    CaptureOptions,
    CloudOptions,
    ScanReport,
    reconstruct_capture,
    reconstruct_cloud,
    reconstruct_frames,
)
from scanning.settings import ScanSettings

__all__ = [
    "CaptureOptions",
    "CloudError",
    "CloudOptions",
    "Frame",
    "FrameError",
    "HandoffError",
    "InputError",
    "Intrinsics",
    "Mesh",
    "PoseError",
    "RGBDSequence",
    "ReconstructionError",
    "ScanError",
    "ScanReport",
    "ScanSettings",
    "publish_product",
    "read_sequence",
    "reconstruct_capture",
    "reconstruct_cloud",
    "reconstruct_frames",
    "write_product",
    "write_sequence",
]
