"""Capture folders: our layout, TUM RGB-D, Open3D/Redwood, and every kind of bad input the issue lists."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanning.errors import FrameError
from scanning.frames import Intrinsics, read_intrinsics, read_sequence, validate_poses, write_sequence
from scanning.synthetic import SyntheticCapture

INTR = Intrinsics(32, 24, 30.0, 30.0, 15.5, 11.5)


def _frames(n: int = 3) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    colors = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(n)]
    depths = [np.full((24, 32), 0.5 + 0.1 * i, np.float32) for i in range(n)]
    poses = np.stack([np.eye(4)] * n)
    poses[:, 0, 3] = np.arange(n) * 0.01
    return colors, depths, poses


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    colors, depths, poses = _frames()
    return write_sequence(tmp_path / "cap", INTR, colors, depths, poses)


def test_roundtrip_of_our_layout(capture: Path) -> None:
    seq = read_sequence(capture)
    assert seq.layout == "phygital" and len(seq) == 3 and seq.intrinsics == INTR and seq.depth_scale == 1000
    frames = seq.load_all()
    colors, depths, poses = _frames()
    for f, c, d, p in zip(frames, colors, depths, poses, strict=True):
        assert np.array_equal(f.color, c)
        assert np.allclose(f.depth, d, atol=5e-4)
        assert np.allclose(f.pose, p)


def test_write_refuses_a_non_empty_folder(capture: Path) -> None:
    colors, depths, _ = _frames()
    with pytest.raises(FrameError, match="already exists"):
        write_sequence(capture, INTR, colors, depths)


def test_tum_layout(bunny_capture: SyntheticCapture, tmp_path: Path) -> None:
    root = tmp_path / "rgbd_dataset_freiburg1_test"
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    rgb, dep, gt = ["# color images"], ["# depth"], ["# timestamp tx ty tz qx qy qz qw"]
    for i in range(3):
        t = 100.0 + i / 30
        cv2.imwrite(str(root / "rgb" / f"{t:.6f}.png"), bunny_capture.colors[i][:, :, ::-1])
        cv2.imwrite(str(root / "depth" / f"{t:.6f}.png"), (bunny_capture.depths[i] * 5000).astype(np.uint16))
        rgb.append(f"{t + 0.004:.6f} rgb/{t:.6f}.png")
        dep.append(f"{t:.6f} depth/{t:.6f}.png")
        pose = bunny_capture.poses[i]
        q = _matrix_to_quat(pose[:3, :3])
        gt.append(" ".join(f"{v:.9f}" for v in (t + 0.001, *pose[:3, 3], *q)))
    (root / "rgb.txt").write_text("\n".join(rgb))
    (root / "depth.txt").write_text("\n".join(dep))
    (root / "groundtruth.txt").write_text("\n".join(gt))
    (root / "intrinsics.json").write_text(json.dumps(bunny_capture.intrinsics.to_dict()))
    seq = read_sequence(root)
    assert seq.layout == "tum" and len(seq) == 3 and seq.depth_scale == 5000
    assert seq.poses is not None and np.allclose(seq.poses, bunny_capture.poses[:3], atol=1e-6)
    f = seq.load(1)
    assert f is not None and np.allclose(f.depth, bunny_capture.depths[1], atol=2e-4)
    (root / "intrinsics.json").unlink()
    assert read_sequence(root).intrinsics.fx == 517.3  # freiburg1 from the folder name


def test_tum_listing_with_most_files_missing_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A TUM folder copied in part (18 of 997 listed frames, as a public capture came): one line saying how many
    listed frames are missing, of how many, the first of them and which listing names them; the present ones are
    used. It was two warnings per missing frame (color and depth), 1,960 lines before anything else."""
    colors, depths, _ = _frames(3)
    root = tmp_path / "partial"
    (root / "rgb").mkdir(parents=True)
    (root / "depth").mkdir()
    rgb, dep = ["# timestamp filename"], ["# timestamp filename"]
    for i in range(40):
        t = 100.0 + i / 30
        rgb.append(f"{t:.6f} rgb/{t:.6f}.png")
        dep.append(f"{t:.6f} depth/{t:.6f}.png")
        if i in (5, 6, 30):
            cv2.imwrite(str(root / "rgb" / f"{t:.6f}.png"), colors[i % 3])
            cv2.imwrite(str(root / "depth" / f"{t:.6f}.png"), (depths[i % 3] * 5000).astype(np.uint16))
    (root / "rgb.txt").write_text("\n".join(rgb))
    (root / "depth.txt").write_text("\n".join(dep))
    (root / "intrinsics.json").write_text(json.dumps(INTR.to_dict()))
    with caplog.at_level(logging.WARNING, "scanning.frames"):
        frames = read_sequence(root).load_all()
    assert [f.name for f in frames] == ["100.166667", "100.200000", "101.000000"]
    assert len(caplog.records) == 1, caplog.text
    assert caplog.records[0].getMessage() == (
        f"{root}: rgb.txt and depth.txt: 37 of 40 listed frames are missing (first: rgb/100.000000.png, "
        "rgb/100.033333.png); using the 3 present"
    )
    caplog.clear()
    for line in dep[1:]:  # only color images missing: the warning names rgb.txt
        cv2.imwrite(str(root / line.split()[1]), (depths[0] * 5000).astype(np.uint16))
    with caplog.at_level(logging.WARNING, "scanning.frames"):
        assert len(read_sequence(root)) == 3
    only_rgb = f"{root / 'rgb.txt'}: 37 of 40 listed frames are missing (first: rgb/100.000000.png, rgb/100.033333.png)"
    assert caplog.records[0].getMessage() == only_rgb + "; using the 3 present"


