"""``shared_space``: the shared AR room (every room id no other kind claims).

Participants place catalog products, move them under an edit lock, set shared anchors and chat.
State, messages, delta ops and timers of this kind are all here; the wire format is PROTOCOL.md's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ..auth import ROLES
from ..errors import AuthError, Conflict, LimitExceeded
from ..limits import Limits
from ..messages import Id, Pose, Pose7, Request, Wire, pose_list
from ..state import PoseT, State, copier, core_fields, participants_snapshot
from .base import EditData, ParticipantView, RoomKind, participant_leave

if TYPE_CHECKING:
    from ..room import Room

EDIT_ROLES = frozenset({"phone", "headset", "mirror", "staff"})
"""Roles that may change objects and anchors (``viewer`` may only chat)."""


# ---- state ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """A shared anchor: a named pose others place objects relative to."""

    id: str
    pose: PoseT
    by: str


@dataclass(frozen=True, slots=True)
class PlacedObject:
    """A catalog product placed in the room."""

    id: str
    sku: str
    variant: str | None
    pose: PoseT
    scale: float
    owner: str
    anchor: str | None = None


@dataclass(frozen=True, slots=True)
class Lock:
    """Who may edit an object now."""

    object: str
    holder: str


@dataclass(frozen=True, slots=True)
class ChatEntry:
    """One line of the short chat/reaction log."""

    rev: int
    participant: str
    kind: str
    text: str
    at: float


@dataclass(frozen=True, slots=True)
class SpaceState(State):
    """State of a shared AR room: anchors, placed objects, their locks, the recent chat."""

    anchors: dict[str, Anchor] = field(default_factory=dict)
    objects: dict[str, PlacedObject] = field(default_factory=dict)
    locks: dict[str, Lock] = field(default_factory=dict)
    chat: tuple[ChatEntry, ...] = ()
    chat_limit: int = 50

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold (used by tests and after replay)."""
        State.check(self)
        for oid, lock in self.locks.items():
            assert oid == lock.object and oid in self.objects, f"lock on missing object {oid}"
            assert lock.holder in self.participants, f"lock held by absent {lock.holder}"
        for oid, obj in self.objects.items():
            assert oid == obj.id and obj.scale > 0
        assert len(self.chat) <= self.chat_limit

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready snapshot of the whole state."""
        return {
            "kind": "shared_space",
            "room": self.room,
            "revision": self.revision,
            "chat_limit": self.chat_limit,
            "participants": participants_snapshot(self),
            "anchors": [{"id": a.id, "pose": list(a.pose), "by": a.by} for a in self.anchors.values()],
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
                for o in self.objects.values()
            ],
            "locks": [{"object": lk.object, "holder": lk.holder} for lk in self.locks.values()],
            "chat": [
                {"rev": c.rev, "participant": c.participant, "kind": c.kind, "text": c.text, "at": c.at}
                for c in self.chat
            ],
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> SpaceState:
        """The state a snapshot describes."""
        return cls(
            **core_fields(data),
            chat_limit=int(data.get("chat_limit", 50)),
            anchors={a["id"]: Anchor(a["id"], _pose(a["pose"]), a["by"]) for a in data["anchors"]},
            objects={
                o["id"]: PlacedObject(
                    o["id"], o["sku"], o["variant"], _pose(o["pose"]), float(o["scale"]), o["owner"], o.get("anchor")
                )
                for o in data["objects"]
            },
            locks={lk["object"]: Lock(lk["object"], lk["holder"]) for lk in data["locks"]},
            chat=tuple(
                ChatEntry(int(c["rev"]), c["participant"], c["kind"], c["text"], float(c["at"])) for c in data["chat"]
            ),
        )


def _pose(v: Any) -> PoseT:
    t = tuple(map(float, v))
    if len(t) != 7:
        raise ValueError("pose needs 7 numbers")
    return t  # type: ignore[return-value]


def _new(room: str, limits: Limits) -> SpaceState:
    return SpaceState(room, chat_limit=limits.chat_log_length)


# ---- the state as clients see it (a welcome's ``state``) ---------------------------------------------


class AnchorView(Wire):
    """A shared anchor: its pose and who set it."""

    id: str
    pose: Pose7
    by: str


class ObjectView(Wire):
    """A placed catalog product: SKU, variant, pose, scale, who placed it, the anchor it is relative to."""

    id: str
    sku: str
    variant: str | None
    pose: Pose7
    scale: float
    owner: str
    anchor: str | None


class LockView(Wire):
    """Who holds an object's edit lock."""

    object: str
    holder: str


