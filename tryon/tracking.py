"""Face tracks over a stream: confirmed births, tolerated misses, fades instead of flashes.

A face detector that runs every few frames, or a face mesh that loses a face for a frame, makes makeup
blink: a face painted for one frame, then gone. :class:`FaceTracker` keeps a track per face (matched to
the nearest track centre within half a face width) and paints from it only when it is confirmed:

- born only after ``confirm`` consecutive frames with a matching face (a one-frame detection paints nothing);
- kept through up to ``patience`` frames without one (painted at its last smoothed landmarks, fading out);
- its paint's opacity ramps up over ``fade`` frames after birth and down over ``fade`` frames before
  death, so every appearance and disappearance is gradual; a confirmed track is painted on at least
  ``MIN_RUN`` frames (a face confirmed and lost at once fades out over three frames, no blink).

Landmarks of each track go through a One Euro filter (:mod:`tryon.smoothing`) when smoothing is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tryon.landmarks import FaceLandmarks
from tryon.smoothing import OneEuroFilter

MIN_RUN = 3
"""Fewest frames a confirmed track is painted on: a shorter appearance reads as a flash."""


@dataclass(frozen=True, slots=True)
class TrackedFace:
    """A face to paint: its (smoothed) landmarks, the paint ``opacity`` in [0, 1] and its track id."""

    face: FaceLandmarks
    opacity: float = 1.0
    track: int = 0


@dataclass(slots=True)
class _Track:
    id: int
    filter: OneEuroFilter | None
    face: FaceLandmarks
    hits: int = 1
    misses: int = 0
    confirmed: bool = False
    level: int = 0
    seen: float = 0.0
    painted: int = 0


@dataclass(slots=True)
class FaceTracker:
    """Tracks faces across frames; ``smoothing`` None turns the One Euro filter off (min_cutoff, beta)."""

    confirm: int = 2
    patience: int = 3
    fade: int = 3
    smoothing: tuple[float, float] | None = (1.0, 0.3)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 1

    def __call__(self, faces: list[FaceLandmarks], t: float) -> list[TrackedFace]:
        """Match ``faces`` seen at time ``t`` seconds to tracks; return the faces to paint with their opacity."""
        fade = max(self.fade, 1)
        free = list(self._tracks)
        for face in faces:
            c, w = face.center, face.width
            best = min(free, key=lambda tr: float(np.linalg.norm(tr.face.center - c)), default=None)
            near = best is not None and np.linalg.norm(best.face.center - c) <= 0.5 * max(w, best.face.width)
            if best is None or not near:  # (a long gap only restarts the filter, not the track)
                flt = None if self.smoothing is None else OneEuroFilter(*self.smoothing)
                track = _Track(self._next_id, flt, face, seen=t)
                self._next_id += 1
                if flt is not None:
                    flt(face.points, t)
                self._tracks.append(track)
                track.confirmed = self.confirm <= 1
                continue
            free = [tr for tr in free if tr is not best]
            pts = face.points if best.filter is None else best.filter(face.points, t).astype(np.float32)
            best.face = face.with_points(pts)
            best.hits += 1
            best.misses = 0
            best.seen = t
            if best.hits >= self.confirm:
                best.confirmed = True
        for track in free:  # not seen this frame
            track.misses += 1
            track.hits = 0 if not track.confirmed else track.hits
        out: list[TrackedFace] = []
        kept: list[_Track] = []
        for track in self._tracks:
            if not track.confirmed:
                if track.misses == 0:
                    kept.append(track)
                continue
            if track.misses == 0:
                track.level = min(fade, track.level + 1)
            elif track.painted >= MIN_RUN:
                track.level = max(0, track.level - 1)
            if track.misses > max(self.patience, MIN_RUN) or (track.misses > 0 and track.level <= 0):
                continue
            kept.append(track)
            if track.level > 0:
                track.painted += 1
                out.append(TrackedFace(track.face, track.level / fade, track.id))
        self._tracks = kept
        return out

    def reset(self) -> None:
        """Forget every track (a new stream starts)."""
        self._tracks = []
