"""The protocol's machine-readable description: a JSON Schema (draft 2020-12) built from the code.

Every client message (the session's own and each room kind's), every server frame, every delta op of
every room kind (its ``data``) and each kind's ``state`` come from the models the server itself uses
or declares next to the code that builds them (``messages.py``, ``kinds/*.py``).  The document
validates any single frame (``anyOf`` client message, server frame); ``$defs`` names each part, and
``x-room-kinds`` / ``x-error-codes`` say which messages, ops and state each room kind has and what
each error code does.  Objects are open (no ``additionalProperties: false``): clients and servers
ignore fields they do not know (PROTOCOL.md, *Evolution within version 1*); :func:`closed` gives the
variant that refuses undeclared fields, for checking that a server sends nothing undocumented.

``python -m session_server.protocol.schema`` writes ``docs/protocol.schema.json`` (``--check`` fails
when the committed file is not what the code gives); the server also serves it at
``/protocol.schema.json``.
"""

from __future__ import annotations

import copy
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .errors import ERROR_CODES
from .frames import tick_layout
from .inbound import BINARY_POSE, CLIENT_TYPES, binary_layout
from .kinds import KINDS
from .messages import PROTOCOL_VERSION, SERVER_TYPES, SESSION_TYPES

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"
"""Where the generated document is committed."""
REF = "#/$defs/{model}"
VERSION = {"const": PROTOCOL_VERSION}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _open(node: Any) -> Any:
    """Drop every ``additionalProperties: false`` (objects stay open: unknown fields are ignored)."""
    if isinstance(node, dict):
        return {k: _open(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(node, list):
        return [_open(v) for v in node]
    return node


@cache
def _build() -> str:
    models: list[type[BaseModel]] = list(dict.fromkeys([*CLIENT_TYPES.values(), *SERVER_TYPES.values()]))
    for kind in KINDS:
        assert kind.snapshot is not None, f"room kind {kind.name} declares no snapshot model"
        models.append(kind.snapshot)
        models.extend(kind.op_data[op] for op in kind.ops)
    models = list(dict.fromkeys(models))
    refs, top = models_json_schema([(mdl, "validation") for mdl in models], ref_template=REF)
    defs: dict[str, Any] = top["$defs"]

    def name_of(model: type[BaseModel]) -> str:
        return str(refs[(model, "validation")]["$ref"].rsplit("/", 1)[1])

    # each delta op of each kind: the frame (``type: delta``) and the entry a resume's welcome lists
    entries: list[dict[str, str]] = []
    frames: list[dict[str, str]] = []
    room_kinds: dict[str, Any] = {}
    for kind in KINDS:
        ops: dict[str, str] = {}
        for op in kind.ops:
            data = kind.op_data[op]
            entry = {
                "type": "object",
                "description": (data.__doc__ or "").strip(),
                "properties": {
                    "rev": {"type": "integer", "minimum": 1},
                    "op": {"const": op},
                    "data": _ref(name_of(data)),
                },
                "required": ["rev", "op", "data"],
            }
            key = f"delta.{kind.name}.{op}"
            defs[key] = entry
            defs[f"frame.{key}"] = {
                **entry,
                "properties": {"v": VERSION, "type": {"const": "delta"}, **entry["properties"]},
                "required": ["v", "type", *entry["required"]],
            }
            entries.append(_ref(key))
            frames.append(_ref(f"frame.{key}"))
            ops[op] = f"#/$defs/{key}"
        room_kinds[kind.name] = {
            "description": kind.doc,
            "roles": sorted(kind.roles),
            "state": f"#/$defs/{name_of(kind.snapshot)}",  # type: ignore[arg-type]
            "messages": {
                name: {
                    "$ref": f"#/$defs/{name_of(spec.model)}",
                    "roles": None if spec.roles is None else sorted(spec.roles),
                }
                for name, spec in kind.messages.items()
            },
            "ops": ops,
        }

    states = [_ref(name_of(kind.snapshot)) for kind in KINDS]  # type: ignore[arg-type]
    welcome = defs[name_of(SERVER_TYPES["welcome"])]
    welcome["properties"]["state"] = {"anyOf": [*states, {"type": "null"}], "description": "the room's snapshot"}
    welcome["properties"]["deltas"] = {
        "anyOf": [{"type": "array", "items": {"anyOf": entries}}, {"type": "null"}],
        "description": "on a resume: exactly the deltas after the client's revision",
    }
    defs[name_of(SERVER_TYPES["delta"])] = {"anyOf": frames, "description": "one ordered change of the room"}
    defs[name_of(SERVER_TYPES["batch"])]["properties"]["frames"] = {
        "type": "array",
        "items": {"$ref": "#/$defs/ServerFrame"},
        "description": "several frames, in order, in one WebSocket frame",
    }
    defs["ClientMessage"] = {
        "description": "a frame a client sends",
        "oneOf": [_ref(name_of(mdl)) for mdl in CLIENT_TYPES.values()],
    }
    defs["ServerFrame"] = {
        "description": "a frame the server sends",
        "oneOf": [_ref(name_of(mdl)) for mdl in SERVER_TYPES.values()],
    }
    doc = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:phygital:session-protocol:{PROTOCOL_VERSION}",
        "title": f"Phygital session protocol, version {PROTOCOL_VERSION}",
        "description": (
            "Every frame of the session protocol (session_server/PROTOCOL.md), generated from the code by "
            "session_server/protocol/schema.py. A frame is a client message or a server frame. Objects are open: "
            "receivers ignore fields they do not know (additive evolution within version 1)."
        ),
        "anyOf": [_ref("ClientMessage"), _ref("ServerFrame")],
        "x-protocol-version": PROTOCOL_VERSION,
        "x-session-messages": sorted(SESSION_TYPES),
        "x-server-frames": sorted(SERVER_TYPES),
        "x-room-kinds": room_kinds,
        "x-binary-messages": {
            "pose": {
                "description": (
                    "a client's pose in a binary WebSocket frame, handled as the presence message it stands for "
                    "(PROTOCOL.md, Binary pose): each number is value * unit; the frame is exactly size bytes"
                ),
                "stands_for": REF.format(model=name_of(SESSION_TYPES["presence"])),
                "frame": "binary",
                "size": BINARY_POSE.size,
                "layout": binary_layout(),
            },
            "tick": {
                "description": (
                    "a server frame with presence, in a binary WebSocket frame, for a client that joined with "
                    "binary_frames (PROTOCOL.md, Binary tick frame): the tick's JSON frames (one frame or a batch), "
                    "then the presence it stands for; offsets after the JSON section count from J, those in an "
                    "entry from the entry's start; each pose number is value * unit"
                ),
                "stands_for": [REF.format(model=name_of(SERVER_TYPES[k])) for k in ("batch", "presence")],
                "frame": "binary",
                "direction": "server",
                "layout": tick_layout(),
            },
        },
        "x-error-codes": {
            code: {"close": spec.close_code, "description": spec.description} for code, spec in ERROR_CODES.items()
        },
        "$defs": dict(sorted(defs.items())),
    }
    return json.dumps(_open(doc), indent=2, sort_keys=False) + "\n"


def build() -> dict[str, Any]:
    """The protocol's JSON Schema, built from the code (a fresh copy each call)."""
    return json.loads(_build())  # type: ignore[no-any-return]


def text() -> str:
    """The JSON Schema as the committed file holds it (2-space indented, newline at the end)."""
    return _build()


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every declared object closed (``additionalProperties: false``): for checking that
    what a server sends is all documented.  Maps (``additionalProperties`` given a schema) stay as they are."""
    out = copy.deepcopy(schema)

    def close(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Write docs/protocol.schema.json (``--check``: exit 1 when the committed file differs from the code's)."""
    args = sys.argv[1:] if argv is None else argv
    want = text()
    if "--check" in args:
        have = SCHEMA_PATH.read_text() if SCHEMA_PATH.exists() else ""
        if have != want:
            print(f"{SCHEMA_PATH}: out of date; run python -m session_server.protocol.schema", file=sys.stderr)
            return 1
        return 0
    tmp = SCHEMA_PATH.with_suffix(".json.tmp")
    tmp.write_text(want)
    tmp.replace(SCHEMA_PATH)
    print(SCHEMA_PATH)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
