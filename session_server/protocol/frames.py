"""Binary tick frames (PROTOCOL.md, *Binary tick frame*): what a client that joined with
``binary_frames: true`` receives for a tick that carries presence.

One binary WebSocket frame: the tag ``TICK_TAG``, the tick's JSON frames (deltas, acks, errors; one frame
or a ``batch``) as a length-prefixed UTF-8 section, then the presence of the tick: its time and, for each
participant, its id and its pose as seven int32 in the steps a binary pose message uses (0.1 mm, 1e-5).
The presence section is built once per tick (and presence cell) and shared by every recipient; only the
JSON section is a client's own.  ``encode_presence`` returns None when a pose does not fit an int32 of
steps: that tick's presence then travels as a JSON ``presence`` frame.
"""

from __future__ import annotations

import struct
from typing import Any

from .inbound import BINARY_POSE_FIELDS
from .messages import POSITION_STEPS, ROTATION_STEPS
from .presence import PresenceTick

TICK_TAG = 0x02
"""First byte of a binary tick frame (JSON text never starts with it; ``0x01`` is a client's binary pose)."""
JSON_LENGTH = struct.Struct("<I")
"""The JSON section's length in bytes (0: no JSON frames this tick), after the tag."""
PRESENCE_HEAD = struct.Struct("<dHH")
"""The presence section's head: the tick time ``t`` (server Unix seconds), then how many poses, how many gone."""
POSE_STEPS = struct.Struct("<7i")
"""One pose after its id: x, y, z in 1/``POSITION_STEPS`` m, qx, qy, qz, qw in 1/``ROTATION_STEPS``."""
_INT32 = 2**31
_ids: dict[str, bytes] = {}
"""Each participant id as its length byte and ASCII bytes (ids are short, few and reused every tick)."""


def _id_bytes(pid: str) -> bytes:
    """A participant id as the frame writes it: one length byte, then its ASCII bytes (cached)."""
    out = _ids.get(pid)
    if out is None:
        raw = pid.encode("ascii")
        out = bytes((len(raw),)) + raw
        if len(_ids) > 100_000:  # bounded: participants come and go over a process's life
            _ids.clear()
        _ids[pid] = out
    return out


def encode_presence(tick: PresenceTick, t: float) -> bytes | None:
    """The presence section of a tick at time ``t``, or None when a position does not fit an int32 of 0.1 mm
    steps (beyond about 214 km): the tick's presence then goes as a JSON ``presence`` frame."""
    parts = [PRESENCE_HEAD.pack(t, len(tick.poses), len(tick.gone))]
    pack = POSE_STEPS.pack
    try:
        for pid, pose in tick.poses.items():
            parts.append(_id_bytes(pid))
            if type(pose) is bytes:  # from a binary pose message: its steps as they came
                parts.append(pose)
                continue
            x, y, z, qx, qy, qz, qw = pose
            parts.append(
                pack(round(x * 1e4), round(y * 1e4), round(z * 1e4),
                     round(qx * 1e5), round(qy * 1e5), round(qz * 1e5), round(qw * 1e5))
            )  # fmt: skip
    except struct.error:  # a number past an int32 of steps
        return None
    parts.extend(_id_bytes(pid) for pid in tick.gone)
    return b"".join(parts)


def tick_frame(json_text: str | None, presence: bytes) -> bytes:
    """A binary tick frame: the tag, the JSON section (``json_text``: one frame or a ``batch``; None: empty),
    then the presence section from ``encode_presence``."""
    data = json_text.encode() if json_text else b""
    return b"".join((bytes((TICK_TAG,)), JSON_LENGTH.pack(len(data)), data, presence))


def _read_id(data: bytes, pos: int) -> tuple[str, int]:
    """The id at ``pos`` (length byte, then ASCII) and the position after it."""
    k = data[pos]
    end = pos + 1 + k
    if k == 0 or end > len(data):
        raise ValueError(f"binary tick frame: participant id at byte {pos} runs past the frame")
    return data[pos + 1 : end].decode("ascii"), end


