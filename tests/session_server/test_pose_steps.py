"""A binary pose message's pose is kept as its 28 bytes of steps (``presence.PoseValue``) from the read to the
binary tick frame, which writes those bytes as they came; the numbers are made only where a JSON frame needs
them (a JSON client's ``presence``, a ``welcome``), and they are exactly what ``binary_pose`` reads.

Real fast-path connections on socket pairs (the real node, hub and in-memory backplane): a binary client that
sends binary poses, a peer with ``binary_frames`` and a peer with JSON frames."""

from __future__ import annotations

import asyncio
import json
import random
import struct
from typing import Any

from session_server.protocol.frames import decode_tick_frame
from session_server.protocol.inbound import binary_pose, binary_steps, encode_binary_pose
from session_server.protocol.presence import STEPS, pose_numbers
from session_server.settings import SessionSettings
from tests.session_server.fastpath import fast_node, frames_of, join_frame, masked

ROOM = "pose-steps"


def presences(frames: list[tuple[int, bytes]]) -> list[dict[str, Any]]:
    """The presence frames among ``frames`` (JSON ones, batches unpacked, and binary tick frames decoded)."""
    out: list[dict[str, Any]] = []
    for opcode, data in frames:
        if opcode == 2 and data[:1] == b"\x02":
            out.append(decode_tick_frame(data)[1])
            continue
        got = json.loads(data)
        out.extend(f for f in (got["frames"] if got["type"] == "batch" else [got]) if f["type"] == "presence")
    return out


def test_a_binary_pose_is_kept_as_its_steps_and_json_frames_get_its_numbers() -> None:
    async def go() -> None:
        fast = await fast_node(SessionSettings())
        node = fast.node
        protos, peers = [], []
        for pid, binary in (("ana", True), ("ben", True), ("cy", False)):
            proto, peer = await fast.connect()
            join = json.loads(join_frame(node, ROOM, pid))
            join["binary_frames"] = binary
            proto.data_received(masked(1, json.dumps(join).encode()))
            protos.append(proto)
            peers.append(peer)
        for _ in range(2000):
            await asyncio.sleep(0)
            if all(p.link.conn.phase == "joined" for p in protos):
                break
        hub = node.hubs[ROOM]
        await hub.tick_presence(1.0)
        await asyncio.sleep(0.01)  # the corker's flush, if anything went through it
        for peer in peers:
            frames_of(peer)
        message = encode_binary_pose([1.2345, -0.5, 214748.3647], [0.70711, 0.0, -0.70711, 0.00001])
        assert message is not None
        protos[0].data_received(masked(2, message))  # the single-pose read
        steps = message[1:]
        kept = hub.presence.latest["ana"]
        assert type(kept) is bytes and kept == steps  # no numbers made at 30 Hz
        assert hub.known_poses["ana"] == steps
        await hub.tick_presence(2.0)
        await asyncio.sleep(0.01)
        numbers = binary_pose(message)
        assert numbers == [1.2345, -0.5, 214748.3647, 0.70711, 0.0, -0.70711, 0.00001]
        (opcode, tick), *_ = frames_of(peers[1])
        assert opcode == 2 and steps in tick  # the binary tick frame carries the bytes as they came
        assert [p["poses"] for p in presences([(opcode, tick)])] == [{"ana": numbers}]
        assert [p["poses"] for p in presences(frames_of(peers[2]))] == [{"ana": numbers}]  # JSON: its numbers
        # a later joiner's welcome has the numbers too
        proto, peer = await fast.connect()
        proto.data_received(masked(1, join_frame(node, ROOM, "dee")))
        for _ in range(2000):
            await asyncio.sleep(0)
            if proto.link.conn.phase == "joined":
                break
        await asyncio.sleep(0.01)
        welcome = [json.loads(d) for op, d in frames_of(peer) if op == 1]
        welcome = [f for w in welcome for f in (w["frames"] if w["type"] == "batch" else [w]) if f["type"] == "welcome"]
        assert welcome[0]["presence"]["ana"] == numbers
        for h in node.hubs.values():
            await h.stop()

    asyncio.run(go())


def test_pose_numbers_are_the_steps_divided_by_their_steps() -> None:
    rng = random.Random(13)
    for _ in range(2000):
        ints = [rng.randint(-(2**31), 2**31 - 1) for _ in range(7)]
        steps = STEPS.pack(*ints)
        message = struct.pack("<B", 1) + steps
        assert binary_steps(message) == steps
        want = [v / 10_000 for v in ints[:3]] + [v / 100_000 for v in ints[3:]]
        assert pose_numbers(steps) == want == binary_pose(message)
        assert pose_numbers(want) is want  # a list is its own numbers
    assert binary_steps(b"\x01" + bytes(27)) is None and binary_steps(b"\x02" + bytes(28)) is None
