"""RGB-D captures: the folder layouts we read, the dataclasses they become, and their validation.

Our own layout (written by ``python -m scanning synth`` and by :func:`write_sequence`)::

    capture/
      intrinsics.json   {"width": 640, "height": 480, "fx": 525.0, "fy": 525.0, "cx": 319.5, "cy": 239.5,
                         "depth_scale": 1000.0, "depth_trunc": 3.0}
                        depth_scale = depth units per meter (1000: depth PNGs hold millimetres);
                        depth_trunc (optional, meters) ignores measurements farther than that
      color/000000.png  8-bit RGB images (.png or .jpg), any names; sorted order is frame order
      depth/000000.png  16-bit PNG in 1/depth_scale meters, or .npy float32 meters; same count as color/
      poses.json        optional {"convention": "camera_to_world", "poses": [[[4x4]], ...]} one per frame,
                        in meters, camera axes x right, y down, z forward (OpenCV / Open3D convention)
      mask/000000.png   optional, one per frame: nonzero on the object; depth elsewhere is dropped, so a
                        turntable or hand-turned object in front of a still camera is registered on itself

Public layouts also read:

* **TUM RGB-D** (``rgb.txt``, ``depth.txt``, optional ``groundtruth.txt``): depth scale 5000, frames
  associated by nearest timestamp (20 ms), intrinsics of freiburg1/2/3 from the folder name, or the ROS default,
  unless an ``intrinsics.json`` is present; ground-truth poses are used when every frame has one. Listed frames
  whose files are absent (a folder copied in part) are left out with one warning saying how many.
* **Open3D / Redwood** (``color/`` or ``image/`` or ``rgb/`` and ``depth/``, optional ``camera_intrinsic.json``
  in Open3D's ``PinholeCameraIntrinsic`` format and an optional ``*.log`` trajectory): depth scale 1000.

Bad frames (unreadable file, empty or all-zero depth) are skipped with a warning; a capture that is unusable as a
whole (no intrinsics, mismatched sizes, fewer than two usable frames) raises :class:`~scanning.errors.FrameError`
naming the file and the problem.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from assets_pipeline.geometry import quat_to_matrix
from scanning.errors import FrameError
from scanning.parallel import map_threads, thread_safe

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
DEPTH_SUFFIXES = (".png", ".npy", ".tif", ".tiff")
TUM_INTRINSICS = {
    "freiburg1": (517.3, 516.5, 318.6, 255.3),
    "freiburg2": (520.9, 521.0, 325.1, 249.7),
    "freiburg3": (535.4, 539.2, 320.1, 247.6),
}
DEFAULT_PINHOLE = (525.0, 525.0, 319.5, 239.5)  # PrimeSense / ROS default, 640x480
TUM_MAX_DT = 0.02


@dataclass(frozen=True, slots=True)
class Intrinsics:
    """Pinhole camera: image size in pixels, focal lengths and principal point in pixels."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def matrix(self) -> np.ndarray:
        """K : (3, 3) float64."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, factor: float) -> Intrinsics:
        """Intrinsics of the same camera with images resized by ``factor``."""
        return Intrinsics(
            round(self.width * factor),
            round(self.height * factor),
            self.fx * factor,
            self.fy * factor,
            (self.cx + 0.5) * factor - 0.5,
            (self.cy + 0.5) * factor - 0.5,
        )

    def to_open3d(self) -> Any:
        """Return these intrinsics as an ``open3d.camera.PinholeCameraIntrinsic``."""
        import open3d as o3d

        return o3d.camera.PinholeCameraIntrinsic(self.width, self.height, self.fx, self.fy, self.cx, self.cy)

    def to_dict(self) -> dict[str, float | int]:
        """Return the image size and pinhole parameters as a JSON-ready dict."""
        return {"width": self.width, "height": self.height, "fx": self.fx, "fy": self.fy, "cx": self.cx, "cy": self.cy}


@dataclass(frozen=True, slots=True)
class FrameRef:
    """Where one frame's images live on disk."""

    color: Path
    depth: Path
    timestamp: float | None = None
    mask: Path | None = None  # the object's pixels (nonzero); depth elsewhere is dropped


