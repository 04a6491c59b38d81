"""The library API end to end, and the import boundary that keeps ``--help`` fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scanning import CaptureOptions, ReconstructionError, reconstruct_capture
from scanning.metrics import compare
from scanning.synthetic import SyntheticCapture

Z_UP = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = "import sys, scanning, scanning.cli; print(sorted({'open3d', 'cv2', 'skimage'} & set(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == "[]"


def test_unposed_capture_is_reconstructed_with_estimated_poses(bunny_folder_unposed: Path,
                                                               bunny_capture: SyntheticCapture) -> None:
    mesh, rep = reconstruct_capture(bunny_folder_unposed)
    assert rep.poses == "estimated" and rep.watertight and rep.frames_used == 16
    assert set(rep.seconds) >= {"frames", "poses", "region", "fusion", "cleanup", "total"}
    # world_to_model maps the capture's world (here the first camera) onto the product frame (y up, meters)
    m = np.array(rep.world_to_model) @ np.linalg.inv(bunny_capture.poses[0])
    truth = bunny_capture.truth_vertices @ m[:3, :3].T + m[:3, 3]
    acc = compare(mesh.vertices @ Z_UP.T, mesh.triangles, truth @ Z_UP.T, bunny_capture.truth_triangles,
                  samples=20_000)
    assert acc.fscore_1 > 0.9  # whole truth, including the hollow base no camera sees
    assert acc.dimension_error < 0.015
    assert mesh.vertices[:, 1].min() == pytest.approx(0.0, abs=1e-9)  # standing on y = 0


def test_given_poses_asked_for_but_missing(bunny_folder_unposed: Path) -> None:
    with pytest.raises(ReconstructionError, match="has no poses"):
        reconstruct_capture(bunny_folder_unposed, CaptureOptions(poses="given"))
