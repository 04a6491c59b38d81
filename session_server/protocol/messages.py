"""Wire models.  Every frame is a JSON object ``{"v": 1, "type": "...", "id": "...", ...}``.

``parse(data, limits)`` turns one client frame into a typed message or raises a ``ProtocolError``;
server frames are built by ``server_frame`` and described by the ``Server*`` models below (the
client and the tests validate against them; PROTOCOL.md lists both tables).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from .auth import Role
from .errors import BadMessage, LimitExceeded
from .limits import Limits, check_size, json_depth

PROTOCOL_VERSION = 1

Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]
Vec3 = tuple[Finite, Finite, Finite]
Quat = tuple[Finite, Finite, Finite, Finite]


class Pose(BaseModel):
    """Position in meters and rotation quaternion (x, y, z, w) in the session's frame."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    p: Vec3
    q: Quat = (0.0, 0.0, 0.0, 1.0)


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    v: Literal[1]
    id: Id | None = None


class _Request(_Msg):
    """A reliable request: must carry an id; answered by ``ack`` or ``error`` with ``ref`` = id."""

    id: Id


# ---- client -> server -------------------------------------------------------------------------


class Join(_Request):
    type: Literal["join"]
    room: Id
    token: Annotated[str, StringConstraints(max_length=2048)] | None = None


class Resume(_Request):
    type: Literal["resume"]
    room: Id
    token: Annotated[str, StringConstraints(max_length=2048)] | None = None
    session: Id
    revision: Annotated[int, Field(ge=0)]


class Leave(_Msg):
    type: Literal["leave"]


class Ping(_Msg):
    type: Literal["ping"]


class PresenceUpdate(_Msg):
    type: Literal["presence"]
    pose: Pose


class AnchorSet(_Request):
    type: Literal["anchor.set"]
    anchor: Id
    pose: Pose


class ObjectPlace(_Request):
    type: Literal["object.place"]
    object: Id
    sku: Id
    variant: Id | None = None
    pose: Pose
    scale: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 1.0
    anchor: Id | None = None


class ObjectLock(_Request):
    type: Literal["object.lock"]
    object: Id
    takeover: bool = False


class ObjectUnlock(_Request):
    type: Literal["object.unlock"]
    object: Id


class ObjectMove(_Request):
    type: Literal["object.move"]
    object: Id
    pose: Pose
    scale: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None


class ObjectVariant(_Request):
    type: Literal["object.variant"]
    object: Id
    variant: Id


class ObjectDelete(_Request):
    type: Literal["object.delete"]
    object: Id


class Chat(_Request):
    type: Literal["chat"]
    kind: Literal["text", "reaction"] = "text"
    text: Annotated[str, StringConstraints(min_length=1)]  # length limit: Limits.max_chat_chars (room)


ClientMessage = Annotated[
    Join
    | Resume
    | Leave
    | Ping
    | PresenceUpdate
    | AnchorSet
    | ObjectPlace
    | ObjectLock
    | ObjectUnlock
    | ObjectMove
    | ObjectVariant
    | ObjectDelete
    | Chat,
    Field(discriminator="type"),
]
CLIENT_TYPES: dict[str, type[_Msg]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (
        Join,
        Resume,
        Leave,
        Ping,
        PresenceUpdate,
        AnchorSet,
        ObjectPlace,
        ObjectLock,
        ObjectUnlock,
        ObjectMove,
        ObjectVariant,
        ObjectDelete,
        Chat,
    )
}
EDIT_TYPES = frozenset(
    {
        "anchor.set",
        "object.place",
        "object.lock",
        "object.unlock",
        "object.move",
        "object.variant",
        "object.delete",
        "chat",
    }
)
_ADAPTER: TypeAdapter[Any] = TypeAdapter(ClientMessage)


# ---- server -> client -------------------------------------------------------------------------


class _ServerMsg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    v: Literal[1]


class Welcome(_ServerMsg):
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
    presence: dict[str, list[float]]


