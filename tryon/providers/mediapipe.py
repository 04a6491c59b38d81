"""MediaPipe 0.10.21 ``solutions`` adapter: the only module of :mod:`tryon` that imports mediapipe.

Faces
    Face mesh's own (short-range) detector misses faces that are not close to the camera (all three
    faces of ``faces_three_women.jpg``), so still images go through the full-range face detector and
    then face mesh on an upscaled square crop around each detection (about 4-5 ms a face).
    In video mode one face mesh runs in tracking mode on the whole frame (3-4 ms at 720p; re-detecting
    every frame makes landmarks jump by about 3 px). Faces it misses (far from the camera) are found
    by the full-range detector every few frames and followed from their last landmarks by face mesh's
    landmark model alone (:class:`_FaceRoiMesh`, no detector).
People
    MediaPipe's bundled person detector (BlazePose's, run on its own graph) on the frame and square tiles,
    then MediaPipe pose (full model, segmentation enabled) on a square crop around each person: feet
    (ankle, heel, foot index) in pixels and in metres, and the person mask used for leg occlusion and
    for checking that a shoe lands on a leg. In video mode each person is a track with its own pose model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

import cv2
import mediapipe as mp
import numpy as np

# Options of calculators inside MediaPipe's bundled pose graph whose Python modules mediapipe.solutions.pose does not
# import. A solution's graph config passes through Python's descriptor pool, which drops options it has no module
# for, so those calculators run on their defaults until something in the process imports the module: the heatmap
# refinement then changes kernel 9 -> 7 (the graph's value) and every later pose moves by up to about a pixel. They
# are imported here, before any graph is built, so that each graph runs with its written options whatever ran before.
from mediapipe.calculators.image import segmentation_smoothing_calculator_pb2  # noqa: F401
from mediapipe.calculators.util import (
    refine_landmarks_from_heatmap_calculator_pb2,  # noqa: F401
    visibility_copy_calculator_pb2,  # noqa: F401
)

from tryon.errors import ProcessingError
from tryon.landmarks import FACE_POINTS, FaceLandmarks, FootLandmarks, PoseLandmarks

logger = logging.getLogger(__name__)

Mode = Literal["image", "video"]

CROP_SIZE = 256
"""Side in pixels of the square crop a detected face is resampled to before face mesh."""
CROP_SCALE = 2.0
"""Crop side as a multiple of the detector's box side."""
REFINE_SCALE = 1.7
"""Crop side as a multiple of the face's landmark extent, for the refinement pass.

Lipstick-mask warp IoU (mean over 7 warps, faces >= 90 px wide) measured with 0 / 1 refinement passes:
astronaut 0.87 / 0.92, face_man_suit 0.94 / 0.97. Averaging 4 jittered refinement crops gave no
further gain, so one pass it is.
"""
ONE_PASS_SIDE = 128.0
"""Crop side in frame pixels (twice the detector's box) from which a face gets one face mesh pass on a crop set
upright by the detector's eye, nose and mouth keypoints instead of a box crop plus a refinement pass: half the
face mesh runs in image mode, at the same warp IoU on large faces (lipstick mask, mean over 12 warps, one pass /
two: face_man_suit 0.951 / 0.965, astronaut 0.916 / 0.897). Smaller faces keep the second pass (their
sub-pixel IoU falls from 0.72 to 0.68 without it)."""
ROI_SCALE_FACE = 1.5
"""Video: side of the square box (set upright by the eyes) the face landmark model reads a face in, over the larger
side of the detector's box or of the landmarks' box, as MediaPipe's own ``FaceDetectionFrontDetectionToRoi`` and
``FaceLandmarkLandmarksToRoi`` do. In video the model runs straight on that box (:class:`_FaceRoiMesh`): face mesh
on a crop runs its own short-range detector first, to find the face the full-range detector (or the last frame's
landmarks) found already (2.2 of 5.8 ms a face). Still images keep the crop (``CROP_SCALE``): the short-range
detector on an upright crop gives steadier landmarks under shifts, turns and scaling than the full-range
detector's box (lipstick warp IoU, mean over 12 warps, crop / box: face_man_suit 0.951 / 0.945, astronaut
0.916 / 0.890, the 41 px face of person_standing_shoes.jpg 0.746 / 0.679)."""
SILHOUETTE_SCALE = 1.6
"""Side of the square crop the person segmentation runs on (:meth:`MediaPipeProvider.silhouette`), over the
face's landmark extent: the head and some of what is around it."""
SILHOUETTE_SIDE = 256
"""Larger crops are resampled to this side before the segmentation (whose input is 256 x 144 anyway), bilinearly:
area averaging cost 2.2 ms on an 800 px crop (pp_03_woman.jpg, more than the segmentation itself), bilinear
0.1 ms; the person probability moves by 0.002-0.003 on average (bench_makeup_profile: lips on background)."""
SILHOUETTE_FRAMES = 12
"""In video mode a face's outline is reused, moved with the face, for this many frames while the face moves less
than ``SILHOUETTE_MOVE`` of its size and keeps its size to within that share. Lip pixels painted on the background
(selfie segmentation of the whole frame under 0.3), reuse for 3 / 6 frames, held-out clips: 3DDFA's
``obama.mp4`` (55 frames, yaw 28-32) 0 / 0, a sweep over 3DDFA's ``emma_input.jpg`` (60 frames, two turned
faces) 3 516 / 3 481 (7 856 without the clip), face_recognition's ``short_hamilton_clip.mp4`` (275 frames)
2 267 / 2 270; segmentation 1.06 / 0.65, 2.10 / 1.23, 0.38 / 0.26 ms a frame. Reuse for 6 / 12 frames (gloss
lipstick, pixels moved by more than 6 levels): ``obama.mp4`` 0 / 0 of 117 686 / 117 703 painted, the emma sweep
2 923 / 2 834 of 55 600 / 55 499, ``short_hamilton_clip.mp4`` (150 frames) 1 597 / 1 597 of 18 321 / 18 321;
the segmentation's share of a video frame halves (one run in 12 frames per turned face, about 3 ms each)."""
SILHOUETTE_MOVE = 0.1
FOOT_POINTS = {"left": (25, 27, 29, 31), "right": (26, 28, 30, 32)}
"""Pose indices of knee, ankle, heel and foot index per foot (the person's left and right)."""
MIN_FOOT_VISIBILITY = 0.5
PERSON_CROP_SCALE = 2.4
"""Crop side over the diameter of the circle the detector (or the last landmarks) say the whole body fits in
(the pose model misses people on tighter crops: the street video's walker is found from 2.25 on)."""
PERSON_MAX_CROP = 512
"""Crops larger than this many pixels are scaled down to it before the pose model (which works at 256)."""
PERSON_RETRY_SCALES = (1.0, 0.6, 1.5, 0.4)
"""Crop sizes tried in turn (over the first) until the pose found is the detected person's."""
PERSON_DRIFT = 0.5
"""A pose whose hips lie further than this fraction of the body's radius from where they were expected (the
detection, or the last frame) belongs to someone else: the track does not follow it."""
PERSON_TRACK_CROP = 384
"""In video mode every crop of a track has this size (the pose model's mask smoothing needs one size)."""
PERSON_DETECT_EVERY = 5
"""In video mode, run the person detector on one region (whole frame or a tile) every this many frames."""
PERSON_MAX_MISSED = 3
"""A person track ends after this many frames in a row without a pose in its crop."""
PERSON_WEAK_SCORE = 0.3
"""Still images: person detections scoring from this up to the pose confidence setting (0.5) are weak. After the
detector rounds, one more pass takes the weak ones outside the people found, each kept only when a pose re-centred
on its own hips shows a visible foot (the bundled detector graph stops at 0.5; a skier cut by the frame's edge on
a held-out photo scores 0.3-0.5)."""
EDGE_PRESENCE = 0.5
"""Still images, people the detector cannot see (their head outside the frame: it keys on the face): the pose
model's presence score from which a pose on a window at the frame's side is taken (:func:`_by_roi_graph`; the
bundled by-box graph gates at 0.5 too, but only ever sees boxes the detector drew)."""
EDGE_SIDES = (0.45, 0.65, 0.9)
"""Still images: side of the windows along the frame's left and right edges, over the frame's height (a person
cut by the side takes about 0.65 of the height of the held-out bus photo)."""
EDGE_STEP = 0.25
"""Still images: step between an edge's windows, over their side (from the frame's bottom up to its middle)."""
FOOT_GROUND = 0.15
"""Still images, a person cut by the frame's edge: a foot is kept when its person's mask has ended this share of
the body's radius below it (a shopping street's edge-cut woman got a "foot" on the hand holding her bag)."""
ROI_SCALE = 1.25
"""A pose's box for the by-box graph: its side over the diameter of the body's circle (the bundled graph's
``RectTransformationCalculator`` scales the landmarks' box by 1.25 too)."""
MIN_PERSON_REACH_PX = 12.0
"""Detections whose body circle has a smaller radius are too small for feet to be seen."""
PERSON_ROUNDS = 6
"""Still images: detector rounds, each on the frame with the people found so far hidden (and the detections
without a pose); the detector gives about one person per region and round. Once a round finds nobody, the
next ones look on tiles (:func:`_regions`)."""
HULL_MARGIN = 0.15
"""Still images: a found person is hidden where the mask and the hull of its landmarks (grown by this share of
the body's radius) agree: the pose model's mask covers everyone in its crop, and hiding it all hid the batter's
neighbours on a held-out baseball photo."""
TILE_SHARE = 0.6
"""Still images: side of the 2 x 2 detector tiles, over the frame's short side."""
SAME_PERSON = 0.25
"""Two poses whose hips are closer than this fraction of the larger body are the same person."""
DETECT_EVERY = 15
"""In video mode, look for new faces (missed by face mesh tracking) every this many frames."""
"""Also while no face is followed at all: the full-range detector costs more than a tracked face mesh (24 vs 18 ms
on a 640x360 frame under load), and face mesh tracking runs its own short-range detector on every frame anyway."""