def decode_tick_frame(data: bytes) -> tuple[str | None, dict[str, Any]]:
    """A binary tick frame as ``(json_text or None, presence frame)``, the presence as the JSON
    ``presence`` frame it stands for.  ValueError naming the byte for a frame that is not one."""
    if len(data) < 1 + JSON_LENGTH.size or data[0] != TICK_TAG:
        raise ValueError(f"binary tick frame: starts with tag {TICK_TAG} and a 4-byte length; got {len(data)} bytes")
    (n,) = JSON_LENGTH.unpack_from(data, 1)
    pos = 1 + JSON_LENGTH.size + n
    if pos + PRESENCE_HEAD.size > len(data):
        raise ValueError(f"binary tick frame: the JSON section ({n} bytes) leaves no presence section")
    text = data[1 + JSON_LENGTH.size : pos].decode() if n else None
    t, count, gone_count = PRESENCE_HEAD.unpack_from(data, pos)
    pos += PRESENCE_HEAD.size
    p, r = POSITION_STEPS, ROTATION_STEPS
    poses: dict[str, list[float]] = {}
    for _ in range(count):
        pid, pos = _read_id(data, pos)
        if pos + POSE_STEPS.size > len(data):
            raise ValueError(f"binary tick frame: the pose of {pid!r} runs past the frame")
        x, y, z, qx, qy, qz, qw = POSE_STEPS.unpack_from(data, pos)
        pos += POSE_STEPS.size
        poses[pid] = [x / p, y / p, z / p, qx / r, qy / r, qz / r, qw / r]
    gone: list[str] = []
    for _ in range(gone_count):
        pid, pos = _read_id(data, pos)
        gone.append(pid)
    if pos != len(data):
        raise ValueError(f"binary tick frame: {len(data) - pos} bytes after the presence section")
    return text, {"v": 1, "type": "presence", "t": t, "poses": poses, "gone": gone}


def tick_layout() -> list[dict[str, Any]]:
    """The binary tick frame byte by byte (offset, size, type, field) as the protocol's schema lists it;
    offsets after the JSON section are relative to its end (``J``), those in a pose entry to the entry."""
    pose = [
        {"offset": 1 + 4 * i, "size": 4, "type": "int32le", "field": name, "unit": 1 / steps}
        for i, (name, steps) in enumerate(BINARY_POSE_FIELDS)
    ]
    return [
        {"offset": 0, "size": 1, "type": "uint8", "field": "tag", "const": TICK_TAG},
        {"offset": 1, "size": 4, "type": "uint32le", "field": "json_length", "name": "J"},
        {
            "offset": 5,
            "size": "J",
            "type": "utf8",
            "field": "json",
            "description": "one JSON frame or a batch; empty when J is 0",
        },
        {"offset": "5+J", "size": 8, "type": "float64le", "field": "t"},
        {"offset": "13+J", "size": 2, "type": "uint16le", "field": "pose_count", "name": "N"},
        {"offset": "15+J", "size": 2, "type": "uint16le", "field": "gone_count", "name": "G"},
        {
            "offset": "17+J",
            "repeat": "N",
            "field": "poses",
            "entry": [
                {"offset": 0, "size": 1, "type": "uint8", "field": "id_length", "name": "K"},
                {"offset": 1, "size": "K", "type": "ascii", "field": "participant"},
                *({**f, "offset": f"{f['offset']}+K"} for f in pose),
            ],
        },
        {
            "offset": "after the poses",
            "repeat": "G",
            "field": "gone",
            "entry": [
                {"offset": 0, "size": 1, "type": "uint8", "field": "id_length", "name": "K"},
                {"offset": 1, "size": "K", "type": "ascii", "field": "participant"},
            ],
        },
    ]
