"""The MediaPipe adapter on real images: faces found far from the camera, crop path vs full frame, pose."""

from __future__ import annotations

import itertools
from pathlib import Path

import mediapipe as mp
import numpy as np
import pytest

from tests.tryon.conftest import load_rgb
from tryon.providers.mediapipe import MediaPipeProvider


@pytest.mark.parametrize(("name", "count"), [("face_man_suit.jpg", 1), ("faces_three_women.jpg", 3), ("astronaut", 1)])
def test_face_counts(provider: MediaPipeProvider, images: dict[str, np.ndarray], name: str, count: int) -> None:
    faces = provider.faces(images[name])
    assert len(faces) == count
    h, w = images[name].shape[:2]
    for f in faces:
        assert f.points.shape == (478, 2) and f.points.dtype == np.float32
        assert 0 <= f.center[0] < w and 0 <= f.center[1] < h
        # refined iris points sit between the eye corners
        assert min(f.points[33, 0], f.points[133, 0]) < f.points[468, 0] < max(f.points[33, 0], f.points[133, 0])


def test_crop_path_matches_full_frame_face_mesh(provider: MediaPipeProvider, astronaut: np.ndarray) -> None:
    """Differential: detector + crop against face mesh run directly on the whole (close-up) image."""
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True) as fm:
        lms = fm.process(astronaut).multi_face_landmarks[0]
    direct = np.array([(p.x * 512 - 0.5, p.y * 512 - 0.5) for p in lms.landmark])
    ours = provider.faces(astronaut)[0].points
    err = np.linalg.norm(direct - ours, axis=1)
    assert err.mean() < 1.5 and np.percentile(err, 95) < 3.0


def test_video_mode_tracks(astronaut: np.ndarray) -> None:
    with MediaPipeProvider("video") as p:
        runs = [p.faces(astronaut, i / 30)[0].points for i in range(8)]
    # the first frame comes from detection; tracking then settles on the same face
    assert all(np.abs(r - runs[0]).max() < 6 for r in runs)
    assert all(np.abs(a - b).mean() < 0.3 for a, b in itertools.pairwise(runs[4:]))


def test_pose_feet_and_segmentation(corpus: Path) -> None:
    frame = load_rgb(corpus / "images" / "person_standing_shoes.jpg")
    with MediaPipeProvider("image") as p:
        pose = p.pose(frame)
    assert pose is not None and pose.points.shape == (33, 2)
    assert pose.segmentation is not None and pose.segmentation.shape == frame.shape[:2]
    assert len(pose.feet) >= 1
    for foot in pose.feet:
        assert foot.side in ("left", "right")
        assert np.linalg.norm(foot.toe - foot.heel) > 3
        x, y = np.round(foot.ankle).astype(int)
        assert pose.segmentation[max(0, y - 15) : y + 15, max(0, x - 15) : x + 15].max() > 0.3  # on the person


def test_no_person(provider: MediaPipeProvider) -> None:
    assert provider.faces(np.full((200, 200, 3), 40, np.uint8)) == []
    with MediaPipeProvider("image") as p:
        assert p.pose(np.full((200, 200, 3), 40, np.uint8)) is None


def test_video_mode_follows_small_faces(images: dict[str, np.ndarray]) -> None:
    """Face mesh tracking misses the three small faces; the detector finds them and re-cropping follows them."""
    img = images["faces_three_women.jpg"]
    rng = np.random.default_rng(0)
    centers = []
    with MediaPipeProvider("video") as p:
        for i in range(20):
            frame = np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
            faces = p.faces(frame, i / 30)
            assert len(faces) == 3, i
            centers.append(sorted(tuple(f.center) for f in faces))
    arr = np.array(centers)  # (frames, 3, 2)
    assert arr[5:].std(axis=0).max() < 0.6  # each face stays put, no jumps between faces


