"""The binary pose message (PROTOCOL.md, *Binary pose*): layout as documented, the same pose as the JSON
presence message, and handled as presence in every way over both /ws adapters.

The clients here build their bytes from PROTOCOL.md's table alone (``struct`` with the documented
offsets, types and steps), not from the server's code."""

from __future__ import annotations

import asyncio
import json
import random
import re
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.uri import parse_uri

from session_server.client import SessionClient
from session_server.protocol import inbound
from session_server.protocol.errors import BadMessage
from session_server.protocol.limits import Limits, TokenBucket
from session_server.protocol.messages import pose_list
from session_server.protocol.presence import PoseValue, pose_numbers
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
    ws = await connect(srv.url, ping_interval=None, max_queue=None)  # frames left unread never hold up its close
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


# ---- presence messages read together (one socket read) ------------------------------------------------


def test_token_bucket_take_many_is_takes_in_a_row() -> None:
    a, b = TokenBucket(10, 5, 0.0), TokenBucket(10, 5, 0.0)
    assert a.take_many(0.0, 8) == 5
    assert [b.take(0.0) for _ in range(8)] == [True] * 5 + [False] * 3
    assert a.take_many(0.25, 4) == 2 and [b.take(0.25) for _ in range(4)] == [True, True, False, False]
    assert a.take_many(0.25, 0) == 0
    assert a.take_many(0.25, 3, cost=0.0) == 3 and b.take(0.25, cost=0.0)  # nothing to take: always granted


