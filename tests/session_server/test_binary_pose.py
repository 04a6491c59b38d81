"""The binary pose message (PROTOCOL.md, *Binary pose*): layout as documented, the same pose as the JSON
presence message, and handled as presence in every way over both /ws adapters.

The clients here build their bytes from PROTOCOL.md's table alone (``struct`` with the documented
offsets, types and steps), not from the server's code."""

from __future__ import annotations

import asyncio
import json
import random
import re
import struct
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from session_server.client import SessionClient
from session_server.protocol import inbound
from session_server.protocol.errors import BadMessage
from session_server.protocol.limits import Limits
from session_server.protocol.messages import pose_list
from session_server.protocol.schema import build

from .conftest import RunningServer, make_token, run

ROOM = "store-bin"
DOC = Path(__file__).resolve().parents[2] / "session_server" / "PROTOCOL.md"


def doc_pose(x: float, y: float, z: float, q: tuple[float, ...] = (0, 0, 0, 1)) -> bytes:
    """A binary pose message as PROTOCOL.md describes it: tag 0x01, then 7 little-endian int32 (0.1 mm, 1e-5)."""
    return bytes([0x01]) + struct.pack(
        "<7i", *(round(v * 10000) for v in (x, y, z)), *(round(v * 100000) for v in q)
    )


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


