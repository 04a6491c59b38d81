"""Fusion with given poses on a small synthetic bunny, against the truth and against Open3D's volume."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scanning.errors import ReconstructionError
from scanning.frames import RGBDSequence, read_sequence
from scanning.fusion import FusionOptions, fuse
from scanning.mesh import Mesh
from scanning.metrics import compare, is_watertight
from scanning.region import ObjectRegion, find_region
from scanning.synthetic import SyntheticCapture

from .conftest import truth_in


@pytest.fixture(scope="module")
def fused(bunny_folder: Path) -> tuple[RGBDSequence, list, ObjectRegion, Mesh]:
    seq = read_sequence(bunny_folder)
    frames = seq.load_all()
    region = find_region(frames, seq.intrinsics)
    return seq, frames, region, fuse(frames, seq.intrinsics, region)


def test_region_finds_the_table_and_the_object(fused: tuple, bunny_capture: SyntheticCapture) -> None:
    _, _, region, _ = fused
    assert region.has_table
    up = np.linalg.inv(region.to_object)[:3, 2]
    assert up @ [0, 0, 1] > 0.999  # the table normal is the world's up
    truth = truth_in(region.to_object, bunny_capture)
    assert np.allclose(region.hi - region.lo, np.ptp(truth, axis=0), rtol=0.05)


def test_carved_mesh_is_watertight_and_accurate(fused: tuple, bunny_capture: SyntheticCapture) -> None:
    _, frames, region, mesh = fused
    assert is_watertight(mesh.triangles)
    cams = np.array([(region.to_object @ f.pose)[:3, 3] for f in frames])
    acc = compare(mesh.vertices, mesh.triangles, truth_in(region.to_object, bunny_capture),
                  bunny_capture.truth_triangles, samples=30_000, cameras=cams, table_z=0.0)
    assert acc.fscore_1 >= 0.98
    assert acc.fscore_05 >= 0.93
    assert acc.dimension_error <= 0.015
    assert mesh.colors is not None and mesh.colors.shape == mesh.vertices.shape
    assert 0.05 < float(np.mean(mesh.colors)) < 0.95  # colors come from the images, not a fill value


def test_differential_against_open3d_scalable_volume(fused: tuple) -> None:
    seq, frames, region, carved = fused
    ref = fuse(frames, seq.intrinsics, region, FusionOptions(method="scalable"))
    assert not is_watertight(ref.triangles)  # open bottom: the reason for the carve method
    # every surface Open3D's volume reconstructs is also on ours
    acc = compare(carved.vertices, carved.triangles, ref.vertices, ref.triangles, samples=30_000)
    assert acc.recall_1 >= 0.99
    assert acc.chamfer < 0.004 * region.size


def test_frames_without_a_common_object(fused: tuple) -> None:
    seq, frames, region, _ = fused
    shift = np.array([3.0, 0, 0])
    far = ObjectRegion(region.to_object, region.lo + shift, region.hi + shift, True, region.noise)
    with pytest.raises(ReconstructionError, match="no surface"):
        fuse(frames, seq.intrinsics, far)


def test_unposed_frames_are_refused(fused: tuple) -> None:
    from dataclasses import replace

    seq, frames, region, _ = fused
    with pytest.raises(ReconstructionError, match="needs a pose"):
        fuse([replace(frames[0], pose=None), *frames[1:]], seq.intrinsics, region)