class RawClient:
    """A blocking WebSocket client that can put several frames in one write (so the server reads them together)."""

    def __init__(self, srv: RunningServer, pid: str) -> None:
        self.proto = ClientProtocol(parse_uri(srv.url))
        self.sock = socket.create_connection(("127.0.0.1", srv.settings.port), timeout=10)
        self.proto.send_request(self.proto.connect())
        self.flush()
        while self.proto.state.name == "CONNECTING":
            self.proto.receive_data(self.sock.recv(65536))
        self.pending: list[Any] = []
        self.write([json.dumps({"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, pid)})])
        assert self.next(lambda f: f["type"] in ("welcome", "error"))["type"] == "welcome"

    def flush(self) -> None:
        self.sock.sendall(b"".join(self.proto.data_to_send()))

    def write(self, frames: list[str | bytes]) -> None:
        """All of ``frames`` in one sendall."""
        for f in frames:
            if isinstance(f, bytes):
                self.proto.send_binary(f)
            else:
                self.proto.send_text(f.encode())
        self.flush()

    def next(self, pred: Any) -> dict[str, Any]:
        """The next frame (batches unpacked) for which ``pred`` holds; {"type": "close", "code"} at a close."""
        while True:
            while self.pending:
                frame = self.pending.pop(0)
                if frame["type"] == "close" or pred(frame):
                    return frame
            for event in self.proto.events_received():  # in the order they came: frames read with the close first
                if isinstance(event, Frame) and event.opcode is Opcode.CLOSE:
                    self.pending.append({"type": "close", "code": Close.parse(event.data).code})
                    break
                if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                    frame = json.loads(event.data)
                    self.pending.extend(frame["frames"] if frame["type"] == "batch" else [frame])
            if not self.pending:
                data = self.sock.recv(65536)
                if not data:
                    return {"type": "close", "code": None}
                self.proto.receive_data(data)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("form", ["binary", "json"])
def test_poses_read_together_count_each_and_the_last_admitted_wins(start_server: Any, form: str) -> None:
    srv = start_server(limits={"messages_per_second": 0.01, "message_burst": 6})
    c = RawClient(srv, "burst")  # the join took one token: 5 left
    poses: list[str | bytes] = [
        doc_pose(x, 1, 2) if form == "binary" else json.dumps({"v": 1, "type": "presence", "pose": {"p": [x, 1, 2]}})
        for x in range(1, 9)
    ]
    c.write([*poses, json.dumps({"v": 1, "type": "ping"})])  # 8 poses and a ping (refused too) in one write
    errors = [c.next(lambda f: f["type"] == "error") for _ in range(4)]
    assert [e["code"] for e in errors] == ["rate_limited"] * 4 and all("ref" not in e for e in errors)
    assert pose_numbers(srv.node.hubs[ROOM].known_poses["burst"]) == [5, 1, 2, 0, 0, 0, 1]  # the 5th: the last admitted
    c.close()


def test_refusals_in_poses_read_together_close_past_the_strike_limit(start_server: Any) -> None:
    srv = start_server(limits={"messages_per_second": 0.01, "message_burst": 3, "rate_strikes_before_close": 2})
    c = RawClient(srv, "abuse")  # 2 tokens left
    # the poses the hub takes, seen as they are taken: after the close, the participant's pose is forgotten at the
    # next presence tick, which a loaded machine may run before the test looks at the hub
    hub = srv.node.hubs[ROOM]
    update_presence, taken = hub.update_presence, list[tuple[str, float]]()

    def record(pid: str, pose: PoseValue) -> None:
        taken.append((pid, pose_numbers(pose)[0]))
        update_presence(pid, pose)

    hub.update_presence = record  # type: ignore[method-assign]
    c.write([doc_pose(x, 0, 0) for x in range(1, 8)])  # 2 admitted, 5 refused: the 3rd refusal closes
    frames = [c.next(lambda f: f["type"] in ("error", "close")) for _ in range(4)]
    assert [f.get("code") for f in frames] == ["rate_limited", "rate_limited", "rate_abuse", 4008]
    assert taken and taken[-1] == ("abuse", 2) and all(x <= 2 for _, x in taken), taken  # the last admitted
    c.close()


def test_poses_read_together_with_a_request_between_keep_the_order(start_server: Any) -> None:
    srv = start_server()
    c = RawClient(srv, "order")
    place = {"v": 1, "type": "object.place", "id": "p1", "object": "o1", "sku": "S", "pose": {"p": [0, 0, 0]}}
    c.write([doc_pose(1, 0, 0), doc_pose(2, 0, 0), json.dumps(place), doc_pose(3, 0, 0), b"\x01\x00"])
    err = c.next(lambda f: f["type"] == "error")
    assert (err["code"], err["field"]) == ("bad_message", "pose")
    assert c.next(lambda f: f["type"] == "ack")["ref"] == "p1"
    assert pose_numbers(srv.node.hubs[ROOM].known_poses["order"])[0] == 3
    c.close()


def test_requests_in_one_write_are_answered_in_order(start_server: Any) -> None:
    """Requests handed to the room at once (no task when nothing is ahead of them) keep their order."""
    srv = start_server()
    c = RawClient(srv, "req")
    frames: list[str | bytes] = [
        json.dumps({"v": 1, "type": "object.place", "id": "p", "object": "o", "sku": "S", "pose": {"p": [0, 0, 0]}}),
        json.dumps({"v": 1, "type": "object.lock", "id": "l", "object": "o"}),
        doc_pose(1, 0, 0),
    ]
    frames += [
        json.dumps({"v": 1, "type": "object.move", "id": f"m{i}", "object": "o", "pose": {"p": [i, 0, 0]}})
        for i in range(20)
    ]
    c.write(frames)
    acks = [c.next(lambda f: f["type"] in ("ack", "error")) for _ in range(22)]
    assert [a["ref"] for a in acks] == ["p", "l", *(f"m{i}" for i in range(20))]
    assert all(a["type"] == "ack" for a in acks)
    assert [a["revision"] for a in acks] == sorted(a["revision"] for a in acks)
    assert srv.node.hubs[ROOM].mirror.objects["o"].pose[0] == 19
    c.close()


def test_alone_on_the_room_the_mirror_shares_the_leaders_state(start_server: Any) -> None:
    """In a single process the hub's mirror takes its leader's (immutable) state instead of applying each
    delta again: the same state as a client's mirror has."""
    srv = start_server()

    async def go() -> None:
        c = SessionClient(srv.url, ROOM, make_token(ROOM, "mirror-check"))
        await c.connect()
        await c.request("object.place", object="o", sku="S", pose={"p": [0, 0, 0]})
        await c.request("object.lock", object="o")
        for i in range(5):
            await c.request("object.move", object="o", pose={"p": [i, 0, 0]})
        hub = srv.node.hubs[ROOM]
        assert hub.mirror is hub.leader.state
        assert hub.mirror.public_snapshot() == c.mirror.state.public_snapshot()
        await c.close()

    run(go())
