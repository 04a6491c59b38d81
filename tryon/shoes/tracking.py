"""Feet over time: smoothed orientation, scale and position per person and foot, views with hysteresis.

A view changes only when the foot's yaw (or the camera's height over the sole, for 3D models) has moved
past the boundary between two views by ``HYSTERESIS_DEG``: a foot whose yaw wobbles around a boundary keeps
its view. Angles are smoothed as unit vectors (no jump at +-180), the scale in log space, with One Euro
filters (:mod:`tryon.smoothing`); the shin's length in metres, which sets the shoe's, is the median of its
last ``LENGTH_FRAMES`` estimates, because legs do not change length while they walk.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from tryon.landmarks import FootLandmarks
from tryon.shoes.orientation import foot_pose
from tryon.smoothing import MAX_GAP_S, OneEuroFilter

HYSTERESIS_DEG = 12.0
"""How far past the boundary between two views the foot must turn before the view changes."""
CONFIRM_FRAMES = 3
"""A view changes only when each of the foot's last this many unsmoothed yaws has left the old view (past its
boundary and the hysteresis, towards the new view) as the smoothed yaw has. A median of the last five let a
change through on the held-out walk when the foot turned back: the smoothed yaw and that median agreed at last
while this frame's yaw was in the old view again."""
SWAP_RATIO = 0.6
"""Left and right of a person are swapped back when the crossed assignment costs less than this fraction of
the straight one (MediaPipe trades the feet's labels on some frames)."""
LENGTH_FRAMES = 31
"""Frames over which the shin's length (metres), and so the shoe's, is the median."""
FIT_FRAMES = 9
"""Frames over which a shoe's fit to the person mask (its length factor, shift and lift) is averaged."""
ANGLE_CUTOFF_HZ, ANGLE_BETA = 1.0, 0.5
SCALE_CUTOFF_HZ, SCALE_BETA = 0.8, 0.2
POSITION_CUTOFF_HZ, POSITION_BETA = 2.0, 0.05

SpriteView = str  # "side", "front" or "back"


def angle_diff(a: float, b: float) -> float:
    """Signed difference a - b in degrees, in [-180, 180)."""
    return (a - b + 180.0) % 360.0 - 180.0


_SPRITE_CENTERS = {"side": (0.0, 180.0), "front": (90.0,), "back": (-90.0,)}


def _sprite_distance(yaw: float, view: SpriteView) -> float:
    return min(abs(angle_diff(yaw, c)) for c in _SPRITE_CENTERS[view])


def sprite_view(yaw: float, current: SpriteView | None) -> SpriteView:
    """The side, front or back sprite for a foot's yaw: the nearest, unless ``current`` is still within its
    sector widened by ``HYSTERESIS_DEG`` (sectors are 90 degrees wide: side around 0 and 180)."""
    nearest = min(_SPRITE_CENTERS, key=lambda v: _sprite_distance(yaw, v))
    if current is not None and _sprite_distance(yaw, current) <= 45.0 + HYSTERESIS_DEG:
        return current
    return nearest


def sphere_view(
    yaw: float, pitch: float, current: tuple[int, int] | None, yaw_step: int, pitches: tuple[int, ...]
) -> tuple[int, int]:
    """The view sphere's (yaw, pitch) for a foot: the nearest, unless ``current`` is within half a step
    plus ``HYSTERESIS_DEG`` in both angles."""
    near_yaw = round(yaw / yaw_step) * yaw_step
    near_yaw = int(near_yaw - 360 if near_yaw > 180 else near_yaw + 360 if near_yaw <= -180 else near_yaw)
    near_pitch = min(pitches, key=lambda p: abs(p - pitch))
    if current is None:
        return near_yaw, near_pitch
    cy, cp = current
    i = pitches.index(cp) if cp in pitches else 0
    lo = cp - ((cp - pitches[i - 1]) / 2 if i > 0 else 90.0) - HYSTERESIS_DEG
    hi = cp + ((pitches[i + 1] - cp) / 2 if i + 1 < len(pitches) else 90.0) + HYSTERESIS_DEG
    keep_yaw = abs(angle_diff(yaw, cy)) <= yaw_step / 2 + HYSTERESIS_DEG
    return (cy if keep_yaw else near_yaw), (cp if lo <= pitch <= hi else near_pitch)


def next_sprite_view(yaw: float, current: SpriteView | None, recent: tuple[float, ...]) -> SpriteView:
    """The sprite view for a smoothed ``yaw`` (:func:`sprite_view`), kept at ``current`` until each of the last
    ``CONFIRM_FRAMES`` unsmoothed yaws in ``recent`` leads to the same new view."""
    view = sprite_view(yaw, current)
    if current is None or view == current:
        return view
    last = recent[-CONFIRM_FRAMES:]
    if len(last) == CONFIRM_FRAMES and all(sprite_view(r, current) == view for r in last):
        return view
    return current


def next_sphere_view(
    yaw: float, pitch: float, current: tuple[int, int] | None, recent: tuple[float, ...], yaw_step: int,
    pitches: tuple[int, ...],
) -> tuple[int, int]:  # fmt: skip
    """The view sphere key for a smoothed ``yaw`` and ``pitch`` (:func:`sphere_view`), whose heading stays at
    ``current``'s until each of the last ``CONFIRM_FRAMES`` unsmoothed yaws in ``recent`` is past the old
    heading's bin and the hysteresis, on the side the smoothed yaw left it."""
    key = sphere_view(yaw, pitch, current, yaw_step, pitches)
    if current is None or key[0] == current[0]:
        return key
    reach = yaw_step / 2 + HYSTERESIS_DEG
    turn = angle_diff(key[0], current[0])
    last = recent[-CONFIRM_FRAMES:]

    def left(r: float) -> bool:
        d = angle_diff(r, current[0])
        return abs(d) > reach and (d * turn > 0 or abs(d) > 90.0)

    if len(last) == CONFIRM_FRAMES and all(left(r) for r in last):
        return key
    return current[0], key[1]