_LANDMARK_RECORD = np.dtype(
    {"names": ["head", "size", "x", "y", "z"], "formats": ["u1", "u1", "<f4", "<f4", "<f4"],
     "offsets": [0, 1, 3, 8, 13], "itemsize": 17}
)  # fmt: skip
"""One landmark of a serialised ``NormalizedLandmarkList``: field 1, 15 bytes, then floats x (tag 0x0d), y (0x15),
z (0x1d)."""


def _landmark_array(landmarks: Any) -> np.ndarray:
    """(n, 3) float32 x, y, z of a ``NormalizedLandmarkList`` or of its serialised bytes (:func:`_output` hands the
    bytes over as the graph made them): read from the wire format in one go when every landmark has exactly x, y
    and z (face mesh's; 30 instead of 250 us for 478 points), else point by point."""
    raw = landmarks if isinstance(landmarks, bytes) else landmarks.SerializeToString()
    if raw and len(raw) % _LANDMARK_RECORD.itemsize == 0:
        n = len(raw) // _LANDMARK_RECORD.itemsize
        rec = np.frombuffer(raw, _LANDMARK_RECORD)
        b = np.frombuffer(raw, np.uint8).reshape(n, _LANDMARK_RECORD.itemsize)
        if (rec["head"] == 0x0A).all() and (rec["size"] == 15).all() and (b[:, [2, 7, 12]] == (0x0D, 0x15, 0x1D)).all():
            return np.stack([rec["x"], rec["y"], rec["z"]], axis=1)
    if isinstance(landmarks, bytes):
        from mediapipe.framework.formats import landmark_pb2

        landmarks = landmark_pb2.NormalizedLandmarkList.FromString(landmarks)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float32)


def _mesh_points(landmarks: Any, scale_x: float, scale_y: float) -> tuple[np.ndarray, np.ndarray]:
    arr = _landmark_array(landmarks)
    if arr.shape[0] != FACE_POINTS:
        raise ProcessingError(f"face mesh returned {arr.shape[0]} points, expected {FACE_POINTS}")
    # normalised -> pixel coordinates with pixel (i, j) centred on (i, j), as OpenCV draws and warps
    pts = arr[:, :2] * np.array([scale_x, scale_y], dtype=np.float32) - 0.5
    return pts, arr[:, 2] * scale_x