@dataclass(frozen=True, slots=True)
class Frame:
    """One usable RGB-D frame.

    color : (h, w, 3) uint8 RGB
    depth : (h, w) float32 meters, 0 where there is no measurement
    pose : (4, 4) float64 camera-to-world, or None when unknown
    """

    index: int
    color: np.ndarray
    depth: np.ndarray
    pose: np.ndarray | None = None
    name: str = ""


@dataclass(frozen=True)
class RGBDSequence:
    """A capture on disk: intrinsics, frame files and (optionally) camera-to-world poses.

    depth_scale : depth units per meter (1000 for millimetre PNGs, 5000 for TUM)
    poses : (n, 4, 4) float64 camera-to-world, or None
    """

    root: Path
    layout: str
    intrinsics: Intrinsics
    frames: tuple[FrameRef, ...]
    depth_scale: float = 1000.0
    depth_trunc: float | None = None
    poses: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.frames)

    def load(self, index: int) -> Frame | None:
        """Read and validate frame ``index``; None (with a warning) when the frame must be skipped."""
        ref = self.frames[index]
        color = _read_color(ref.color)
        depth = _read_depth(ref.depth, self.depth_scale)
        if color is None or depth is None:
            return None
        if color.shape[:2] != depth.shape:
            raise FrameError(
                f"color is {color.shape[1]}x{color.shape[0]} but depth {ref.depth.name} is "
                f"{depth.shape[1]}x{depth.shape[0]}",
                file=ref.color,
            )
        if depth.shape != (self.intrinsics.height, self.intrinsics.width):
            raise FrameError(
                f"image is {depth.shape[1]}x{depth.shape[0]} but the intrinsics say "
                f"{self.intrinsics.width}x{self.intrinsics.height}",
                file=ref.depth,
            )
        if self.depth_trunc is not None:
            depth[depth > self.depth_trunc] = 0.0
        if ref.mask is not None:
            depth[~_read_mask(ref.mask, depth.shape)] = 0.0
        if not np.any(depth > 0):
            logger.warning("%s: depth has no valid measurement; frame skipped", ref.depth)
            return None
        pose = None if self.poses is None else self.poses[index]
        return Frame(index, color, depth, pose, ref.color.stem)

    def load_all(self, progress: Any = None) -> list[Frame]:
        """Every usable frame, in order (decoded on threads: image decoding releases the GIL); raises
        FrameError when fewer than two remain."""
        tick = thread_safe(progress)

        def one(i: int) -> Frame | None:
            frame = self.load(i)
            if tick is not None:
                tick(1)
            return frame

        frames = [f for f in map_threads(one, range(len(self.frames))) if f is not None]
        if len(frames) < 2:
            raise FrameError(
                f"needs at least 2 usable frames, found {len(frames)} of {len(self.frames)}",
                file=self.root,
            )
        return frames


# --------------------------------------------------------------------------------------------- readers


def read_sequence(folder: str | Path, max_frames: int = 2000) -> RGBDSequence:
    """Detect the layout of ``folder`` and read it (see the module docstring for the layouts)."""
    root = Path(folder)
    if not root.is_dir():
        raise FrameError("not a folder" if root.exists() else "folder not found", file=root)
    if (root / "rgb.txt").is_file() and (root / "depth.txt").is_file():
        seq = _read_tum(root)
    elif (root / "intrinsics.json").is_file() and (root / "color").is_dir():
        seq = _read_phygital(root)
    elif (root / "depth").is_dir() and any((root / d).is_dir() for d in ("color", "image", "rgb")):
        seq = _read_redwood(root)
    else:
        raise FrameError(
            "no capture found: expected intrinsics.json + color/ + depth/ (our layout), rgb.txt + depth.txt (TUM) "
            "or color/ + depth/ (Open3D/Redwood)",
            file=root,
        )
    if len(seq.frames) > max_frames:
        raise FrameError(f"{len(seq.frames)} frames exceeds the limit of {max_frames}", file=root)
    if len(seq.frames) < 2:
        raise FrameError(f"needs at least 2 frames, found {len(seq.frames)}", file=root)
    return seq


