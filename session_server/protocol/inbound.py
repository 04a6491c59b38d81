"""Reading a client frame: ``parse(data, limits)`` returns a typed message or raises ``ProtocolError``.

A frame is one of the session's own messages (``messages.SESSION_TYPES``) or a message some room kind
declares (``kinds.registry``); whether the room the connection joined accepts it is the room's call.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Sequence
from typing import Annotated, Any, Union

import jiter
from pydantic import Field, TypeAdapter, ValidationError

from .errors import BadMessage, LimitExceeded
from .kinds.registry import message_models
from .limits import Limits, check_size, json_depth
from .messages import (
    NO_TURN,
    POSE_LIMIT,
    POSITION_STEPS,
    PROTOCOL_VERSION,
    ROTATION_STEPS,
    SESSION_TYPES,
    Msg,
    Pose,
    PresenceUpdate,
    rounded_pose,
)
from .presence import PoseValue, pose_numbers

CLIENT_TYPES: dict[str, type[Msg]] = {**SESSION_TYPES, **message_models()}
"""Every client message type, whatever the room kind."""

_ADAPTER: TypeAdapter[Any] = TypeAdapter(
    Annotated[Union[tuple(CLIENT_TYPES.values())], Field(discriminator="type")]  # noqa: UP007 - built at run time
)
_VALIDATE_JSON = _ADAPTER.validator.validate_json
"""``_ADAPTER.validate_json`` without its Python wrapper, which only passes its defaults on (a call per message)."""


_DUPLICATE = re.compile(r'duplicate key "(.*)" at line')

_W = rb"[\x20\t\n\r]*"  # JSON whitespace (not \s: that has \f and \v too)
_N = _W + rb"(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)" + _W  # a JSON number


def _presence_form(p: bytes, q: bytes) -> re.Pattern[bytes]:
    """A presence message whose position numbers match ``p`` and rotation numbers ``q`` (see below)."""
    return re.compile(
        b"".join(
            part.replace(b" ", _W)
            for part in (
                rb' \{ "v" : 1 , "type" : "presence" , "pose" : \{ "p" : \[',
                rb",".join([p] * 3),
                rb'\] (?:, "q" : \[',
                rb",".join([q] * 4),
                rb"\] )?\} \} ",
            )
        )
    )


_QUICK_PRESENCE = _presence_form(_N, _N)
"""A presence message in the form every client sends (``{"v":1,"type":"presence","pose":{"p":[...],"q":[...]}}``,
these keys in this order, JSON whitespace anywhere): nothing else in it, so no key twice, no other type."""
_SHORT_PRESENCE = _presence_form(
    _W + rb"(-?(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,4})?)" + _W, _W + rb"(-?(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,5})?)" + _W
)
"""The same with short numbers: under 1e6, at most 4 decimals in the position and 5 in the rotation, no
exponent.  Such a message is valid and in range as it stands, and its numbers are already rounded as
``rounded_pose`` rounds: its pose is the numbers as they are (a client that sends its pose rounded as the
server would round it is read at the least cost)."""


def short_presence(data: bytes) -> re.Match[bytes] | None:
    """The match of a presence message with short numbers (``_SHORT_PRESENCE``), or None."""
    return _SHORT_PRESENCE.fullmatch(data)


POSE_TAG = 0x01
"""First byte of a binary pose message (JSON text never starts with it)."""
BINARY_POSE = struct.Struct("<B7i")
"""A binary pose message (PROTOCOL.md, *Binary pose*): the tag, then x, y, z in 1/``POSITION_STEPS`` m and
qx, qy, qz, qw in 1/``ROTATION_STEPS``, each a little-endian signed 32-bit integer: 29 bytes."""

BINARY_POSE_FIELDS: tuple[tuple[str, int], ...] = (
    *((name, POSITION_STEPS) for name in ("x", "y", "z")),
    *((name, ROTATION_STEPS) for name in ("qx", "qy", "qz", "qw")),
)
"""The int32 fields of ``BINARY_POSE`` after the tag, in order, with their steps per unit."""


def binary_layout() -> list[dict[str, Any]]:
    """``BINARY_POSE`` byte by byte (offset, size, type, field, unit) as the protocol's schema lists it."""
    fields: list[dict[str, Any]] = [{"offset": 0, "size": 1, "type": "uint8", "field": "tag", "const": POSE_TAG}]
    for i, (name, steps) in enumerate(BINARY_POSE_FIELDS):
        fields.append({"offset": 1 + 4 * i, "size": 4, "type": "int32le", "field": name, "unit": 1 / steps})
    return fields


