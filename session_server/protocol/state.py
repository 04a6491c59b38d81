"""Room state as frozen dataclasses.  Mappings are never written into: ``deltas.apply`` copies them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PoseT = tuple[float, float, float, float, float, float, float]  # x, y, z, qx, qy, qz, qw


@dataclass(frozen=True, slots=True)
class Participant:
    id: str
    role: str
    session: str
    connected: bool = True
    dropped_at: float | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    id: str
    pose: PoseT
    by: str


@dataclass(frozen=True, slots=True)
class PlacedObject:
    id: str
    sku: str
    variant: str | None
    pose: PoseT
    scale: float
    owner: str
    anchor: str | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    object: str
    holder: str


@dataclass(frozen=True, slots=True)
class ChatEntry:
    rev: int
    participant: str
    kind: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class RoomState:
    room: str
    revision: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)
    anchors: dict[str, Anchor] = field(default_factory=dict)
    objects: dict[str, PlacedObject] = field(default_factory=dict)
    locks: dict[str, Lock] = field(default_factory=dict)
    chat: tuple[ChatEntry, ...] = ()
    chat_limit: int = 50

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold (used by tests and after replay)."""
        assert self.revision >= 0
        for oid, lock in self.locks.items():
            assert oid == lock.object and oid in self.objects, f"lock on missing object {oid}"
            assert lock.holder in self.participants, f"lock held by absent {lock.holder}"
        for oid, obj in self.objects.items():
            assert oid == obj.id and obj.scale > 0
        for pid, part in self.participants.items():
            assert pid == part.id and (part.connected == (part.dropped_at is None))
        assert len(self.chat) <= self.chat_limit


def snapshot(state: RoomState) -> dict[str, Any]:
    """JSON-ready snapshot of the whole state."""
    return {
        "room": state.room,
        "revision": state.revision,
        "chat_limit": state.chat_limit,
        "participants": [
            {
                "id": p.id,
                "role": p.role,
                "session": p.session,
                "connected": p.connected,
                "dropped_at": p.dropped_at,
            }
            for p in state.participants.values()
        ],
        "anchors": [{"id": a.id, "pose": list(a.pose), "by": a.by} for a in state.anchors.values()],
        "objects": [
            {
                "id": o.id,
                "sku": o.sku,
                "variant": o.variant,
                "pose": list(o.pose),
                "scale": o.scale,
                "owner": o.owner,
                "anchor": o.anchor,
            }
            for o in state.objects.values()
        ],
        "locks": [{"object": lk.object, "holder": lk.holder} for lk in state.locks.values()],
        "chat": [
            {"rev": c.rev, "participant": c.participant, "kind": c.kind, "text": c.text, "at": c.at} for c in state.chat
        ],
    }


def public_snapshot(state: RoomState) -> dict[str, Any]:
    """Snapshot sent to clients: like ``snapshot`` but without other participants' session ids."""
    snap = snapshot(state)
    for p in snap["participants"]:
        p.pop("session")
    return snap


def from_snapshot(data: dict[str, Any]) -> RoomState:
    def pose(v: Any) -> PoseT:
        return tuple(float(x) for x in v)  # type: ignore[return-value]

    return RoomState(
        room=str(data["room"]),
        revision=int(data["revision"]),
        chat_limit=int(data.get("chat_limit", 50)),
        participants={
            p["id"]: Participant(p["id"], p["role"], p.get("session", ""), bool(p["connected"]), p.get("dropped_at"))
            for p in data["participants"]
        },
        anchors={a["id"]: Anchor(a["id"], pose(a["pose"]), a["by"]) for a in data["anchors"]},
        objects={
            o["id"]: PlacedObject(
                o["id"],
                o["sku"],
                o["variant"],
                pose(o["pose"]),
                float(o["scale"]),
                o["owner"],
                o.get("anchor"),
            )
            for o in data["objects"]
        },
        locks={lk["object"]: Lock(lk["object"], lk["holder"]) for lk in data["locks"]},
        chat=tuple(
            ChatEntry(int(c["rev"]), c["participant"], c["kind"], c["text"], float(c["at"])) for c in data["chat"]
        ),
    )