@pytest.fixture(params=["fast", "websockets-sansio"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Every test here runs against both /ws adapters: the fast path and the ASGI route."""
    return str(request.param)


# ---- the format ---------------------------------------------------------------------------------


def test_doc_table_schema_and_code_agree() -> None:
    rows = re.findall(r"^\| (\d+) \| (\d+) \| ([^|]+) \| ([^|]+) \|$", _section("Binary pose"), re.M)
    layout = build()["x-binary-messages"]["pose"]["layout"]
    assert [(int(off), int(size)) for off, size, _, _ in rows] == [(f["offset"], f["size"]) for f in layout]
    assert [f["field"] for f in layout] == ["tag", "x", "y", "z", "qx", "qy", "qz", "qw"]
    for (_, _, typ, what), field in zip(rows, layout, strict=True):
        assert field["field"] in what.replace("tag", "tag ")
        assert ("int32, little-endian" in typ) == (field["type"] == "int32le")
        if field["field"] != "tag":
            assert ("0.1 mm" in what) == (field["unit"] == 1e-4)
            assert ("1e-5" in what) == (field["unit"] == 1e-5)
    assert sum(f["size"] for f in layout) == inbound.BINARY_POSE.size == 29
    assert build()["x-binary-messages"]["pose"]["size"] == 29


def test_doc_example_decodes_to_the_stated_pose() -> None:
    example = re.search(r"`((?:[0-9a-f]{2} ){28}[0-9a-f]{2})`", _section("Binary pose"))
    assert example is not None
    data = bytes.fromhex(example.group(1))
    assert data == doc_pose(1.5, 1.6, -2)
    assert inbound.binary_pose(data) == [1.5, 1.6, -2.0, 0.0, 0.0, 0.0, 1.0]


def test_binary_pose_is_the_json_pose() -> None:
    rng = random.Random(13)
    limits = Limits()
    for _ in range(2000):
        p = [rng.uniform(-214748, 214748) if rng.random() < 0.2 else rng.uniform(-50, 50) for _ in range(3)]
        q = [rng.uniform(-1, 1) for _ in range(4)]
        data = doc_pose(*p, q=tuple(q))
        steps = struct.unpack("<7i", data[1:])
        body = {"p": [s / 10000 for s in steps[:3]], "q": [s / 100000 for s in steps[3:]]}
        text = json.dumps({"v": 1, "type": "presence", "pose": body})
        want = pose_list(inbound.parse(text, limits).pose)  # type: ignore[attr-defined]
        assert inbound.binary_pose(data) == want
        assert pose_list(inbound.parse(data, limits).pose) == want  # type: ignore[attr-defined]
        assert inbound.encode_binary_pose(p, q) == data


def test_malformed_binary_pose_is_bad_message_naming_pose() -> None:
    good = doc_pose(1, 2, 3)
    for bad in (good[:-1], good + b"\x00", b"\x01"):
        assert inbound.binary_pose(bad) is None
        with pytest.raises(BadMessage) as err:
            inbound.parse(bad, Limits())
        assert (err.value.code, err.value.field) == ("bad_message", "pose")
    with pytest.raises(BadMessage) as err:
        inbound.parse(b"\x02" + good[1:], Limits())
    assert err.value.code == "bad_json"
    with pytest.raises(BadMessage) as err:
        inbound.parse(good.decode("latin-1"), Limits())  # as text: never a binary pose
    assert err.value.code == "bad_json"


def test_encode_refuses_what_does_not_fit() -> None:
    assert inbound.encode_binary_pose([214748.3647, 0, 0], [0, 0, 0, 1]) is not None
    assert inbound.encode_binary_pose([214748.3648, 0, 0], [0, 0, 0, 1]) is None
    assert inbound.encode_binary_pose([float("nan"), 0, 0], [0, 0, 0, 1]) is None
    assert inbound.encode_binary_pose([0, float("-inf"), 0], [0, 0, 0, 1]) is None
    assert inbound.encode_binary_pose([0, 0], [0, 0, 0, 1]) is None


# ---- over real sockets --------------------------------------------------------------------------


async def _frames(ws: Any) -> list[dict[str, Any]]:
    """The next WebSocket frame's frames (a batch unpacked)."""
    frame = json.loads(await ws.recv())
    return frame["frames"] if frame["type"] == "batch" else [frame]


async def _wait_for(ws: Any, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            for frame in await _frames(ws):
                if pred(frame):
                    return frame

    return await asyncio.wait_for(loop(), timeout)


async def _raw_join(srv: RunningServer, pid: str) -> Any:
    ws = await connect(srv.url, ping_interval=None)
    await ws.send(json.dumps({"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, pid)}))
    await _wait_for(ws, lambda f: f["type"] == "welcome")
    return ws


def test_binary_pose_reaches_the_others_as_presence(server: RunningServer) -> None:
    async def go() -> None:
        seen: list[dict[str, Any]] = []
        watcher = SessionClient(server.url, ROOM, make_token(ROOM, "watcher"), on_presence=seen.append)
        await watcher.connect()
        ws = await _raw_join(server, "raw")
        for i in range(5):
            await ws.send(doc_pose(1.5 + i, 1.6, -2, (0, 0.70711, 0, 0.70711)))
        for _ in range(100):
            if watcher.mirror.presence.get("raw", [0])[0] == 5.5:
                break
            await asyncio.sleep(0.05)
        assert watcher.mirror.presence["raw"] == [5.5, 1.6, -2, 0, 0.70711, 0, 0.70711]
        # the Python client's option sends the same bytes
        sender = SessionClient(server.url, ROOM, make_token(ROOM, "py"), binary_presence=True)
        await sender.connect()
        await sender.send_presence([0.25, 1.7, 3], [0, 0, 0, 1])
        await sender.send_presence([300000, 1.7, 3], [0, 0, 0, 1])  # does not fit: sent as JSON
        for _ in range(100):
            if watcher.mirror.presence.get("py", [0])[0] == 300000:
                break
            await asyncio.sleep(0.05)
        assert watcher.mirror.presence["py"] == [300000, 1.7, 3, 0, 0, 0, 1]
        assert not watcher.errors and not sender.errors
        await ws.close()
        await sender.close()
        await watcher.close()

    run(go())


def test_binary_pose_errors_keep_the_connection(server: RunningServer) -> None:
    async def go() -> None:
        ws = await connect(server.url, ping_interval=None)
        await ws.send(doc_pose(1, 2, 3))  # before any join
        err = await _wait_for(ws, lambda f: f["type"] == "error")
        assert err["code"] == "not_joined"
        await ws.send(json.dumps({"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, "e")}))
        await _wait_for(ws, lambda f: f["type"] == "welcome")
        await ws.send(doc_pose(1, 2, 3)[:-1])
        err = await _wait_for(ws, lambda f: f["type"] == "error")
        assert (err["code"], err["field"]) == ("bad_message", "pose")
        await ws.send(doc_pose(1, 2, 3).decode("latin-1"))  # a text frame is never a binary pose
        err = await _wait_for(ws, lambda f: f["type"] == "error")
        assert err["code"] == "bad_json"
        await ws.send(b"\x02" + bytes(28))  # another first byte: reserved
        err = await _wait_for(ws, lambda f: f["type"] == "error")
        assert err["code"] == "bad_json"
        await ws.send(json.dumps({"v": 1, "type": "ping"}))
        assert (await _wait_for(ws, lambda f: f["type"] in ("pong", "error")))["type"] == "pong"
        await ws.close()

    run(go())


def test_binary_pose_sent_before_the_welcome_is_held(server: RunningServer) -> None:
    async def go() -> None:
        seen: list[dict[str, Any]] = []
        watcher = SessionClient(server.url, ROOM, make_token(ROOM, "w2"), on_presence=seen.append)
        await watcher.connect()
        ws = await connect(server.url, ping_interval=None)
        await ws.send(json.dumps({"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, "early")}))
        await ws.send(doc_pose(7, 1, 1))  # no wait for the welcome
        frames = await _wait_for(ws, lambda f: f["type"] in ("welcome", "error"))
        assert frames["type"] == "welcome"
        for _ in range(100):
            if "early" in watcher.mirror.presence:
                break
            await asyncio.sleep(0.05)
        assert watcher.mirror.presence["early"][:3] == [7, 1, 1]
        await ws.close()
        await watcher.close()

    run(go())


def test_binary_poses_count_against_the_rate_limit(start_server: Any) -> None:
    srv = start_server(limits={"messages_per_second": 5, "message_burst": 10})

    async def go() -> None:
        ws = await _raw_join(srv, "flood")
        for i in range(40):
            await ws.send(doc_pose(i, 0, 0))
        err = await _wait_for(ws, lambda f: f["type"] == "error")
        assert err["code"] == "rate_limited"
        await ws.close()

    run(go())
