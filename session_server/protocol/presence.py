"""Presence: latest-wins camera poses, coalesced into one frame per tick.

``update`` overwrites a participant's pose; ``tick`` returns the poses that changed since the last
tick (and who went away), or None when nothing changed.  Nothing queues: a pose superseded before
the tick is simply never sent.  ``merge`` coalesces two pending frames for a slow recipient.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PresenceTick:
    poses: dict[str, list[float]]
    gone: tuple[str, ...] = ()


class PresenceTable:
    def __init__(self) -> None:
        self.latest: dict[str, list[float]] = {}
        self._dirty: set[str] = set()
        self._gone: set[str] = set()

    def update(self, participant: str, pose: list[float]) -> None:
        self.latest[participant] = pose
        self._dirty.add(participant)
        self._gone.discard(participant)

    def remove(self, participant: str) -> None:
        if self.latest.pop(participant, None) is not None:
            self._gone.add(participant)
        self._dirty.discard(participant)

    def tick(self) -> PresenceTick | None:
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
