"""A turntable capture with no background (the object cropped out of its frames): poses from the object itself."""

from __future__ import annotations

import numpy as np
import pytest

from scanning.frames import Frame, Intrinsics
from scanning.mesh import Mesh
from scanning.metrics import is_watertight
from scanning.poses import estimate_poses
from scanning.reconstruct import ScanReport, reconstruct_frames
from scanning.region import backproject
from scanning.synthetic import NoiseModel, SynthOptions, render

BOX = (0.19, 0.07, 0.27)  # a cereal box, meters: width, depth, height


def _turntable_box(views: int = 24) -> tuple[list[Frame], Intrinsics]:
    """A textured box turned a full turn in front of a still camera, everything but the box cropped away (the
    same frames as a camera orbiting the box with nothing else in view)."""
    import trimesh

    box = trimesh.creation.box(BOX)
    v = np.asarray(box.vertices) + np.array([0.0, 0.0, BOX[2] / 2])
    opts = SynthOptions(views=views, width=320, height=240, table_radius=1e-4, noise=NoiseModel(), seed=3)
    cap = render(v, np.asarray(box.faces), opts)
    return [Frame(i, c, d, None, f"{i:06d}") for i, (c, d) in enumerate(zip(cap.colors, cap.depths, strict=True))], (
        cap.intrinsics
    )


@pytest.fixture(scope="module")
def fused() -> tuple[list[Frame], Intrinsics, Mesh, ScanReport]:
    frames, intr = _turntable_box()
    posed = estimate_poses(frames, intr)
    mesh, report = reconstruct_frames(posed, intr)  # the estimated poses, given
    return posed, intr, mesh, report


def test_a_box_on_a_turntable_fuses_into_one_box_of_its_size(fused: tuple) -> None:
    """The box's large faces are seen from both sides as it turns: the old region search took one of them for
    the table, stood the model on it and cut it there; before that, registration from identity slid the first
    pair into the box turned half round. Now such planes are set aside, a colored start turns the view, and
    the model is the box, at its size and volume, standing along the turn's axis."""
    _, _, mesh, _ = fused
    assert is_watertight(mesh.triangles)
    assert mesh.extent[1] == pytest.approx(BOX[2], rel=0.05)  # y up: the turn's axis, the box's height
    # halfway up, the surface is one 19 x 7 cm rectangle (views that disagree give a wider, rounder section)
    v = mesh.vertices
    ring = v[np.abs(v[:, 1] - (v[:, 1].min() + v[:, 1].max()) / 2) < mesh.voxel][:, [0, 2]]
    ring = ring - ring.mean(axis=0)
    axes = np.linalg.svd(ring, full_matrices=False)[2]
    size = np.ptp(ring @ axes.T, axis=0)
    assert size == pytest.approx(BOX[:2], abs=0.01)
    # no skirt: with nothing behind the box, space beside its foot is cleared by the pixels that see nothing
    # (it stayed inside as the box's shadow: 1.41x the box's volume)
    a, b, c = (v[mesh.triangles[:, k]] for k in range(3))
    volume = float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0
    assert volume == pytest.approx(float(np.prod(BOX)), rel=0.1)


def test_every_frame_lies_on_the_one_fused_surface(fused: tuple) -> None:
    """One surface, not several copies: the frames' points, moved by the estimated poses, lie within two voxels
    of the fused surface (a smeared or duplicated model leaves frames off it). Measured: 23 of 24 frames 1.00,
    the first 0.68 (its edge-on view of the box registers worst)."""
    import open3d as o3d

    posed, intr, mesh, report = fused
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(mesh.vertices.astype(np.float32)), o3d.core.Tensor(mesh.triangles.astype(np.uint32))
    )
    m = np.asarray(report.world_to_model)
    shares = []
    for f in posed:
        pts, _ = backproject(f.depth, intr, 2)
        obj = (pts @ f.pose[:3, :3].T + f.pose[:3, 3]) @ m[:3, :3].T + m[:3, 3]
        d = scene.compute_distance(o3d.core.Tensor(obj.astype(np.float32))).numpy()
        shares.append(float(np.mean(d < 2 * mesh.voxel)))
    assert np.mean(np.array(shares) > 0.9) >= 0.9, np.round(shares, 2)
    assert min(shares) > 0.5, np.round(shares, 2)

