"""The fast path's sender on a transport that stops draining: writes per loop turn, presence coalescing,
slow-consumer bounds (the same rules as the ASGI Sender in test_sender.py)."""

from __future__ import annotations

import asyncio
import json

from websockets.frames import Frame
from websockets.streams import StreamReader

from session_server.backplane.memory import MemoryBackplane, MemoryStore
from session_server.protocol.presence import PresenceTick
from session_server.protocol.room import RoomConfig
from session_server.server.fastws import Corker, TransportSender
from session_server.server.hub import RoomHub
from session_server.server.sender import BATCH_BYTES, Outgoing


class StuckTransport:
    """Accepts writes into a buffer that drains only when told (a peer that stopped reading)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.buffer = 0

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.buffer += len(data)

    def get_write_buffer_size(self) -> int:
        return self.buffer

    def is_closing(self) -> bool:
        return False


class Proto:
    def __init__(self) -> None:
        self.transport = StuckTransport()
        self.failures: list[str] = []

    def sender_failed(self, reason: str) -> None:
        self.failures.append(reason)


def frames_in(data: bytes) -> list[dict]:  # type: ignore[type-arg]
    reader = StreamReader()
    reader.feed_data(data)
    out = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
            while True:
                next(parser)
        except StopIteration as done:
            out.append(json.loads(done.value.data))
    return out


def test_one_write_per_turn_then_coalesced_presence_while_blocked_then_slow_consumer() -> None:
    async def main() -> None:
        proto = Proto()
        s = TransportSender(proto, Corker(), max_bytes=4000, send_timeout=0.5)  # type: ignore[arg-type]
        shared = Outgoing(json.dumps({"v": 1, "type": "delta", "rev": 1}))
        s.send(shared)
        s.send('{"v":1,"type":"ack","ref":"a"}')
        await asyncio.sleep(0)
        assert len(proto.transport.writes) == 1  # both frames left in one write, as one batch frame
        [batch] = frames_in(proto.transport.writes[0])
        assert batch["type"] == "batch" and [f["type"] for f in batch["frames"]] == ["delta", "ack"]

        s.blocked_since = 0.0  # the transport paused writing: the peer stopped reading
        for i in range(100):
            tick = PresenceTick({f"p{i % 3}": [float(i), 0, 0, 0, 0, 0, 1]})
            s.send_presence(tick, Outgoing(json.dumps({"v": 1, "type": "presence", "n": i})), float(i))
        await asyncio.sleep(0)
        assert len(proto.transport.writes) == 1 and s.coalesced == 100  # nothing queued, one slot
        proto.transport.buffer = 0
        s.writable()  # drained: the slot goes out once, with the latest pose of each participant
        await asyncio.sleep(0)
        merged = frames_in(proto.transport.writes[-1])[0]
        assert merged["type"] == "presence" and merged["poses"] == {
            "p0": [99.0, 0, 0, 0, 0, 0, 1],
            "p1": [97.0, 0, 0, 0, 0, 0, 1],
            "p2": [98.0, 0, 0, 0, 0, 0, 1],
        }

        for i in range(100):  # reliable frames pile up in a buffer that does not drain
            s.send(json.dumps({"v": 1, "type": "delta", "rev": i, "pad": "x" * 100}))
            await asyncio.sleep(0)
        assert proto.failures == ["slow_consumer"] and s.failed == "slow_consumer"
        written = len(proto.transport.writes)
        s.send("late")
        await asyncio.sleep(0)
        assert len(proto.transport.writes) == written  # a failed sender writes nothing more

    asyncio.run(main())


def test_blocked_longer_than_the_timeout_is_a_slow_consumer() -> None:
    async def main() -> None:
        proto = Proto()
        s = TransportSender(proto, Corker(), max_bytes=10**6, send_timeout=0.5)  # type: ignore[arg-type]
        s.blocked_since = 100.0
        s.check(100.4)
        assert proto.failures == []
        s.check(100.6)
        assert proto.failures == ["slow_consumer"]

    asyncio.run(main())


class FakeLink:
    def __init__(self, pid: str, sender: TransportSender) -> None:
        self.participant, self.session, self.role = pid, "s-" + pid, "phone"
        self.sender = sender


def test_a_tick_is_one_frame_per_client_and_the_same_frames_share_their_bytes() -> None:
    async def main() -> None:
        hub = RoomHub("r", MemoryBackplane("n", MemoryStore()), RoomConfig())  # not started: only its tick
        corker = Corker()
        protos = {pid: Proto() for pid in ("ana", "ben", "cy", "dee")}
        links = {pid: FakeLink(pid, TransportSender(p, corker, 10**6, 5.0)) for pid, p in protos.items()}  # type: ignore[arg-type]
        hub.clients = dict(links)  # type: ignore[arg-type]
        for i, pid in enumerate(protos):
            hub.update_presence(pid, [float(i), 1.6, 0.0, 0.0, 0.0, 0.0, 1.0])
        d1 = Outgoing(json.dumps({"v": 1, "type": "delta", "rev": 1}))
        d2 = Outgoing(json.dumps({"v": 1, "type": "delta", "rev": 2}))
        ack = json.dumps({"v": 1, "type": "ack", "ref": "m1", "revision": 1})
        hub._held = [(None, d1), (links["ben"], ack), (None, d2)]  # type: ignore[list-item]
        links["dee"].sender.send('{"v":1,"type":"pong","t":1}')  # queued earlier in the same loop turn

        assert await hub.tick_presence(1.0) == 4
        await asyncio.sleep(0)  # the end of the loop turn: each sender writes once

        got = {pid: p.transport.writes for pid, p in protos.items()}
        assert all(len(writes) == 1 for writes in got.values())
        frames = {pid: frames_in(writes[0]) for pid, writes in got.items()}
        assert all(len(f) == 1 and f[0]["type"] == "batch" for f in frames.values())  # one WebSocket frame each
        inner = {pid: [(g["type"], g.get("rev"), g.get("ref")) for g in f[0]["frames"]] for pid, f in frames.items()}
        assert inner["ana"] == inner["cy"] == [("delta", 1, None), ("delta", 2, None), ("presence", None, None)]
        assert inner["ben"] == [("delta", 1, None), ("ack", None, "m1"), ("delta", 2, None), ("presence", None, None)]
        assert inner["dee"] == [("pong", None, None), *inner["ana"]]  # one batch, nothing nested
        assert got["ana"][0] == got["cy"][0]  # the same frame: encoded once, the same bytes
        presence = frames["ana"][0]["frames"][2]
        assert sorted(presence["poses"]) == ["ana", "ben", "cy", "dee"]

        assert await hub.tick_presence(1.1) == 0  # nothing new: nothing sent
        await asyncio.sleep(0)
        assert all(len(p.transport.writes) == 1 for p in protos.values())

    asyncio.run(main())


def test_a_queue_past_the_batch_bound_leaves_as_several_frames_in_order() -> None:
    async def main() -> None:
        proto = Proto()
        s = TransportSender(proto, Corker(), max_bytes=10**7, send_timeout=5.0)  # type: ignore[arg-type]
        big = "x" * (BATCH_BYTES // 3)
        for i in range(5):
            s.send(json.dumps({"v": 1, "type": "delta", "rev": i, "pad": big}))
        await asyncio.sleep(0)
        assert len(proto.transport.writes) == 1
        frames = frames_in(proto.transport.writes[0])
        assert len(frames) == 3 and all(f["type"] == "batch" for f in frames[:2])
        revs = [g["rev"] for f in frames for g in (f["frames"] if f["type"] == "batch" else [f])]
        assert revs == [0, 1, 2, 3, 4]

    asyncio.run(main())
