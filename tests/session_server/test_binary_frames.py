"""Binary tick frames (PROTOCOL.md, *Binary tick frame*): the layout as documented, the same presence as
the JSON frame, and over both /ws adapters: opted-in clients get a tick's frame with presence as one binary
frame (its JSON frames first, an ack after its delta), resume keeps the choice per connection, and clients
that did not opt in get only JSON text.

The decoder here reads frames with PROTOCOL.md's offsets alone (``struct``), not the server's code."""

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
from session_server.protocol import frames
from session_server.protocol.presence import PresenceTick
from session_server.protocol.schema import build
from session_server.server.sender import presence_text

from .conftest import RunningServer, make_token, run

ROOM = "store-frames"
DOC = Path(__file__).resolve().parents[2] / "session_server" / "PROTOCOL.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    return text[start : text.index("\n## ", start + 1)]


def doc_decode(data: bytes) -> tuple[str | None, dict[str, Any]]:
    """A binary tick frame read as PROTOCOL.md's table says: tag 0x02, uint32 J, J bytes of JSON, float64 t,
    uint16 N, uint16 G, N x (uint8 K, K bytes id, 7 int32 in 0.1 mm / 1e-5), G x (uint8 K, K bytes id)."""
    assert data[0] == 0x02
    (j,) = struct.unpack("<I", data[1:5])
    text = data[5 : 5 + j].decode() if j else None
    pos = 5 + j
    t, n, g = struct.unpack("<dHH", data[pos : pos + 12])
    pos += 12
    poses: dict[str, list[float]] = {}
    for _ in range(n):
        k = data[pos]
        pid = data[pos + 1 : pos + 1 + k].decode("ascii")
        steps = struct.unpack("<7i", data[pos + 1 + k : pos + 1 + k + 28])
        poses[pid] = [s / 10000 for s in steps[:3]] + [s / 100000 for s in steps[3:]]
        pos += 1 + k + 28
    gone = []
    for _ in range(g):
        k = data[pos]
        gone.append(data[pos + 1 : pos + 1 + k].decode("ascii"))
        pos += 1 + k
    assert pos == len(data), "nothing after the gone entries"
    return text, {"t": t, "poses": poses, "gone": gone}


@pytest.fixture(params=["fast", "websockets-sansio"])
def ws_impl(request: pytest.FixtureRequest) -> str:
    """Every test here runs against both /ws adapters: the fast path and the ASGI route."""
    return str(request.param)


# ---- the format ---------------------------------------------------------------------------------


def test_doc_table_schema_and_code_agree() -> None:
    rows = re.findall(r"^\| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", _section("Binary tick frame"), re.M)[1:]
    layout = build()["x-binary-messages"]["tick"]["layout"]
    assert [r[0].strip() for r in rows] == [str(f["offset"]) for f in layout]
    assert [f["field"] for f in layout] == [
        "tag",
        "json_length",
        "json",
        "t",
        "pose_count",
        "gone_count",
        "poses",
        "gone",
    ]
    sizes = [r[1].strip() for r in rows]
    assert sizes[:6] == ["1", "4", "J", "8", "2", "2"] == [str(f["size"]) for f in layout[:6]]
    assert "`0x02`" in rows[0][3] and layout[0]["const"] == frames.TICK_TAG
    assert "float64, little-endian" in rows[3][2] and layout[3]["type"] == "float64le"
    entry = layout[6]["entry"]
    assert [f["field"] for f in entry] == ["id_length", "participant", "x", "y", "z", "qx", "qy", "qz", "qw"]
    assert [f["unit"] for f in entry[2:]] == [1e-4] * 3 + [1e-5] * 4
    assert "0.1 mm" in rows[6][3] and "1e-5" in rows[6][3] and "`1 + K + 28`" in rows[6][3]


