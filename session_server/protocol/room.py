"""The room: ``Room.handle(participant, msg, now) -> list[Outbound]`` and ``Room.tick(now)``.

Sans-I/O: no sockets, timers or clocks here.  Every change is a ``Delta`` applied through
``deltas.apply`` and appended to the room's ``DeltaLog``; ownership (locks), idempotency (request
ids), resume and the per-room limits are decided here.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from . import messages as m
from .deltas import Delta, apply
from .errors import AuthError, Conflict, LimitExceeded, ProtocolError
from .limits import DEFAULT_LIMITS, Limits
from .state import RoomState, from_snapshot, snapshot

logger = logging.getLogger(__name__)

IDEMPOTENCY_PER_PARTICIPANT = 256
EDIT_ROLES = frozenset({"phone", "headset", "mirror", "staff"})


@dataclass(frozen=True, slots=True)
class RoomConfig:
    limits: Limits = DEFAULT_LIMITS
    resume_window: float = 60.0
    lock_ttl: float = 15.0
    quiet_timeout: float = 30.0
    presence_radius: float = 0.0
    """Send each device only the poses within about this many meters (0: everyone's)."""


# ---- commands the adapter sends on behalf of a connection (not wire messages) ---------------


@dataclass(frozen=True, slots=True)
class JoinCmd:
    role: str
    session: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ResumeCmd:
    role: str
    session: str
    revision: int
    new_session: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class DropCmd:
    session: str


@dataclass(frozen=True, slots=True)
class LeaveCmd:
    session: str


@dataclass(frozen=True, slots=True)
class Seen:
    """The participant is still connected somewhere (heartbeat relayed by its process)."""


# ---- outputs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    participant: str
    frame: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Emit:
    delta: Delta


Outbound = Reply | Emit


class Room:
    def __init__(self, room: str, config: RoomConfig = RoomConfig(), now: float = 0.0) -> None:
        self.config = config
        self.state = RoomState(room=room, chat_limit=config.limits.chat_log_length)
        self._done: dict[str, OrderedDict[str, dict[str, Any]]] = {}
        self._lock_touch: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._started = now
        self._current: tuple[str, str] | None = None

    # -- persistence (backplane) ---------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"state": snapshot(self.state), "done": {p: list(d.items()) for p, d in self._done.items()}}

    @classmethod
    def load(cls, data: dict[str, Any], config: RoomConfig, now: float) -> Room:
        room = cls(data["state"]["room"], config, now)
        room.state = from_snapshot(data["state"])
        room._done = {p: OrderedDict((k, v) for k, v in items) for p, items in data.get("done", {}).items()}
        for oid in room.state.locks:
            room._lock_touch[oid] = now
        for pid in room.state.participants:
            room._seen[pid] = now
        return room

    def replay(self, deltas: list[Delta]) -> None:
        """Apply deltas committed after the loaded checkpoint and rebuild the idempotency cache."""
        for delta in deltas:
            self.state = apply(self.state, delta)
            by, req = delta.data.get("by"), delta.data.get("req")
            if isinstance(by, str) and isinstance(req, str):
                done = self._done.setdefault(by, OrderedDict())
                done[req] = m.server_frame("ack", ref=req, revision=delta.rev)
                while len(done) > IDEMPOTENCY_PER_PARTICIPANT:
                    done.popitem(last=False)
            if delta.op == "lock.take":
                self._lock_touch[delta.data["object"]] = self._started

    @property
    def room_id(self) -> str:
        return self.state.room

    # -- core -----------------------------------------------------------------------------------
    def _emit(self, op: str, data: dict[str, Any], out: list[Outbound]) -> Delta:
        if self._current is not None:
            data = {**data, "by": self._current[0], "req": self._current[1]}
        delta = Delta(self.state.revision + 1, op, data)
        self.state = apply(self.state, delta)
        out.append(Emit(delta))
        return delta

    def handle(self, participant: str, msg: object, now: float) -> list[Outbound]:
        out: list[Outbound] = []
        ref = getattr(msg, "ref", None) if not isinstance(msg, m._Msg) else msg.id
        self._seen[participant] = now
        if isinstance(msg, m._Request) and msg.type in m.EDIT_TYPES:
            cached = self._done.get(participant, {}).get(msg.id)
            if cached is not None:
                return [Reply(participant, {**cached, "duplicate": True} if cached["type"] == "ack" else cached)]
        if isinstance(msg, m._Request) and msg.type in m.EDIT_TYPES:
            self._current = (participant, msg.id)
        try:
            self._dispatch(participant, msg, now, out)
        except ProtocolError as exc:
            out.append(Reply(participant, m.server_frame("error", **exc.to_wire(ref))))
        finally:
            self._current = None
        if isinstance(msg, m._Request) and msg.type in m.EDIT_TYPES:
            reply = next((o.frame for o in out if isinstance(o, Reply) and o.participant == participant), None)
            if reply is not None:
                done = self._done.setdefault(participant, OrderedDict())
                done[msg.id] = reply
                while len(done) > IDEMPOTENCY_PER_PARTICIPANT:
                    done.popitem(last=False)
        return out

    def _ack(self, participant: str, ref: str, out: list[Outbound]) -> None:
        out.append(Reply(participant, m.server_frame("ack", ref=ref, revision=self.state.revision)))

    def _dispatch(self, pid: str, msg: object, now: float, out: list[Outbound]) -> None:
        s = self.state
        lim = self.config.limits
        if isinstance(msg, JoinCmd | ResumeCmd):
            self._join(pid, msg, now, out)
            return
        part = s.participants.get(pid)
        if isinstance(msg, DropCmd):
            if part is not None and part.session == msg.session and part.connected:
                self._emit("participant.status", {"participant": pid, "connected": False, "at": now}, out)
                self._release_locks_of(pid, out)
            return
        if isinstance(msg, LeaveCmd):
            if part is not None and part.session == msg.session:
                self._emit("participant.leave", {"participant": pid}, out)
            return
        if isinstance(msg, Seen):
            return
        if part is None or not part.connected:
            raise ProtocolError("not_joined", "participant has not joined this room")
        if not isinstance(msg, m._Request):
            raise ProtocolError("bad_message", f"{type(msg).__name__} is not handled by the room")
        if isinstance(msg, m.Chat):
            if len(msg.text) > lim.max_chat_chars:
                raise LimitExceeded(
                    "bad_message",
                    "chat text is too long",
                    field="text",
                    limit=lim.max_chat_chars,
                    actual=len(msg.text),
                )
            self._emit("chat", {"participant": pid, "kind": msg.kind, "text": msg.text, "at": now}, out)
            self._ack(pid, msg.id, out)
            return
        if part.role not in EDIT_ROLES:
            raise AuthError("forbidden", f"role {part.role!r} may not send {msg.type}", field="type")
        if isinstance(msg, m.AnchorSet):
            if msg.anchor not in s.anchors and len(s.anchors) >= lim.max_anchors_per_room:
                raise LimitExceeded("too_many_anchors", limit=lim.max_anchors_per_room)
            self._emit("anchor.set", {"anchor": msg.anchor, "pose": m.pose_list(msg.pose), "by": pid}, out)
        elif isinstance(msg, m.ObjectPlace):
            if msg.object in s.objects:
                raise Conflict("object_exists", f"object {msg.object!r} already exists", field="object")
            if len(s.objects) >= lim.max_objects_per_room:
                raise LimitExceeded("too_many_objects", limit=lim.max_objects_per_room, actual=len(s.objects) + 1)
            if msg.anchor is not None and msg.anchor not in s.anchors:
                raise Conflict("unknown_anchor", f"anchor {msg.anchor!r} does not exist", field="anchor")
            self._emit(
                "object.place",
                {
                    "object": msg.object,
                    "sku": msg.sku,
                    "variant": msg.variant,
                    "pose": m.pose_list(msg.pose),
                    "scale": msg.scale,
                    "owner": pid,
                    "anchor": msg.anchor,
                },
                out,
            )
        elif isinstance(msg, m.ObjectLock):
            self._take_lock(pid, part.role, msg, now, out)
        elif isinstance(msg, m.ObjectUnlock):
            self._require_lock(pid, msg.object)
            self._emit("lock.release", {"object": msg.object}, out)
            self._lock_touch.pop(msg.object, None)
        elif isinstance(msg, m.ObjectMove):
            self._require_lock(pid, msg.object)
            self._lock_touch[msg.object] = now
            self._emit("object.move", {"object": msg.object, "pose": m.pose_list(msg.pose), "scale": msg.scale}, out)
        elif isinstance(msg, m.ObjectVariant):
            self._require_lock(pid, msg.object)
            self._lock_touch[msg.object] = now
            self._emit("object.variant", {"object": msg.object, "variant": msg.variant}, out)
        elif isinstance(msg, m.ObjectDelete):
            self._require_lock(pid, msg.object)
            self._emit("object.delete", {"object": msg.object}, out)
            self._lock_touch.pop(msg.object, None)
        else:
            raise ProtocolError("bad_message", f"{msg.type} is not handled by the room")
        self._ack(pid, msg.id, out)

    def _require_lock(self, pid: str, oid: str) -> None:
        if oid not in self.state.objects:
            raise Conflict("unknown_object", f"object {oid!r} does not exist", field="object")
        lock = self.state.locks.get(oid)
        if lock is None:
            raise Conflict("lock_required", f"take the lock on {oid!r} before editing it", field="object")
        if lock.holder != pid:
            raise Conflict("locked", f"object {oid!r} is locked by {lock.holder!r}", field="object")

    def _take_lock(self, pid: str, role: str, msg: m.ObjectLock, now: float, out: list[Outbound]) -> None:
        if msg.object not in self.state.objects:
            raise Conflict("unknown_object", f"object {msg.object!r} does not exist", field="object")
        lock = self.state.locks.get(msg.object)
        if lock is not None and lock.holder == pid:
            self._lock_touch[msg.object] = now
            return
        if lock is not None:
            if not msg.takeover:
                raise Conflict("locked", f"object {msg.object!r} is locked by {lock.holder!r}", field="object")
            if role != "staff":
                raise AuthError("forbidden", "only staff may take over a lock", field="takeover")
        self._emit("lock.take", {"object": msg.object, "holder": pid}, out)
        self._lock_touch[msg.object] = now

    def _release_locks_of(self, pid: str, out: list[Outbound]) -> None:
        for oid in [o for o, lk in self.state.locks.items() if lk.holder == pid]:
            self._emit("lock.release", {"object": oid}, out)
            self._lock_touch.pop(oid, None)

    def _join(self, pid: str, cmd: JoinCmd | ResumeCmd, now: float, out: list[Outbound]) -> None:
        s = self.state
        part = s.participants.get(pid)
        resumed = False
        session = cmd.session
        if isinstance(cmd, ResumeCmd):
            if part is not None and part.session == cmd.session and cmd.revision > s.revision:
                raise Conflict(
                    "future_revision",
                    f"revision {cmd.revision} is newer than the room's {s.revision}",
                    field="revision",
                )
            resumed = part is not None and part.session == cmd.session
            session = cmd.session if resumed else cmd.new_session
        if part is None:
            if len(s.participants) >= self.config.limits.max_participants_per_room:
                raise LimitExceeded("room_full", limit=self.config.limits.max_participants_per_room)
            self._emit("participant.join", {"participant": pid, "role": cmd.role, "session": session}, out)
        elif not part.connected or part.session != session or part.role != cmd.role:
            if part.role != cmd.role:
                self._emit("participant.leave", {"participant": pid}, out)
                self._emit("participant.join", {"participant": pid, "role": cmd.role, "session": session}, out)
            else:
                self._emit(
                    "participant.status",
                    {"participant": pid, "connected": True, "at": now, "session": session},
                    out,
                )
        self._seen[pid] = now
        out.append(
            Reply(
                pid,
                m.server_frame(
                    "welcome",
                    ref=cmd.ref,
                    room=s.room,
                    participant=pid,
                    role=cmd.role,
                    session=session,
                    resumed=resumed,
                    revision=self.state.revision,
                    **({"from_revision": cmd.revision} if resumed and isinstance(cmd, ResumeCmd) else {}),
                ),
            )
        )

    def tick(self, now: float) -> list[Outbound]:
        """Expire locks of quiet or absent holders, drop quiet participants, remove expired sessions."""
        out: list[Outbound] = []
        cfg = self.config
        for pid, part in list(self.state.participants.items()):
            if part.connected and now - self._seen.get(pid, self._started) > cfg.quiet_timeout:
                self._emit("participant.status", {"participant": pid, "connected": False, "at": now}, out)
                self._release_locks_of(pid, out)
            elif not part.connected and part.dropped_at is not None and now - part.dropped_at > cfg.resume_window:
                self._emit("participant.leave", {"participant": pid}, out)
                self._done.pop(pid, None)
                self._seen.pop(pid, None)
        for oid, lock in list(self.state.locks.items()):
            holder = self.state.participants.get(lock.holder)
            if holder is None or not holder.connected or now - self._lock_touch.get(oid, now) > cfg.lock_ttl:
                self._emit("lock.release", {"object": oid}, out)
                self._lock_touch.pop(oid, None)
        return out

    @property
    def empty(self) -> bool:
        return not self.state.participants
