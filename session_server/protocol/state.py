"""Room state as frozen dataclasses.  Mappings are never written into: ``deltas.apply`` copies them.

``State`` holds what every room kind has (its id, revision and participants); each kind's state is a
frozen subclass declared in its module under ``protocol/kinds/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

D = TypeVar("D")
PoseT = tuple[float, float, float, float, float, float, float]  # x, y, z, qx, qy, qz, qw


@dataclass(frozen=True, slots=True)
class Participant:
    """One participant: role from its token, session id, and whether it is connected now."""

    id: str
    role: str
    session: str
    connected: bool = True
    dropped_at: float | None = None


@dataclass(frozen=True, slots=True)
class State:
    """What every room has: its id, its revision and its participants."""

    room: str
    revision: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold (used by tests and after replay)."""
        assert self.revision >= 0
        for pid, part in self.participants.items():
            assert pid == part.id and (part.connected == (part.dropped_at is None))

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready snapshot of the whole state (kinds add their own fields)."""
        return {"room": self.room, "revision": self.revision, "participants": participants_snapshot(self)}

    def public_snapshot(self) -> dict[str, Any]:
        """Snapshot sent to clients: like ``snapshot`` but without participants' session ids."""
        snap = self.snapshot()
        for p in snap["participants"]:
            p.pop("session")
        return snap

    def connected_with(self, role: str) -> list[str]:
        """Ids of the connected participants with ``role``."""
        return [p.id for p in self.participants.values() if p.role == role and p.connected]


def participants_snapshot(state: State) -> list[dict[str, Any]]:
    """The participants as JSON-ready dicts (sessions included)."""
    return [
        {"id": p.id, "role": p.role, "session": p.session, "connected": p.connected, "dropped_at": p.dropped_at}
        for p in state.participants.values()
    ]


def core_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``State`` constructor arguments read back from a snapshot (for a kind's ``from_snapshot``)."""
    return {
        "room": str(data["room"]),
        "revision": int(data["revision"]),
        "participants": {
            p["id"]: Participant(p["id"], p["role"], p.get("session", ""), bool(p["connected"]), p.get("dropped_at"))
            for p in data["participants"]
        },
    }


_INIT_FIELDS: dict[type, tuple[str, ...]] = {}


def evolve(obj: D, **changes: Any) -> D:
    """A copy of the dataclass ``obj`` with ``changes``: what ``dataclasses.replace`` returns, at under half its
    cost (the field names are looked up once per class; the copy is built positionally).  For the hot delta
    paths (every delta's new revision, ``object.move``); TypeError for a field the class does not have."""
    cls = type(obj)
    names = _INIT_FIELDS.get(cls)
    if names is None:
        names = _INIT_FIELDS[cls] = tuple(f.name for f in fields(cls) if f.init)  # type: ignore[arg-type]
    values = [changes.pop(name) if name in changes else getattr(obj, name) for name in names]
    if changes:
        raise TypeError(f"{cls.__name__} has no field {next(iter(changes))!r}")
    return cls(*values)