@dataclass(frozen=True, slots=True)
class SmoothFoot:
    """A foot after smoothing: angles in degrees, shin (knee to ankle) in metres, scale in px/m, anchor (2,) in
    pixels."""

    yaw: float
    pitch: float
    roll: float
    shin_m: float
    px_per_m: float
    anchor: np.ndarray
    recent_yaws: tuple[float, ...] = ()
    """The last ``CONFIRM_FRAMES`` unsmoothed yaws (degrees), the newest last."""
    raw_yaw: float = 0.0
    """This frame's unsmoothed yaw (degrees)."""


@dataclass(slots=True)
class _FootTrack:
    angles: OneEuroFilter = field(default_factory=lambda: OneEuroFilter(ANGLE_CUTOFF_HZ, ANGLE_BETA))
    scale: OneEuroFilter = field(default_factory=lambda: OneEuroFilter(SCALE_CUTOFF_HZ, SCALE_BETA))
    position: OneEuroFilter = field(default_factory=lambda: OneEuroFilter(POSITION_CUTOFF_HZ, POSITION_BETA))
    lengths: deque[float] = field(default_factory=lambda: deque(maxlen=LENGTH_FRAMES))
    raw_yaws: deque[float] = field(default_factory=lambda: deque(maxlen=CONFIRM_FRAMES))
    widths: deque[float] = field(default_factory=lambda: deque(maxlen=LENGTH_FRAMES))
    fits: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=FIT_FRAMES))
    last: np.ndarray | None = None
    view: object = None
    seen: float = -math.inf


class FeetTracker:
    """Per (person track id, foot side) smoothing and view state; one per video or live stream."""

    def __init__(self) -> None:
        self._tracks: dict[tuple[int, str], _FootTrack] = {}

    def track(self, person: int, side: str, t: float) -> _FootTrack:
        """The foot's state (a new one after a gap longer than the smoothing's)."""
        key = (person, side)
        tr = self._tracks.get(key)
        if tr is None or t - tr.seen > MAX_GAP_S:
            tr = self._tracks[key] = _FootTrack()
        tr.seen = t
        for k in [k for k, v in self._tracks.items() if t - v.seen > 10 * MAX_GAP_S]:
            del self._tracks[k]
        return tr

    def smooth(self, person: int, side: str, foot: FootLandmarks, t: float) -> tuple[SmoothFoot, _FootTrack] | None:
        """The foot smoothed over its track's frames (its shin length: the median of the last frames'), and
        the track, whose ``view`` the caller keeps; None when the foot's pose cannot be estimated."""
        tr = self.track(person, side, t)
        if foot.world is not None:
            tr.lengths.append(float(np.linalg.norm(foot.world[0] - foot.world[1])))
        tr.last = foot.sole_mid.astype(np.float64)
        fp = foot_pose(foot, float(np.median(tr.lengths)) if tr.lengths else None)
        if fp is None:
            return None
        y, r = math.radians(fp.yaw), math.radians(fp.roll)
        a = tr.angles(np.array([[math.cos(y)], [math.sin(y)], [fp.pitch / 90.0], [math.cos(r)], [math.sin(r)]]), t)
        s = tr.scale(np.array([[math.log(fp.px_per_m)]]), t)
        pos = tr.position(np.asarray(foot.sole_mid, np.float64)[None, :], t)[0]
        tr.raw_yaws.append(fp.yaw)
        yaw = math.degrees(math.atan2(a[1, 0], a[0, 0]))
        smooth = SmoothFoot(
            yaw=yaw,
            pitch=float(a[2, 0] * 90.0),
            roll=math.degrees(math.atan2(a[4, 0], a[3, 0])),
            shin_m=fp.shin_m,
            px_per_m=math.exp(float(s[0, 0])),
            anchor=pos.astype(np.float32),
            recent_yaws=tuple(tr.raw_yaws),
            raw_yaw=fp.yaw,
        )
        return smooth, tr

    def sides(self, person: int, feet: tuple[FootLandmarks, ...]) -> list[str]:
        """The track side of each foot: its own, or the other one's when MediaPipe traded the two labels
        (the crossed assignment to the last positions costs under ``SWAP_RATIO`` of the straight one)."""
        names = [f.side for f in feet]
        if len(feet) != 2 or names[0] == names[1]:
            return names
        last = [self._tracks.get((person, n)) for n in names]
        if any(tr is None or tr.last is None for tr in last):
            return names
        a, b = (f.sole_mid.astype(np.float64) for f in feet)
        la, lb = (tr.last for tr in last)  # type: ignore[union-attr]
        straight = np.linalg.norm(a - la) + np.linalg.norm(b - lb)
        crossed = np.linalg.norm(a - lb) + np.linalg.norm(b - la)
        return names[::-1] if crossed < SWAP_RATIO * straight else names


def unsmoothed(foot: FootLandmarks) -> SmoothFoot | None:
    """A still's foot, as :meth:`FeetTracker.smooth` gives it (no smoothing)."""
    fp = foot_pose(foot)
    if fp is None:
        return None
    return SmoothFoot(
        fp.yaw, fp.pitch, fp.roll, fp.shin_m, fp.px_per_m, foot.sole_mid.astype(np.float32), (fp.yaw,), fp.yaw
    )
