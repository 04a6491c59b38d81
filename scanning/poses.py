"""Camera poses when the capture has none: pairwise registration, loop closure, pose graph, residual checks.

As in Open3D's reconstruction system, neighbouring frames are registered first (here: point-to-plane ICP on a
coarse then the fine cloud of each frame, both built once, then colored ICP, started from the previous motion;
a FPFH + RANSAC global registration is the fallback), extra edges close loops between frames that see the same
side of the object, and a pose graph (Levenberg-Marquardt, pruning of bad loop edges) spreads the error.
Neighbouring pairs run as two fixed chains, and loop pairs independently, on threads (Open3D's registration
releases the GIL); the split does not depend on the thread count, so neither do the poses. The RANSAC fallback
is seeded and runs alone (:func:`~scanning.parallel.open3d_random`), so it too gives the same poses every run.

RGB-D odometry alone was seen to drift at 10-degree steps while reporting success, so every accepted pair is
checked by its *residuals*: the share of points with a partner within the matching distance (fitness) and
their RMS distance; after the pose graph, every neighbouring pair must still fit, and the colors of matched
points must agree (shapes that slide into themselves, like a cylinder, otherwise pass with wrong poses), and
what the middle of the images sees must stay put under the poses (an object on a turntable or turned by hand in
front of a still background otherwise passes: registration follows the background). A capture that fails is
refused with :class:`~scanning.errors.PoseError` saying why, instead of a wrong model.

Poses are camera-to-world with the first frame as the world.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from scanning.errors import PoseError
from scanning.frames import Frame, Intrinsics
from scanning.parallel import WORKERS, map_threads, open3d_random, thread_safe
from scanning.region import backproject

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PoseOptions:
    """Pose estimation settings: registration voxel, depth limit, acceptance thresholds, loop closures."""

    voxel_fraction: float = 0.01  # registration voxel as a fraction of the median depth
    depth_limit: float = 1.3  # ignore points farther than this times the median depth
    min_fitness: float = 0.55
    max_rmse_voxels: float = 0.9  # RMS of matched distances, in registration voxels
    loop_max_angle_deg: float = 35.0
    max_loop_edges: int = 12
    coarse_factor: float = 2.0  # voxel of the coarse registration clouds, in registration voxels
    coarse_iterations: int = 10  # point-to-plane ICP on the coarse clouds
    fine_iterations: int = 6  # point-to-plane ICP on the fine clouds
    color_iterations: int = 6  # colored ICP on the fine clouds (0: none)
    max_noise_voxels: float = 1.0  # refuse when the depth noise (1 sigma) exceeds this many registration voxels
    chains: int = 2  # odometry runs as this many chains of neighbouring pairs (each starts from identity)
    max_color_residual: float = 0.3  # refuse when matched points' colors disagree more (see color_residual)
    pair_color_residual: float = 0.5  # a pair's registration whose colors disagree more tries other starts
    max_middle_change: float = 0.3  # refuse when more of what the middle of the images sees moved (middle_change)
    max_middle_change_still: float = 0.1  # the same for a camera that did not move (nothing else moves it)
    still_distance: float = 0.1  # a camera within this times the median depth of its first position ...
    still_angle_deg: float = 5.0  # ... and this angle of its first direction did not move
    workers: int = WORKERS  # threads registering chains and loop pairs; no effect on the results


DEFAULTS = PoseOptions()


@dataclass(frozen=True, slots=True)
class PairResult:
    """One registered frame pair: source and target indices, 4x4 transform, fitness and RMSE."""

    source: int
    target: int
    transform: np.ndarray  # (4, 4) maps source camera points into the target camera frame
    fitness: float
    rmse: float
    ok: bool  # passed the residual checks
    information: np.ndarray | None  # (6, 6) for the pose graph, when ok


def depth_noise(depth: np.ndarray) -> float:
    """Depth noise (meters, one sigma) from second differences along rows: on smooth surfaces d[i-1] - 2 d[i] +
    d[i+1] is noise with sigma * sqrt(6); depth jumps (> 5 % of the depth) are left out."""
    a, b, c = depth[:, :-2], depth[:, 1:-1], depth[:, 2:]
    ok = (a > 0) & (b > 0) & (c > 0)
    ok &= np.abs(a - c) < 0.05 * b
    if ok.sum() < 100:
        return 0.0
    second = (a - 2 * b + c)[ok]
    return float(1.4826 * np.median(np.abs(second)) / np.sqrt(6.0))


@dataclass(frozen=True, slots=True)
class _Scan:
    """A frame's registration clouds, built once: ``fine`` at the registration voxel, ``coarse`` at
    ``coarse_factor`` voxels (both with normals towards the camera and colors), and ``tree``, a lookup tree of
    the fine points for :func:`color_residual` (every pair's color check looks points up in its target)."""

    fine: Any
    coarse: Any
    tree: Any


def _scan(frame: Frame, intr: Intrinsics, limit: float, voxel: float, options: PoseOptions) -> _Scan:
    import open3d as o3d
    from scipy.spatial import cKDTree

    depth = np.where(frame.depth < limit, frame.depth, 0.0)
    pts, pix = backproject(depth, intr, stride=3)
    pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts))
    pc.colors = o3d.utility.Vector3dVector(frame.color.reshape(-1, 3)[pix] / 255.0)
    fine = pc.voxel_down_sample(voxel)
    fine.estimate_normals(o3d.geometry.KDTreeSearchParamHybrid(radius=3 * voxel, max_nn=20))
    fine.orient_normals_towards_camera_location(np.zeros(3))
    coarse = fine.voxel_down_sample(options.coarse_factor * voxel)  # averages the fine normals: renormalize
    normals = np.asarray(coarse.normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    keep = np.flatnonzero(length[:, 0] > 0.5)  # drop cells whose normals disagree (edges, noise)
    coarse.normals = o3d.utility.Vector3dVector(normals / np.maximum(length, 1e-12))
    return _Scan(fine, coarse.select_by_index(keep), cKDTree(np.array(fine.points)))


def _icp(
    src: _Scan, dst: _Scan, init: np.ndarray, voxel: float, options: PoseOptions
) -> tuple[np.ndarray, float, float, bool]:
    """Point-to-plane ICP on the coarse clouds (4 voxels), then on the fine ones (2 voxels), then colored ICP (1.5
    voxels). Returns the transform with its fitness (of the smaller view: the larger of both directions) and
    RMS at 1.5 voxels, and whether matched colors agree (:func:`_colors_agree`). When the point-to-plane steps
    take a start whose colors agree to one whose colors do not, colored ICP starts from ``init`` instead (issue
    15: on the first pair of a synthetic box seen edge-on, they slid even the true motion, fitness 0.98 and
    colors 0.21, 17.5 degrees away to fitness 0.66 and colors 1.6, and every start with it)."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    plane = reg.TransformationEstimationPointToPlane()
    t = init
    for src_pc, dst_pc, dist, iterations in (
        (src.coarse, dst.coarse, 4 * voxel, options.coarse_iterations),
        (src.fine, dst.fine, 2 * voxel, options.fine_iterations),
    ):
        if iterations:
            criteria = reg.ICPConvergenceCriteria(1e-5, 1e-5, iterations)
            t = reg.registration_icp(src_pc, dst_pc, dist, t, plane, criteria).transformation
    t = np.asarray(t)
    if not _colors_agree(src, dst, t, voxel, options) and _colors_agree(src, dst, init, voxel, options):
        t = np.asarray(init)
    dist = 1.5 * voxel
    if options.color_iterations:
        # Measured on the bunny at 3x the Kinect-like noise: without this step F@1 % fell from 0.996 to 0.74
        # while every residual check passed; with 2-voxel point-to-plane steps instead, F@0.5 % fell to 0.87.
        try:
            criteria = reg.ICPConvergenceCriteria(1e-4, 1e-4, options.color_iterations)
            estimation = reg.TransformationEstimationForColoredICP()
            t = reg.registration_colored_icp(src.fine, dst.fine, dist, t, estimation, criteria).transformation
        except RuntimeError:  # too few correspondences for the color term
            pass
    # The overlap is that of the smaller view: a frame where a box turns edge-on holds half the points of the
    # next, which sees a new face; every point of the first can match while half of the second cannot.
    # Measured on the masked Washington cereal box (frames 21-22, 934 and 1890 points): 0.54 one way, 0.98 the
    # other, the same 12.2 degree turn from every start.
    t = np.asarray(t)
    ev = max(
        reg.evaluate_registration(src.fine, dst.fine, dist, t),
        reg.evaluate_registration(dst.fine, src.fine, dist, np.linalg.inv(t)),
        key=lambda e: e.fitness,
    )
    return t, float(ev.fitness), float(ev.inlier_rmse), _colors_agree(src, dst, t, voxel, options)


def _colors_agree(src: _Scan, dst: _Scan, t: np.ndarray, voxel: float, options: PoseOptions) -> bool:
    """Whether the colors of points matched by ``t`` agree (:func:`color_residual` at most
    ``pair_color_residual``); True where there is too little texture to tell. Fitness alone cannot tell a right
    pair from a wrong one: on the bunny on its table, the camera left still (22.5 degrees off) fits 0.86 and the
    right turn 0.81; their colors 0.88 and 0.14. Measured on wrong pairs 0.64-1.7 (the synthetic box, the
    bunny), on right ones up to 0.23 (synthetic) and 0.40 (the real masked cereal box, whose shading changes
    as it turns under a fixed light; at the capture's 0.3 such pairs tried every start, 1.6x the pose CPU)."""
    residual = color_residual(src.fine, dst.fine, t, 1.5 * voxel, dst.tree)
    return residual is None or residual <= options.pair_color_residual


def _passes(fitness: float, rmse: float, voxel: float, options: PoseOptions) -> bool:
    return fitness >= options.min_fitness and rmse <= options.max_rmse_voxels * voxel


def _global(src: Any, dst: Any, voxel: float) -> np.ndarray:
    import open3d as o3d

    reg = o3d.pipelines.registration
    param = o3d.geometry.KDTreeSearchParamHybrid(radius=10 * voxel, max_nn=100)
    fs = reg.compute_fpfh_feature(src, param)
    fd = reg.compute_fpfh_feature(dst, param)
    with open3d_random(0):  # the same samples on every run, whatever the other chain does meanwhile
        res = reg.registration_ransac_based_on_feature_matching(
            src,
            dst,
            fs,
            fd,
            True,
            3 * voxel,
            reg.TransformationEstimationPointToPoint(False),
            3,
            [reg.CorrespondenceCheckerBasedOnEdgeLength(0.9), reg.CorrespondenceCheckerBasedOnDistance(3 * voxel)],
            reg.RANSACConvergenceCriteria(60000, 0.999),
        )
    return np.asarray(res.transformation)


def _rotation_angle(t: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(t[:3, :3]) - 1) / 2, -1, 1))))