def _matrix_to_quat(r: np.ndarray) -> tuple[float, float, float, float]:
    w = np.sqrt(max(0.0, 1 + r[0, 0] + r[1, 1] + r[2, 2])) / 2
    x = np.copysign(np.sqrt(max(0.0, 1 + r[0, 0] - r[1, 1] - r[2, 2])) / 2, r[2, 1] - r[1, 2])
    y = np.copysign(np.sqrt(max(0.0, 1 - r[0, 0] + r[1, 1] - r[2, 2])) / 2, r[0, 2] - r[2, 0])
    z = np.copysign(np.sqrt(max(0.0, 1 - r[0, 0] - r[1, 1] + r[2, 2])) / 2, r[1, 0] - r[0, 1])
    return x, y, z, w


def _redwood(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """A Redwood-layout capture without pose files; returns its folder and the true camera poses."""
    colors, depths, poses = _frames()
    root = tmp_path / "redwood"
    (root / "image").mkdir(parents=True)
    (root / "depth").mkdir()
    for i, (c, d) in enumerate(zip(colors, depths, strict=True)):
        cv2.imwrite(str(root / "image" / f"{i:06d}.jpg"), c)
        cv2.imwrite(str(root / "depth" / f"{i:06d}.png"), (d * 1000).astype(np.uint16))
    k = INTR.matrix()
    (root / "camera_intrinsic.json").write_text(
        json.dumps({"width": 32, "height": 24, "intrinsic_matrix": k.T.ravel().tolist()})
    )
    return root, poses


def _write_log(path: Path, matrices: np.ndarray, relative: bool = False) -> None:
    log = []
    for i, p in enumerate(matrices):
        log.append(f"{i} {i + 1} {len(matrices)}" if relative else f"{i} {i} {i + 1}")
        log += [" ".join(str(v) for v in row) for row in p]
    path.write_text("\n".join(log))


def test_redwood_layout_with_log_trajectory(tmp_path: Path) -> None:
    root, poses = _redwood(tmp_path)
    _write_log(root / "trajectory.log", poses)
    seq = read_sequence(root)
    assert seq.layout == "redwood" and seq.intrinsics == INTR
    assert seq.poses is not None and np.allclose(seq.poses, poses)


def _drifted(poses: np.ndarray) -> np.ndarray:
    out = poses.copy()
    out[:, :3, 3] += 0.05 * np.arange(len(poses))[:, None]
    return out


def test_redwood_trajectory_chosen_over_odometry(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Open3D's RGB-D sample ships odometry.log and trajectory.log: the alphabetically first (odometry) was taken
    silently; the trajectory is taken by name, with a warning naming the file left out."""
    root, poses = _redwood(tmp_path)
    _write_log(root / "odometry.log", _drifted(poses))
    _write_log(root / "trajectory.log", poses)
    with caplog.at_level(logging.WARNING, logger="scanning.frames"):
        seq = read_sequence(root)
    assert seq.poses is not None and np.allclose(seq.poses, poses)
    assert "using trajectory.log (a camera trajectory by its name), ignoring odometry.log" in caplog.text


def test_redwood_log_of_frame_to_frame_transforms_is_not_taken_as_poses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """By content: a .log whose blocks are 'i i+1' edges holds relative transforms, whatever its name."""
    root, poses = _redwood(tmp_path)
    _write_log(root / "a_trajectory.log", _drifted(poses), relative=True)
    _write_log(root / "poses.log", poses)
    with caplog.at_level(logging.WARNING, logger="scanning.frames"):
        seq = read_sequence(root)
    assert seq.poses is not None and np.allclose(seq.poses, poses)
    assert (
        "using poses.log (the only one holding camera poses), ignoring a_trajectory.log (holds frame-to-frame"
        in caplog.text
    )
    (root / "poses.log").unlink()
    with pytest.raises(FrameError, match="frame-to-frame transforms"):
        read_sequence(root)


def test_redwood_two_trajectories_are_ambiguous(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root, poses = _redwood(tmp_path)
    _write_log(root / "trajectory_a.log", poses)
    _write_log(root / "trajectory_b.log", _drifted(poses))
    with caplog.at_level(logging.WARNING, logger="scanning.frames"):
        seq = read_sequence(root)
    assert seq.poses is not None and np.allclose(seq.poses, poses)
    assert (
        "using trajectory_a.log (the same kind by name: the first alphabetically), ignoring trajectory_b.log"
        in caplog.text
    )


# ------------------------------------------------------------------------------------------ bad input


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="folder not found") as exc:
        read_sequence(tmp_path / "nope")
    assert exc.value.file == str(tmp_path / "nope")


def test_folder_without_a_capture(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="no capture found"):
        read_sequence(tmp_path)


@pytest.mark.parametrize(
    ("content", "field", "problem"),
    [
        ("{not json", None, "not valid JSON"),
        ("[1, 2]", None, "must be a JSON object"),
        ('{"width": 32, "height": 24, "fx": 30, "fy": 30, "cx": 15}', "cy", "missing"),
        ('{"width": 32, "height": 24, "fx": -30, "fy": 30, "cx": 15, "cy": 11}', "fx", "positive"),
        ('{"width": 32, "height": 24, "fx": "a", "fy": 30, "cx": 15, "cy": 11}', "fx", "finite number"),
        ('{"width": 32.5, "height": 24, "fx": 30, "fy": 30, "cx": 15, "cy": 11}', "width", "whole number"),
        ('{"width": 32, "height": 24, "fx": 30, "fy": 30, "cx": 150, "cy": 11}', "cx", "outside"),
        (
            '{"width": 32, "height": 24, "fx": 30, "fy": 30, "cx": 15, "cy": 11, "depth_scale": 0}',
            "depth_scale",
            "positive",
        ),
    ],
)
def test_malformed_intrinsics(capture: Path, content: str, field: str | None, problem: str) -> None:
    (capture / "intrinsics.json").write_text(content)
    with pytest.raises(FrameError, match=problem) as exc:
        read_sequence(capture)
    assert exc.value.file == str(capture / "intrinsics.json")
    assert exc.value.field == field


def test_missing_intrinsics_file(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="file not found"):
        read_intrinsics(tmp_path / "intrinsics.json")


def test_color_and_depth_of_different_sizes(capture: Path) -> None:
    cv2.imwrite(str(capture / "depth" / "000001.png"), np.full((12, 16), 500, np.uint16))
    seq = read_sequence(capture)
    with pytest.raises(FrameError, match=r"color is 32x24 but depth 000001\.png is 16x12") as exc:
        seq.load_all()
    assert exc.value.file == str(capture / "color" / "000001.png")


def test_images_not_matching_the_intrinsics(capture: Path) -> None:
    meta = json.loads((capture / "intrinsics.json").read_text())
    meta.update(width=64, height=48, cx=31.5, cy=23.5)
    (capture / "intrinsics.json").write_text(json.dumps(meta))
    with pytest.raises(FrameError, match="intrinsics say 64x48"):
        read_sequence(capture).load_all()


def test_all_zero_depth_frame_is_skipped_with_a_warning(capture: Path, caplog: pytest.LogCaptureFixture) -> None:
    cv2.imwrite(str(capture / "depth" / "000001.png"), np.zeros((24, 32), np.uint16))
    with caplog.at_level(logging.WARNING, "scanning.frames"):
        frames = read_sequence(capture).load_all()
    assert [f.index for f in frames] == [0, 2]
    assert "000001.png: depth has no valid measurement; frame skipped" in caplog.text


def test_empty_depth_file_is_skipped(capture: Path, caplog: pytest.LogCaptureFixture) -> None:
    (capture / "depth" / "000002.png").write_bytes(b"")
    with caplog.at_level(logging.WARNING, "scanning.frames"):
        frames = read_sequence(capture).load_all()
    assert [f.index for f in frames] == [0, 1]
    assert "missing or empty depth image" in caplog.text


def test_nan_and_inf_depth_become_missing(capture: Path, caplog: pytest.LogCaptureFixture) -> None:
    for p in (capture / "depth").iterdir():
        p.unlink()
    for i in range(3):
        d = np.full((24, 32), 0.5, np.float32)
        d[0, :4] = [np.nan, np.inf, -np.inf, -1.0]
        np.save(capture / "depth" / f"{i:06d}.npy", d)
    with caplog.at_level(logging.WARNING, "scanning.frames"):
        frames = read_sequence(capture).load_all()
    assert len(frames) == 3
    assert np.all(np.isfinite(frames[0].depth)) and np.all(frames[0].depth[0, :4] == 0)
    assert "4 NaN, infinite or negative depth values treated as missing" in caplog.text


def test_eight_bit_depth_is_refused(capture: Path) -> None:
    cv2.imwrite(str(capture / "depth" / "000000.png"), np.full((24, 32), 50, np.uint8))
    with pytest.raises(FrameError, match="16-bit or float"):
        read_sequence(capture).load_all()


def test_single_frame_is_refused(tmp_path: Path) -> None:
    colors, depths, _ = _frames(1)
    root = write_sequence(tmp_path / "one", INTR, colors, depths)
    with pytest.raises(FrameError, match="needs at least 2 frames, found 1"):
        read_sequence(root)


def test_one_usable_frame_left_is_refused(capture: Path) -> None:
    for i in (1, 2):
        cv2.imwrite(str(capture / "depth" / f"{i:06d}.png"), np.zeros((24, 32), np.uint16))
    with pytest.raises(FrameError, match="needs at least 2 usable frames, found 1 of 3"):
        read_sequence(capture).load_all()


def test_color_and_depth_counts_differ(capture: Path) -> None:
    (capture / "depth" / "000002.png").unlink()
    with pytest.raises(FrameError, match="3 color images but 2 depth images"):
        read_sequence(capture)


@pytest.mark.parametrize(
    ("poses", "problem"),
    [
        (np.stack([np.eye(4)] * 2), "2 poses for 3 frames"),
        (np.stack([np.eye(4) * 2] * 3), "not a rigid transform"),
        (np.stack([np.full((4, 4), np.nan)] * 3), "NaN or infinity"),
        ([[1, 2, 3]], "expected a list of 4x4 matrices"),
    ],
)
def test_bad_poses(capture: Path, poses: object, problem: str) -> None:
    data = np.asarray(poses).tolist()
    (capture / "poses.json").write_text(json.dumps({"poses": data}).replace("NaN", "NaN"))
    with pytest.raises(FrameError, match=problem) as exc:
        read_sequence(capture)
    assert exc.value.file == str(capture / "poses.json")


def test_validate_poses_accepts_rigid_transforms() -> None:
    a = np.eye(4)
    a[:3, :3] = cv2.Rodrigues(np.array([0.1, 0.2, 0.3]))[0]
    a[:3, 3] = [1, 2, 3]
    assert validate_poses([a, np.eye(4)], 2, "x").shape == (2, 4, 4)