class ChatView(Wire):
    """One line of the chat log: the revision that added it, who, ``text`` or ``reaction``, server time."""

    rev: int
    participant: str
    kind: Literal["text", "reaction"]
    text: str
    at: float


class SpaceSnapshot(Wire):
    """The ``state`` of a ``shared_space`` room (lists, in the order things were added)."""

    kind: Literal["shared_space"]
    room: str
    revision: int
    chat_limit: int
    participants: list[ParticipantView]
    anchors: list[AnchorView]
    objects: list[ObjectView]
    locks: list[LockView]
    chat: list[ChatView]


KIND = RoomKind(
    "shared_space",
    state=SpaceState,
    snapshot=SpaceSnapshot,
    roles=frozenset(ROLES),
    claims=lambda room: True,
    new=_new,
    doc="the shared AR room: objects, anchors, locks, chat (any room id no other kind claims)",
)


# ---- participants: leaving drops the locks held ---------------------------------------------------


@KIND.op("participant.leave", override=True)
def _leave(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    out = participant_leave(s, d)
    return replace(out, locks={k: v for k, v in s.locks.items() if v.holder != d["participant"]})


# ---- anchor.set ---------------------------------------------------------------------------------


class AnchorSet(Request):
    """Create or move a shared anchor."""

    type: Literal["anchor.set"]
    anchor: Id
    pose: Pose


@KIND.message(AnchorSet, roles=EDIT_ROLES)
def _anchor_set(room: Room, pid: str, msg: AnchorSet, now: float) -> None:
    s, lim = room.state, room.config.limits
    if msg.anchor not in s.anchors and len(s.anchors) >= lim.max_anchors_per_room:
        raise LimitExceeded("too_many_anchors", limit=lim.max_anchors_per_room)
    room.emit("anchor.set", {"anchor": msg.anchor, "pose": pose_list(msg.pose), "by": pid})


class AnchorSetData(EditData):
    """``anchor.set``: the anchor was created or moved."""

    anchor: str
    pose: Pose7
    by: str  # type: ignore[assignment]  # always there: who set it


@KIND.op("anchor.set", data=AnchorSetData)
def _anchor(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    return replace(s, anchors={**s.anchors, d["anchor"]: Anchor(d["anchor"], _pose(d["pose"]), d["by"])})


# ---- object.place -------------------------------------------------------------------------------


Scale = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]


class ObjectPlace(Request):
    """Place a catalog product."""

    type: Literal["object.place"]
    object: Id
    sku: Id
    variant: Id | None = None
    pose: Pose
    scale: Scale = 1.0
    anchor: Id | None = None


@KIND.message(ObjectPlace, roles=EDIT_ROLES)
def _object_place(room: Room, pid: str, msg: ObjectPlace, now: float) -> None:
    s, lim = room.state, room.config.limits
    if msg.object in s.objects:
        raise Conflict("object_exists", f"object {msg.object!r} already exists", field="object")
    if len(s.objects) >= lim.max_objects_per_room:
        raise LimitExceeded("too_many_objects", limit=lim.max_objects_per_room, actual=len(s.objects) + 1)
    if msg.anchor is not None and msg.anchor not in s.anchors:
        raise Conflict("unknown_anchor", f"anchor {msg.anchor!r} does not exist", field="anchor")
    data = {"object": msg.object, "sku": msg.sku, "variant": msg.variant, "pose": pose_list(msg.pose)}
    room.emit("object.place", {**data, "scale": msg.scale, "owner": pid, "anchor": msg.anchor})


class ObjectPlaceData(EditData):
    """``object.place``: a product was placed (``owner`` placed it)."""

    object: str
    sku: str
    variant: str | None
    pose: Pose7
    scale: float
    owner: str
    anchor: str | None


@KIND.op("object.place", data=ObjectPlaceData)
def _place(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    if d["object"] in s.objects:
        raise KeyError(f"object {d['object']} exists")
    obj = PlacedObject(
        d["object"], d["sku"], d.get("variant"), _pose(d["pose"]), float(d["scale"]), d["owner"], d.get("anchor")
    )
    return replace(s, objects={**s.objects, obj.id: obj})


# ---- object.lock / object.unlock (ops lock.take, lock.release) ----------------------------------


class ObjectLock(Request):
    """Take the edit lock; ``takeover`` is for staff only."""

    type: Literal["object.lock"]
    object: Id
    takeover: bool = False


@KIND.message(ObjectLock, roles=EDIT_ROLES)
def _object_lock(room: Room, pid: str, msg: ObjectLock, now: float) -> None:
    s = room.state
    if msg.object not in s.objects:
        raise Conflict("unknown_object", f"object {msg.object!r} does not exist", field="object")
    lock = s.locks.get(msg.object)
    if lock is not None and lock.holder == pid:
        room.memo[msg.object] = room.awake(now)
        return
    if lock is not None:
        if not msg.takeover:
            raise Conflict("locked", f"object {msg.object!r} is locked by {lock.holder!r}", field="object")
        if s.participants[pid].role != "staff":
            raise AuthError("forbidden", "only staff may take over a lock", field="takeover")
    room.emit("lock.take", {"object": msg.object, "holder": pid})
    room.memo[msg.object] = room.awake(now)


class LockTakeData(EditData):
    """``lock.take``: ``holder`` now holds the object's edit lock (taken, or taken over by staff)."""

    object: str
    holder: str


@KIND.op("lock.take", data=LockTakeData)
def _lock(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    oid, holder = d["object"], d["holder"]
    if oid not in s.objects or holder not in s.participants:
        raise KeyError(oid)
    return replace(s, locks={**s.locks, oid: Lock(oid, holder)})


class ObjectUnlock(Request):
    """Release the lock."""

    type: Literal["object.unlock"]
    object: Id


@KIND.message(ObjectUnlock, roles=EDIT_ROLES)
def _object_unlock(room: Room, pid: str, msg: ObjectUnlock, now: float) -> None:
    _require_lock(room.state, pid, msg.object)
    room.emit("lock.release", {"object": msg.object})
    room.memo.pop(msg.object, None)


class LockReleaseData(EditData):
    """``lock.release``: the object's lock is free (unlocked, holder gone or quiet, ``lock_ttl`` passed)."""

    object: str


@KIND.op("lock.release", data=LockReleaseData)
def _unlock(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    oid = d["object"]
    if oid not in s.locks:
        raise KeyError(oid)
    return replace(s, locks={k: v for k, v in s.locks.items() if k != oid})


def _require_lock(s: SpaceState, pid: str, oid: str) -> None:
    if oid not in s.objects:
        raise Conflict("unknown_object", f"object {oid!r} does not exist", field="object")
    lock = s.locks.get(oid)
    if lock is None:
        raise Conflict("lock_required", f"take the lock on {oid!r} before editing it", field="object")
    if lock.holder != pid:
        raise Conflict("locked", f"object {oid!r} is locked by {lock.holder!r}", field="object")


# ---- object.move --------------------------------------------------------------------------------


class ObjectMove(Request):
    """Move (the holder of the lock only)."""

    type: Literal["object.move"]
    object: Id
    pose: Pose
    scale: Scale | None = None


@KIND.message(ObjectMove, roles=EDIT_ROLES)
def _object_move(room: Room, pid: str, msg: ObjectMove, now: float) -> None:
    _require_lock(room.state, pid, msg.object)
    room.memo[msg.object] = now - room.stalled  # ``room.awake(now)`` without the call (every move)
    room.emit("object.move", {"object": msg.object, "pose": pose_list(msg.pose), "scale": msg.scale})


class ObjectMoveData(EditData):
    """``object.move``: the object's new pose (and scale; ``null``: unchanged)."""

    object: str
    pose: Pose7
    scale: float | None


_MOVED = copier(PlacedObject, "pose", "scale")
_MOVED_IN = copier(SpaceState, "objects", "revision")


@KIND.op("object.move", data=ObjectMoveData)
def _move(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    old = s.objects[d["object"]]
    scale = d.get("scale")
    new = _MOVED(old, _pose(d["pose"]), old.scale if scale is None else float(scale))
    return _MOVED_IN(s, {**s.objects, old.id: new}, s.revision + 1)  # one copy (deltas.apply)


# ---- object.variant -----------------------------------------------------------------------------


class ObjectVariant(Request):
    """Change variant (lock holder only)."""

    type: Literal["object.variant"]
    object: Id
    variant: Id


@KIND.message(ObjectVariant, roles=EDIT_ROLES)
def _object_variant(room: Room, pid: str, msg: ObjectVariant, now: float) -> None:
    _require_lock(room.state, pid, msg.object)
    room.memo[msg.object] = room.awake(now)
    room.emit("object.variant", {"object": msg.object, "variant": msg.variant})


class ObjectVariantData(EditData):
    """``object.variant``: the object's new variant."""

    object: str
    variant: str


@KIND.op("object.variant", data=ObjectVariantData)
def _variant(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    old = s.objects[d["object"]]
    return replace(s, objects={**s.objects, old.id: replace(old, variant=d["variant"])})


# ---- object.delete ------------------------------------------------------------------------------


class ObjectDelete(Request):
    """Delete (lock holder only)."""

    type: Literal["object.delete"]
    object: Id


@KIND.message(ObjectDelete, roles=EDIT_ROLES)
def _object_delete(room: Room, pid: str, msg: ObjectDelete, now: float) -> None:
    _require_lock(room.state, pid, msg.object)
    room.emit("object.delete", {"object": msg.object})
    room.memo.pop(msg.object, None)


class ObjectDeleteData(EditData):
    """``object.delete``: the object (and its lock) is gone."""

    object: str


@KIND.op("object.delete", data=ObjectDeleteData)
def _delete(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    oid = d["object"]
    if oid not in s.objects:
        raise KeyError(oid)
    return replace(
        s,
        objects={k: v for k, v in s.objects.items() if k != oid},
        locks={k: v for k, v in s.locks.items() if k != oid},
    )


# ---- chat ---------------------------------------------------------------------------------------


class Chat(Request):
    """Append to the short chat/reaction log (every role, viewers too)."""

    type: Literal["chat"]
    kind: Literal["text", "reaction"] = "text"
    text: Annotated[str, StringConstraints(min_length=1)]  # length limit: Limits.max_chat_chars (room)


@KIND.message(Chat)
def _chat_message(room: Room, pid: str, msg: Chat, now: float) -> None:
    lim = room.config.limits
    if len(msg.text) > lim.max_chat_chars:
        raise LimitExceeded(
            "bad_message", "chat text is too long", field="text", limit=lim.max_chat_chars, actual=len(msg.text)
        )
    room.emit("chat", {"participant": pid, "kind": msg.kind, "text": msg.text, "at": now})


class ChatData(EditData):
    """``chat``: a line for the chat log (its ``rev`` in the log is the delta's revision)."""

    participant: str
    kind: Literal["text", "reaction"]
    text: str
    at: float


@KIND.op("chat", data=ChatData)
def _chat(s: SpaceState, d: dict[str, Any]) -> SpaceState:
    entry = ChatEntry(s.revision + 1, d["participant"], d["kind"], d["text"], float(d["at"]))
    chat = (*s.chat, entry)[-s.chat_limit :] if s.chat_limit > 0 else ()
    return replace(s, chat=chat)


# ---- timers: locks of quiet or absent holders ---------------------------------------------------
# memo: object id -> when its lock holder last touched it, on the room's ``awake`` clock (a server stall does not
# count toward ``lock_ttl``; a room loaded from a checkpoint starts every lock's ``lock_ttl`` afresh)


def _release_locks_of(room: Room, pid: str) -> None:
    for oid in [o for o, lk in room.state.locks.items() if lk.holder == pid]:
        room.emit("lock.release", {"object": oid})
        room.memo.pop(oid, None)


@KIND.absent
def _absent(room: Room, pid: str, now: float) -> None:
    _release_locks_of(room, pid)


@KIND.tick
def _tick(room: Room, now: float) -> None:
    s = room.state
    awake = room.awake(now)
    for oid, lock in list(s.locks.items()):
        holder = room.state.participants.get(lock.holder)
        if holder is None or not holder.connected or awake - room.memo.get(oid, awake) > room.config.lock_ttl:
            room.emit("lock.release", {"object": oid})
            room.memo.pop(oid, None)


@KIND.restore
def _restore(room: Room, now: float) -> None:
    for oid in room.state.locks:
        room.memo.setdefault(oid, room.awake(now))