def _color_start(src: _Scan, dst: _Scan, voxel: float) -> np.ndarray:
    """Colored ICP from identity on the coarse clouds, then the fine ones (as Open3D's multi-scale colored ICP):
    the texture turns the view where the shape alone lets ICP slide (flat faces of a box seen without
    background, whose only geometric match may be the box turned half round)."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    t = np.eye(4)
    for src_pc, dst_pc, dist, iterations in (
        (src.coarse, dst.coarse, 4 * voxel, 30),
        (src.fine, dst.fine, 2 * voxel, 14),
    ):
        try:
            criteria = reg.ICPConvergenceCriteria(1e-6, 1e-6, iterations)
            estimation = reg.TransformationEstimationForColoredICP()
            t = np.asarray(reg.registration_colored_icp(src_pc, dst_pc, dist, t, estimation, criteria).transformation)
        except RuntimeError:  # too few correspondences for the color term
            break
    return t


STRONG_FITNESS = 0.8  # a pair that passes below this (or whose colors disagree) also tries the next starts


def register_pair(
    src: _Scan, dst: _Scan, init: np.ndarray, voxel: float, options: PoseOptions, try_global: bool = True
) -> tuple[np.ndarray, float, float, bool]:
    """Best of ICP from ``init``, from identity, from a multi-scale colored ICP and (fallback) from a global
    registration. Measured on object-only frames (a synthetic box turned 15 degrees a frame, nothing else in
    view): from identity ICP slid into the box turned half round with fitness 0.63, passing; the colored start
    found the right turn (0.22 degrees off) with fitness 0.84. A strong fit whose matched colors disagree
    (:func:`_colors_agree`) does not stop the search: on the same box, from
    identity, ICP slid one face 38 mm along the other at fitness 0.89 (colors 0.64); the colored start gave
    0.98 (colors 0.23, 1 mm off)."""
    best = (init, 0.0, np.inf, False)
    starts: list[Callable[[], np.ndarray]] = [lambda: init, lambda: np.eye(4), lambda: _color_start(src, dst, voxel)]
    if try_global:
        starts.append(lambda: _global(src.fine, dst.fine, voxel))
    ok = False
    for k, start in enumerate(starts):
        found = _icp(src, dst, start(), voxel, options)
        # passing first, then colors that agree, then fitness
        if _rank(found, voxel, options) > _rank(best, voxel, options):
            best = found
        ok = _passes(best[1], best[2], voxel, options)
        if ok and ((best[1] >= STRONG_FITNESS and best[3]) or k >= 2):
            if k:
                logger.debug("pair needed start %d", k)
            break
    return best[0], best[1], best[2], ok


def _rank(found: tuple[np.ndarray, float, float, bool], voxel: float, options: PoseOptions) -> tuple[bool, bool, float]:
    return _passes(found[1], found[2], voxel, options), found[3], found[1]


def estimate_poses(
    frames: Sequence[Frame],
    intr: Intrinsics,
    options: PoseOptions = DEFAULTS,
    progress: Callable[[int], object] | None = None,
) -> list[Frame]:
    """Frames with camera-to-world poses estimated from the images (first frame = world)."""
    if len(frames) < 2:
        raise PoseError(f"needs at least 2 frames, got {len(frames)}")
    med, voxel = registration_voxel(frames, options)
    picks = np.linspace(0, len(frames) - 1, min(8, len(frames))).round().astype(int)
    noise = float(np.median([depth_noise(frames[i].depth) for i in picks]))
    if noise > options.max_noise_voxels * voxel:
        # Measured (bunny, 36 views 640x480, registration voxel 4.2 mm): estimated noise 4.2 mm still gave
        # F@1 % 0.983; at 7x the Kinect-like noise (about 5 mm) the poses passed every residual check and the
        # model was wrong (F@1 % 0.48), at 10x F@1 % 0.00. So the limit is one voxel, on the safe side.
        raise PoseError(
            f"depth is too noisy to estimate poses: about {noise * 1000:.1f} mm (1 sigma) where registration "
            f"needs at most {options.max_noise_voxels * voxel * 1000:.1f} mm; give poses (poses.json) or "
            "scan closer / with a better sensor"
        )
    clouds = registration_clouds(frames, intr, options)
    n = len(frames)
    tick = thread_safe(progress)
    # Odometry as a few chains of neighbouring pairs, each starting from the motion of the pair before it (the
    # first from identity), registered in parallel: the split is fixed, so results do not depend on threads.
    chains = np.array_split(np.arange(n - 1), max(1, min(options.chains, (n - 1) // 4)))
    done = map_threads(lambda c: _chain(clouds, c, voxel, options, tick), chains, options.workers)
    odometry = [r for chain in done for r in chain]
    bad = next((r for r in odometry if not r.ok), None)
    if bad is not None:
        i = bad.target
        raise PoseError(
            f"frames {frames[i].name or i} and {frames[i + 1].name or i + 1} could not be registered: "
            f"fitness {bad.fitness:.2f} (needs {options.min_fitness}), rms {bad.rmse * 1000:.1f} mm (needs <= "
            f"{options.max_rmse_voxels * voxel * 1000:.1f}); the frames do not overlap or depth is too noisy"
        )
    poses = [np.eye(4)]
    for r in odometry:
        poses.append(poses[-1] @ r.transform)
    # loop candidates: for every frame, the farthest later frame (in capture order) looking the same way;
    # the closing pairs of a full turn come first, then an even spread of the rest
    cands = []
    for i in range(n):
        for j in range(n - 1, i + 1, -1):
            rel = np.linalg.inv(poses[i]) @ poses[j]
            if _rotation_angle(rel) <= options.loop_max_angle_deg:
                cands.append((j - i, i, j, rel))
                break
    cands.sort(key=lambda c: -c[0])
    pick = cands[: options.max_loop_edges // 2]
    rest = cands[options.max_loop_edges // 2 :]
    if rest:
        step = max(1, len(rest) // max(1, options.max_loop_edges - len(pick)))
        pick += rest[::step][: options.max_loop_edges - len(pick)]
    loop_pairs = map_threads(
        lambda c: _register(clouds, c[2], c[1], c[3], voxel, options, try_global=False), pick, options.workers
    )
    edges: list[tuple[int, int, np.ndarray, np.ndarray, bool]] = [
        (r.source, r.target, r.transform, r.information, False) for r in odometry if r.information is not None
    ]
    edges += [(r.source, r.target, r.transform, r.information, True) for r in loop_pairs if r.information is not None]
    loops = len(edges) - len(odometry)
    poses = _optimize(poses, edges, voxel)
    _check_still_scene(frames, intr, poses, med, max(2 * voxel, 4 * noise), options)
    _check_residuals(frames, clouds, poses, edges, voxel, options)
    if tick is not None:
        tick(1)
    logger.info("poses: %d odometry edges, %d loop closures", n - 1, loops)
    return [replace(f, pose=p) for f, p in zip(frames, poses, strict=True)]


def registration_voxel(frames: Sequence[Frame], options: PoseOptions = DEFAULTS) -> tuple[float, float]:
    """The frames' median depth and the registration voxel, in meters."""
    med = float(np.median(np.concatenate([f.depth[f.depth > 0][::97] for f in frames])))
    return med, options.voxel_fraction * med


