"""Small builders shared by the session-server tests."""

from __future__ import annotations

import json
from typing import Any

from session_server.protocol.inbound import parse
from session_server.protocol.limits import Limits

_counter = iter(range(1, 10**9))


def frame(kind: str, /, **fields: Any) -> str:
    body: dict[str, Any] = {"v": 1, "type": kind, **fields}
    if kind not in ("presence", "ping", "leave") and "id" not in body:
        body["id"] = f"r{next(_counter)}"
    return json.dumps(body)


def msg(kind: str, /, **fields: Any) -> Any:
    return parse(frame(kind, **fields), Limits())


POSE = {"p": [0.0, 0.0, 0.0], "q": [0.0, 0.0, 0.0, 1.0]}


def pose(x: float, y: float = 0.0, z: float = 0.0) -> dict[str, Any]:
    return {"p": [x, y, z], "q": [0.0, 0.0, 0.0, 1.0]}
