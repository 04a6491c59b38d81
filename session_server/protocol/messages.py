"""Wire models.  Every frame is a JSON object ``{"v": 1, "type": "...", "id": "...", ...}``.

Here: the message bases (``Msg``, ``Request``, ``Command``), the session's own messages (join,
resume, leave, ping, presence) and the server frames (the ``Server*`` models: the client and the
tests validate against them).  Each room kind declares its messages in its module under ``kinds/``;
``inbound.parse`` reads a client frame against all of them.  PROTOCOL.md lists every table.
"""

from __future__ import annotations

import json
from math import isfinite
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from .auth import ID_PATTERN, ID_RE, Role

PROTOCOL_VERSION = 1
Version = Annotated[
    int, Field(strict=True, ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION), WithJsonSchema({"const": PROTOCOL_VERSION})
]
"""``v``: exactly the JSON integer 1 (not ``1.0``, not ``true``, not ``"1"``)."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
POSE_LIMIT = 1e6
"""Largest magnitude of a pose number (a position in metres, a rotation component)."""
NO_TURN = (0.0, 0.0, 0.0, 1.0)
"""The identity rotation: a pose's ``q`` when the client sends none."""
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-POSE_LIMIT, le=POSE_LIMIT)]
Vec3 = tuple[Finite, Finite, Finite]
Quat = tuple[Finite, Finite, Finite, Finite]