class MediaPipeProvider:
    """:class:`tryon.landmarks.LandmarkProvider` backed by MediaPipe solutions.

    ``mode="video"`` keeps tracking state between calls: use one provider per video or live stream.
    Models are created on first use, so a provider used only for faces never loads pose.
    """

    def __init__(
        self,
        mode: Mode = "image",
        *,
        max_faces: int = 8,
        min_face_confidence: float = 0.5,
        min_pose_confidence: float = 0.5,
        refine_passes: int = 1,
        detect_every: int = DETECT_EVERY,
        max_people: int = 8,
    ) -> None:
        self.mode = mode
        self.max_faces = max_faces
        self.detect_every = detect_every
        self.dropped_faces = 0
        """Faces found beyond ``max_faces`` in the last frame (the smallest ones; in video mode, as of the last
        detector run)."""
        self.min_face_confidence = min_face_confidence
        self.min_pose_confidence = min_pose_confidence
        self.refine_passes = refine_passes
        self.max_people = max_people
        self._detector: Any = None
        self._crop_mesh: Any = None
        self._box_mesh: Any = None
        self._track_mesh: Any = None
        self._static_pose: Any = None
        self._person_detector: Any = None
        self._roi_pose: Any = None
        self._people: list[_PersonTrack] = []
        self._people_frame = 0
        self._next_person = 0
        self._crop_tracks: list[FaceLandmarks] = []
        self._since_detect = 1 << 30
        self._last_dropped = 0
        self._follow_mesh: Any = None
        self._mesh_tracking = False
        self._selfie: Any = None
        self._frames = 0
        self._outlines: list[tuple[int, np.ndarray, float, tuple[int, int, int, int], np.ndarray]] = []

    # -- faces -----------------------------------------------------------------------------------
    def faces(self, frame: np.ndarray, t: float | None = None) -> list[FaceLandmarks]:
        """The ``max_faces`` largest faces in an RGB uint8 frame (h, w, 3), largest first; how many more were
        found is in :attr:`dropped_faces`."""
        _check_frame(frame)
        self._frames += 1
        if self.mode == "image":
            self._last_dropped = 0
        faces = self._video_faces(frame) if self.mode == "video" else self._detected_faces(frame)
        faces.sort(key=lambda f: -_size(f))
        self.dropped_faces = self._last_dropped + max(0, len(faces) - self.max_faces)
        return faces[: self.max_faces]

    def silhouette(self, frame: np.ndarray, face: FaceLandmarks) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The person's outline around a face: (box (x0, y0, x1, y1), (h, w) float32 person probability in it),
        from MediaPipe's selfie segmentation (landscape model) on a square crop ``SILHOUETTE_SCALE`` times the
        face's landmark extent (resampled to ``SILHOUETTE_SIDE``). Called only for faces turned from the camera (the
        lips' front edge); in video mode an outline is reused, moved with its face, for ``SILHOUETTE_FRAMES``."""
        _check_frame(frame)
        lo, hi = face.points.min(axis=0), face.points.max(axis=0)
        centre, half = (lo + hi) / 2.0, SILHOUETTE_SCALE * float((hi - lo).max()) / 2.0
        h, w = frame.shape[:2]
        x0, y0 = max(0, int(centre[0] - half)), max(0, int(centre[1] - half))
        x1, y1 = min(w, int(centre[0] + half) + 1), min(h, int(centre[1] + half) + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return (x0, y0, x0, y0), np.zeros((0, 0), np.float32)
        size = 2.0 * half
        if self.mode == "video":
            self._outlines = [o for o in self._outlines if self._frames - o[0] < SILHOUETTE_FRAMES]
            for _, was, was_size, (bx0, by0, bx1, by1), prob in self._outlines:
                moved = np.round(centre - was).astype(int)
                if np.abs(moved).max() <= SILHOUETTE_MOVE * size and abs(size / was_size - 1.0) <= SILHOUETTE_MOVE:
                    dx, dy = int(moved[0]), int(moved[1])
                    return (bx0 + dx, by0 + dy, bx1 + dx, by1 + dy), prob
        if self._selfie is None:
            self._selfie = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
        crop = frame[y0:y1, x0:x1]
        scale = SILHOUETTE_SIDE / max(crop.shape[:2])
        if scale < 1.0:  # bilinear, not area: 0.1 instead of 2.2 ms on an 800 px crop (see SILHOUETTE_SIDE)
            dsize = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
            crop = cv2.resize(crop, dsize, interpolation=cv2.INTER_LINEAR)
        prob = np.asarray(_output(self._selfie, {"image": _frozen(crop)}, "segmentation_mask"), dtype=np.float32)
        if scale < 1.0:
            prob = cv2.resize(prob, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        if self.mode == "video":
            self._outlines.append((self._frames, centre, size, (x0, y0, x1, y1), prob))
        return (x0, y0, x1, y1), prob

    def _video_faces(self, frame: np.ndarray) -> list[FaceLandmarks]:
        """Face mesh tracking on the whole frame, plus faces it misses (far from the camera).

        Those are found by the full-range detector (on the first frame and every ``detect_every`` frames)
        and then followed from frame to frame by re-cropping around
        their previous landmarks (:meth:`_recrop`), which is tracking without the detector.
        """
        # While face mesh tracking has lost every face and re-crops follow them, it would run its own detector on
        # every frame to no avail (a microphone in front of the mouth, a face turned away): it runs again with
        # the periodic detector.
        idle = bool(self._crop_tracks) and not self._mesh_tracking and self._since_detect + 1 < self.detect_every
        faces = [] if idle else self._tracked_faces(frame)
        if not idle:
            self._mesh_tracking = bool(faces)
        extra: list[FaceLandmarks] = []
        for prev in self._crop_tracks:
            if _covered(prev.center, faces + extra):  # face mesh tracking has it now
                continue
            face = self._recrop(frame, prev, follow=True)
            if face is not None and not _covered(face.center, faces + extra):
                extra.append(face)
        self._since_detect += 1
        if self._since_detect >= self.detect_every:
            self._since_detect = 0
            room = self.max_faces - len(faces + extra)
            for face in self._detected_faces(frame, skip=faces + extra, room=room, refine=False):
                extra.append(face)
        extra.sort(key=lambda f: -_size(f))
        self._crop_tracks = extra[: max(0, self.max_faces - len(faces))]
        return faces + self._crop_tracks

    def _tracked_faces(self, frame: np.ndarray) -> list[FaceLandmarks]:
        if self._track_mesh is None:
            self._track_mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=False,
                max_num_faces=self.max_faces,
                refine_landmarks=True,
                min_detection_confidence=self.min_face_confidence,
                min_tracking_confidence=0.5,
            )
        found = _output(self._track_mesh, {"image": _frozen(frame)}, "multi_face_landmarks", serialized=True)
        h, w = frame.shape[:2]
        out = []
        for lms in found or []:
            pts, depth = _mesh_points(lms, w, h)
            out.append(FaceLandmarks(points=pts, depth=depth))
        return out

    def _detected_faces(
        self, frame: np.ndarray, skip: list[FaceLandmarks] | None = None, room: int | None = None, refine: bool = True
    ) -> list[FaceLandmarks]:
        """Full-range detector, then face mesh per detection not already covered by ``skip``, the largest detections
        first, at most ``room`` (default ``max_faces``); the rest are counted in :attr:`dropped_faces`. Still
        images (``refine``): face mesh on a crop around the detection (and again on a crop around its landmarks for
        small faces); video: the landmark model straight on the detection's box (the next frame refines)."""
        skip = list(skip or [])
        room = self.max_faces if room is None else max(0, room)
        if self._detector is None:
            self._detector = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self.min_face_confidence
            )
        h, w = frame.shape[:2]
        detections = _output(self._detector, {"image": _frozen(frame)}, "detections") or []
        detections = sorted(detections, key=lambda d: -d.location_data.relative_bounding_box.width)
        faces: list[FaceLandmarks] = []
        dropped = 0
        for det in detections:
            box = det.location_data.relative_bounding_box
            side = max(box.width * w, box.height * h)
            if side * CROP_SCALE < 8:
                continue
            cx = (box.xmin + box.width / 2) * w
            cy = (box.ymin + box.height / 2) * h
            if _covered(np.array([cx, cy]), skip + faces):
                continue
            if len(faces) >= room:
                dropped += 1
                continue
            if not refine:  # video: the box, as face mesh's own graph reads it, and no second detector
                if self._box_mesh is None:
                    self._box_mesh = _FaceRoiMesh(0.5)
                center = np.array([cx - 0.5, cy - 0.5])  # normalised -> pixel centres, as in _mesh_points
                face = self._mesh_in_box(frame, center, side * ROI_SCALE_FACE, _eyes_angle(det, w, h),
                                         float(det.score[0]), self._box_mesh)  # fmt: skip
            else:
                side *= CROP_SCALE
                center, angle, passes = np.array([cx, cy]), 0.0, self.refine_passes
                if side >= ONE_PASS_SIDE:  # a large face: one pass on a crop set upright by the detector's keypoints
                    center, angle = _keypoint_frame(det, w, h, center)
                    passes = 0
                face = self._mesh_in_crop(frame, center, side, angle, float(det.score[0]))
                for _ in range(passes):
                    if face is None:
                        break
                    face = self._refined(frame, face)
            if face is not None:
                faces.append(face)
        self._last_dropped = dropped
        return faces

    def _refined(self, frame: np.ndarray, face: FaceLandmarks) -> FaceLandmarks:
        again = self._recrop(frame, face)
        return again if again is not None else face

    def _recrop(self, frame: np.ndarray, face: FaceLandmarks, follow: bool = False) -> FaceLandmarks | None:
        """Run face mesh again on a crop centred, scaled and rotated upright from the face's own landmarks.

        The crop then looks the same whatever the face's position, size and roll in the frame, so the
        landmarks move with the image when it is shifted, rotated or scaled (mask warp invariance).
        ``follow`` (video): the landmark model runs straight on the box of the face's landmarks
        (``ROI_SCALE_FACE`` times their extent, set upright by the eyes), as face mesh's tracking does with its
        last landmarks, without a detector; it gates at a presence score of 0.3, as the tracking face mesh on a
        crop it replaces did.
        """
        pts = face.points[:468].astype(np.float64)
        d = pts[263] - pts[33]
        angle = float(np.arctan2(d[1], d[0]))
        rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
        mean = pts.mean(axis=0)
        local = (pts - mean) @ rot.T
        lo, hi = local.min(axis=0), local.max(axis=0)
        extent = float((hi - lo).max())
        if not follow:
            return self._mesh_in_crop(frame, mean, extent * REFINE_SCALE, angle, face.score)
        if self._follow_mesh is None:
            self._follow_mesh = _FaceRoiMesh(0.3)
        center = mean + rot.T @ ((lo + hi) / 2.0)
        return self._mesh_in_box(frame, center, extent * ROI_SCALE_FACE, angle, face.score, self._follow_mesh)

    def _mesh_in_box(
        self, frame: np.ndarray, center: np.ndarray, side: float, angle: float, score: float, mesh: _FaceRoiMesh
    ) -> FaceLandmarks | None:
        """The face landmark model on the square of ``side`` px around ``center`` (frame pixels) rotated by
        ``angle`` (radians, the face's roll), read by the graph from the part of the frame the square covers."""
        h, w = frame.shape[:2]
        reach = side * (abs(np.cos(angle)) + abs(np.sin(angle))) / 2.0 + 2.0
        x0, y0 = max(0, int(center[0] - reach)), max(0, int(center[1] - reach))
        x1, y1 = min(w, int(center[0] + reach) + 2), min(h, int(center[1] + reach) + 2)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        sw, sh = x1 - x0, y1 - y0
        roi = mesh.rect(
            x_center=(center[0] - x0 + 0.5) / sw, y_center=(center[1] - y0 + 0.5) / sh, width=side / sw,
            height=side / sh, rotation=angle,
        )  # fmt: skip
        landmarks = mesh.process(_frozen(frame[y0:y1, x0:x1]), roi)
        if landmarks is None:
            return None
        pts, depth = _mesh_points(landmarks, sw, sh)
        pts += np.array([x0, y0], dtype=np.float32)
        return FaceLandmarks(points=pts, depth=depth.astype(np.float32), score=score)

    def _mesh_in_crop(
        self, frame: np.ndarray, center: np.ndarray, side: float, angle: float, score: float
    ) -> FaceLandmarks | None:
        """Still images: face mesh (static, with its own detector) on a square crop of ``side`` px around
        ``center``, rotated by ``-angle`` (radians)."""
        scale = CROP_SIZE / side
        c, s = np.cos(angle) * scale, np.sin(angle) * scale
        lin = np.array([[c, s], [-s, c]])  # frame -> crop: rotate by -angle, then scale
        half = (CROP_SIZE - 1) / 2.0
        m = np.concatenate([lin, (np.array([half, half]) - lin @ center)[:, None]], axis=1)
        crop = cv2.warpAffine(frame, m, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        if self._crop_mesh is None:
            self._crop_mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.3
            )
        found = _output(self._crop_mesh, {"image": _frozen(crop)}, "multi_face_landmarks", serialized=True)
        if not found:
            return None
        pts, depth = _mesh_points(found[0], CROP_SIZE, CROP_SIZE)
        det = lin[0, 0] * lin[1, 1] - lin[0, 1] * lin[1, 0]
        inv = np.array([[lin[1, 1], -lin[0, 1]], [-lin[1, 0], lin[0, 0]]]) / det  # 2x2: no LAPACK call
        pts = (pts - m[:, 2]) @ inv.T
        return FaceLandmarks(points=pts.astype(np.float32), depth=(depth / scale).astype(np.float32), score=score)

    # -- people ------------------------------------------------------------------------------------
    def pose(self, frame: np.ndarray, t: float | None = None) -> PoseLandmarks | None:
        """The largest person's pose, visible feet and segmentation mask, or None."""
        people = self.people(frame, t)
        return people[0] if people else None

    def people(self, frame: np.ndarray, t: float | None = None) -> list[PoseLandmarks]:
        """Every person found (at most ``max_people``), largest first: pose, feet, world feet, person mask.

        MediaPipe's pose model follows one person, so its bundled person detector (the BlazePose detector the
        pose solution runs inside, here on its own: :func:`_detector_graph`) finds people on the whole frame
        and on square tiles of it, and the pose model runs on a square crop around each. In video mode each
        person is a track with its own pose model in tracking mode, re-cropped every frame around its last
        landmarks, so a person's pose never jumps to someone else; the detector looks for new people on one
        region every ``PERSON_DETECT_EVERY`` frames (all regions on the first frame and whenever nobody is
        tracked).
        """
        _check_frame(frame)
        if self.mode == "video":
            return self._video_people(frame)
        found: list[PoseLandmarks] = []
        if self._static_pose is None:
            self._static_pose = self._pose_model(static=True)
        search, shown, failed, tiles = frame, frame, [], False  # shown: the frame with the people found greyed
        for _ in range(PERSON_ROUNDS):  # the detector keeps one of people standing close: hide them, look again
            crops = self._detect_people(search, _regions(frame.shape, tiles), [])
            if not crops and tiles:
                break
            for center, side in crops:
                person = _pose_near(self._static_pose, shown, center, side)
                if person is not None and not _same_person(person, found):
                    found.append(person)
                    shown = _hidden(shown, [person])
                else:  # no pose there (or someone found already): the detector must look elsewhere next round
                    failed.append((center, side / (2 * PERSON_CROP_SCALE)))
            if len(found) >= self.max_people:
                break
            tiles = tiles or not crops  # nobody more on the whole frame: smaller people on tiles
            search = _hidden(shown, [], failed)
        if len(found) < self.max_people:  # last: weak detections where nobody was found, kept with a visible foot
            regions = _regions(frame.shape) + _regions(frame.shape, tiles=True)
            covered = [(_hips(p), 2.0 * _body_size(p)) for p in found]
            for center, side in self._detect_people(frame, regions, covered, weak=True):
                person = self._recentred_pose(shown, center, side, found)
                if person is not None:
                    found.append(person)
                    shown = _hidden(shown, [person])
        for person in self._edge_people(shown, found) if len(found) < self.max_people else []:
            found.append(person)
            shown = _hidden(shown, [person])
        found.sort(key=lambda p: -_body_size(p))
        return [_with_id(p, i) for i, p in enumerate(found[: self.max_people])]

    def _edge_people(self, shown: np.ndarray, found: list[PoseLandmarks]) -> list[PoseLandmarks]:
        """Still images, last: people cut by the frame's left or right edge, whom the detector (keyed on the face)
        cannot see. The pose model runs straight on windows along both edges (:func:`_by_roi_graph`, no detector),
        on the frame with the people found greyed; a pose is cropped again around its own hips and kept when its
        head or shoulders lie outside the frame or on its edge and a visible foot of it lies on its own mask."""
        if self._roi_pose is None:
            self._roi_pose = _RoiPose(EDGE_PRESENCE)
        h, w = shown.shape[:2]
        new: list[PoseLandmarks] = []
        for scale in EDGE_SIDES:
            side = scale * h
            ys = np.arange(h - 0.3 * side, h / 2 - 1e-6, -EDGE_STEP * side)
            centres = [(x, y) for x in (0.05 * side, w - 0.05 * side) for y in ys]
            for cx, cy in centres:
                if len(found) + len(new) >= self.max_people:
                    return new
                person = self._edge_person(shown, np.array([cx, cy]), side, found + new)
                if person is not None:
                    new.append(person)
                    shown = _hidden(shown, [person])
        return new

    def _edge_person(
        self, frame: np.ndarray, center: np.ndarray, side: float, found: list[PoseLandmarks]
    ) -> PoseLandmarks | None:
        """The person cut by the frame's edge whose pose the by-box graph finds on the window of ``side`` px around
        ``center``, re-centred on its hips, with the feet that pass :func:`_foot_on_mask`; or None."""
        first = _pose_in_crop(self._roi_pose, frame, center, side)
        if first is None or _same_person(first, found):
            return None
        hips, radius = _hips(first), _body_size(first)
        person = _pose_in_crop(self._roi_pose, frame, hips, 2 * ROI_SCALE * radius)
        if (
            person is None
            or _same_person(person, found)
            or np.linalg.norm(_hips(person) - hips) > PERSON_DRIFT * radius
        ):
            return None
        h, w = frame.shape[:2]
        top = person.points[:13]  # the face and shoulders
        if not np.any((top[:, 0] < 0.02 * w) | (top[:, 0] > 0.98 * w) | (top[:, 1] < 0.02 * h)):
            return None  # a whole person: the detector's to find
        feet = tuple(f for f in person.feet if _foot_on_mask(f, person, found, (h, w)))
        if not feet:
            return None
        return PoseLandmarks(person.points, person.visibility, feet, person.segmentation)

    def _recentred_pose(
        self, frame: np.ndarray, center: np.ndarray, side: float, found: list[PoseLandmarks]
    ) -> PoseLandmarks | None:
        """Still images, a weak detection: its hips are often off (a skier cut by the frame's edge: 80 px for a
        body radius of 80), so the first pose of someone new on its crops is cropped again around its own hips,
        and kept if that pose stays there and shows a visible foot."""
        for scale in PERSON_RETRY_SCALES:
            first = _pose_in_crop(self._static_pose, frame, center, side * scale)
            if first is None or _same_person(first, found):
                continue
            again, again_side = _crop_of(first)
            person = _pose_near(self._static_pose, frame, again, again_side)
            if person is not None and person.feet and not _same_person(person, found):
                return person
        return None

    def _pose_model(self, static: bool) -> Any:
        return mp.solutions.pose.Pose(
            static_image_mode=static,
            model_complexity=1,
            enable_segmentation=True,
            smooth_landmarks=True,
            smooth_segmentation=False,  # never ran: its options (ratio 0.7) were dropped; see the imports above
            min_detection_confidence=self.min_pose_confidence,
            min_tracking_confidence=0.5,
        )

    def _video_people(self, frame: np.ndarray) -> list[PoseLandmarks]:
        out: list[PoseLandmarks] = []
        kept: list[_PersonTrack] = []
        for track in self._people:  # oldest first: on a tie the older track keeps the person
            person = _pose_near(track.model, frame, track.center, track.side, PERSON_TRACK_CROP, tries=1)
            if person is not None and _same_person(person, out):
                person = None  # two tracks on one person: the younger one lets go
            if person is None:
                track.missed += 1
                if track.missed > PERSON_MAX_MISSED:
                    track.model.close()
                    continue
            else:
                track.missed = 0
                track.center, track.side = _crop_of(person)
                out.append(_with_id(person, track.id))
            kept.append(track)
        self._people = kept
        self._people_frame += 1
        regions = _regions(frame.shape)
        if not out or self._people_frame == 1:
            look = regions
        elif self._people_frame % PERSON_DETECT_EVERY == 0:
            look = [regions[(self._people_frame // PERSON_DETECT_EVERY) % len(regions)]]
        else:
            look = []
        if look and len(self._people) < self.max_people:
            covered = [(tr.center, tr.side) for tr in self._people]
            for center, side in self._detect_people(frame, look, covered):
                if len(self._people) >= self.max_people:
                    break
                track = _PersonTrack(self._next_person, self._pose_model(static=False), center, side)
                person = _pose_near(track.model, frame, center, side, PERSON_TRACK_CROP)
                if person is None or _same_person(person, out):
                    track.model.close()
                    continue
                self._next_person += 1
                track.center, track.side = _crop_of(person)
                self._people.append(track)
                out.append(_with_id(person, track.id))
        out.sort(key=lambda p: -_body_size(p))
        return out

    def _detect_people(
        self,
        frame: np.ndarray,
        regions: list[tuple[int, int, int]],
        covered: list[tuple[np.ndarray, float]],
        weak: bool = False,
    ) -> list[tuple[np.ndarray, float]]:
        """Crops (centre, side) around the people the detector finds in ``regions`` (x0, y0, side squares),
        skipping those whose hips lie in a ``covered`` crop's middle half, largest first; with ``weak`` only the
        detections scoring from ``PERSON_WEAK_SCORE`` up to the pose confidence setting."""
        if self._person_detector is None:
            from mediapipe.python.solution_base import SolutionBase

            self._person_detector = SolutionBase(
                graph_config=_detector_graph(PERSON_WEAK_SCORE), outputs=["detections", "weak"]
            )
        found = list(covered)
        new: list[tuple[np.ndarray, float]] = []
        for x0, y0, side in regions:
            crop = frame[y0 : y0 + side, x0 : x0 + side]
            ch, cw = crop.shape[:2]
            out = self._person_detector.process({"image": np.ascontiguousarray(crop)})
            for det in (out.weak if weak else out.detections) or []:
                if (det.score[0] < self.min_pose_confidence) != weak:
                    continue
                kp = det.location_data.relative_keypoints
                hips = np.array([x0 + kp[0].x * cw, y0 + kp[0].y * ch])
                reach = float(np.hypot((kp[1].x - kp[0].x) * cw, (kp[1].y - kp[0].y) * ch))
                if reach < MIN_PERSON_REACH_PX or any(np.all(np.abs(hips - c) < s / 4) for c, s in found):
                    continue
                found.append((hips, 2 * reach * PERSON_CROP_SCALE))
                new.append(found[-1])
        new.sort(key=lambda cs: -cs[1])
        return new

    def close(self) -> None:
        """Release the MediaPipe models (the provider cannot be used afterwards)."""
        models = (self._detector, self._crop_mesh, self._box_mesh, self._track_mesh, self._follow_mesh)
        for model in (*models, self._static_pose, self._person_detector, self._selfie, self._roi_pose):
            if model is not None:
                model.close()
        for track in self._people:
            track.model.close()
        self._detector = self._crop_mesh = self._box_mesh = self._track_mesh = self._follow_mesh = None
        self._static_pose = self._person_detector = self._selfie = self._roi_pose = None
        self._people = []
        self._people_frame = 0
        self._outlines = []
        self._crop_tracks = []
        self._since_detect = 1 << 30

    def __enter__(self) -> MediaPipeProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _eyes_angle(det: Any, w: int, h: int) -> float:
    """A detection's roll (radians) from its eye keypoints (the person's left eye minus their right eye, as the
    mesh's 263 - 33): MediaPipe's ``FaceDetectionFrontDetectionToRoi`` turns the face's box upright the same way."""
    kps = det.location_data.relative_keypoints
    if len(kps) < 2:
        return 0.0
    return float(np.arctan2((kps[1].y - kps[0].y) * h, (kps[1].x - kps[0].x) * w))


def _keypoint_frame(det: Any, w: int, h: int, fallback: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and roll (radians) of a detection from its eye, nose and mouth keypoints."""
    kps = det.location_data.relative_keypoints
    if len(kps) < 4:
        return fallback, 0.0
    pts = np.array([(k.x * w, k.y * h) for k in kps[:4]], dtype=np.float64)
    return pts.mean(axis=0), _eyes_angle(det, w, h)


def _size(face: FaceLandmarks) -> float:
    """A face's size in pixels: the larger side of its landmarks' box (robust to a turned head)."""
    lo, hi = face.points.min(axis=0), face.points.max(axis=0)
    return float(max(hi - lo))


def _covered(point: np.ndarray, faces: list[FaceLandmarks]) -> bool:
    """True when ``point`` lies inside the landmark box of one of ``faces``."""
    for f in faces:
        lo, hi = f.points.min(axis=0), f.points.max(axis=0)
        if lo[0] <= point[0] <= hi[0] and lo[1] <= point[1] <= hi[1]:
            return True
    return False


def _frozen(image: np.ndarray) -> np.ndarray:
    """A read-only, C-contiguous view of ``image`` (the caller's array keeps its flags) for MediaPipe's ``process``:
    MediaPipe wraps a read-only array's pixels in its image packet, where it copies a writeable one (a full-frame
    copy per detector or face mesh run, 0.2-0.6 ms on a 1280 px frame)."""
    view = np.ascontiguousarray(image).view()
    view.flags.writeable = False
    return view


def _output(solution: Any, inputs: dict[str, Any], name: str, serialized: bool = False) -> Any:
    """``solution.process(inputs).<name>`` for a MediaPipe ``SolutionBase``: the same packets in, the same output
    read, without building a ``namedtuple`` class for the outputs on every call (``process`` does; with its
    ``eval``, 0.1-0.3 ms of a 3-6 ms face mesh run). ``serialized``: a proto output (or each of a list's) as the
    graph serialised it, not parsed into Python messages (478 face mesh landmarks: 0.1 ms parsed, then serialised
    again by :func:`_landmark_array`). Falls back to ``process`` when the solution's graph interface is not the one
    of MediaPipe 0.10.21."""
    from mediapipe.python import packet_getter
    from mediapipe.python.solution_base import SolutionBase

    graph, outputs = getattr(solution, "_graph", None), getattr(solution, "_graph_outputs", None)
    types_in = getattr(solution, "_input_stream_type_info", None)
    types_out = getattr(solution, "_output_stream_type_info", None)
    if None in (graph, outputs, types_in, types_out) or not hasattr(solution, "_make_packet"):
        out = getattr(SolutionBase.process(solution, inputs), name)
        if not serialized or out is None:
            return out
        return [m.SerializeToString() for m in out] if isinstance(out, list) else out.SerializeToString()
    outputs.clear()
    solution._simulated_timestamp += 33333  # as process: a 30 fps clock
    for stream, data in inputs.items():
        packet = solution._make_packet(types_in[stream], data).at(solution._simulated_timestamp)
        graph.add_packet_to_input_stream(stream=stream, packet=packet)
    graph.wait_until_idle()
    packet = outputs.get(name)
    if packet is None or packet.is_empty():
        return None
    raw = getattr(packet_getter, "_packet_getter", None)
    kind = getattr(types_out[name], "value", None)
    if serialized and raw is not None and kind in ("proto", "proto_list"):
        if kind == "proto":
            return raw._get_serialized_proto(packet)
        return list(raw._get_serialized_proto_list(packet)) if raw._get_proto_vector_size(packet) else []
    return solution._get_packet_content(types_out[name], packet)


def _check_frame(frame: np.ndarray) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ProcessingError(f"frame must be RGB uint8 (h, w, 3), got {frame.dtype} {frame.shape}")


@dataclass(slots=True)
class _PersonTrack:
    id: int
    model: Any
    center: np.ndarray
    side: float
    missed: int = 0


def _detector_graph(weak_score: float) -> Any:
    """The pose solution's person detector (the nodes of ``PoseDetectionCpu``, bundled with mediapipe) as its own
    graph: ``detections`` as the bundled subgraph gives them (score 0.5 and up) and ``weak`` ones down to
    ``weak_score``, decoded and merged apart so that the weak ones do not move the others' boxes."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2

    decode = """
        node {
          calculator: "TensorsToDetectionsCalculator"
          input_stream: "TENSORS:raw" input_side_packet: "ANCHORS:anchors" output_stream: "DETECTIONS:all_NAME"
          options { [mediapipe.TensorsToDetectionsCalculatorOptions.ext] {
            num_classes: 1 num_boxes: 2254 num_coords: 12 box_coord_offset: 0 keypoint_coord_offset: 4
            num_keypoints: 4 num_values_per_keypoint: 2 sigmoid_score: true score_clipping_thresh: 100.0
            reverse_output_order: true x_scale: 224.0 y_scale: 224.0 h_scale: 224.0 w_scale: 224.0
            min_score_thresh: MIN_SCORE } }
        }
        node {
          calculator: "NonMaxSuppressionCalculator" input_stream: "all_NAME" output_stream: "kept_NAME"
          options { [mediapipe.NonMaxSuppressionCalculatorOptions.ext] {
            min_suppression_threshold: 0.3 overlap_type: INTERSECTION_OVER_UNION algorithm: WEIGHTED } }
        }
        node {
          calculator: "DetectionLetterboxRemovalCalculator"
          input_stream: "DETECTIONS:kept_NAME" input_stream: "LETTERBOX_PADDING:padding"
          output_stream: "DETECTIONS:NAME"
        }
    """
    text = """
        input_stream: "image"
        output_stream: "detections"
        output_stream: "weak"
        node {
          calculator: "ImageToTensorCalculator"
          input_stream: "IMAGE:image" output_stream: "TENSORS:tensors" output_stream: "LETTERBOX_PADDING:padding"
          options { [mediapipe.ImageToTensorCalculatorOptions.ext] {
            output_tensor_width: 224 output_tensor_height: 224 keep_aspect_ratio: true
            output_tensor_float_range { min: -1.0 max: 1.0 } border_mode: BORDER_ZERO gpu_origin: TOP_LEFT } }
        }
        node {
          calculator: "InferenceCalculator" input_stream: "TENSORS:tensors" output_stream: "TENSORS:raw"
          options { [mediapipe.InferenceCalculatorOptions.ext] {
            model_path: "mediapipe/modules/pose_detection/pose_detection.tflite" delegate { xnnpack {} } } }
        }
        node {
          calculator: "SsdAnchorsCalculator" output_side_packet: "anchors"
          options { [mediapipe.SsdAnchorsCalculatorOptions.ext] {
            num_layers: 5 min_scale: 0.1484375 max_scale: 0.75 input_size_height: 224 input_size_width: 224
            anchor_offset_x: 0.5 anchor_offset_y: 0.5 strides: 8 strides: 16 strides: 32 strides: 32 strides: 32
            aspect_ratios: 1.0 fixed_anchor_size: true } }
        }
    """
    text += decode.replace("NAME", "detections").replace("MIN_SCORE", "0.5")
    text += decode.replace("NAME", "weak").replace("MIN_SCORE", f"{weak_score:.3f}")
    return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())


class _FaceRoiMesh:
    """Face mesh's landmark model (with attention: refined lips, eyes and irises) on a box the caller gives
    (:func:`_face_by_roi_graph`), without face mesh's own detector; landmarks under the face presence score
    ``min_presence`` are dropped."""

    def __init__(self, min_presence: float) -> None:
        from mediapipe.calculators.util import thresholding_calculator_pb2  # noqa: F401 (registers the options)
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python.solution_base import SolutionBase

        self.rect = rect_pb2.NormalizedRect
        self._graph = SolutionBase(
            graph_config=_face_by_roi_graph(), side_inputs={"with_attention": True}, outputs=["landmarks"],
            calculator_params={"facelandmarkcpu__ThresholdingCalculator.threshold": min_presence},
        )  # fmt: skip

    def process(self, image: np.ndarray, roi: Any) -> Any:
        """The face's ``NormalizedLandmarkList`` (normalised to ``image``) in the ``NormalizedRect`` ``roi``,
        serialised (read by :func:`_landmark_array`), or None."""
        return _output(self._graph, {"image": image, "roi": roi}, "landmarks", serialized=True)

    def close(self) -> None:
        """Release the graph."""
        self._graph.close()


def _face_by_roi_graph() -> Any:
    """The bundled ``FaceLandmarkCpu`` subgraph (the part of face mesh after its detector) as its own graph: an image
    and the face's rotated box in it (``roi``) in, the face's 478 landmarks out."""
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2

    text = """
        input_stream: "image" input_stream: "roi" output_stream: "landmarks"
        node {
          calculator: "FaceLandmarkCpu" input_stream: "IMAGE:image" input_stream: "ROI:roi"
          output_stream: "LANDMARKS:landmarks" input_side_packet: "WITH_ATTENTION:with_attention"
        }
    """
    return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())


class _RoiPose:
    """The pose model on a whole image taken as the person's box (:func:`_by_roi_graph`), with the interface of
    the pose solution's ``process``: ``pose_landmarks`` is None under the presence score ``min_presence``.

    Building it once moved the pose solution's landmarks for the rest of the process by about a pixel (a hip of
    the held-out bus photo at x 197 -> 196): it imported the heatmap refinement's options module, which the pose
    solution lacked (see the imports at the top of this module, which fix that)."""

    def __init__(self, min_presence: float) -> None:
        from mediapipe.python.solution_base import SolutionBase

        self.min_presence = min_presence
        self._graph = SolutionBase(
            graph_config=_by_roi_graph(), outputs=["presence", "landmarks", "world_landmarks", "segmentation"]
        )

    def process(self, image: np.ndarray) -> Any:
        """Landmarks, world landmarks and the person mask (at the image's size) of the person filling ``image``."""
        from types import SimpleNamespace

        out = self._graph.process({"image": image})
        if out.presence is None or float(out.presence) < self.min_presence:
            return SimpleNamespace(pose_landmarks=None)
        mask = cv2.resize(np.asarray(out.segmentation, np.float32), image.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        return SimpleNamespace(pose_landmarks=out.landmarks, pose_world_landmarks=out.world_landmarks,
                               segmentation_mask=mask)  # fmt: skip

    def close(self) -> None:
        """Release the graph."""
        self._graph.close()


def _by_roi_graph() -> Any:
    """The pose landmark model's part of the bundled ``PoseLandmarkByRoiCpu`` (the nodes it expands to) as its own
    graph, for an image that is the person's box already: the presence score comes out as ``presence`` instead of
    gating the landmarks at 0.5, so that a box the detector did not draw can be judged by the caller."""
    from google.protobuf import text_format
    from mediapipe.calculators.core import split_vector_calculator_pb2  # noqa: F401 (registers the options)
    from mediapipe.calculators.tensor import (
        tensors_to_landmarks_calculator_pb2,  # noqa: F401
        tensors_to_segmentation_calculator_pb2,  # noqa: F401
    )
    from mediapipe.framework import calculator_pb2

    split = "options { [mediapipe.SplitVectorCalculatorOptions.ext] { RANGES } }"
    ranges = " ".join(f"ranges {{ begin: {i} end: {i + 1} }}" for i in range(5))
    first33 = split.replace("RANGES", "ranges { begin: 0 end: 33 }")
    text = f"""
        input_stream: "image"
        output_stream: "presence" output_stream: "landmarks" output_stream: "world_landmarks"
        output_stream: "segmentation"
        node {{
          calculator: "ImageToTensorCalculator" input_stream: "IMAGE:image" output_stream: "TENSORS:tensors"
          options {{ [mediapipe.ImageToTensorCalculatorOptions.ext] {{
            output_tensor_width: 256 output_tensor_height: 256 keep_aspect_ratio: true
            output_tensor_float_range {{ min: 0.0 max: 1.0 }} }} }}
        }}
        node {{
          calculator: "ConstantSidePacketCalculator" output_side_packet: "PACKET:model_path"
          options {{ [mediapipe.ConstantSidePacketCalculatorOptions.ext] {{
            packet {{ string_value: "mediapipe/modules/pose_landmark/pose_landmark_full.tflite" }} }} }}
        }}
        node {{
          calculator: "ResourceProviderCalculator" input_side_packet: "RESOURCE_ID:model_path"
          output_side_packet: "RESOURCE:model_resource"
        }}
        node {{
          calculator: "TfLiteModelCalculator" input_side_packet: "MODEL_RESOURCE:model_resource"
          output_side_packet: "MODEL:model"
        }}
        node {{
          calculator: "InferenceCalculatorCpu" input_stream: "TENSORS:tensors" output_stream: "TENSORS:raw"
          input_side_packet: "MODEL:model"
          options {{ [mediapipe.InferenceCalculatorOptions.ext] {{ delegate {{ xnnpack {{}} }} }} }}
        }}
        node {{
          calculator: "SplitTensorVectorCalculator" input_stream: "raw" output_stream: "landmark_tensor"
          output_stream: "flag_tensor" output_stream: "mask_tensor" output_stream: "heatmap_tensor"
          output_stream: "world_tensor" {split.replace("RANGES", ranges)}
        }}
        node {{
          calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:flag_tensor" output_stream: "FLOAT:presence"
        }}
        node {{
          calculator: "TensorsToLandmarksCalculator" input_stream: "TENSORS:landmark_tensor"
          output_stream: "NORM_LANDMARKS:raw_landmarks"
          options {{ [mediapipe.TensorsToLandmarksCalculatorOptions.ext] {{ num_landmarks: 39 input_image_width: 256
            input_image_height: 256 visibility_activation: SIGMOID presence_activation: SIGMOID }} }}
        }}
        node {{
          calculator: "RefineLandmarksFromHeatmapCalculator" input_stream: "NORM_LANDMARKS:raw_landmarks"
          input_stream: "TENSORS:heatmap_tensor" output_stream: "NORM_LANDMARKS:all_landmarks"
          options {{ [mediapipe.RefineLandmarksFromHeatmapCalculatorOptions.ext] {{ kernel_size: 7 }} }}
        }}
        node {{
          calculator: "SplitNormalizedLandmarkListCalculator" input_stream: "all_landmarks" output_stream: "landmarks"
          {first33}
        }}
        node {{
          calculator: "TensorsToLandmarksCalculator" input_stream: "TENSORS:world_tensor"
          output_stream: "LANDMARKS:all_world"
          options {{ [mediapipe.TensorsToLandmarksCalculatorOptions.ext] {{ num_landmarks: 39 }} }}
        }}
        node {{
          calculator: "SplitLandmarkListCalculator" input_stream: "all_world" output_stream: "world_bare" {first33}
        }}
        node {{
          calculator: "VisibilityCopyCalculator" input_stream: "NORM_LANDMARKS_FROM:landmarks"
          input_stream: "LANDMARKS_TO:world_bare" output_stream: "LANDMARKS_TO:world_landmarks"
          options {{ [mediapipe.VisibilityCopyCalculatorOptions.ext] {{ copy_visibility: true copy_presence: true }} }}
        }}
        node {{
          calculator: "TensorsToSegmentationCalculator" input_stream: "TENSORS:mask_tensor"
          output_stream: "MASK:segmentation"
          options {{ [mediapipe.TensorsToSegmentationCalculatorOptions.ext] {{
            gpu_origin: TOP_LEFT activation: SIGMOID }} }}
        }}
    """
    return text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())


def _foot_on_mask(
    foot: FootLandmarks, person: PoseLandmarks, others: list[PoseLandmarks], shape: tuple[int, int]
) -> bool:
    """True when the foot's heel and toe lie in the frame, on the person's own mask and on nobody else's, and the
    mask ends a little below them (``FOOT_GROUND`` of the body's radius: the ground, not a hand holding a bag)."""
    h, w = shape
    seg = person.segmentation
    if seg is None:
        return False
    below = np.array([0.0, FOOT_GROUND * _body_size(person)])
    for pt, on in ((foot.heel, True), (foot.toe, True), ((foot.heel + foot.toe) / 2, True),
                   (max(foot.heel, foot.toe, key=lambda q: float(q[1])) + below, False)):  # fmt: skip
        x, y = round(float(pt[0])), round(float(pt[1]))
        if not (0 <= x < w and 0 <= y < h) or (seg[y, x] > 0.5) != on:
            return False
        if on and any(o.segmentation is not None and o.segmentation[y, x] > 0.5 for o in others):
            return False
    return True


def _regions(shape: tuple[int, ...], tiles: bool = False) -> list[tuple[int, int, int]]:
    """The whole frame, then squares along its long side (left, middle, right or top, middle, bottom); with
    ``tiles`` instead 2 x 2 overlapping squares of ``TILE_SHARE`` of the short side, for people too small for
    the detector on the whole frame."""
    h, w = shape[:2]
    side = min(h, w)
    if tiles:
        tile = round(TILE_SHARE * side)
        return [(round(fx * (w - tile)), round(fy * (h - tile)), tile) for fy in (0.0, 1.0) for fx in (0.0, 1.0)]
    regions = [(0, 0, max(h, w))]
    if max(h, w) > 1.2 * side:
        for f in (0.0, 0.5, 1.0):
            off = round(f * (max(h, w) - side))
            regions.append((off, 0, side) if w > h else (0, off, side))
    return regions


def _pose_near(
    model: Any, frame: np.ndarray, center: np.ndarray, side: float, size: int | None = None, tries: int = 4
) -> PoseLandmarks | None:
    """The pose of the person whose hips are at ``center``: the pose model on a crop of ``side`` px, then on
    tighter and looser crops while it finds someone else (another person in the crop) or nobody."""
    reach = side / (2 * PERSON_CROP_SCALE)
    for scale in PERSON_RETRY_SCALES[:tries]:
        person = _pose_in_crop(model, frame, center, side * scale, size)
        if person is not None and np.linalg.norm(_hips(person) - center) < PERSON_DRIFT * reach:
            return person
    return None


def _pose_in_crop(
    model: Any, frame: np.ndarray, center: np.ndarray, side: float, size: int | None = None
) -> PoseLandmarks | None:
    """Pose model on the square of ``side`` px around ``center``, resampled to ``size`` px (default: its own
    size up to ``PERSON_MAX_CROP``); landmarks, feet and the person mask mapped back to the frame."""
    size = size or int(min(PERSON_MAX_CROP, max(64.0, round(side))))
    k = size / side
    m = np.array([[k, 0.0, size / 2 - k * center[0]], [0.0, k, size / 2 - k * center[1]]])
    crop = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    result = model.process(crop)
    if result.pose_landmarks is None:
        return None
    arr = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32)
    pts = ((arr[:, :2] * size - 0.5 - m[:, 2]) / k).astype(np.float32)  # crop px -> frame px
    z, vis = arr[:, 2], arr[:, 3]
    world = None
    if result.pose_world_landmarks is not None:
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], dtype=np.float32)
    facing = None
    if world is not None:  # the person's left hip minus right hip, crossed with up (-y): forward
        across = world[23].astype(np.float64) - world[24]
        f = np.cross(across, [0.0, -1.0, 0.0])
        facing = (f / np.linalg.norm(f)).astype(np.float32) if np.linalg.norm(f) > 1e-6 else None
    feet = []
    for side_name, idx in FOOT_POINTS.items():
        ik, ia, ih, it = idx
        v = float(min(vis[ia], vis[ih], vis[it]))
        if v < MIN_FOOT_VISIBILITY:
            continue
        feet.append(
            FootLandmarks(
                side=side_name,  # type: ignore[arg-type]
                knee=pts[ik].copy(),
                ankle=pts[ia].copy(),
                heel=pts[ih].copy(),
                toe=pts[it].copy(),
                visibility=v,
                toe_nearer=bool(z[it] < z[ih]),
                world=None if world is None else world[list(idx)].copy(),
                facing=facing,
            )
        )
    seg = None
    if result.segmentation_mask is not None:
        seg = _mask_to_frame(np.asarray(result.segmentation_mask, dtype=np.float32), m, frame.shape)
    return PoseLandmarks(points=pts, visibility=vis, feet=tuple(feet), segmentation=seg)


