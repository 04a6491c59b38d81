"""A turntable capture with no background (the object cropped out of its frames): poses from the object itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from scanning.errors import FrameError, PoseError
from scanning.frames import Frame, Intrinsics, read_sequence, write_sequence
from scanning.mesh import Mesh
from scanning.metrics import is_watertight
from scanning.poses import DEFAULTS, PoseOptions, estimate_poses, register_pair, registration_clouds, registration_voxel
from scanning.reconstruct import CaptureOptions, ScanReport, reconstruct_capture, reconstruct_frames
from scanning.region import backproject
from scanning.synthetic import NoiseModel, SyntheticCapture, SynthOptions, compose, load_truth, look_at, render

BOX = (0.19, 0.07, 0.27)  # a cereal box, meters: width, depth, height


def _box_capture(views: int = 24) -> SyntheticCapture:
    """A textured box turned a full turn in front of a still camera, everything but the box cropped away (the
    same frames as a camera orbiting the box with nothing else in view), with the true poses."""
    import trimesh

    box = trimesh.creation.box(BOX)
    v = np.asarray(box.vertices) + np.array([0.0, 0.0, BOX[2] / 2])
    opts = SynthOptions(views=views, width=320, height=240, table_radius=1e-4, noise=NoiseModel(), seed=3)
    return render(v, np.asarray(box.faces), opts)


def _turntable_box(views: int = 24) -> tuple[list[Frame], Intrinsics]:
    """The frames of :func:`_box_capture`, without poses."""
    cap = _box_capture(views)
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


@pytest.mark.parametrize(
    ("pair", "start"),
    [
        pytest.param(0, "truth", id="point-to-plane slides the true turn away"),
        pytest.param(12, "identity", id="a strong fit whose colors disagree"),
    ],
)
def test_a_pair_that_icp_slides_into_a_wrong_fit_still_registers_to_its_true_turn(pair: int, start: str) -> None:
    """Issue 15, the box test's failure on an AMD EPYC: frames 1 -> 0 (frame 0 sees the box nearly edge-on), even
    started from the true turn (fitness 0.98), came out 17.5-21 degrees off from every start (fitness 0.59-0.66,
    passing), because the coarse point-to-plane ICP slid it there, and every later pose inherited it; frames 13
    -> 12 from identity (the second chain's first pair) slid one face 38 mm along the other at fitness 0.89,
    strong enough to stop the search, with the colors of matched points disagreeing (0.64). Now a point-to-plane
    result with less overlap than its start is not kept, and a strong fit must also agree in color."""
    cap = _box_capture()
    frames = [Frame(i, c, d, None, f"{i:06d}") for i, (c, d) in enumerate(zip(cap.colors, cap.depths, strict=True))]
    _, voxel = registration_voxel(frames)
    clouds = registration_clouds(frames, cap.intrinsics)
    truth = np.linalg.inv(cap.poses[pair]) @ cap.poses[pair + 1]  # camera pair + 1 -> camera pair
    init = truth if start == "truth" else np.eye(4)
    t, fitness, _, ok = register_pair(clouds[pair + 1], clouds[pair], init, voxel, DEFAULTS)
    off = np.linalg.inv(truth) @ t
    angle = np.degrees(np.arccos(np.clip((np.trace(off[:3, :3]) - 1) / 2, -1, 1)))
    assert ok and fitness > 0.9
    assert angle < 1.0 and np.linalg.norm(t[:3, 3] - truth[:3, 3]) < 0.005  # measured 0.2 degrees, 1.1-1.4 mm


def test_the_colour_checks_build_one_lookup_tree_per_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every pair's registration checks its matched colors (one or two :func:`color_residual` calls per ICP
    run, more in the residual check): each frame's lookup tree is built once with its registration clouds and
    reused. Built in every call before, 122 trees for these 24 frames."""
    import scipy.spatial

    builds: list[int] = []

    class CountingTree(scipy.spatial.cKDTree):  # the real tree, counted
        def __init__(self, *args: object, **kwargs: object) -> None:
            builds.append(1)
            super().__init__(*args, **kwargs)

    frames, intr = _turntable_box()
    monkeypatch.setattr(scipy.spatial, "cKDTree", CountingTree)
    estimate_poses(frames, intr)
    assert len(builds) == len(frames)


def test_every_frame_lies_on_the_one_fused_surface(fused: tuple) -> None:
    """One surface, not several copies: the frames' points, moved by the estimated poses, lie within two voxels
    of the fused surface (a smeared or duplicated model leaves frames off it). Measured: all 24 frames 1.00 (the
    first, whose edge-on view of the box registers worst, measured 0.64-0.68 before issue 15's color check)."""
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


def test_masks_let_an_object_turned_in_front_of_a_still_camera_be_registered_on_itself(
    corpus: Path, tmp_path: Path
) -> None:
    """A bunny turned 20 degrees a frame on a table between two still cows, seen by a camera on a tripod: the
    frames alone are refused (registration follows the still scene); with a ``mask/`` folder marking the bunny
    (as the Washington RGB-D Object captures ship one), depth elsewhere is dropped, the poses come from the bunny
    and the model is the bunny at its size. The old reader ignored the masks and refused the capture. The light
    turns with the bunny (a light box): under a fixed lamp its shading would change as it turns, which the
    colour check refuses (as on the real plush bear, docs/benchmarks-scanning.md)."""
    import cv2

    bunny, faces = load_truth(corpus / "models" / "stanford-bunny.obj", 0.16)
    cow = (*load_truth(corpus / "models" / "spot.obj", 0.10), (0.22, 0.18))
    eye = 0.45 * np.array([np.cos(np.radians(35)), 0.0, np.sin(np.radians(35))])
    pose = look_at(eye, np.array([0.0, 0.0, 0.06]))
    table = np.array([[-0.4, -0.4, 0.0], [0.4, -0.4, 0.0], [0.4, 0.4, 0.0], [-0.4, 0.4, 0.0]])
    square = np.array([[0, 1, 2], [0, 2, 3]])
    colors, depths, masks = [], [], []
    for k in range(18):
        # rendered in the bunny's frame: the camera and the cows turn the other way round it (so its texture,
        # a function of position, stays on it; the light stays on it too, as in a light box)
        a = np.radians(-20.0 * k)
        turn = np.eye(4)
        turn[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
        cam = turn @ pose
        still = [
            (cow[0] @ turn[:3, :3].T + turn[:3, :3] @ [*cow[2], 0.0], cow[1], (0.0, 0.0)),
            (table @ turn[:3, :3].T, square, (0.0, 0.0)),
        ]
        v, f = compose([(bunny, faces, (0.0, 0.0)), *still])
        opts = SynthOptions(width=640, height=480, seed=k, table_radius=1e-4)
        cap = render(v, f, opts, poses=cam[None])
        alone = render(bunny, faces, replace(opts, noise=NoiseModel.none()), poses=cam[None])
        colors.append(cap.colors[0])
        depths.append(cap.depths[0])
        masks.append(((alone.depths[0] > 0) & (np.abs(cap.depths[0] - alone.depths[0]) < 0.01)).astype(np.uint8) * 255)
    folder = write_sequence(tmp_path / "turned", cap.intrinsics, colors, depths)
    with pytest.raises(PoseError):  # registration follows the still cows and table, or a mix
        reconstruct_capture(folder)
    (folder / "mask").mkdir()
    for k, m in enumerate(masks):
        cv2.imwrite(str(folder / "mask" / f"{k:06d}.png"), m)
    seq = read_sequence(folder)
    frame = seq.load(0)
    assert frame is not None and np.array_equal(frame.depth > 0, (masks[0] > 0) & (depths[0] > 0))
    # The bunny's own texture is all the colour check has here (no table's checker): residual 0.33 at 640x480,
    # 0.39 at 320x240, with the turn right to 0.8 degrees; the cereal box's printed faces pass at 0.3.
    options = CaptureOptions(pose=PoseOptions(max_color_residual=0.4))
    mesh, report = reconstruct_capture(folder, options)
    assert report.poses == "estimated"
    truth = np.ptp(bunny, axis=0)
    assert mesh.extent[1] == pytest.approx(truth[2], rel=0.05)  # y up: the bunny's height
    # 18.1 cm for 16.0: what is left of the shadow round its foot (pixels within 5 % of the image width of the
    # silhouette do not see through); the table and cow would make it 80 cm
    assert np.sort(mesh.extent[[0, 2]])[1] == pytest.approx(max(truth[0], truth[1]), rel=0.15)


def test_a_mask_folder_that_does_not_match_the_frames_is_refused_in_one_line(tmp_path: Path) -> None:
    """Masks are one per frame, the same size as the depth."""
    import cv2

    frames, intr = _turntable_box(views=3)
    folder = write_sequence(tmp_path / "c", intr, [f.color for f in frames], [f.depth for f in frames])
    (folder / "mask").mkdir()
    cv2.imwrite(str(folder / "mask" / "000000.png"), np.full((intr.height, intr.width), 255, np.uint8))
    with pytest.raises(FrameError, match="1 masks for 3 frames"):
        read_sequence(folder)
    for k in (1, 2):
        cv2.imwrite(str(folder / "mask" / f"{k:06d}.png"), np.full((10, 10), 255, np.uint8))
    with pytest.raises(FrameError, match="mask is 10x10 but depth is 320x240"):
        read_sequence(folder).load(1)
