"""Turntable captures with no background: our poses and fusion against plain Open3D's, on the same frames.

    .venv/bin/python tests/benchmarks/bench_turntable.py                 # the synthetic box (24 x 320x240)
    .venv/bin/python tests/benchmarks/bench_turntable.py FOLDER ...      # capture folders (no poses used)

Ours: ``estimate_poses`` then ``reconstruct_frames`` (region, fusion, cleanup). Plain Open3D, as its
reconstruction system makes a fragment: ``compute_rgbd_odometry`` (hybrid term) between neighbouring frames
and between every 5th frame (from the chained odometry), a pose graph with those as loop edges,
``global_optimization`` (Levenberg-Marquardt), then ``ScalableTSDFVolume`` integration at our voxel and
``extract_triangle_mesh``. For each: time, fitness and RMSE of every neighbouring pair under the final poses
(1.5 registration voxels), and single-surface: the share of each frame's points (moved by its pose) within
2 voxels of the fused surface and their mean distance; median and worst frame. Prints markdown rows with
``/proc/loadavg`` before and after.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")  # as python -m scanning does
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scanning.frames import Frame, Intrinsics, read_sequence  # noqa: E402
from scanning.poses import DEFAULTS, _scan, estimate_poses  # noqa: E402
from scanning.reconstruct import reconstruct_frames  # noqa: E402
from scanning.region import backproject  # noqa: E402


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def synthetic_box() -> tuple[list[Frame], Intrinsics]:
    from tests.scanning.test_turntable import _turntable_box

    return _turntable_box()


def pair_fit(frames: list[Frame], intr: Intrinsics, poses: list[np.ndarray]) -> tuple[float, float]:
    """Median fitness and RMSE (mm) of neighbouring pairs under ``poses`` at 1.5 registration voxels."""
    import open3d as o3d

    med = float(np.median(np.concatenate([f.depth[f.depth > 0][::97] for f in frames])))
    voxel = DEFAULTS.voxel_fraction * med
    clouds = [_scan(f, intr, DEFAULTS.depth_limit * med, voxel, DEFAULTS).fine for f in frames]
    fits, rmses = [], []
    for i in range(len(frames) - 1):
        rel = np.linalg.inv(poses[i]) @ poses[i + 1]
        ev = o3d.pipelines.registration.evaluate_registration(clouds[i + 1], clouds[i], 1.5 * voxel, rel)
        fits.append(ev.fitness)
        rmses.append(ev.inlier_rmse)
    return float(np.median(fits)), float(np.median(rmses)) * 1000


def surface_share(
    frames: list[Frame], intr: Intrinsics, poses: list[np.ndarray], verts: np.ndarray, tris: np.ndarray, voxel: float,
    to_model: np.ndarray, box: np.ndarray,
) -> tuple[float, float, float]:
    """(median share within 2 voxels, worst frame's share, mean distance mm) of each frame's points inside
    ``box`` ((2, 3) lo, hi in the model frame: our model's bounds, above its floor), in the model frame."""
    import open3d as o3d

    box = np.asarray(box)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(verts.astype(np.float32)), o3d.core.Tensor(tris.astype(np.uint32)))
    shares, dists = [], []
    for f, p in zip(frames, poses, strict=True):
        pts, _ = backproject(f.depth, intr, 2)
        m = to_model @ p
        q = pts @ m[:3, :3].T + m[:3, 3]
        q = q[np.all((q >= box[0]) & (q <= box[1]), axis=1)]  # the object's points (not the turntable's)
        if len(q) == 0:  # the frame sees nothing inside the box
            continue
        d = scene.compute_distance(o3d.core.Tensor(q.astype(np.float32))).numpy()
        shares.append(float(np.mean(d < 2 * voxel)))
        dists.append(d)
    return float(np.median(shares)), float(min(shares)), float(np.concatenate(dists).mean()) * 1000


def ours(frames: list[Frame], intr: Intrinsics) -> dict:
    t0 = time.perf_counter()
    try:
        posed = estimate_poses(frames, intr)
        mesh, rep = reconstruct_frames(posed, intr)
    except Exception as exc:  # a refusal is a result
        return {"error": str(exc).split(":")[0][:90], "s": time.perf_counter() - t0}
    s = time.perf_counter() - t0
    poses = [f.pose for f in posed]
    to_model = np.asarray(rep.world_to_model)
    box = np.array([mesh.vertices.min(axis=0), mesh.vertices.max(axis=0)])
    box[0, 1] = 2 * mesh.voxel  # above the floor (y up): not the turntable
    share, worst, mean = surface_share(frames, intr, poses, mesh.vertices, mesh.triangles, mesh.voxel, to_model, box)
    fit, rmse = pair_fit(frames, intr, poses)
    dims = "x".join(f"{d * 100:.1f}" for d in mesh.extent)
    return {"s": s, "fit": fit, "rmse": rmse, "share": share, "worst": worst, "mean": mean, "dims": dims,
            "voxel": mesh.voxel, "to_model": to_model, "box": box}


def open3d_plain(frames: list[Frame], intr: Intrinsics, voxel: float, to_model: np.ndarray, box: np.ndarray) -> dict:
    import open3d as o3d

    t0 = time.perf_counter()
    cam = o3d.camera.PinholeCameraIntrinsic(intr.width, intr.height, intr.fx, intr.fy, intr.cx, intr.cy)
    rgbd = [
        o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(f.color)), o3d.geometry.Image(f.depth.astype(np.float32)),
            depth_scale=1.0, depth_trunc=3.0, convert_rgb_to_intensity=True,
        )
        for f in frames
    ]
    option = o3d.pipelines.odometry.OdometryOption(depth_diff_max=0.07)
    jac = o3d.pipelines.odometry.RGBDOdometryJacobianFromHybridTerm()
    reg = o3d.pipelines.registration
    graph = reg.PoseGraph()
    chain = [np.eye(4)]
    graph.nodes.append(reg.PoseGraphNode(chain[0]))
    n = len(frames)
    for s in range(n - 1):  # odometry: target s, source s + 1, from identity
        ok, trans, info = o3d.pipelines.odometry.compute_rgbd_odometry(
            rgbd[s + 1], rgbd[s], cam, np.eye(4), jac, option
        )
        if not ok:
            trans, info = np.eye(4), np.eye(6)
        chain.append(chain[-1] @ trans)
        graph.nodes.append(reg.PoseGraphNode(chain[-1]))
        graph.edges.append(reg.PoseGraphEdge(s + 1, s, trans, info, uncertain=False))
    for s in range(0, n, 5):  # loop edges between keyframes, from the chained odometry
        for t in range(s + 5, n, 5):
            init = np.linalg.inv(chain[s]) @ chain[t]
            ok, trans, info = o3d.pipelines.odometry.compute_rgbd_odometry(rgbd[t], rgbd[s], cam, init, jac, option)
            if ok:
                graph.edges.append(reg.PoseGraphEdge(t, s, trans, info, uncertain=True))
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        reg.global_optimization(
            graph, reg.GlobalOptimizationLevenbergMarquardt(), reg.GlobalOptimizationConvergenceCriteria(),
            reg.GlobalOptimizationOption(max_correspondence_distance=1.5 * voxel * 3, edge_prune_threshold=0.25,
                                         reference_node=0),
        )
    poses = [np.asarray(node.pose) for node in graph.nodes]
    vol = o3d.pipelines.integration.ScalableTSDFVolume(
        voxel_length=voxel, sdf_trunc=4 * voxel, color_type=o3d.pipelines.integration.TSDFVolumeColorType.RGB8
    )
    for f, p in zip(frames, poses, strict=True):
        im = o3d.geometry.RGBDImage.create_from_color_and_depth(
            o3d.geometry.Image(np.ascontiguousarray(f.color)), o3d.geometry.Image(f.depth.astype(np.float32)),
            depth_scale=1.0, depth_trunc=3.0, convert_rgb_to_intensity=False,
        )
        vol.integrate(im, cam, np.linalg.inv(p))
    mesh = vol.extract_triangle_mesh()
    s = time.perf_counter() - t0
    v, tr = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    v = v @ to_model[:3, :3].T + to_model[:3, 3]
    share, worst, mean = surface_share(frames, intr, poses, v, tr, voxel, to_model, box)
    fit, rmse = pair_fit(frames, intr, poses)
    return {"s": s, "fit": fit, "rmse": rmse, "share": share, "worst": worst, "mean": mean, "dims": "-"}