def binary_steps(data: bytes) -> bytes | None:
    """The 28 bytes of steps of a binary pose message (``BINARY_POSE`` after its tag), or None when ``data`` is
    not one: the pose as presence keeps it (``presence.PoseValue``; a binary tick frame writes these bytes as
    they are, and ``presence.pose_numbers`` gives the numbers when a JSON frame needs them)."""
    if len(data) != 29 or data[0] != POSE_TAG:
        return None
    return data[1:]


def binary_pose(data: bytes) -> list[float] | None:
    """The pose of a binary pose message (``BINARY_POSE``), or None when ``data`` is not one.

    Its numbers are whole steps, so the pose is exactly what ``rounded_pose`` makes of the same numbers
    sent as JSON, and always within ``POSE_LIMIT``: no check or rounding is left to do."""
    steps = binary_steps(data)
    return None if steps is None else pose_numbers(steps)


def encode_binary_pose(position: Sequence[float], rotation: Sequence[float]) -> bytes | None:
    """The binary pose message of a pose (each number rounded to its step), or None when a number does
    not fit an int32 of steps (or is not finite): send the JSON ``presence`` message then."""
    scaled = [v * POSITION_STEPS for v in position] + [v * ROTATION_STEPS for v in rotation]
    if len(scaled) != 7 or not all(-(2.0**31) <= v < 2.0**31 for v in scaled):  # NaN fails too
        return None
    steps = [round(v) for v in scaled]
    if not all(-(2**31) <= n < 2**31 for n in steps):
        return None
    return BINARY_POSE.pack(POSE_TAG, *steps)


def _binary_message(data: bytes) -> Msg:
    """A binary pose message as the ``presence`` message it stands for; BadMessage naming what is wrong."""
    pose = binary_pose(data)
    if pose is None:
        raise BadMessage(
            "bad_message",
            f"a binary pose message is {BINARY_POSE.size} bytes, tag {POSE_TAG} then 7 int32; got {len(data)} bytes",
            field="pose",
        )
    return PresenceUpdate.model_construct(
        v=PROTOCOL_VERSION, type="presence", id=None, pose=Pose.model_construct(p=tuple(pose[:3]), q=tuple(pose[3:]))
    )


def short_pose(match: re.Match[bytes] | PoseValue) -> PoseValue:
    """The pose of a ``short_presence`` match: what ``quick_pose`` returns for it, without the rounding
    (the numbers are rounded already; ``+ 0.0`` turns ``-0`` into ``0.0`` as the rounding does).  A pose
    (``binary_pose``'s list, ``binary_steps``' bytes) is returned as it is."""
    if isinstance(match, (list, bytes)):
        return match
    x, y, z, qx, qy, qz, qw = match.groups()  # type: ignore[union-attr]
    if qx is None:
        return [float(x) + 0.0, float(y) + 0.0, float(z) + 0.0, 0.0, 0.0, 0.0, 1.0]
    return [float(x) + 0.0, float(y) + 0.0, float(z) + 0.0, float(qx) + 0.0, float(qy) + 0.0, float(qz) + 0.0,
            float(qw) + 0.0]  # fmt: skip


def quick_pose(data: bytes) -> list[float] | None:
    """The rounded pose (``messages.rounded_pose``) of a presence message in the usual form, which
    ``parse`` would accept with this very pose; None for anything else, which ``parse`` then reads in full.

    The presence hot path (30 Hz per client): one regular expression instead of a JSON parse, the
    duplicate-key check and the model validation.  A number out of range (or too big for a float) is
    left to ``parse``, which names it."""
    match = _QUICK_PRESENCE.fullmatch(data)
    if match is None:
        return None
    x, y, z, qx, qy, qz, qw = match.groups()
    p = (float(x), float(y), float(z))
    q = NO_TURN if qx is None else (float(qx), float(qy), float(qz), float(qw))
    if max(p) > POSE_LIMIT or min(p) < -POSE_LIMIT or max(q) > POSE_LIMIT or min(q) < -POSE_LIMIT:
        return None  # out of range, or not a finite float
    return rounded_pose(p, q)


