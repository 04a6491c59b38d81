"""Typed inbox items: what a server process asks a room's leader to do, and their wire form.

Every request for a room (a join, a drop, a client message, a server command...) becomes an ``Item``
and goes through the room's inbox on the backplane, so that one process orders them all.  ``encode``
and ``decode`` give the JSON form used between processes (Redis); in one process the typed item
travels as is (``local``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .inbound import CLIENT_TYPES
from .messages import Msg
from .state import slot_init


@dataclass(frozen=True, slots=True)
class JoinCmd:
    """Join the room with ``role`` under the new ``session``."""

    role: str
    session: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ResumeCmd:
    """Resume ``session`` from ``revision`` (or join anew as ``new_session`` when it is gone)."""

    role: str
    session: str
    revision: int
    new_session: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class DropCmd:
    """The connection of ``session`` dropped: keep it resumable."""

    session: str


@dataclass(frozen=True, slots=True)
class LeaveCmd:
    """The participant of ``session`` left."""

    session: str


@dataclass(frozen=True, slots=True)
class Seen:
    """The participant is still connected somewhere (heartbeat relayed by its process)."""


@dataclass(frozen=True, slots=True)
class Attendance:
    """These participants are still connected to the sending process."""

    participants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommandCmd:
    """A server-originated command (``SessionNode.command``); ``id`` routes the result back."""

    id: str
    command: dict[str, Any]


Body = JoinCmd | ResumeCmd | DropCmd | LeaveCmd | Attendance | CommandCmd | Msg
_TAGS: dict[type, str] = {
    JoinCmd: "join",
    ResumeCmd: "resume",
    DropCmd: "drop",
    LeaveCmd: "leave",
    Attendance: "seen",
    CommandCmd: "command",
}
_BY_TAG = {tag: cls for cls, tag in _TAGS.items()}


@slot_init
@dataclass(frozen=True, slots=True)
class Item:
    """One inbox entry: the participant it is about, the process it came from, and what."""

    participant: str
    body: Body
    node: str = ""


def encode(item: Item) -> dict[str, Any]:
    """JSON-ready form of an item."""
    body = item.body
    if isinstance(body, Msg):
        return {"kind": "msg", "participant": item.participant, "node": item.node, "msg": body.model_dump(mode="json")}
    return {"kind": _TAGS[type(body)], "participant": item.participant, "node": item.node, **asdict(body)}


def decode(raw: dict[str, Any]) -> Item:
    """The item a dict from ``encode`` (or a local pass-through) holds; KeyError/ValueError when malformed."""
    local = raw.get("local")
    if isinstance(local, Item):
        return local
    kind = raw["kind"]
    node = str(raw.get("node", ""))
    participant = str(raw.get("participant", ""))
    if kind == "msg":
        msg = raw["msg"]
        return Item(participant, CLIENT_TYPES[msg["type"]].model_validate(msg), node)
    cls = _BY_TAG[kind]
    fields = {k: v for k, v in raw.items() if k not in ("kind", "participant", "node")}
    if cls is Attendance:
        fields["participants"] = tuple(str(p) for p in fields["participants"])
    try:
        return Item(participant, cls(**fields), node)
    except TypeError as exc:
        raise ValueError(f"inbox item {kind!r} is malformed: {exc}") from exc