def read_intrinsics(path: Path) -> tuple[Intrinsics, dict[str, Any]]:
    """Read our ``intrinsics.json`` or Open3D's ``camera_intrinsic.json``; returns (intrinsics, raw dict)."""
    data = _read_json(path)
    if not isinstance(data, dict):
        raise FrameError("must be a JSON object", file=path)
    if "intrinsic_matrix" in data:  # Open3D PinholeCameraIntrinsic, column-major 3x3
        m = data["intrinsic_matrix"]
        if not isinstance(m, list) or len(m) != 9:
            raise FrameError("must be a list of 9 numbers", file=path, field="intrinsic_matrix")
        values = {
            "width": data.get("width"),
            "height": data.get("height"),
            "fx": m[0],
            "fy": m[4],
            "cx": m[6],
            "cy": m[7],
        }
    else:
        values = {k: data.get(k) for k in ("width", "height", "fx", "fy", "cx", "cy")}
    for key in ("width", "height"):
        v = values[key]
        if v is None:
            raise FrameError("missing", file=path, field=key)
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not 1 <= v <= 100_000:
            raise FrameError(f"must be a whole number of pixels in 1..100000, got {v!r}", file=path, field=key)
    for key in ("fx", "fy", "cx", "cy"):
        v = values[key]
        if v is None:
            raise FrameError("missing", file=path, field=key)
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise FrameError(f"must be a finite number, got {v!r}", file=path, field=key)
    w, h = int(values["width"]), int(values["height"])
    if values["fx"] <= 0 or values["fy"] <= 0:
        raise FrameError("focal lengths must be positive", file=path, field="fx" if values["fx"] <= 0 else "fy")
    if not (0 <= values["cx"] <= w and 0 <= values["cy"] <= h):
        raise FrameError(
            f"principal point ({values['cx']}, {values['cy']}) is outside the {w}x{h} image", file=path, field="cx"
        )
    intr = Intrinsics(w, h, float(values["fx"]), float(values["fy"]), float(values["cx"]), float(values["cy"]))
    return intr, data


def validate_poses(poses: Any, count: int, file: Path | str) -> np.ndarray:
    """Check ``poses`` is (count, 4, 4) rigid camera-to-world transforms; returns float64 array."""
    try:
        arr = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FrameError(f"not a list of 4x4 number matrices ({exc})", file=file, field="poses") from None
    if arr.ndim != 3 or arr.shape[1:] != (4, 4):
        raise FrameError(f"expected a list of 4x4 matrices, got shape {arr.shape}", file=file, field="poses")
    if arr.shape[0] != count:
        raise FrameError(f"{arr.shape[0]} poses for {count} frames", file=file, field="poses")
    for i, m in enumerate(arr):
        if not np.all(np.isfinite(m)):
            raise FrameError("contains NaN or infinity", file=file, field=f"poses[{i}]")
        r = m[:3, :3]
        if (
            not np.allclose(m[3], [0, 0, 0, 1], atol=1e-6)
            or not np.allclose(r.T @ r, np.eye(3), atol=1e-3)
            or np.linalg.det(r) < 0
        ):
            raise FrameError("is not a rigid transform (rotation + translation)", file=file, field=f"poses[{i}]")
    return arr


def _read_phygital(root: Path) -> RGBDSequence:
    intr_path = root / "intrinsics.json"
    intr, data = read_intrinsics(intr_path)
    scale = _positive(data.get("depth_scale", 1000.0), intr_path, "depth_scale")
    trunc = data.get("depth_trunc")
    trunc = None if trunc is None else _positive(trunc, intr_path, "depth_trunc")
    frames = _with_masks(_pair_folders(root / "color", root / "depth"), root / "mask")
    poses = None
    pose_path = root / "poses.json"
    if pose_path.is_file():
        pdata = _read_json(pose_path)
        raw = pdata.get("poses") if isinstance(pdata, dict) else pdata
        if isinstance(pdata, dict) and pdata.get("convention", "camera_to_world") != "camera_to_world":
            raise FrameError("only 'camera_to_world' is supported", file=pose_path, field="convention")
        poses = validate_poses(raw, len(frames), pose_path)
    return RGBDSequence(root, "phygital", intr, tuple(frames), scale, trunc, poses)