def registration_clouds(frames: Sequence[Frame], intr: Intrinsics, options: PoseOptions = DEFAULTS) -> list[_Scan]:
    """Each frame's registration clouds (fine and coarse, with normals and colors), built once for every pair."""
    med, voxel = registration_voxel(frames, options)
    return [_scan(f, intr, options.depth_limit * med, voxel, options) for f in frames]


def _register(
    clouds: Sequence[_Scan],
    source: int,
    target: int,
    init: np.ndarray,
    voxel: float,
    options: PoseOptions,
    try_global: bool = True,
) -> PairResult:
    import open3d as o3d

    t, fit, rmse, ok = register_pair(clouds[source], clouds[target], init, voxel, options, try_global)
    info = None
    if ok:
        reg = o3d.pipelines.registration
        info = reg.get_information_matrix_from_point_clouds(clouds[source].fine, clouds[target].fine, 1.5 * voxel, t)
    return PairResult(source, target, t, fit, rmse, ok, info)


def _chain(
    clouds: Sequence[_Scan],
    pairs: np.ndarray,
    voxel: float,
    options: PoseOptions,
    tick: Callable[[int], object] | None,
) -> list[PairResult]:
    """Register frames i + 1 -> i for i in ``pairs`` (consecutive), each from the previous pair's motion; stops
    at the first pair that fails its checks (returned last)."""
    out: list[PairResult] = []
    motion = np.eye(4)
    for i in pairs:
        r = _register(clouds, int(i) + 1, int(i), motion, voxel, options)
        out.append(r)
        if not r.ok:
            break
        motion = r.transform
        if tick is not None:
            tick(1)
    return out


