"""Overload on the fast path: when the presence tick is late, reading waits for it (and loses nothing)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from session_server.client import SessionClient
from session_server.protocol.presence import pose_numbers

from .conftest import RunningServer, make_token, run
from .helpers import pose

ROOM = "overload"


async def joined(srv: RunningServer, pid: str) -> SessionClient:
    c = SessionClient(srv.url, ROOM, make_token(ROOM, pid))
    await c.connect()
    return c


def test_a_late_tick_defers_reading_and_nothing_is_lost(start_server: Any) -> None:
    """While the presence tick is late, a fast-path connection is read no further until the tick ran
    (the tick is made late here by moving its due time into the past, from the server's own loop)."""
    srv = start_server(limits={"messages_per_second": 1000, "message_burst": 1000})
    node = srv.node

    def make_late() -> None:
        node.tick_due = 0.0

    async def main() -> None:
        a = await joined(srv, "ana")
        b = await joined(srv, "ben")
        deadline = time.monotonic() + 20
        i = 0
        while node.reads_deferred == 0 and time.monotonic() < deadline:
            node.loop.call_soon_threadsafe(make_late)
            i += 1
            await a.send_presence([i / 100, 1.6, 0])
            await asyncio.sleep(0.002)
        assert node.reads_deferred > 0
        last = (i + 1) / 100
        await a.send_presence([last, 1.6, 0])
        ack = await a.request("object.place", object="sofa", sku="SKU-1", pose=pose(0.5))
        assert ack["type"] == "ack"  # reading resumed: the request after the deferred reads is answered
        for _ in range(200):
            if b.mirror.presence.get("ana", [None])[0] == last:
                break
            await asyncio.sleep(0.05)
        assert b.mirror.presence["ana"][0] == last
        assert "sofa" in b.mirror.state.objects
        await a.close()
        await b.close()

    run(main())


def test_presence_read_together_still_counts_against_the_rate(start_server: Any) -> None:
    """Sixty presence messages in one write: only the last one's pose is used, every one is rate-counted."""
    srv = start_server(limits={"messages_per_second": 10, "message_burst": 10})
    proto = ClientProtocol(parse_uri(srv.url))
    sock = socket.create_connection(("127.0.0.1", srv.settings.port), timeout=10)
    try:
        proto.send_request(proto.connect())
        sock.sendall(b"".join(proto.data_to_send()))
        while proto.state.name == "CONNECTING":
            proto.receive_data(sock.recv(65536))
        join = {"v": 1, "type": "join", "id": "j", "room": ROOM, "token": make_token(ROOM, "ana")}
        proto.send_text(json.dumps(join).encode())
        sock.sendall(b"".join(proto.data_to_send()))
        frames: list[dict[str, Any]] = []

        def read_until(done: Any, seconds: float = 20) -> None:
            deadline = time.monotonic() + seconds
            while not done() and time.monotonic() < deadline:
                try:
                    proto.receive_data(sock.recv(65536))
                except TimeoutError:
                    continue
                for event in proto.events_received():
                    if getattr(event, "opcode", None) is not None and event.opcode.name == "TEXT":
                        frame = json.loads(event.data)
                        frames.extend(frame["frames"] if frame["type"] == "batch" else [frame])

        read_until(lambda: any(f["type"] == "welcome" for f in frames))
        for i in range(60):
            proto.send_text(json.dumps({"v": 1, "type": "presence", "pose": {"p": [i / 10, 1.6, 0]}}).encode())
        sock.sendall(b"".join(proto.data_to_send()))  # one write: read together by the server
        read_until(lambda: any(f.get("code") == "rate_limited" for f in frames))
        sock.settimeout(0.2)
        read_until(lambda: False, seconds=2)  # the other refusals
        refused = sum(f.get("code") == "rate_limited" for f in frames)
        assert 0 < refused < 60
        # read in one go, the first 60 - refused passed (no time to refill the bucket): the last of them is the pose
        assert pose_numbers(srv.node.hubs[ROOM].known_poses["ana"])[0] == (59 - refused) / 10
    finally:
        sock.close()
