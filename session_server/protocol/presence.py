"""Presence: latest-wins camera poses, coalesced into one frame per tick.

``update`` overwrites a participant's pose; ``tick`` returns the poses that changed since the last
tick (and who went away), or None when nothing changed.  Nothing queues: a pose superseded before
the tick is simply never sent.  ``merge`` coalesces two pending frames for a slow recipient.
``Nearby`` splits a tick by distance, so that in a big room each device hears only those near it.

A pose is kept as it came: a list ``[x, y, z, qx, qy, qz, qw]`` (a JSON message), or the 28 bytes of int32
steps of a binary pose message (after its tag), which a binary tick frame writes as they are; ``pose_numbers``
gives the numbers of either.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from .messages import POSITION_STEPS, ROTATION_STEPS

PoseValue = list[float] | bytes
"""A pose as presence keeps it: its seven numbers, or a binary pose message's 28 bytes of steps (``pose_numbers``)."""
STEPS = struct.Struct("<7i")
"""A binary pose message after its tag: x, y, z in 1/``POSITION_STEPS`` m, qx, qy, qz, qw in 1/``ROTATION_STEPS``."""


def pose_numbers(pose: PoseValue) -> list[float]:
    """The seven numbers of a pose: a list as it is; 28 bytes of steps (``STEPS``) divided by their steps, exactly
    what the JSON message with those numbers gives."""
    if type(pose) is not bytes:
        return pose  # type: ignore[return-value]
    x, y, z, qx, qy, qz, qw = STEPS.unpack(pose)
    p, r = POSITION_STEPS, ROTATION_STEPS
    return [x / p, y / p, z / p, qx / r, qy / r, qz / r, qw / r]


def poses_as_numbers(poses: dict[str, PoseValue]) -> dict[str, list[float]]:
    """``poses`` with every pose as its numbers (``pose_numbers``): what JSON frames carry."""
    return {pid: pose_numbers(pose) for pid, pose in poses.items()}


@dataclass(frozen=True, slots=True)
class PresenceTick:
    """The poses changed since the last tick and the participants gone."""
    poses: dict[str, PoseValue]
    gone: tuple[str, ...] = ()


class PresenceTable:
    """Latest pose per participant; ``tick()`` returns what changed since the last tick."""

    def __init__(self) -> None:
        self.latest: dict[str, PoseValue] = {}
        self._dirty: set[str] = set()
        self._gone: set[str] = set()

    def update(self, participant: str, pose: PoseValue) -> None:
        """Record a participant's latest pose."""
        self.latest[participant] = pose
        self._dirty.add(participant)
        if self._gone:  # usually empty: no call
            self._gone.discard(participant)

    def remove(self, participant: str) -> None:
        """Forget a participant (reported as gone in the next tick)."""
        if self.latest.pop(participant, None) is not None:
            self._gone.add(participant)
        self._dirty.discard(participant)

    def tick(self) -> PresenceTick | None:
        """Return the changes since the last tick (None when nothing changed) and start a new tick."""
        if not self._dirty and not self._gone:
            return None
        out = PresenceTick({p: self.latest[p] for p in self._dirty}, tuple(sorted(self._gone)))
        self._dirty.clear()
        self._gone.clear()
        return out


def merge(older: PresenceTick, newer: PresenceTick) -> PresenceTick:
    """One frame equivalent to receiving ``older`` then ``newer`` (latest pose wins)."""
    poses = {p: v for p, v in older.poses.items() if p not in newer.gone}
    poses.update(newer.poses)
    gone = (set(older.gone) - set(newer.poses)) | set(newer.gone)
    return PresenceTick(poses, tuple(sorted(gone)))


class Nearby:
    """One tick split by a grid of ``radius``-sized cells on the floor plane (x, z; y is up).

    A recipient in cell (i, j) gets the changed poses of the 3 x 3 cells around it: everyone within
    ``radius`` of it, and some up to 2.9 ``radius`` away; a recipient with no pose of its own (a
    viewer, a mirror), or any recipient when ``radius`` is 0 (no filtering), gets the whole tick.
    ``gone`` always reaches everyone.  One frame per occupied cell, not per recipient, so the frame is
    still encoded once for everyone in a cell.
    """

    def __init__(self, tick: PresenceTick, positions: dict[str, PoseValue], radius: float) -> None:
        self.tick = tick
        self.positions = positions
        self.radius = radius
        self._cells: dict[tuple[int, int], dict[str, PoseValue]] = {}
        for pid, pose in tick.poses.items() if radius > 0 else ():
            self._cells.setdefault(self._cell(pose), {})[pid] = pose

    def _cell(self, pose: PoseValue) -> tuple[int, int]:
        x, _, z = pose_numbers(pose)[:3]
        return math.floor(x / self.radius), math.floor(z / self.radius)

    def cell_of(self, participant: str) -> tuple[int, int] | None:
        """Return a participant's grid cell, or None when it gets the whole tick (no pose, or radius 0)."""
        pose = self.positions.get(participant) if self.radius > 0 else None
        return None if pose is None else self._cell(pose)

    def tick_for(self, cell: tuple[int, int] | None) -> PresenceTick | None:
        """What a recipient in ``cell`` gets (None: nothing to send)."""
        if cell is None:
            return self.tick
        ci, cj = cell
        poses: dict[str, PoseValue] = {}
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                near = self._cells.get((ci + di, cj + dj))
                if near:
                    poses.update(near)
        if not poses and not self.tick.gone:
            return None
        return PresenceTick(poses, self.tick.gone)