def _optimize(
    poses: list[np.ndarray], edges: list[tuple[int, int, np.ndarray, np.ndarray, bool]], voxel: float
) -> list[np.ndarray]:
    import open3d as o3d

    reg = o3d.pipelines.registration
    if not any(e[4] for e in edges):
        return poses
    graph = reg.PoseGraph()
    for p in poses:
        graph.nodes.append(reg.PoseGraphNode(p))
    for s, t, tr, info, uncertain in edges:
        graph.edges.append(reg.PoseGraphEdge(s, t, tr, info, uncertain=uncertain))
    option = reg.GlobalOptimizationOption(
        max_correspondence_distance=1.5 * voxel, edge_prune_threshold=0.25, reference_node=0
    )
    with o3d.utility.VerbosityContextManager(o3d.utility.VerbosityLevel.Error):
        reg.global_optimization(
            graph, reg.GlobalOptimizationLevenbergMarquardt(), reg.GlobalOptimizationConvergenceCriteria(), option
        )
    return [np.asarray(node.pose).copy() for node in graph.nodes]


def _check_still_scene(
    frames: Sequence[Frame],
    intr: Intrinsics,
    poses: list[np.ndarray],
    median_depth: float,
    tolerance: float,
    options: PoseOptions,
) -> None:
    """Refuse when the object moved during the capture (a turntable, an object turned by hand): registration
    then follows the still background (the camera seems not to move) or a mix of both, and what the middle of
    the images sees moves under the poses. Measured (issue 15, middle_change at 2 registration voxels): 0.40,
    0.43 on two real captures of a dog turned by hand in front of a still camera (estimated still), 0.54 on a
    real turntable (estimated moving, 57 degrees); for a synthetic bunny turned in front of a still camera 0.09
    at 20 and 0.22 at 45 degrees a frame, 0.00 standing still. Right poses of a moving camera: 0.00-0.04 (a
    synthetic orbit, a real desk, a real cereal box), 0.17 for the roughest synthetic one (handheld, 30 degree
    steps, 3x noise), hence the higher limit when the camera moved."""
    distance, angle = camera_motion(poses)
    still = distance <= options.still_distance * median_depth and angle <= options.still_angle_deg
    change = middle_change(frames, intr, poses, tolerance)
    if change <= (options.max_middle_change_still if still else options.max_middle_change):
        return
    if still:
        raise PoseError(
            f"the camera did not move (at most {distance * 1000:.0f} mm and {angle:.1f} deg from the first frame) "
            f"but the object did ({change:.0%} of what the middle of the images sees moved between frames): "
            "a turntable or hand-turned capture needs frames holding the object alone (mask or crop the "
            "background away), or keep the object still and move the camera around it"
        )
    raise PoseError(
        f"the estimated camera motion does not explain what the middle of the images sees ({change:.0%} of it "
        "moved between frames): the object moved during the capture (a turntable, or turned by hand?); give "
        "frames holding the object alone (mask or crop the background away), keep the object still and move the "
        "camera around it, or give poses (poses.json)"
    )