class Pose(BaseModel):
    """Position in meters and rotation quaternion (x, y, z, w) in the session's frame."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    p: Vec3
    q: Quat = NO_TURN


Pose7 = Annotated[list[float], Field(min_length=7, max_length=7)]
"""A pose as the server sends it: ``[x, y, z, qx, qy, qz, qw]``."""


class Wire(BaseModel):
    """A JSON object the server sends inside a frame (a delta's ``data``, a part of a ``state``).

    Declared for the protocol's description (``protocol/schema.py``, PROTOCOL.md); the server builds
    these objects as dicts.  Clients ignore fields they do not know (additive evolution)."""

    model_config = ConfigDict(extra="ignore")


class Msg(BaseModel):
    """Base of every client message: protocol version and optional request id.

    Fields a message does not declare are ignored (additive evolution within version 1, PROTOCOL.md)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    v: Version
    id: Id | None = None


class Request(Msg):
    """A reliable request: must carry an id; answered by ``ack`` or ``error`` with ``ref`` = id."""

    id: Id


# ---- client -> server -------------------------------------------------------------------------


class Join(Request):
    """Client -> server: join a room with a token."""

    type: Literal["join"]
    room: Id
    token: Annotated[str, StringConstraints(max_length=2048)] | None = None
    binary_frames: bool = False
    """Receive frames that carry presence as binary tick frames (PROTOCOL.md, *Binary tick frame*)."""


class Resume(Request):
    """Client -> server: resume a dropped session (missed deltas, or a fresh snapshot)."""

    type: Literal["resume"]
    room: Id
    token: Annotated[str, StringConstraints(max_length=2048)] | None = None
    session: Id
    revision: Annotated[int, Field(ge=0)]
    binary_frames: bool = False
    """As in ``join``: frames that carry presence arrive as binary tick frames."""


class Leave(Msg):
    """Client -> server: leave the room."""

    type: Literal["leave"]


class Ping(Msg):
    """Client -> server: keep-alive; answered with a pong."""

    type: Literal["ping"]


class PresenceUpdate(Msg):
    """Client -> server: this participant's pose (lossy, latest wins)."""

    type: Literal["presence"]
    pose: Pose


def type_name(model: type[BaseModel]) -> str:
    """The ``type`` tag of a message or command model (its ``Literal`` value)."""
    return str(model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]


SESSION_TYPES: dict[str, type[Msg]] = {type_name(m): m for m in (Join, Resume, Leave, Ping, PresenceUpdate)}
"""Messages of the session itself (every room kind); each kind adds its own (``kinds/``)."""


class Command(BaseModel):
    """A server-originated command (``SessionNode.command``); each kind declares its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---- server -> client -------------------------------------------------------------------------


class _ServerMsg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1]


class Welcome(_ServerMsg):
    """Server -> client: joined; the snapshot of the room with its revision."""

    type: Literal["welcome"]
    ref: str | None = None
    room: str
    participant: str
    role: Role
    session: str
    resumed: bool
    revision: int
    state: dict[str, Any] | None = None
    deltas: list[dict[str, Any]] | None = None
    presence: dict[str, Pose7]


class DeltaFrame(_ServerMsg):
    """Server -> client: one change of the room at a revision."""

    type: Literal["delta"]
    rev: int
    op: str
    data: dict[str, Any]


class PresenceFrame(_ServerMsg):
    """Server -> client: the poses changed since the last tick and the participants gone."""

    type: Literal["presence"]
    t: float
    poses: dict[str, Pose7]
    gone: list[str] = []


class Ack(_ServerMsg):
    """Server -> client: a request was applied (or was a duplicate) at a revision."""

    type: Literal["ack"]
    ref: str
    revision: int
    duplicate: bool = False


class ErrorFrame(_ServerMsg):
    """Server -> client: a request or the connection failed, with a code."""

    type: Literal["error"]
    code: str
    message: str
    field: str | None = None
    ref: str | None = None


class Pong(_ServerMsg):
    """Server -> client: the answer to a ping, with the server time."""

    type: Literal["pong"]
    t: float


class Shutdown(_ServerMsg):
    """Server -> client: the server is going away; whether and when to reconnect."""

    type: Literal["shutdown"]
    reason: str
    reconnect: bool
    retry_after_ms: int


class Batch(_ServerMsg):
    """Server -> client: several frames sent as one."""

    type: Literal["batch"]
    frames: list[dict[str, Any]]


SERVER_TYPES: dict[str, type[_ServerMsg]] = {
    type_name(m): m for m in (Welcome, DeltaFrame, PresenceFrame, Ack, ErrorFrame, Pong, Shutdown, Batch)
}


def pose_list(pose: Pose) -> list[float]:
    """Compact wire form [x, y, z, qx, qy, qz, qw] rounded to 0.1 mm / 1e-5."""
    return rounded_pose(pose.p, pose.q)


POSITION_STEPS = 10_000
"""Steps per metre of a position as the server keeps it (rounded to 0.1 mm; the unit of a binary pose)."""
ROTATION_STEPS = 100_000
"""Steps per unit of a rotation component as the server keeps it (rounded to 1e-5; a binary pose's unit)."""


def rounded_pose(p: tuple[float, ...], q: tuple[float, ...]) -> list[float]:
    """``[x, y, z, qx, qy, qz, qw]`` from a position and a quaternion, rounded to 0.1 mm / 1e-5
    (``POSITION_STEPS``, ``ROTATION_STEPS``, written out below as 1e4 and 1e5).

    ``round(v * k) / k`` instead of ``round(v, n)``: the same shortest repr on the wire at a sixth of
    the cost (this runs for every presence message, 30 Hz per client). The identity rotation (``NO_TURN``,
    what a pose sent without ``q`` has) is its own rounding, ``-0.0`` included (rounded, it is ``0.0``)."""
    if q == NO_TURN:
        return [round(p[0] * 1e4) / 1e4, round(p[1] * 1e4) / 1e4, round(p[2] * 1e4) / 1e4, 0.0, 0.0, 0.0, 1.0]
    return [
        round(p[0] * 1e4) / 1e4, round(p[1] * 1e4) / 1e4, round(p[2] * 1e4) / 1e4,
        round(q[0] * 1e5) / 1e5, round(q[1] * 1e5) / 1e5, round(q[2] * 1e5) / 1e5, round(q[3] * 1e5) / 1e5,
    ]  # fmt: skip


def ack(ref: str, revision: int, duplicate: bool = False) -> dict[str, Any]:
    """An ``ack`` frame as a dict, its keys in the order ``ack_text`` fills in."""
    return {"v": PROTOCOL_VERSION, "type": "ack", "ref": ref, "revision": revision, "duplicate": duplicate}


_ACK_KEYS = ["v", "type", "ref", "revision", "duplicate"]
_ACK_HEAD = f'{{"v":{PROTOCOL_VERSION},"type":"ack","ref":"'


def ack_text(frame: dict[str, Any]) -> str:
    """``encode(frame)`` of an ``ack`` frame: a template filled in when the frame is one ``ack`` builds (these keys
    in this order, an id as ``Id`` allows, which JSON writes as it is, an int revision, a bool), else encoded."""
    if list(frame) != _ACK_KEYS:
        return encode(frame)
    v, kind, ref, revision, duplicate = frame.values()
    if (
        type(v) is int
        and v == PROTOCOL_VERSION
        and kind == "ack"
        and type(ref) is str
        and type(revision) is int
        and (duplicate is False or duplicate is True)
        and ID_RE.fullmatch(ref) is not None
    ):
        return f'{_ACK_HEAD}{ref}","revision":{revision},"duplicate":{"true" if duplicate else "false"}}}'
    return encode(frame)


def server_frame(kind: str, **fields: Any) -> dict[str, Any]:
    """A server frame as a dict: protocol version, ``type`` and the fields."""
    return {"v": PROTOCOL_VERSION, "type": kind, **fields}


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
"""The standard library's encoder: frames ``orjson`` does not write (``encode``), with its text and its errors."""
_ORJSON_REFUSES = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
"""``orjson`` passes these to ``_ENCODER``: dataclasses, dates and times (refused there, TypeError, as before) and
subclasses of str, int, dict and list (written there as before; frames hold none)."""


def _refuse_non_finite(frame: dict[str, Any]) -> None:
    """ValueError for a NaN or infinity anywhere in ``frame`` (its dicts, lists and tuples), as ``_ENCODER``'s.

    One loop over a stack of containers, scalars checked in line (a call per item: 13k -> 18k instructions for a
    move's delta)."""
    todo: list[Any] = [frame]
    while todo:
        container = todo.pop()
        for item in container.values() if type(container) is dict else container:
            kind = type(item)
            if kind is float:
                if not isfinite(item):
                    raise ValueError(f"Out of range float values are not JSON compliant: {item!r}")
            elif kind is dict or kind is list or kind is tuple:
                todo.append(item)


def encode(frame: dict[str, Any]) -> str:
    """Compact JSON text of a frame: UTF-8 characters as they are, numbers as ``orjson`` writes them (the same
    JSON as ``_ENCODER``'s text); ValueError for a NaN or infinity, TypeError for what JSON cannot hold.

    ``orjson`` takes an eighth of the C encoder's instructions for a move's delta or ack and a thirteenth for a
    tick's poses (docs/benchmarks-session.md).  It writes NaN and infinity as ``null``: a text with a ``null`` has
    its floats checked (``_refuse_non_finite``).  What it refuses and ``json`` writes (an integer past 64 bits, a
    key that is not a string, a lone surrogate, nesting past 254) is written by ``_ENCODER``, as before."""
    try:
        out = orjson.dumps(frame, option=_ORJSON_REFUSES)
    except orjson.JSONEncodeError:
        return _ENCODER.encode(frame)
    if b"null" in out:
        _refuse_non_finite(frame)
    return out.decode()