def _read_redwood(root: Path) -> RGBDSequence:
    color_dir = next(root / d for d in ("color", "image", "rgb") if (root / d).is_dir())
    frames = _with_masks(_pair_folders(color_dir, root / "depth"), root / "mask")
    intr_path = root / "camera_intrinsic.json"
    if intr_path.is_file():
        intr, _ = read_intrinsics(intr_path)
    elif (root / "intrinsics.json").is_file():
        intr, _ = read_intrinsics(root / "intrinsics.json")
    else:
        logger.warning("%s: no camera_intrinsic.json; using the PrimeSense default 640x480 intrinsics", root)
        intr = Intrinsics(640, 480, *DEFAULT_PINHOLE)
    poses = _pick_log(sorted(root.glob("*.log")), len(frames))
    return RGBDSequence(root, "redwood", intr, tuple(frames), 1000.0, None, poses)


def _log_rank(path: Path) -> int:
    """By name: a trajectory first, an odometry estimate last, anything else between."""
    name = path.stem.lower()
    return 0 if "traj" in name else 2 if "odom" in name else 1


def _pick_log(logs: list[Path], count: int) -> np.ndarray | None:
    """Camera poses from the ``.log`` files of a Redwood capture (Open3D's sample has both ``odometry.log`` and
    ``trajectory.log``): by content, only files holding one rigid camera-to-world pose per frame (not frame-to-frame
    transforms, headers ``i i+1``); among those, by name, a trajectory before anything else before odometry. A
    choice among several is a warning naming the others; when no file fits, the first one's problem is raised."""
    fits: list[tuple[int, Path, np.ndarray]] = []
    problems: list[tuple[int, Path, FrameError]] = []
    for path in logs:
        try:
            ids, matrices = _read_log(path)
            if len(ids) > 1 and all(b == a + 1 for a, b in ids):
                raise FrameError("holds frame-to-frame transforms (headers 'i i+1'), not camera poses", file=path)
            fits.append((_log_rank(path), path, validate_poses(matrices, count, path)))
        except FrameError as exc:
            problems.append((_log_rank(path), path, exc))
    if not fits:
        if problems:
            raise min(problems, key=lambda p: (p[0], p[1].name))[2]
        return None
    fits.sort(key=lambda f: (f[0], f[1].name))
    rank, chosen, poses = fits[0]
    others = [p.name for _, p, _ in fits[1:]] + [f"{p.name} ({e.problem})" for _, p, e in problems]
    if others:
        why = (
            "the same kind by name: the first alphabetically"
            if len(fits) > 1 and fits[1][0] == rank
            else ("a camera trajectory by its name" if rank == 0 else "the only one holding camera poses")
        )
        logger.warning(
            "%s: several pose files; using %s (%s), ignoring %s", chosen.parent, chosen.name, why, ", ".join(others)
        )
    return poses


def _read_tum(root: Path) -> RGBDSequence:
    rgb = _read_tum_list(root / "rgb.txt")
    depth = _read_tum_list(root / "depth.txt")
    if not rgb or not depth:
        raise FrameError("lists no images", file=root / ("rgb.txt" if not rgb else "depth.txt"))
    rgb_t = np.array([t for t, _ in rgb])
    frames: list[FrameRef] = []
    for t, d in depth:
        j = int(np.argmin(np.abs(rgb_t - t)))
        if abs(rgb_t[j] - t) <= TUM_MAX_DT:
            frames.append(FrameRef(root / rgb[j][1], root / d, t))
    if not frames:
        raise FrameError("no color image within 20 ms of any depth image", file=root / "depth.txt")
    frames = _present(root, frames)
    if (root / "intrinsics.json").is_file():
        intr, _ = read_intrinsics(root / "intrinsics.json")
    else:
        key = next((k for k in TUM_INTRINSICS if k in root.name), None)
        intr = Intrinsics(640, 480, *(TUM_INTRINSICS[key] if key else DEFAULT_PINHOLE))
    poses = None
    gt_path = root / "groundtruth.txt"
    if gt_path.is_file():
        poses = _tum_poses(gt_path, [f.timestamp or 0.0 for f in frames])
    return RGBDSequence(root, "tum", intr, tuple(frames), 5000.0, None, poses)