def _check_residuals(
    frames: Sequence[Frame],
    clouds: list[_Scan],
    poses: list[np.ndarray],
    edges: list[tuple[int, int, np.ndarray, np.ndarray, bool]],
    voxel: float,
    options: PoseOptions,
) -> None:
    """Every odometry pair must still fit under the final poses, and the colors must agree where it does."""
    import open3d as o3d

    reg = o3d.pipelines.registration
    bad = []
    colors = []
    for s, t, _, _, loop in edges:
        if loop:
            continue
        rel = np.linalg.inv(poses[t]) @ poses[s]
        ev = reg.evaluate_registration(clouds[s].fine, clouds[t].fine, 1.5 * voxel, rel)
        if ev.fitness < 0.8 * options.min_fitness:
            bad.append((s, t, ev.fitness))
        residual = color_residual(clouds[s].fine, clouds[t].fine, rel, 1.5 * voxel, clouds[t].tree)
        if residual is not None:
            colors.append(residual)
    if bad:
        s, t, fit = bad[0]
        raise PoseError(
            f"{len(bad)} frame pairs disagree with the optimized poses (frames {frames[t].name or t} "
            f"and {frames[s].name or s}: fitness {fit:.2f}); depth is too noisy or the scene moved"
        )
    # Shapes that slide into themselves (a sphere or a cylinder on a flat table) give ICP nothing to hold on
    # to: the poses come out wrong (the camera hardly moves) while every geometric check passes. The colors
    # of matched points then disagree. Measured (36 views 640x480): 0.07-0.14 for correct poses of the bunny
    # and spot at 1x-3x noise, 0.41-0.66 for the wrong poses of a sphere and a cylinder.
    if len(colors) >= 3 and float(np.median(colors)) > options.max_color_residual:
        raise PoseError(
            f"the colors of matched points disagree under the estimated poses (relative residual "
            f"{float(np.median(colors)):.2f}, needs <= {options.max_color_residual}): the camera motion cannot "
            "be told from the object's shape (rotationally symmetric?); give poses (poses.json)"
        )