_WS = rb"[\x20\t\n\r]*+"  # JSON whitespace, possessive: a quick fail
_PLAIN_MOVE = re.compile(
    b"".join(
        part.replace(b" ", _WS)
        for part in (
            rb' \{ "v" : 1 , "type" : "object\.move" , "id" : "[^"\\]*" , "object" : "[^"\\]*" , "pose" : \{ "p" : \[',
            rb",".join([rb" [-+.eE0-9]+ "] * 3),
            rb'\] (?:, "q" : \[',
            rb",".join([rb" [-+.eE0-9]+ "] * 4),
            rb'\] )?\} (?:, "scale" : [-+.eE0-9]+ )?\} ',
        )
    )
)
"""An ``object.move`` in the form clients send (``{"v":1,"type":"object.move","id":...,"object":...,"pose":{"p":[...],
"q":[...]},"scale":...}``, these keys in this order, ``q`` and ``scale`` optional, JSON whitespace anywhere; strings
without escapes, numbers as runs of number characters).  Whatever its values, such a frame has no key twice and is
3 deep: ``parse`` lets the models read it without the duplicate-key pass (the values are theirs to judge)."""


def plain_move(raw: bytes, limits: Limits) -> bool:
    """True when ``raw`` is an ``object.move`` in the usual form (``_PLAIN_MOVE``) within the depth limit: no check
    but the models' is left to make (the move hot path, once a second per client)."""
    return limits.max_json_depth >= 3 and _PLAIN_MOVE.fullmatch(raw) is not None


def parse(data: str | bytes, limits: Limits) -> Msg:
    """Validate one client frame.  Raises ``BadMessage`` or ``LimitExceeded`` naming the problem.

    Strict: JSON types as declared (no ``"1"`` for 1, no ``1.0`` or ``true`` for ``v``), no key twice in
    an object; fields a message does not declare are ignored.  A binary pose message (bytes starting with
    ``POSE_TAG``) is read as the ``presence`` message it stands for; a move in the usual form (``plain_move``)
    by the models alone, everything else by ``parse_full``."""
    if len(data) > limits.max_message_bytes:  # ``check_size`` raises; the usual message needs no call
        check_size(len(data), limits)
    if type(data) is bytes and data and data[0] == POSE_TAG:
        return _binary_message(data)
    if plain_move(data if isinstance(data, bytes) else data.encode(), limits):
        return _validated(data, limits)
    return parse_full(data, limits)


def parse_full(data: str | bytes, limits: Limits) -> Msg:
    """``parse`` of a JSON frame within the size limit by the full reading: jiter, then the models."""
    raw = data if isinstance(data, bytes) else data.encode()
    try:
        decoded = jiter.from_json(raw, catch_duplicate_keys=True)
    except ValueError as exc:
        duplicate = _DUPLICATE.search(str(exc))
        if duplicate is not None:
            key = duplicate.group(1)
            raise BadMessage("bad_message", f"key {key!r} appears twice in an object", field=key) from None
    else:  # ignored fields too stay within the depth limit (a cheap bound first: brackets in the frame)
        if raw.count(b"[") + raw.count(b"{") > limits.max_json_depth:
            depth = json_depth(decoded)
            if depth > limits.max_json_depth:
                raise LimitExceeded(
                    "too_deep", "message nesting is too deep", limit=limits.max_json_depth, actual=depth
                )
    return _validated(data, limits)


def _validated(data: str | bytes, limits: Limits) -> Msg:
    """The message the models read in ``data``; what is wrong with it otherwise (``_diagnose``)."""
    try:
        return _VALIDATE_JSON(data, strict=True)  # type: ignore[no-any-return]
    except ValidationError as exc:
        _diagnose(data, limits, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def _field_path(loc: tuple[Any, ...]) -> str:
    # loc starts with the union tag (e.g. "object.move"); drop it
    parts = [str(p) for p in loc[1:]] if loc and str(loc[0]) in CLIENT_TYPES else [str(p) for p in loc]
    return ".".join(parts) or "message"


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
    version = raw.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        shown = json.dumps(version) if len(json.dumps(version)) <= 40 else type(version).__name__
        raise BadMessage(
            "bad_version", f"protocol version must be the integer {PROTOCOL_VERSION}, got {shown}", field="v"
        )
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in CLIENT_TYPES:
        shown = kind if isinstance(kind, str) and len(kind) <= 40 else type(kind).__name__
        raise BadMessage("unknown_type", f"unknown message type {shown!r}", field="type")
    first = exc.errors()[0]
    field = _field_path(tuple(first.get("loc", ())))
    raise BadMessage("bad_message", f"{first.get('msg', 'invalid')} (in {kind})", field=field)
