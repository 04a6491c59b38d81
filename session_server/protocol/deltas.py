"""Deltas: one ordered change each.  ``apply(state, delta)`` is the only way state changes, on the
server, in the backplane's replay and in ``client.RoomMirror``.

A delta is ``Delta(rev, op, data)``; ``_TRANSITIONS`` maps each op to a pure function
``(state, data) -> state``.  ``apply`` refuses a delta whose ``rev`` is not ``state.revision + 1``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from .errors import ProtocolError
from .state import Anchor, ChatEntry, Lock, Participant, PlacedObject, PoseT, RoomState


@dataclass(frozen=True, slots=True)
class Delta:
    rev: int
    op: str
    data: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        return {"rev": self.rev, "op": self.op, "data": self.data}

    @staticmethod
    def from_wire(raw: dict[str, Any]) -> Delta:
        try:
            return Delta(int(raw["rev"]), str(raw["op"]), dict(raw["data"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError("bad_delta", f"delta is malformed: {exc}") from exc


def _pose(v: Any) -> PoseT:
    t = tuple(float(x) for x in v)
    if len(t) != 7:
        raise ValueError("pose needs 7 numbers")
    return t  # type: ignore[return-value]


def _join(s: RoomState, d: dict[str, Any]) -> RoomState:
    parts = dict(s.participants)
    parts[d["participant"]] = Participant(d["participant"], d["role"], d.get("session", ""))
    return replace(s, participants=parts)


def _status(s: RoomState, d: dict[str, Any]) -> RoomState:
    pid = d["participant"]
    old = s.participants[pid]
    parts = dict(s.participants)
    connected = bool(d["connected"])
    parts[pid] = replace(
        old,
        connected=connected,
        dropped_at=None if connected else float(d["at"]),
        session=d.get("session", old.session),
    )
    return replace(s, participants=parts)


def _leave(s: RoomState, d: dict[str, Any]) -> RoomState:
    pid = d["participant"]
    if pid not in s.participants:
        raise KeyError(pid)
    parts = {k: v for k, v in s.participants.items() if k != pid}
    locks = {k: v for k, v in s.locks.items() if v.holder != pid}
    return replace(s, participants=parts, locks=locks)


def _anchor(s: RoomState, d: dict[str, Any]) -> RoomState:
    anchors = dict(s.anchors)
    anchors[d["anchor"]] = Anchor(d["anchor"], _pose(d["pose"]), d["by"])
    return replace(s, anchors=anchors)


def _place(s: RoomState, d: dict[str, Any]) -> RoomState:
    if d["object"] in s.objects:
        raise KeyError(f"object {d['object']} exists")
    objs = dict(s.objects)
    objs[d["object"]] = PlacedObject(
        d["object"],
        d["sku"],
        d.get("variant"),
        _pose(d["pose"]),
        float(d["scale"]),
        d["owner"],
        d.get("anchor"),
    )
    return replace(s, objects=objs)


def _move(s: RoomState, d: dict[str, Any]) -> RoomState:
    old = s.objects[d["object"]]
    objs = dict(s.objects)
    scale = d.get("scale")
    objs[old.id] = replace(old, pose=_pose(d["pose"]), scale=old.scale if scale is None else float(scale))
    return replace(s, objects=objs)


def _variant(s: RoomState, d: dict[str, Any]) -> RoomState:
    old = s.objects[d["object"]]
    objs = dict(s.objects)
    objs[old.id] = replace(old, variant=d["variant"])
    return replace(s, objects=objs)


def _delete(s: RoomState, d: dict[str, Any]) -> RoomState:
    oid = d["object"]
    if oid not in s.objects:
        raise KeyError(oid)
    return replace(
        s,
        objects={k: v for k, v in s.objects.items() if k != oid},
        locks={k: v for k, v in s.locks.items() if k != oid},
    )


def _lock(s: RoomState, d: dict[str, Any]) -> RoomState:
    oid, holder = d["object"], d["holder"]
    if oid not in s.objects or holder not in s.participants:
        raise KeyError(oid)
    locks = dict(s.locks)
    locks[oid] = Lock(oid, holder)
    return replace(s, locks=locks)


def _unlock(s: RoomState, d: dict[str, Any]) -> RoomState:
    oid = d["object"]
    if oid not in s.locks:
        raise KeyError(oid)
    return replace(s, locks={k: v for k, v in s.locks.items() if k != oid})


def _chat(s: RoomState, d: dict[str, Any]) -> RoomState:
    entry = ChatEntry(s.revision + 1, d["participant"], d["kind"], d["text"], float(d["at"]))
    chat = (*s.chat, entry)[-s.chat_limit :] if s.chat_limit > 0 else ()
    return replace(s, chat=chat)


_TRANSITIONS: dict[str, Callable[[RoomState, dict[str, Any]], RoomState]] = {
    "participant.join": _join,
    "participant.status": _status,
    "participant.leave": _leave,
    "anchor.set": _anchor,
    "object.place": _place,
    "object.move": _move,
    "object.variant": _variant,
    "object.delete": _delete,
    "lock.take": _lock,
    "lock.release": _unlock,
    "chat": _chat,
}
DELTA_OPS = frozenset(_TRANSITIONS)


def apply(state: RoomState, delta: Delta) -> RoomState:
    """Return the state after ``delta``; raise ProtocolError("bad_delta") and leave ``state`` untouched."""
    if delta.rev != state.revision + 1:
        raise ProtocolError("bad_delta", f"delta revision {delta.rev} does not follow {state.revision}")
    fn = _TRANSITIONS.get(delta.op)
    if fn is None:
        raise ProtocolError("bad_delta", f"unknown delta op {delta.op!r}")
    try:
        new = fn(state, delta.data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError("bad_delta", f"delta {delta.rev} {delta.op} does not apply: {exc!r}") from exc
    return replace(new, revision=delta.rev)


def apply_all(state: RoomState, deltas: Iterable[Delta]) -> RoomState:
    for d in deltas:
        state = apply(state, d)
    return state


class DeltaLog:
    """Ring of the most recent deltas, for resume.  ``since(rev)`` is None when ``rev`` fell out.

    Bounded in count (``maxlen``) and, when ``max_age`` is given, in age: a delta appended with a time
    is dropped once it is older than ``max_age`` (a client away longer than the resume window gets a
    snapshot anyway, so older deltas are only memory)."""

    def __init__(self, maxlen: int, start_revision: int = 0, max_age: float | None = None) -> None:
        self._ring: deque[Delta] = deque(maxlen=maxlen)
        self._times: deque[float] = deque(maxlen=maxlen)
        self._last = start_revision
        self.max_age = max_age

    @property
    def last(self) -> int:
        return self._last

    def append(self, delta: Delta, now: float = float("inf")) -> None:
        """Add the next delta; ``now`` (seconds, any clock) ages it out after ``max_age``."""
        if delta.rev != self._last + 1:
            raise ProtocolError("bad_delta", f"log expects revision {self._last + 1}, got {delta.rev}")
        self._ring.append(delta)
        self._times.append(now)
        self._last = delta.rev
        if self.max_age is not None and now != float("inf"):
            horizon = now - self.max_age
            while self._times and self._times[0] < horizon:
                self._times.popleft()
                self._ring.popleft()

    def __len__(self) -> int:
        return len(self._ring)

    def reset(self, revision: int) -> None:
        self._ring.clear()
        self._times.clear()
        self._last = revision

    def since(self, rev: int) -> list[Delta] | None:
        if rev > self._last:
            return None
        if rev == self._last:
            return []
        first = self._ring[0].rev if self._ring else self._last + 1
        if rev + 1 < first:
            return None
        return list(self._ring)[rev + 1 - first :]