def camera_motion(poses: Sequence[np.ndarray]) -> tuple[float, float]:
    """How far the camera went: the largest distance (meters) and angle (degrees) of any pose from the first."""
    first = np.linalg.inv(poses[0])
    rel = [first @ p for p in poses[1:]]
    return max(float(np.linalg.norm(r[:3, 3])) for r in rel), max(_rotation_angle(r) for r in rel)


def middle_change(frames: Sequence[Frame], intr: Intrinsics, poses: Sequence[np.ndarray], tolerance: float) -> float:
    """How much what the middle of the images sees moved between neighbouring frames under ``poses``: the share
    of the middle fifth's depth pixels (every third) of one frame that, moved into the other, land more than
    ``tolerance`` meters in front of what the other saw there (where it saw through: for still things only
    an error of the poses can do that; a point behind may just have been hidden). The larger of both ways,
    median over the pairs; 0 when nothing can be told."""
    shares = []
    for k in range(len(frames) - 1):
        both = [
            _in_front(frames[i], frames[j], np.linalg.inv(poses[j]) @ poses[i], intr, tolerance)
            for i, j in ((k + 1, k), (k, k + 1))
        ]
        told = [x for x in both if x is not None]
        if told:
            shares.append(max(told))
    return float(np.median(shares)) if shares else 0.0


