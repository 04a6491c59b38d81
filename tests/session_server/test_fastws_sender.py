"""The fast path's sender on a transport that stops draining: writes per loop turn, presence coalescing,
slow-consumer bounds (the same rules as the ASGI Sender in test_sender.py)."""

from __future__ import annotations

import asyncio
import json

from websockets.frames import Frame
from websockets.streams import StreamReader

from session_server.protocol.presence import PresenceTick
from session_server.server.fastws import Corker, TransportSender
from session_server.server.sender import Outgoing


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
        assert len(proto.transport.writes) == 1  # both frames left in one write
        assert [f["type"] for f in frames_in(proto.transport.writes[0])] == ["delta", "ack"]
        assert shared.wire in proto.transport.writes[0]  # encoded once, shared by every recipient

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