def _present(root: Path, frames: list[FrameRef]) -> list[FrameRef]:
    """The frames of a TUM listing whose color and depth files both exist; the others are left out with one
    warning (how many of how many listed frames are missing, the first of them, which listing names them)."""
    lost_color = [f.color for f in frames if not f.color.is_file()]
    lost_depth = [f.depth for f in frames if not f.depth.is_file()]
    if not lost_color and not lost_depth:
        return frames
    lost = set(lost_color) | set(lost_depth)
    kept = [f for f in frames if f.color not in lost and f.depth not in lost]
    listing = " and ".join(n for n, files in (("rgb.txt", lost_color), ("depth.txt", lost_depth)) if files)
    missing = [f.color if f.color in lost else f.depth for f in frames if f.color in lost or f.depth in lost]
    first = ", ".join(str(p.relative_to(root)) for p in missing[:2])
    logger.warning(
        "%s: %d of %d listed frames are missing (first: %s); using the %d present",
        root / listing if " " not in listing else f"{root}: {listing}",
        len(frames) - len(kept),
        len(frames),
        first,
        len(kept),
    )
    return kept


def _tum_poses(path: Path, stamps: list[float]) -> np.ndarray | None:
    rows = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise FrameError(f"line {n}: not numbers", file=path) from None
        if len(values) != 8:
            raise FrameError(f"line {n}: expected 'timestamp tx ty tz qx qy qz qw'", file=path)
        rows.append(values)
    if not rows:
        return None
    gt = np.array(rows)
    poses = []
    for t in stamps:
        j = int(np.argmin(np.abs(gt[:, 0] - t)))
        if abs(gt[j, 0] - t) > TUM_MAX_DT:
            logger.warning("%s: no ground-truth pose near t=%.3f; poses will be estimated", path, t)
            return None
        tx, ty, tz, qx, qy, qz, qw = gt[j, 1:]
        m = np.eye(4)
        m[:3, :3] = quat_to_matrix((qx, qy, qz, qw), normalize=True)
        m[:3, 3] = (tx, ty, tz)
        poses.append(m)
    return validate_poses(poses, len(stamps), path)


def _read_tum_list(path: Path) -> list[tuple[float, str]]:
    out = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split()
        if len(parts) < 2:
            raise FrameError(f"line {n}: expected 'timestamp filename'", file=path)
        try:
            out.append((float(parts[0]), parts[1]))
        except ValueError:
            raise FrameError(f"line {n}: timestamp {parts[0]!r} is not a number", file=path) from None
    return out


def _read_log(path: Path) -> tuple[list[tuple[int, int]], list[np.ndarray]]:
    """The (first id, second id) header and the 4x4 matrix of every block of a Redwood/Open3D ``.log`` file."""
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    if len(lines) % 5:
        raise FrameError("a .log trajectory has 5 lines per frame (ids + 4 matrix rows)", file=path)
    ids: list[tuple[int, int]] = []
    poses = []
    for k in range(0, len(lines), 5):
        head = lines[k].split()
        try:
            ids.append((int(head[0]), int(head[1])))
        except (ValueError, IndexError):
            raise FrameError(f"line {k + 1}: a block starts with two frame ids", file=path) from None
        try:
            poses.append(np.array([[float(v) for v in lines[k + r].split()] for r in range(1, 5)]))
        except ValueError:
            raise FrameError(f"line {k + 2}: matrix rows must be numbers", file=path) from None
    return ids, poses