class DeltaFrame(_ServerMsg):
    type: Literal["delta"]
    rev: int
    op: str
    data: dict[str, Any]


class PresenceFrame(_ServerMsg):
    type: Literal["presence"]
    t: float
    poses: dict[str, list[float]]
    gone: list[str] = []


class Ack(_ServerMsg):
    type: Literal["ack"]
    ref: str
    revision: int
    duplicate: bool = False


class ErrorFrame(_ServerMsg):
    type: Literal["error"]
    code: str
    message: str
    field: str | None = None
    ref: str | None = None


class Pong(_ServerMsg):
    type: Literal["pong"]
    t: float


class Shutdown(_ServerMsg):
    type: Literal["shutdown"]
    reason: str
    reconnect: bool
    retry_after_ms: int


class Batch(_ServerMsg):
    type: Literal["batch"]
    frames: list[dict[str, Any]]


SERVER_TYPES: dict[str, type[_ServerMsg]] = {
    m.model_fields["type"].annotation.__args__[0]: m  # type: ignore[union-attr]
    for m in (Welcome, DeltaFrame, PresenceFrame, Ack, ErrorFrame, Pong, Shutdown, Batch)
}


def _field_path(loc: tuple[Any, ...]) -> str:
    # loc starts with the union tag (e.g. "object.move"); drop it
    parts = [str(p) for p in loc[1:]] if loc and str(loc[0]) in CLIENT_TYPES else [str(p) for p in loc]
    return ".".join(parts) or "message"


def parse(data: str | bytes, limits: Limits) -> _Msg:
    """Validate one client frame.  Raises ``BadMessage`` or ``LimitExceeded`` naming the problem."""
    check_size(len(data), limits)
    try:
        return _ADAPTER.validate_json(data, strict=True)  # type: ignore[no-any-return]
    except ValidationError as exc:
        _diagnose(data, limits, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _diagnose(data: str | bytes, limits: Limits, exc: ValidationError) -> None:
    try:
        raw = json.loads(data)
    except RecursionError as err:
        raise LimitExceeded("too_deep", "message nesting is too deep", limit=limits.max_json_depth) from err
    except (ValueError, UnicodeDecodeError) as err:
        raise BadMessage("bad_json", f"frame is not valid JSON: {err}") from err
    depth = json_depth(raw)
    if depth > limits.max_json_depth:
        raise LimitExceeded("too_deep", "message nesting is too deep", limit=limits.max_json_depth, actual=depth)
    if not isinstance(raw, dict):
        raise BadMessage("bad_message", "frame must be a JSON object", field="message")
    if raw.get("v") != PROTOCOL_VERSION:
        raise BadMessage("bad_version", f"protocol version must be {PROTOCOL_VERSION}, got {raw.get('v')!r}", field="v")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else type(kind).__name__
        raise BadMessage("unknown_type", f"unknown message type {shown!r}", field="type")
    first = exc.errors()[0]
    field = _field_path(tuple(first.get("loc", ())))
    raise BadMessage("bad_message", f"{first.get('msg', 'invalid')} (in {kind})", field=field)


def pose_list(pose: Pose) -> list[float]:
    """Compact wire form [x, y, z, qx, qy, qz, qw] rounded to 0.1 mm / 1e-5.

    ``round(v * k) / k`` instead of ``round(v, n)``: the same shortest repr on the wire at a sixth of
    the cost (this runs for every presence message, 30 Hz per client)."""
    p, q = pose.p, pose.q
    return [
        round(p[0] * 1e4) / 1e4, round(p[1] * 1e4) / 1e4, round(p[2] * 1e4) / 1e4,
        round(q[0] * 1e5) / 1e5, round(q[1] * 1e5) / 1e5, round(q[2] * 1e5) / 1e5, round(q[3] * 1e5) / 1e5,
    ]  # fmt: skip


def server_frame(kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "type": kind, **fields}


def encode(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), allow_nan=False)


def is_finite_pose(values: list[float]) -> bool:
    return len(values) == 7 and all(isinstance(v, int | float) and math.isfinite(v) for v in values)