def test_doc_example_decodes_to_the_stated_frame() -> None:
    section = _section("Binary tick frame")
    example = re.search(r"`((?:[0-9a-f]{2} ){52}[0-9a-f]{2})`", section)
    assert example is not None
    data = bytes.fromhex(example.group(1))
    text, presence = doc_decode(data)
    assert text is None
    assert presence == {"t": 1764871200.5, "poses": {"ana": [1.5, 1.6, -2, 0, 0, 0, 1]}, "gone": ["ben"]}
    tick = PresenceTick({"ana": [1.5, 1.6, -2.0, 0.0, 0.0, 0.0, 1.0]}, ("ben",))
    section_bytes = frames.encode_presence(tick, 1764871200.5)
    assert section_bytes is not None and frames.tick_frame(None, section_bytes) == data
    ack = '{"v":1,"type":"ack","ref":"m1","revision":7,"duplicate":false}'
    assert f"`{ack}`" in section and len(ack) == 62
    with_ack = frames.tick_frame(ack, section_bytes)
    assert with_ack[1:5] == bytes.fromhex("3e000000") and doc_decode(with_ack) == (ack, presence)
    assert frames.decode_tick_frame(with_ack) == (ack, {"v": 1, "type": "presence", **presence})


def test_binary_presence_is_the_json_presence() -> None:
    rng = random.Random(13)
    for _ in range(300):
        poses = {
            f"p{i}": [round(rng.uniform(-2000, 2000) * 1e4) / 1e4 for _ in range(3)]
            + [round(rng.uniform(-1, 1) * 1e5) / 1e5 for _ in range(4)]
            for i in range(rng.randint(0, 12))
        }
        tick = PresenceTick(poses, tuple(f"g{i}" for i in range(rng.randint(0, 3))))
        t = round(rng.uniform(1.7e9, 1.8e9), 4)
        want = json.loads(presence_text(tick, t))
        section = frames.encode_presence(tick, t)
        assert section is not None
        text, got = doc_decode(frames.tick_frame(None, section))
        assert text is None and got == {k: want[k] for k in ("t", "poses", "gone")}


def test_a_binary_pose_message_is_written_as_it_came() -> None:
    from session_server.protocol.inbound import binary_pose, encode_binary_pose

    rng = random.Random(5)
    for _ in range(500):
        p = [rng.uniform(-214748, 214748) if rng.random() < 0.2 else rng.uniform(-50, 50) for _ in range(3)]
        q = [rng.uniform(-1, 1) for _ in range(4)]
        message = encode_binary_pose(p, q)
        assert message is not None
        pose = binary_pose(message)
        assert pose is not None and pose == list(pose)
        as_floats = frames.encode_presence(PresenceTick({"a": list(pose)}), 1.0)  # scaled and rounded back
        assert frames.encode_presence(PresenceTick({"a": pose}), 1.0) == as_floats
        assert as_floats is not None and as_floats.endswith(message[1:])


def test_a_pose_that_does_not_fit_has_no_binary_section() -> None:
    assert frames.encode_presence(PresenceTick({"a": [214748.3647, 0, 0, 0, 0, 0, 1]}), 1.0) is not None
    assert frames.encode_presence(PresenceTick({"a": [214748.3648, 0, 0, 0, 0, 0, 1]}), 1.0) is None
    assert frames.encode_presence(PresenceTick({"a": [0, 0, -300000, 0, 0, 0, 1]}), 1.0) is None


def test_malformed_frames_are_refused_naming_the_problem() -> None:
    good = frames.tick_frame("{}", frames.encode_presence(PresenceTick({"ana": [0.0] * 7}), 1.0) or b"")
    for bad in (good[:-1], good + b"\x00", b"\x02\x00", b"\x01" + good[1:], good[:5] + b"\x00" * 3):
        with pytest.raises(ValueError, match="binary tick frame"):
            frames.decode_tick_frame(bad)


# ---- over real sockets --------------------------------------------------------------------------