def row(name: str, who: str, r: dict) -> str:
    if "error" in r:
        return f"| {name} | {who} | refused: {r['error']} | - | - | - | - | {r['s']:.1f} |"
    return (
        f"| {name} | {who} | {r['fit']:.2f} / {r['rmse']:.1f} | {r['share']:.3f} | {r['worst']:.3f} | "
        f"{r['mean']:.2f} | {r['dims']} | {r['s']:.1f} |"
    )


def main() -> None:
    items: list[tuple[str, list[Frame], Intrinsics]] = []
    if len(sys.argv) > 1:
        for folder in sys.argv[1:]:
            seq = read_sequence(folder)
            items.append((Path(folder).name, [f.__class__(f.index, f.color, f.depth, None, f.name)
                                              for f in seq.load_all()], seq.intrinsics))
    else:
        items.append(("synthetic box 24 x 320x240", *synthetic_box()))
    print(f"load before: {loadavg()}")
    print("| capture | who | pair fitness / RMSE mm | frames' points within 2 voxels (median) | worst frame | "
          "mean distance mm | size cm | s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, frames, intr in items:
        r = ours(frames, intr)
        print(row(name, "ours", r), flush=True)
        if "error" in r:  # no model of ours to take the object's box from: the first frame's points
            r = {"voxel": 0.002, "to_model": np.eye(4), "box": np.array([[-9.0] * 3, [9.0] * 3])}
        o3d_row = open3d_plain(frames, intr, r["voxel"], r["to_model"], r["box"])
        print(row(name, "Open3D odometry + pose graph + TSDF", o3d_row), flush=True)
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
