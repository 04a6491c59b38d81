"""A read that holds several binary pose message frames back to back takes the fast path's short way in
(``FastWebSocket.data_received``'s run of pose frames, ``ClientLink.feed_binary_poses``); whatever follows them in
the read (a partial frame, text messages, control frames) goes through the frame loop.  The outcome must be what
the same messages fed one at a time make of them: the same errors in the same order (each refusal counted
against the rate limit and the strikes), the same pong frames, and the same pose kept by the room after every
read.

Every connection is a real fast-path connection (a socket pair, the real node, hubs and in-memory backplane);
the reference connections get each message on its own (``ClientLink.feed`` for a data message, as the frame loop
hands one over, and a read of its own for a control frame)."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest

from session_server.protocol.inbound import binary_pose, encode_binary_pose, short_presence
from session_server.protocol.presence import pose_numbers
from session_server.server.fastws import POSE_READ
from session_server.server.node import SessionNode
from session_server.settings import LimitSettings, SessionSettings
from tests.session_server.fastpath import fast_node, join_frame, masked, received

ROOM_SIZE = 10
SLOW = 0.001
"""Messages per second refilled: nothing refills while a test runs, so which messages pass is exact."""

Message = tuple[int, bytes]
"""A client message: its WebSocket opcode and payload."""


def pose(x: float) -> Message:
    """A binary pose message at ``x``."""
    data = encode_binary_pose([x, 1.5, -2.0], [0.0, 0.0, 0.0, 1.0])
    assert data is not None
    return 2, data


def text_presence(x: float) -> Message:
    """A JSON presence message in the short form (read by the frame loop together with binary ones)."""
    data = json.dumps({"v": 1, "type": "presence", "pose": {"p": [x, 1.5, -2.0], "q": [0, 0, 0, 1]}}).encode()
    assert short_presence(data) is not None
    return 1, data


PING = (9, b"hi")
"""A WebSocket ping control frame (answered with a pong control frame)."""
JSON_PING = (1, b'{"v":1,"type":"ping"}')
BAD = (1, b'{"v":1,"type":"no-such-type","id":"bad-1"}')


class Clients:
    """Joined fast-path connections on one node, ``ROOM_SIZE`` to a room, each its own participant."""

    def __init__(self, node: SessionNode, protos: list[Any], peers: list[socket.socket], pids: list[str]) -> None:
        self.node = node
        self.protos = protos
        self.peers = peers
        self.pids = pids

    def latest(self, i: int) -> list[float] | None:
        """The pose the room keeps for connection ``i`` (None: none yet)."""
        pose = self.node.hubs[f"room-{i // ROOM_SIZE}"].presence.latest.get(self.pids[i])
        return None if pose is None else pose_numbers(pose)

    def outcome(self, i: int) -> tuple[list[dict[str, Any]], int]:
        """What connection ``i``'s client got since the last call: its error and pong messages (pong times
        left out) and its count of pong control frames."""
        frames, other = received(self.peers[i])
        answers = [{k: v for k, v in f.items() if k != "t"} for f in frames if f["type"] in ("error", "pong")]
        return answers, other.count(10)


async def clients(count: int, join: bool = True, **limits: Any) -> Clients:
    """``count`` fast-path connections on a fresh node with ``limits``, joined (and welcomed) unless not ``join``."""
    fast = await fast_node(SessionSettings(limits=LimitSettings(**limits)))
    protos, peers, pids = [], [], []
    for i in range(count):
        proto, peer = await fast.connect()
        pid = f"c{i}"
        if join:
            proto.data_received(masked(1, join_frame(fast.node, f"room-{i // ROOM_SIZE}", pid)))
        protos.append(proto)
        peers.append(peer)
        pids.append(pid)
    for _ in range(10000):
        if not join or all(proto.link.conn.phase == "joined" for proto in protos):
            break
        await asyncio.sleep(0)
    assert not join or all(proto.link.conn.phase == "joined" for proto in protos), "the joins did not finish"
    out = Clients(fast.node, protos, peers, pids)
    for i in range(count):
        out.outcome(i)  # the welcome and the handshake's response
    return out


def one_by_one(proto: Any, messages: list[Message]) -> None:
    """Each message on its own: a data message to the link as the frame loop hands it over, a control frame
    in a read of its own."""
    for opcode, payload in messages:
        if opcode == 2:
            proto.link.feed(payload, binary_pose(payload))
        elif opcode == 1:
            proto.link.feed(payload)
        else:
            proto.data_received(masked(opcode, payload))


def wire(messages: list[Message]) -> tuple[bytes, list[int]]:
    """The messages as client frames back to back, and where each frame ends."""
    frames = [masked(opcode, payload) for opcode, payload in messages]
    ends, at = [], 0
    for frame in frames:
        at += len(frame)
        ends.append(at)
    return b"".join(frames), ends


@pytest.mark.parametrize("count", [2, 3, 9, 10, 12, 30, 31, 40])
def test_poses_in_one_read_count_as_one_by_one(count: int) -> None:
    """``count`` poses in one read, in reads that cut frames, one pose per read and one by one: the same
    refusals (10 tokens, the join took one: 9 pass; the 21st refusal is ``rate_abuse``) and the same pose kept
    (the last one that passed)."""

    async def go() -> None:
        c = await clients(4, messages_per_second=SLOW, message_burst=10, rate_strikes_before_close=20)
        messages = [pose(float(i)) for i in range(count)]
        data, _ = wire(messages)
        c.protos[0].data_received(data)
        one_by_one(c.protos[1], messages)
        for at in range(0, len(data), 100):  # 2 frames and a part of the third per read
            c.protos[2].data_received(data[at : at + 100])
        for at in range(0, len(data), POSE_READ):
            c.protos[3].data_received(data[at : at + POSE_READ])
        await asyncio.sleep(0.05)
        refused = max(0, count - 9)
        codes = ["rate_limited"] * min(refused, 20) + ["rate_abuse"] * (refused > 20)
        for i in range(4):
            answers, _ = c.outcome(i)
            assert [a["code"] for a in answers] == codes, i
            assert c.latest(i) == [min(count, 9) - 1.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0], i

    asyncio.run(go())


def test_poses_in_one_read_before_a_join_are_each_refused() -> None:
    async def go() -> None:
        c = await clients(2, join=False)
        messages = [pose(float(i)) for i in range(3)]
        c.protos[0].data_received(wire(messages)[0])
        one_by_one(c.protos[1], messages)
        await asyncio.sleep(0.05)
        whole, fed = c.outcome(0), c.outcome(1)
        assert [a["code"] for a in whole[0]] == ["not_joined"] * 3
        assert whole == fed

    asyncio.run(go())


def test_poses_in_one_read_before_the_welcome_are_held_for_it() -> None:
    async def go() -> None:
        c = await clients(2, join=False, messages_per_second=SLOW, message_burst=4)
        messages = [pose(float(i)) for i in range(6)]  # 3 tokens after the join: 0, 1, 2 pass
        for i, proto in enumerate(c.protos):
            proto.data_received(masked(1, join_frame(c.node, "room-0", c.pids[i])))
        c.protos[0].data_received(wire(messages)[0])
        one_by_one(c.protos[1], messages)
        assert [proto.link.conn.phase for proto in c.protos] == ["joining"] * 2
        for _ in range(2000):
            await asyncio.sleep(0)
            if all(proto.link.conn.phase == "joined" for proto in c.protos):
                break
        await asyncio.sleep(0.05)
        assert c.latest(0) == c.latest(1) == [2.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0]
        whole, fed = c.outcome(0), c.outcome(1)
        assert [a["code"] for a in whole[0]] == ["rate_limited"] * 3
        assert whole == fed

    asyncio.run(go())


def test_mixed_reads_split_at_every_byte_boundary() -> None:
    """Poses, a JSON presence message, a ping control frame, a JSON ping, a bad message and more poses, past
    the rate limit (12 tokens, the join took one): in one read and in two reads cut at every byte, each
    connection's client gets the same answers as one fed the messages one by one, and after the first read
    the room keeps the pose of the last message that passed in it."""
    messages = [
        pose(0),
        pose(1),
        pose(2),
        text_presence(3),
        pose(4),
        PING,
        JSON_PING,
        pose(5),
        pose(6),
        BAD,
        pose(7),
        pose(8),
        pose(9),
        pose(10),
        pose(11),
    ]
    data, ends = wire(messages)

    async def go() -> None:
        c = await clients(len(data) + 1, messages_per_second=SLOW, message_burst=12)
        ref = len(data)  # the reference: one by one, noting the pose kept after each message
        kept = [c.latest(ref)]
        for message in messages:
            one_by_one(c.protos[ref], [message])
            kept.append(c.latest(ref))
        c.protos[0].data_received(data)  # all in one read
        for cut in range(1, len(data)):
            c.protos[cut].data_received(data[:cut])
            whole = sum(end <= cut for end in ends)
            assert c.latest(cut) == kept[whole], cut
            c.protos[cut].data_received(data[cut:])
        await asyncio.sleep(0.05)
        expected = c.outcome(ref)
        assert [a["type"] for a in expected[0]] == ["pong", "error", "error", "error", "error"]
        codes = [a.get("code") for a in expected[0][1:]]
        assert codes == ["unknown_type", "rate_limited", "rate_limited", "rate_limited"]
        assert expected[1] == 1 and kept[-1] == [8.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0]
        for cut in range(len(data)):
            assert c.outcome(cut) == expected, cut
            assert c.latest(cut) == kept[-1], cut

    asyncio.run(go())


def test_poses_in_one_read_take_the_short_way() -> None:
    """Five whole poses and part of a sixth in one read go to ``ClientLink.feed_binary_poses`` at once (not one
    by one, not as a run through ``feed_poses``); the sixth is taken when its end arrives."""

    async def go() -> None:
        c = await clients(1)
        link = c.protos[0].link
        calls: list[int] = []
        short = link.feed_binary_poses
        link.feed_binary_poses = lambda count, payload, mono: (calls.append(count), short(count, payload, mono))
        link.feed_poses = link.feed = None  # the frame loop's way: not taken
        data, ends = wire([pose(float(i)) for i in range(6)])
        c.protos[0].data_received(data[: ends[4] + 10])
        assert calls == [5] and c.latest(0) == [4.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0]
        c.protos[0].data_received(data[ends[4] + 10 :])
        assert calls == [5] and c.latest(0) == [5.0, 1.5, -2.0, 0.0, 0.0, 0.0, 1.0]

    asyncio.run(go())
