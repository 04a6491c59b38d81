"""A read that is exactly one binary pose message takes the fast path's shortest way in (``FastWebSocket``'s
single-pose read, ``ClientLink.feed_pose``); it must do what the general frame loop does with the same frame:
refused before a join, held before the welcome, counted against the rate limit with the same strikes.

Each scenario runs on two real fast-path connections (a socket pair each, the real node, hub and in-memory
backplane): one gets every frame in a read of its own, the other's link gets the same messages through
``ClientLink.feed`` (as the general frame loop handed them over before); what each peer receives and what the
room keeps must be the same."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from session_server.protocol.inbound import binary_pose, encode_binary_pose
from session_server.protocol.presence import poses_as_numbers
from session_server.server.fastws import POSE_READ
from session_server.server.node import SessionNode
from session_server.settings import LimitSettings, SessionSettings
from tests.session_server.fastpath import fast_node, join_frame, masked, received

ROOM = "pose-read"


class Pair:
    """Three fast-path connections on one node (see ``feed``)."""

    def __init__(self, node: SessionNode, protos: list[Any], peers: list[socket.socket]) -> None:
        self.node = node
        self.protos = protos
        self.peers = peers

    def feed(self, payload: bytes) -> None:
        """The same binary pose message to each connection: to the first as one read, to the second's link as
        the general frame loop handed it over before ``feed_pose`` (``ClientLink.feed`` with its pose), to the
        third in two reads."""
        data = masked(2, payload)
        self.protos[0].data_received(data)
        self.protos[1].link.feed(payload, binary_pose(payload))
        self.protos[2].data_received(data[:3])  # the general frame loop reassembles it
        self.protos[2].data_received(data[3:])

    def received(self) -> list[list[dict[str, Any]]]:
        """The JSON frames each peer got so far (batches unpacked)."""
        return [received(peer)[0] for peer in self.peers]


async def pair(**limits: Any) -> Pair:
    """Three connected (not joined) fast-path connections on a fresh node with ``limits``."""
    fast = await fast_node(SessionSettings(limits=LimitSettings(**limits)))
    protos, peers = [], []
    for _ in range(3):
        proto, peer = await fast.connect()
        protos.append(proto)
        peers.append(peer)
    return Pair(fast.node, protos, peers)


async def joined(p: Pair, pids: tuple[str, str, str]) -> None:
    """Join the connections (each its own participant) and wait for the welcomes."""
    for proto, pid in zip(p.protos, pids, strict=True):
        proto.data_received(masked(1, join_frame(p.node, ROOM, pid)))
    for _ in range(2000):
        await asyncio.sleep(0)
        if all(proto.link.conn.phase == "joined" for proto in p.protos):
            return
    raise AssertionError("the joins did not finish")


def pose(x: float) -> bytes:
    """A binary pose message at ``x``."""
    data = encode_binary_pose([x, 1.5, -2.0], [0.0, 0.0, 0.0, 1.0])
    assert data is not None and len(masked(2, data)) == POSE_READ
    return data


def test_pose_before_a_join_is_refused_the_same_way() -> None:
    async def go() -> None:
        p = await pair()
        p.feed(pose(1.0))
        await asyncio.sleep(0.05)
        whole, fed, split = p.received()
        codes = [f.get("code") for f in whole if f["type"] == "error"]
        assert codes == ["not_joined"]
        assert [f.get("code") for f in fed if f["type"] == "error"] == codes
        assert [f.get("code") for f in split if f["type"] == "error"] == codes

    asyncio.run(go())


def test_pose_before_the_welcome_is_held_the_same_way() -> None:
    async def go() -> None:
        p = await pair()
        for proto, pid in zip(p.protos, ("a", "b", "c"), strict=True):
            proto.data_received(masked(1, join_frame(p.node, ROOM, pid)))
        p.feed(pose(7.0))  # no wait for the welcome
        assert [proto.link.conn.phase for proto in p.protos] == ["joining"] * 3
        for _ in range(2000):
            await asyncio.sleep(0)
            if all(proto.link.conn.phase == "joined" for proto in p.protos):
                break
        latest = poses_as_numbers(p.node.hubs[ROOM].presence.latest)
        assert latest["a"] == latest["b"] == latest["c"] == [7.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0]

    asyncio.run(go())


def test_poses_are_rate_limited_with_the_same_strikes() -> None:
    async def go() -> None:
        p = await pair(messages_per_second=5, message_burst=10, rate_strikes_before_close=20)
        await joined(p, ("a", "b", "c"))
        p.received()
        for i in range(40):
            p.feed(pose(float(i)))
        await asyncio.sleep(0.05)
        whole, fed, split = p.received()
        codes = [f["code"] for f in whole if f["type"] == "error"]
        assert codes[:20] == ["rate_limited"] * 20 and "rate_abuse" in codes
        assert [f["code"] for f in fed if f["type"] == "error"] == codes
        assert [f["code"] for f in split if f["type"] == "error"] == codes
        latest = poses_as_numbers(p.node.hubs[ROOM].presence.latest)
        assert latest["a"] == latest["b"] == latest["c"] and latest["a"][0] == 8.0  # the join took a token

    asyncio.run(go())