NEAR_PIXELS = 5  # a point counts as in front only of all that the other frame saw within this window (edges)


def _in_front(src: Frame, dst: Frame, rel: np.ndarray, intr: Intrinsics, tolerance: float) -> float | None:
    """Share of ``src``'s middle-fifth points that ``rel`` (src camera -> dst camera) puts more than
    ``tolerance`` in front of ``dst``'s depth; None for fewer than 50 comparable points."""
    h, w = intr.height, intr.width
    pts, pix = backproject(src.depth, intr, stride=3)
    v, u = np.divmod(pix, w)
    mid = (u >= 2 * w // 5) & (u <= 3 * w // 5) & (v >= 2 * h // 5) & (v <= 3 * h // 5)
    q = pts[mid] @ rel[:3, :3].T + rel[:3, 3]
    q = q[q[:, 2] > 0]
    pu = np.round(q[:, 0] / q[:, 2] * intr.fx + intr.cx).astype(int)
    pv = np.round(q[:, 1] / q[:, 2] * intr.fy + intr.cy).astype(int)
    inside = (pu >= 0) & (pu < w) & (pv >= 0) & (pv < h)
    from scipy.ndimage import minimum_filter

    nearest = minimum_filter(np.where(dst.depth > 0, dst.depth, np.inf), size=NEAR_PIXELS)
    seen = nearest[pv[inside], pu[inside]]
    ok = np.isfinite(seen)
    if ok.sum() < 50:
        return None
    return float(np.mean(q[inside][ok, 2] < seen[ok] - tolerance))


def color_residual(src: Any, dst: Any, transform: np.ndarray, radius: float, tree: Any = None) -> float | None:
    """How much the colors of matched points disagree: the median absolute difference of their intensities
    (each side's mean removed, so exposure changes do not count) over the spread (median absolute deviation)
    of the target's intensities. About 0.1 for a right transform, 0.4 and more for a wrong one; None when
    there is too little texture to tell or too few matches. ``tree``: a cKDTree of ``dst``'s points, if one is
    kept (built here otherwise)."""
    from scipy.spatial import cKDTree

    moved = np.asarray(src.points) @ transform[:3, :3].T + transform[:3, 3]
    target = np.asarray(dst.points)
    if len(moved) < 100 or len(target) < 100:
        return None
    dist, idx = (tree if tree is not None else cKDTree(target)).query(moved, distance_upper_bound=radius)
    ok = np.isfinite(dist)
    if ok.sum() < 100:
        return None
    a = np.asarray(src.colors)[ok].mean(axis=1)
    b = np.asarray(dst.colors)[idx[ok]].mean(axis=1)
    spread = float(np.median(np.abs(b - np.median(b))))
    if spread < 0.01:  # an untextured scene: colors cannot tell
        return None
    return float(np.median(np.abs((a - a.mean()) - (b - b.mean())))) / spread
