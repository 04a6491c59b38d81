"""Point cloud readers: PLY, PCD, XYZ with and without normals and colors; bad and tiny clouds."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanning.clouds import MIN_POINTS, read_cloud, validate_cloud
from scanning.errors import CloudError, ScanError


def _sphere(n: int = 500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    nrm = rng.normal(size=(n, 3))
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    return 0.1 * nrm, nrm, rng.random((n, 3))


@pytest.mark.parametrize("suffix", [".ply", ".pcd"])
@pytest.mark.parametrize("with_normals", [True, False])
def test_open3d_formats(tmp_path: Path, suffix: str, with_normals: bool) -> None:
    pts, nrm, col = _sphere()
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pc.colors = o3d.utility.Vector3dVector(col)
    if with_normals:
        pc.normals = o3d.utility.Vector3dVector(nrm)
    path = tmp_path / f"c{suffix}"
    o3d.io.write_point_cloud(str(path), pc)
    cloud = read_cloud(path)
    assert len(cloud) == 500 and np.allclose(cloud.points, pts, atol=1e-5)
    assert (cloud.normals is not None) == with_normals
    assert cloud.colors is not None and np.allclose(cloud.colors, col, atol=1 / 255)


@pytest.mark.parametrize("columns", ["xyz", "xyz+normals", "xyz+rgb255", "xyz+normals+rgb"])
def test_xyz_columns(tmp_path: Path, columns: str) -> None:
    pts, nrm, col = _sphere()
    parts = {"xyz": [pts], "xyz+normals": [pts, nrm], "xyz+rgb255": [pts, col * 255],
             "xyz+normals+rgb": [pts, nrm, col]}[columns]
    path = tmp_path / "c.xyz"
    np.savetxt(path, np.hstack(parts), header="exported", comments="# ")
    cloud = read_cloud(path)
    assert np.allclose(cloud.points, pts, atol=1e-6)
    assert (cloud.normals is not None) == ("normals" in columns)
    assert (cloud.colors is not None) == ("rgb" in columns)
    if cloud.colors is not None:
        assert np.allclose(cloud.colors, col, atol=1e-6)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(CloudError, match="file not found"):
        read_cloud(tmp_path / "none.ply")
    (tmp_path / "empty.ply").write_bytes(b"")
    with pytest.raises(CloudError, match="file is empty") as exc:
        read_cloud(tmp_path / "empty.ply")
    assert exc.value.file == str(tmp_path / "empty.ply")


def test_malformed_ply(tmp_path: Path) -> None:
    (tmp_path / "bad.ply").write_text("ply\nformat ascii 1.0\nelement vertex 5\nend_header\n1 2\n")
    with pytest.raises(CloudError, match="no points could be read"):
        read_cloud(tmp_path / "bad.ply")


def test_three_point_cloud(tmp_path: Path) -> None:
    (tmp_path / "three.xyz").write_text("0 0 0\n1 0 0\n0 1 0\n")
    with pytest.raises(CloudError, match=f"has 3 usable points; at least {MIN_POINTS}"):
        read_cloud(tmp_path / "three.xyz")


def test_malformed_xyz_line(tmp_path: Path) -> None:
    (tmp_path / "c.xyz").write_text("0 0 0\n1 0 zero\n")
    with pytest.raises(CloudError, match="line 2: not numbers"):
        read_cloud(tmp_path / "c.xyz")
    (tmp_path / "d.xyz").write_text("0 0 0\n1 0\n")
    with pytest.raises(CloudError, match="line 2: expected 3 numbers"):
        read_cloud(tmp_path / "d.xyz")


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "c.obj").write_text("v 0 0 0\n")
    with pytest.raises(CloudError, match=r"unsupported point cloud format '\.obj'"):
        read_cloud(tmp_path / "c.obj")


def test_nan_rows_are_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    pts, _, _ = _sphere()
    pts[:7, 1] = np.nan
    pts[7, 2] = np.inf
    with caplog.at_level(logging.WARNING, "scanning.clouds"):
        cloud = validate_cloud(pts, source="scan.ply")
    assert len(cloud) == 492 and np.all(np.isfinite(cloud.points))
    assert "scan.ply: 8 points with NaN or infinite values dropped" in caplog.text


def test_collinear_points_are_refused() -> None:
    pts = np.zeros((200, 3))
    pts[:, 0] = np.linspace(0, 1, 200)
    with pytest.raises(CloudError, match="on a line"):
        validate_cloud(pts)


def test_limit_on_points() -> None:
    with pytest.raises(CloudError, match="exceeds the limit"):
        validate_cloud(np.random.default_rng(0).random((300, 3)), max_points=200)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.-e \tnaif,#\n", max_size=40), max_size=30))
def test_xyz_parser_never_escapes_with_another_error(tmp_path_factory: pytest.TempPathFactory,
                                                     lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("h") / "c.xyz"
    path.write_text("\n".join(lines))
    with contextlib.suppress(ScanError):
        read_cloud(path)