def test_landmarks_read_from_the_wire_format_equal_point_by_point(astronaut: np.ndarray) -> None:
    """Face mesh's landmark list read in one go from its serialised bytes equals reading it point by point; a list
    whose landmarks carry more fields (visibility) is read point by point."""
    from mediapipe.framework.formats import landmark_pb2

    from tryon.providers.mediapipe import _landmark_array

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as mesh:
        lms = mesh.process(astronaut).multi_face_landmarks[0]
    slow = np.array([(p.x, p.y, p.z) for p in lms.landmark], dtype=np.float32)
    np.testing.assert_array_equal(_landmark_array(lms), slow)
    other = landmark_pb2.NormalizedLandmarkList()
    other.landmark.add(x=0.25, y=-1.5, z=3.0, visibility=0.5)
    other.landmark.add(x=0.0, y=2.0, z=0.125)
    np.testing.assert_array_equal(_landmark_array(other), [[0.25, -1.5, 3.0], [0.0, 2.0, 0.125]])
    np.testing.assert_array_equal(_landmark_array(lms.SerializeToString()), slow)  # bytes as the graph made them
    np.testing.assert_array_equal(_landmark_array(other.SerializeToString()), [[0.25, -1.5, 3.0], [0.0, 2.0, 0.125]])


def test_outputs_read_without_process_equal_what_process_returns(astronaut: np.ndarray) -> None:
    """The provider reads its graphs' outputs without ``process`` (no namedtuple class per call): the same
    landmarks, as messages or as their serialised bytes, and None where ``process`` gives None."""
    from tryon.providers.mediapipe import _output

    blank = np.zeros_like(astronaut)

    def mesh() -> mp.solutions.face_mesh.FaceMesh:
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)

    with mesh() as a, mesh() as b, mesh() as c:
        want = a.process(astronaut).multi_face_landmarks
        assert want and _output(b, {"image": astronaut}, "multi_face_landmarks") == want
        assert _output(c, {"image": astronaut}, "multi_face_landmarks", serialized=True) == [
            m.SerializeToString() for m in want
        ]
        assert a.process(blank).multi_face_landmarks is None
        assert _output(b, {"image": blank}, "multi_face_landmarks", serialized=True) is None


def test_video_reads_detected_faces_on_their_box_without_a_second_detector(images: dict[str, np.ndarray]) -> None:
    """Video mode: the faces the tracker misses (three small ones) are read by face mesh's landmark model straight
    on the detector's box and then on their landmarks' box; face mesh with its own detector (still images' crop
    path) is never built. The landmarks stay within a pixel of the still-image path's on these 26-29 px faces
    (0.3-0.6 px measured)."""
    img = images["faces_three_women.jpg"]
    with MediaPipeProvider("image") as p:
        still = sorted(p.faces(img), key=lambda f: float(f.center[0]))
    with MediaPipeProvider("video") as p:
        for i in range(3):
            faces = sorted(p.faces(img, i / 30), key=lambda f: float(f.center[0]))
            assert len(faces) == 3, i
            assert max(float(np.abs(a.points - b.points).mean()) for a, b in zip(faces, still, strict=True)) < 1.0
        assert p._crop_mesh is None


def test_frames_reach_mediapipe_without_a_copy(images: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every image the face paths hand to MediaPipe (detector, crop and box face mesh, tracking face mesh, the
    outline's segmentation) is read-only, so MediaPipe wraps it instead of copying it; the caller's frame keeps its
    flags and pixels, and the landmarks are those of a run where MediaPipe copied."""
    from mediapipe.python import packet_creator

    img = images["faces_three_women.jpg"]
    before = img.copy()
    with MediaPipeProvider("image") as p:
        copied = [f.points for f in p.faces(img)]
    seen: list[bool] = []
    for name in ("create_image", "create_image_frame"):
        real = getattr(packet_creator, name)

        def spy(data: object, *args: object, _real: object = real, **kwargs: object) -> object:
            if isinstance(data, np.ndarray):
                seen.append(bool(data.flags.writeable))
            return _real(data, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(packet_creator, name, spy)
    with MediaPipeProvider("image") as p:
        faces = p.faces(img)
        p.silhouette(img, faces[0])
    for a, b in zip(faces, copied, strict=True):
        np.testing.assert_array_equal(a.points, b)
    with MediaPipeProvider("video") as p:
        for i in range(3):
            assert len(p.faces(img, i / 30)) == 3
    assert len(seen) >= 10 and not any(seen)
    assert img.flags.writeable
    np.testing.assert_array_equal(img, before)