def _mask_to_frame(mask: np.ndarray, m: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The crop's (size, size) mask in a zero (h, w) frame mask, warped only over the crop's box."""
    h, w = shape[:2]
    k = m[0, 0]
    size = mask.shape[0]
    x0, y0 = max(0, int(np.floor(-m[0, 2] / k))), max(0, int(np.floor(-m[1, 2] / k)))
    x1, y1 = min(w, int(np.ceil((size - m[0, 2]) / k)) + 1), min(h, int(np.ceil((size - m[1, 2]) / k)) + 1)
    out = np.zeros((h, w), np.float32)
    if x1 > x0 and y1 > y0:
        inv = np.array([[1 / k, 0.0, -m[0, 2] / k - x0], [0.0, 1 / k, -m[1, 2] / k - y0]])
        out[y0:y1, x0:x1] = cv2.warpAffine(mask, inv, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                           borderMode=cv2.BORDER_CONSTANT)  # fmt: skip
    return out


def _hidden(
    frame: np.ndarray, people: list[PoseLandmarks], spots: list[tuple[np.ndarray, float]] | None = None
) -> np.ndarray:
    """A copy of the frame with the people's masks (dilated) filled with grey, for the detector's next round;
    ``spots`` (hips, body radius) of detections without a pose are greyed too, as an upright ellipse."""
    if not people and not spots:
        return frame
    out = frame.copy()
    h, w = frame.shape[:2]
    for p in people:
        if p.segmentation is None:
            continue
        # only around the person: the hull grown by its margin, and 5 px more for the mask's 9 x 9 dilation
        r = max(1, round(HULL_MARGIN * _body_size(p)))
        pts = np.round(p.points).astype(np.int32)
        x0, y0 = np.maximum(pts.min(axis=0) - r - 6, 0)
        x1, y1 = np.minimum(pts.max(axis=0) + r + 7, (w, h))
        if x1 <= x0 or y1 <= y0:
            continue
        mask = cv2.dilate((p.segmentation[y0:y1, x0:x1] > 0.3).astype(np.uint8), np.ones((9, 9), np.uint8))
        mask &= _body_hull(p, (x0, y0, x1, y1), r)  # the crop's mask also has the people next to this one
        out[y0:y1, x0:x1][mask.astype(bool)] = 127
    for center, radius in spots or []:
        axes = (max(1, round(0.5 * radius)), max(1, round(radius)))
        cv2.ellipse(out, (round(float(center[0])), round(float(center[1]))), axes, 0, 0, 360, (127, 127, 127), -1)
    return out


def _body_hull(p: PoseLandmarks, box: tuple[int, int, int, int], r: int) -> np.ndarray:
    """uint8 over ``box`` (x0, y0, x1, y1 in the frame), 1 inside the convex hull of the person's landmarks grown
    by ``r`` px (``HULL_MARGIN`` of the body)."""
    x0, y0, x1, y1 = box
    hull = np.zeros((y1 - y0, x1 - x0), np.uint8)
    pts = np.round(p.points).astype(np.int32)
    cv2.fillConvexPoly(hull, cv2.convexHull(pts - np.array([x0, y0], np.int32)), 1)
    return cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))


def _hips(p: PoseLandmarks) -> np.ndarray:
    return (p.points[23] + p.points[24]) / 2.0


def _body_size(p: PoseLandmarks) -> float:
    """Largest distance from the hips to a landmark: the radius of the body's circle."""
    return float(np.linalg.norm(p.points - _hips(p), axis=1).max())


def _crop_of(p: PoseLandmarks) -> tuple[np.ndarray, float]:
    """The next frame's crop around a pose: centred on the hips, as the detector's crops are."""
    return _hips(p).astype(np.float64), 2.0 * 1.1 * _body_size(p) * PERSON_CROP_SCALE


def _same_person(p: PoseLandmarks, others: list[PoseLandmarks]) -> bool:
    hips, size = _hips(p), _body_size(p)
    return any(np.linalg.norm(_hips(o) - hips) < SAME_PERSON * max(size, _body_size(o)) for o in others)


def _with_id(p: PoseLandmarks, person: int) -> PoseLandmarks:
    return PoseLandmarks(p.points, p.visibility, p.feet, p.segmentation, person)
