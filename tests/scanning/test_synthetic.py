"""The benchmark generator: exact geometry without noise, the noise model's shape, the camera paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scanning.errors import InputError
from scanning.metrics import distance_to_mesh
from scanning.region import backproject
from scanning.synthetic import NoiseModel, SynthOptions, camera_path, load_truth, render

OPTS = SynthOptions(views=4, width=160, height=120)


@pytest.fixture(scope="module")
def bunny(corpus: Path) -> tuple[np.ndarray, np.ndarray]:
    return load_truth(corpus / "models" / "stanford-bunny.obj", 0.2)


@pytest.mark.parametrize("name", ["stanford-bunny", "spot", "beast"])
def test_truth_stands_on_the_table_at_the_asked_size(corpus: Path, name: str) -> None:
    v, f = load_truth(corpus / "models" / f"{name}.obj", 0.25)
    assert np.ptp(v, axis=0).max() == pytest.approx(0.25)
    assert v[:, 2].min() == pytest.approx(0.0, abs=1e-12)
    assert len(f) > 100  # beast.obj has polygons: trimesh triangulates them all


def test_exact_depth_lies_on_the_mesh_or_the_table(bunny: tuple[np.ndarray, np.ndarray]) -> None:
    cap = render(*bunny, SynthOptions(views=3, width=160, height=120, noise=NoiseModel.none()))
    for depth, pose in zip(cap.depths, cap.poses, strict=True):
        pts, _ = backproject(depth, cap.intrinsics)
        world = pts @ pose[:3, :3].T + pose[:3, 3]
        on_table = np.abs(world[:, 2]) < 1e-5
        d = distance_to_mesh(world[~on_table], *bunny)
        assert on_table.mean() > 0.3 and (~on_table).sum() > 500
        assert np.percentile(d, 99) < 1e-4


def test_noise_grows_with_depth_squared(bunny: tuple[np.ndarray, np.ndarray]) -> None:
    model = NoiseModel(random_dropout=0.0, edge_dropout=0.0)
    clean = render(*bunny, SynthOptions(views=2, width=320, height=240, noise=NoiseModel.none()))
    noisy = render(*bunny, SynthOptions(views=2, width=320, height=240, noise=model))
    c, n = clean.depths[0], noisy.depths[0]
    both = (c > 0) & (n > 0)
    diff, z = (n - c)[both], c[both]
    near, far = z < np.percentile(z, 20), z > np.percentile(z, 80)
    for band in (near, far):
        assert np.std(diff[band]) == pytest.approx(float(np.mean(model.sigma(z[band]))), rel=0.15)
    assert np.std(diff[far]) > 1.5 * np.std(diff[near])


def test_dropouts_at_grazing_angles_and_edges(bunny: tuple[np.ndarray, np.ndarray]) -> None:
    clean = render(*bunny, SynthOptions(views=1, width=320, height=240, noise=NoiseModel.none()))
    noisy = render(*bunny, SynthOptions(views=1, width=320, height=240))
    lost = (clean.depths[0] > 0) & (noisy.depths[0] == 0)
    assert 0.01 < lost.mean() < 0.2
    # the table's far part is seen at grazing angles: it loses far more than the near part
    rows = clean.depths[0] > 0
    top = lost[:90][rows[:90]].mean()
    bottom = lost[-60:][rows[-60:]].mean()
    assert top > 2 * bottom


@pytest.mark.parametrize("path", ["turntable", "handheld"])
def test_camera_paths_look_at_the_object(path: str) -> None:
    poses = camera_path(SynthOptions(views=24, path=path), 0.2, 0.5)  # type: ignore[arg-type]
    for p in poses:
        assert np.allclose(p[:3, :3].T @ p[:3, :3], np.eye(3), atol=1e-9)
        to_target = np.array([0, 0, 0.08]) - p[:3, 3]
        cos = p[:3, 2] @ to_target / np.linalg.norm(to_target)
        assert cos > 0.99
        assert p[2, 3] > 0.1  # above the table
    az = np.unwrap(np.arctan2(poses[:, 1, 3], poses[:, 0, 3]))
    assert np.ptp(az) > np.radians(330)


def test_capture_writes_our_layout_with_truth(bunny: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    cap = render(*bunny, OPTS)
    root = cap.write(tmp_path / "cap")
    assert sorted(p.name for p in root.iterdir()) == ["color", "depth", "intrinsics.json", "poses.json",
                                                      "truth.ply"]


def test_bad_model(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        load_truth(tmp_path / "none.obj")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(InputError):
        load_truth(tmp_path / "empty.obj")