def _pair_folders(color_dir: Path, depth_dir: Path) -> list[FrameRef]:
    if not color_dir.is_dir():
        raise FrameError("folder not found", file=color_dir)
    if not depth_dir.is_dir():
        raise FrameError("folder not found", file=depth_dir)
    colors = sorted(p for p in color_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    depths = sorted(p for p in depth_dir.iterdir() if p.suffix.lower() in DEPTH_SUFFIXES)
    if len(colors) != len(depths):
        raise FrameError(f"{len(colors)} color images but {len(depths)} depth images in {depth_dir}", file=color_dir)
    return [FrameRef(c, d) for c, d in zip(colors, depths, strict=True)]


def _with_masks(frames: list[FrameRef], mask_dir: Path) -> list[FrameRef]:
    """The frames with their masks from ``mask_dir`` (sorted order, one per frame) when that folder exists."""
    if not mask_dir.is_dir():
        return frames
    masks = sorted(p for p in mask_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(masks) != len(frames):
        raise FrameError(f"{len(masks)} masks for {len(frames)} frames", file=mask_dir)
    return [replace(f, mask=m) for f, m in zip(frames, masks, strict=True)]


def _read_mask(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """(h, w) bool: the object's pixels (nonzero in any channel)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() and path.stat().st_size else None
    if img is None:
        raise FrameError("unreadable mask image", file=path)
    if img.shape[:2] != shape:
        raise FrameError(f"mask is {img.shape[1]}x{img.shape[0]} but depth is {shape[1]}x{shape[0]}", file=path)
    return np.asarray(img.reshape(*shape, -1).any(axis=2))


def _read_color(path: Path) -> np.ndarray | None:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() and path.stat().st_size else None
    if img is None:
        logger.warning("%s: unreadable or empty color image; frame skipped", path)
        return None
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2RGB)
    else:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img)


def _read_depth(path: Path, scale: float) -> np.ndarray | None:
    """depth : (h, w) float32 meters; NaN, infinities and negatives become 0 (no measurement)."""
    import cv2

    if not path.is_file() or path.stat().st_size == 0:
        logger.warning("%s: missing or empty depth image; frame skipped", path)
        return None
    if path.suffix.lower() == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            logger.warning("%s: unreadable depth array (%s); frame skipped", path, exc)
            return None
        if raw.ndim != 2 or raw.dtype.kind not in "fiu":
            raise FrameError(f"depth array must be 2-D numbers, got {raw.dtype} {raw.shape}", file=path)
        depth = raw.astype(np.float32)  # .npy depth is in meters
    else:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            logger.warning("%s: unreadable depth image; frame skipped", path)
            return None
        if raw.ndim != 2:
            raise FrameError(f"depth must be a single-channel image, got {raw.shape[2]} channels", file=path)
        if raw.dtype == np.uint8:
            raise FrameError("depth must be 16-bit or float, got 8-bit", file=path)
        depth = raw.astype(np.float32) / (scale if raw.dtype.kind in "iu" else 1.0)
    bad = ~np.isfinite(depth) | (depth < 0)
    if bad.any():
        logger.warning("%s: %d NaN, infinite or negative depth values treated as missing", path, int(bad.sum()))
        depth[bad] = 0.0
    return depth


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FrameError("file not found", file=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrameError(f"not valid JSON ({exc})", file=path) from None


def _positive(v: Any, file: Path, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v) or v <= 0:
        raise FrameError(f"must be a positive number, got {v!r}", file=file, field=key)
    return float(v)


# --------------------------------------------------------------------------------------------- writer


def check_new_folder(folder: str | Path) -> Path:
    """Raise FrameError if ``folder`` exists and is not an empty folder (a capture is never written over one);
    returns it as a Path. Callers check it before the work that produces the capture."""
    out = Path(folder)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FrameError("already exists and is not an empty folder", file=out)
    return out


def write_sequence(
    folder: str | Path,
    intrinsics: Intrinsics,
    colors: Sequence[np.ndarray],
    depths: Sequence[np.ndarray],
    poses: np.ndarray | None = None,
    depth_scale: float = 1000.0,
) -> Path:
    """Write a capture in our layout, atomically (a temporary sibling folder renamed at the end).

    colors : (h, w, 3) uint8 RGB each; depths : (h, w) float32 meters each; poses : (n, 4, 4) camera-to-world.
    An existing non-empty ``folder`` is refused.
    """
    import cv2

    out = check_new_folder(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "color").mkdir()
        (tmp / "depth").mkdir()
        for i, (c, d) in enumerate(zip(colors, depths, strict=True)):
            cv2.imwrite(str(tmp / "color" / f"{i:06d}.png"), cv2.cvtColor(c, cv2.COLOR_RGB2BGR))
            mm = np.clip(np.round(np.nan_to_num(d) * depth_scale), 0, 65535).astype(np.uint16)
            cv2.imwrite(str(tmp / "depth" / f"{i:06d}.png"), mm)
        meta: dict[str, Any] = {**intrinsics.to_dict(), "depth_scale": depth_scale}
        (tmp / "intrinsics.json").write_text(json.dumps(meta, indent=2))
        if poses is not None:
            doc = {"convention": "camera_to_world", "poses": np.asarray(poses).tolist()}
            (tmp / "poses.json").write_text(json.dumps(doc))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