class Raw:
    """A raw client that keeps every frame: text frames parsed (a batch unpacked), binary ones read with
    ``doc_decode``; ``log`` holds (binary?, [frames in order]) per WebSocket frame."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.log: list[tuple[bool, list[dict[str, Any]]]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for data in self.ws:
            if isinstance(data, bytes) and data[:1] == b"\x02":
                text, presence = doc_decode(data)
                inner = [] if text is None else self._unpack(text)
                self.log.append((True, [*inner, {"type": "presence", **presence}]))
            else:
                self.log.append((False, self._unpack(data)))

    @staticmethod
    def _unpack(text: str | bytes) -> list[dict[str, Any]]:
        frame = json.loads(text)
        return frame["frames"] if frame["type"] == "batch" else [frame]

    def frames(self) -> list[dict[str, Any]]:
        return [f for _, fs in self.log for f in fs]

    async def wait(self, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
        for _ in range(int(timeout / 0.02)):
            for f in self.frames():
                if pred(f):
                    return f
            await asyncio.sleep(0.02)
        raise AssertionError(f"no such frame in {self.frames()[-5:]}")

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()


async def _join(srv: RunningServer, pid: str, binary: bool, hello: dict[str, Any] | None = None) -> Raw:
    ws = await connect(srv.url, ping_interval=None)
    raw = Raw(ws)
    msg = {"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, pid), **(hello or {})}
    if binary:
        msg["binary_frames"] = True
    await ws.send(json.dumps(msg))
    await raw.wait(lambda f: f["type"] == "welcome")
    return raw


def _pose(x: float) -> str:
    return json.dumps({"v": 1, "type": "presence", "pose": {"p": [x, 1.6, 0]}})


def test_mixed_ticks_binary_for_opted_in_json_for_the_others(server: RunningServer) -> None:
    async def go() -> None:
        b = await _join(server, "bin", binary=True)
        j = await _join(server, "txt", binary=False)
        await b.ws.send(_pose(0.5))
        await b.ws.send(json.dumps({"v": 1, "type": "object.place", "id": "p", "object": "o", "sku": "S",
                                    "pose": {"p": [0, 0, 0]}}))  # fmt: skip
        await b.ws.send(json.dumps({"v": 1, "type": "object.lock", "id": "l", "object": "o"}))
        await b.wait(lambda f: f.get("ref") == "l")
        mixed = 0
        for i in range(20):  # a pose and a request in each tick: the ack comes with the presence
            await j.ws.send(_pose(i / 10))
            await b.ws.send(_pose(2 + i / 10))
            await b.ws.send(json.dumps({"v": 1, "type": "object.move", "id": f"m{i}", "object": "o",
                                        "pose": {"p": [i, 0, 0]}}))  # fmt: skip
            await b.wait(lambda f, i=i: f.get("ref") == f"m{i}")
            mixed = sum(1 for binary, fs in b.log if binary and any(f["type"] == "ack" for f in fs))
            if mixed >= 3:
                break
        await j.wait(lambda f: f["type"] == "presence" and f["poses"].get("bin", [0])[0] >= 2)
        assert mixed >= 3, "acks travel inside binary tick frames, with the presence"
        # binary client: presence only ever in binary frames, one presence per frame and last in it
        for binary, fs in b.log:
            kinds = [f["type"] for f in fs]
            assert ("presence" in kinds) == binary and kinds.count("presence") <= 1
            assert "presence" not in kinds[:-1]
        # an ack never before its delta (the requester's delta has its req)
        seen_req: set[str] = set()
        for f in b.frames():
            if f["type"] == "delta" and "req" in f["data"]:
                seen_req.add(f["data"]["req"])
            if f["type"] == "ack" and f["ref"].startswith("m"):
                assert f["ref"] in seen_req
        # the others: JSON text only, today's presence frame (whole numbers without .0)
        assert not any(binary for binary, _ in j.log)
        pres = [f for f in j.frames() if f["type"] == "presence" and "bin" in f["poses"]]
        assert pres and set(pres[-1]) == {"v", "type", "t", "poses", "gone"}
        assert pres[-1]["poses"]["bin"][1:] == [1.6, 0, 0, 0, 0, 1]
        # the same poses reach both: the binary client sees the JSON client's pose as it sent it
        last_txt = [f["poses"]["txt"] for f in b.frames() if f["type"] == "presence" and "txt" in f["poses"]][-1]
        assert last_txt == [1.9, 1.6, 0, 0, 0, 0, 1] or last_txt[1:] == [1.6, 0, 0, 0, 0, 1]
        await b.close()
        await j.close()

    run(go())


def test_a_pose_out_of_range_goes_as_json_to_binary_clients(server: RunningServer) -> None:
    async def go() -> None:
        b = await _join(server, "bin", binary=True)
        j = await _join(server, "far", binary=False)
        await j.ws.send(_pose(300000))
        got = await b.wait(lambda f: f["type"] == "presence" and "far" in f["poses"])
        assert got["poses"]["far"][0] == 300000
        assert [binary for binary, fs in b.log if any(f is got for f in fs)] == [False]
        await j.ws.send(_pose(3))
        await b.wait(lambda f: f["type"] == "presence" and f["poses"].get("far", [0])[0] == 3)
        assert b.log[-1][0], "back to binary once the poses fit"
        await b.close()
        await j.close()

    run(go())


def test_resume_chooses_again_per_connection(server: RunningServer) -> None:
    async def go() -> None:
        b = await _join(server, "bin", binary=True)
        welcome = next(f for f in b.frames() if f["type"] == "welcome")
        other = await _join(server, "oth", binary=False)
        await b.ws.close()
        b.task.cancel()
        await other.ws.send(json.dumps({"v": 1, "type": "chat", "id": "c", "text": "hi", "kind": "text"}))
        await other.wait(lambda f: f.get("ref") == "c")
        hello = {"type": "resume", "session": welcome["session"], "revision": welcome["revision"]}
        again = await _join(server, "bin", binary=True, hello=hello)
        back = next(f for f in again.frames() if f["type"] == "welcome")
        assert back["resumed"] is True and "chat" in [d["op"] for d in back["deltas"]]
        await other.ws.send(_pose(1))
        await again.wait(lambda f: f["type"] == "presence" and "oth" in f["poses"])
        assert any(binary for binary, _ in again.log)
        welcome2 = back
        await again.ws.close()
        again.task.cancel()
        hello = {"type": "resume", "session": welcome2["session"], "revision": welcome2["revision"]}
        plain = await _join(server, "bin", binary=False, hello=hello)
        await other.ws.send(_pose(2))
        await plain.wait(lambda f: f["type"] == "presence" and f["poses"].get("oth", [0])[0] == 2)
        assert not any(binary for binary, _ in plain.log)
        await plain.close()
        await other.close()

    run(go())


def test_python_client_with_binary_frames_mirrors_the_room(server: RunningServer) -> None:
    async def go() -> None:
        a = SessionClient(server.url, ROOM, make_token(ROOM, "ana"), binary_frames=True, binary_presence=True)
        b = SessionClient(server.url, ROOM, make_token(ROOM, "ben"))
        await a.connect()
        await b.connect()
        await a.request("object.place", object="sofa", sku="S", pose={"p": [1, 0, -2]})
        await a.request("object.lock", object="sofa")
        for i in range(5):
            await b.send_presence([i / 4, 1.6, -2], [0, 0.70711, 0, 0.70711])
            await a.send_presence([1, 1.5, i])
            await a.request("object.move", object="sofa", pose={"p": [i, 0, 0]})
        await a.wait_until(lambda s: s.revision == b.mirror.revision)
        for _ in range(100):
            if a.mirror.presence.get("ben", [0])[0] == 1.0 and b.mirror.presence.get("ana", [0, 0, 0])[2] == 4:
                break
            await asyncio.sleep(0.05)
        assert a.mirror.presence["ben"] == [1.0, 1.6, -2, 0, 0.70711, 0, 0.70711]
        assert b.mirror.presence["ana"] == [1, 1.5, 4, 0, 0, 0, 1]
        assert a.mirror.state.public_snapshot() == b.mirror.state.public_snapshot()
        assert a.binary_received > 0 and not a.errors and not b.errors
        await a.close()
        await b.close()

    run(go())


# ---- the senders: a turn's frames, coalescing while blocked -------------------------------------


def _ws_frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of each unmasked WebSocket frame in ``data`` (RFC 6455 section 5.2)."""
    out, pos = [], 0
    while pos < len(data):
        op, n, pos = data[pos] & 0x0F, data[pos + 1] & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(data[pos : pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(data[pos : pos + 8], "big"), pos + 8
        out.append((op, data[pos : pos + n]))
        pos += n
    return out


def test_fast_sender_binary_turns_and_coalescing() -> None:
    from session_server.server.fastws import Corker, TransportSender
    from session_server.server.sender import Outgoing, PresenceOut

    from .test_fastws_sender import Proto

    async def main() -> None:
        proto = Proto()
        s = TransportSender(proto, Corker(), max_bytes=1 << 20, send_timeout=5)  # type: ignore[arg-type]
        s.binary = True
        delta = Outgoing(json.dumps({"v": 1, "type": "delta", "rev": 1}))
        tick = PresenceTick({"a": [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 1.0]})
        s.send_tick([delta, '{"v":1,"type":"ack","ref":"r"}'], (tick, PresenceOut(tick, 5.0)), 5.0)
        await asyncio.sleep(0)
        [(op, payload)] = _ws_frames(proto.transport.writes[-1])  # one binary frame for the turn
        text, presence = doc_decode(payload)
        assert op == 2 and [f["type"] for f in json.loads(text or "")["frames"]] == ["delta", "ack"]
        assert presence == {"t": 5.0, "poses": {"a": [1, 2, 3, 0, 0, 0, 1]}, "gone": []}
        s.send('{"v":1,"type":"pong","t":1}')  # no presence: a text frame
        await asyncio.sleep(0)
        assert [op for op, _ in _ws_frames(proto.transport.writes[-1])] == [1]
        s.blocked_since = 0.0  # the peer stopped reading: presence coalesces in one slot
        for i in range(50):
            t = PresenceTick({f"p{i % 3}": [float(i), 0, 0, 0, 0, 0, 1]}, ("gone",) if i == 0 else ())
            s.send_tick([], (t, PresenceOut(t, float(i))), float(i))
        await asyncio.sleep(0)
        writes = len(proto.transport.writes)
        assert s.coalesced == 50
        proto.transport.buffer = 0
        s.writable()
        await asyncio.sleep(0)
        assert len(proto.transport.writes) == writes + 1
        [(op, payload)] = _ws_frames(proto.transport.writes[-1])
        text, presence = doc_decode(payload)
        assert op == 2 and text is None and presence["t"] == 49.0 and presence["gone"] == ["gone"]
        assert presence["poses"] == {f"p{k}": [float(v), 0, 0, 0, 0, 0, 1] for k, v in ((0, 48), (1, 49), (2, 47))}

    asyncio.run(main())


def test_asgi_sender_binary_frame_with_the_queued_json_first() -> None:
    from session_server.server.sender import PresenceOut, Sender

    async def main() -> None:
        sent: list[str | bytes] = []

        async def send(data: str | bytes) -> None:
            sent.append(data)

        s = Sender(send, lambda reason: None, max_bytes=1 << 20, send_timeout=5)
        s.binary = True
        far = PresenceTick({"far": [300000.0, 0, 0, 0, 0, 0, 1]})
        near = PresenceTick({"a": [0.5, 1.6, 0, 0, 0.70711, 0, 0.70711]})
        s.send_tick(['{"v":1,"type":"delta","rev":3}'], (near, PresenceOut(near, 2.0)), 2.0)
        s.send_tick([], (far, PresenceOut(far, 3.0)), 3.0)  # merged with the unsent one: does not fit
        s.send_tick([], (near, PresenceOut(near, 4.0)), 4.0)
        task = asyncio.create_task(s.run())
        for _ in range(100):
            if sent:
                break
            await asyncio.sleep(0.01)
        assert len(sent) == 1 and isinstance(sent[0], str)  # a pose out of range: JSON text, as for others
        frame = json.loads(sent[0])
        assert [f["type"] for f in frame["frames"]] == ["delta", "presence"]
        s.send_tick([], (near, PresenceOut(near, 5.0)), 5.0)
        for _ in range(100):
            if len(sent) == 2:
                break
            await asyncio.sleep(0.01)
        assert isinstance(sent[1], bytes)
        assert doc_decode(sent[1]) == (None, {"t": 5.0, "poses": {"a": near.poses["a"]}, "gone": []})
        task.cancel()

    asyncio.run(main())
