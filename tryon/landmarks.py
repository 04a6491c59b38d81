"""Landmark dataclasses in pixel coordinates and the :class:`LandmarkProvider` protocol.

Everything after the provider (regions, masks, rendering, shoes) works on these types only, so a
different landmark model can replace MediaPipe without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

FACE_POINTS = 478
"""Number of points of a refined face mesh (468 mesh points + 2 x 5 iris points)."""

FootSide = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class FaceLandmarks:
    """One face.

    points : (478, 2) float32, pixel x, y in the frame (may lie outside it for a half-visible face)
    depth : (478,) float32, relative depth in pixels (smaller is nearer the camera)
    """

    points: np.ndarray
    depth: np.ndarray
    score: float = 1.0
    _center: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.points.shape != (FACE_POINTS, 2):
            raise ValueError(f"face points must be ({FACE_POINTS}, 2), got {self.points.shape}")

    @property
    def center(self) -> np.ndarray:
        """(2,) float32 mean point of the face, read-only (computed once: a frame's tracker, light and provider ask
        for it several times, and the mean over 468 rows costs more than the rest of their work)."""
        if self._center is None:
            c = self.points[:468].mean(axis=0)
            c.setflags(write=False)
            object.__setattr__(self, "_center", c)
        return self._center  # type: ignore[return-value]

    @property
    def width(self) -> float:
        """Face width in pixels (cheek to cheek, points 234 and 454)."""
        return float(np.linalg.norm(self.points[454] - self.points[234]))

    def with_points(self, points: np.ndarray) -> FaceLandmarks:
        """Return these landmarks with ``points`` (n, 2) in place of the current ones (depth and score kept)."""
        return FaceLandmarks(points=points.astype(np.float32, copy=False), depth=self.depth, score=self.score)


@dataclass(frozen=True, slots=True)
class FootLandmarks:
    """One foot: knee, ankle, heel and foot-index (toe) points in pixels.

    knee, ankle, heel, toe : (2,) float32 pixel x, y
    toe_nearer : True when the toe is nearer the camera than the heel (seen from the front)
    world : (4, 3) float32 knee, ankle, heel, toe in metres (x right, y down, z away from the camera, origin
        between the hips), or None when the provider has no 3D landmarks
    facing : (3,) unit vector the body faces (from the hips, camera axes as ``world``), or None
    """

    side: FootSide
    knee: np.ndarray
    ankle: np.ndarray
    heel: np.ndarray
    toe: np.ndarray
    visibility: float
    toe_nearer: bool
    world: np.ndarray | None = None
    facing: np.ndarray | None = None

    @property
    def sole_mid(self) -> np.ndarray:
        """(2,) float32 midpoint of heel and toe: where the sole center goes."""
        return ((self.heel + self.toe) / 2.0).astype(np.float32)

    @property
    def shin(self) -> float:
        """Knee-to-ankle length in pixels: the scale of the leg, whichever way the foot points."""
        return float(np.linalg.norm(self.knee - self.ankle))


@dataclass(frozen=True, slots=True)
class PoseLandmarks:
    """The shopper's body.

    points : (33, 2) float32 pixel x, y (MediaPipe pose topology)
    visibility : (33,) float32 in [0, 1]
    segmentation : (h, w) float32 person probability, or None
    person : track id of this person, stable over the frames of a video (-1: not tracked)
    """

    points: np.ndarray
    visibility: np.ndarray
    feet: tuple[FootLandmarks, ...]
    segmentation: np.ndarray | None
    person: int = -1


class LandmarkProvider(Protocol):
    """Source of landmarks for RGB frames; ``t`` is the frame time in seconds (None for still images)."""

    def faces(self, frame: np.ndarray, t: float | None = None) -> list[FaceLandmarks]:
        """Return the faces found in an RGB (h, w, 3) uint8 frame (empty when none)."""

    def pose(self, frame: np.ndarray, t: float | None = None) -> PoseLandmarks | None:
        """Return the body pose found in an RGB (h, w, 3) uint8 frame, or None."""

    def people(self, frame: np.ndarray, t: float | None = None) -> list[PoseLandmarks]:
        """Return every person's pose found in an RGB (h, w, 3) uint8 frame, largest first, each with its track id."""

    def close(self) -> None:
        """Release the models."""
