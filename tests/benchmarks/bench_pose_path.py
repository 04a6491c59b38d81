"""CPU per received pose and per client per presence tick through the fast path, in process: issue #13's
rooms of ten without the moves.

Every client is a real ``FastWebSocket`` (the ``/ws`` fast path) on one end of a socket pair, joined over
its WebSocket handshake with ``binary_frames`` as the Node load generator joins.  A round hands each client
one binary pose message (29 bytes, masked, one frame per read: what ``data_received`` gets at 30 Hz) and
then runs every room's presence tick (``RoomHub.tick_presence``: each client's binary tick frame written to
its transport); the peers' sockets are drained between rounds (not measured).  Measured: CPU time of this
process (``time.process_time``) around the pose reads and around the ticks, per pose and per client per
tick; the bytes the peers received per client per tick are printed as a check that the frames are the same.
With ``--per-read N`` a round hands each client N pose messages back to back in one read (what a server that
falls behind reads: several per client at once); the pose figure is then per received pose (the read's CPU / N).

The rate limit is raised out of the way (as in ``bench_moves``): the rounds run far faster than 30 Hz, and a
refused pose would measure another path.  The collector is tuned as in a server process and what lives is
frozen before each measured phase.  The same script measures another checkout: put it first on
``PYTHONPATH``.  Run with ``nice`` and record ``/proc/loadavg`` with the figures.  Usage::

    PYTHONPATH=CHECKOUT .venv/bin/python tests/benchmarks/bench_pose_path.py [--rooms 40] [--rounds 300]
        [--repeats 3] [--per-read 1] [--profile F] [--count-calls 20]

``--count-calls N`` adds N rounds under cProfile (after the timed repeats) and prints the function calls per
received pose and per client per tick: a count that does not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT))  # after PYTHONPATH: the same script can measure another checkout

from session_server.protocol import auth  # noqa: E402
from session_server.protocol import messages as m  # noqa: E402
from session_server.protocol.inbound import encode_binary_pose  # noqa: E402
from session_server.server.node import SessionNode  # noqa: E402
from session_server.server.runner import GC_THRESHOLDS  # noqa: E402
from session_server.settings import LimitSettings, SessionSettings  # noqa: E402
from tests.session_server.fastpath import fast_node, masked  # noqa: E402

ROOM_SIZE = 10
POSES_PER_CLIENT = 8
"""Distinct pose messages per client, used in turn (each round's poses differ from the last round's)."""


def drain(peers: list[socket.socket], got: list[int]) -> None:
    """Read everything waiting on the peers' sockets (``got[0]``: bytes so far)."""
    for peer in peers:
        while True:
            try:
                data = peer.recv(1 << 16)
            except BlockingIOError:
                break
            got[0] += len(data)


async def setup(rooms: int) -> tuple[SessionNode, list[Any], list[socket.socket]]:
    """A node and ``rooms`` rooms of ten clients joined over fast-path connections (binary frames)."""
    settings = SessionSettings(
        limits=LimitSettings(messages_per_second=1e9, message_burst=10**9, max_participants_per_room=250)
    )
    fast = await fast_node(settings)
    node = fast.node
    node.stall.start()  # as a started server: the beat on time, so a read is not credited a stall
    key = settings.token_secret.get_secret_value().encode()
    protos: list[Any] = []
    peers: list[socket.socket] = []
    for r in range(rooms):
        room = f"room-{r}"
        for c in range(ROOM_SIZE):
            proto, peer = await fast.connect()
            token = auth.sign(auth.Claims(room, f"c{r * ROOM_SIZE + c}", "phone", time.time() + 3600), key)
            join = m.encode({"v": 1, "type": "join", "id": "j", "room": room, "token": token, "binary_frames": True})
            proto.data_received(masked(1, join.encode()))
            protos.append(proto)
            peers.append(peer)
    for _ in range(5000):
        await asyncio.sleep(0)
        if all(p.link is not None and p.link.conn.phase == "joined" for p in protos):
            break
    assert all(p.link.conn.phase == "joined" for p in protos), "the clients did not join"
    return node, protos, peers


async def rounds(
    node: SessionNode,
    protos: list[Any],
    peers: list[socket.socket],
    frames: list[list[bytes]],
    count: int,
    start: int,
    got: list[int],
    counters: tuple[cProfile.Profile, cProfile.Profile] | None = None,
) -> tuple[float, float]:
    """``count`` rounds (a pose per client, then every room's tick); CPU seconds of the reads and of the ticks
    (``counters``: profilers enabled around the reads and around the ticks, to count their calls)."""
    reads = ticks = 0.0
    hubs = list(node.hubs.values())
    for i in range(start, start + count):
        k = i % POSES_PER_CLIENT
        if counters is not None:
            counters[0].enable()
        t0 = time.process_time()
        for proto, own in zip(protos, frames, strict=True):
            proto.data_received(own[k])
        t1 = time.process_time()
        if counters is not None:
            counters[0].disable()
            counters[1].enable()
        now = time.time()
        for hub in hubs:
            await hub.tick_presence(now)
        t2 = time.process_time()
        if counters is not None:
            counters[1].disable()
        reads += t1 - t0
        ticks += t2 - t1
        await asyncio.sleep(0)  # the corker's flush, if anything went through it
        drain(peers, got)
    return reads, ticks


async def main(args: argparse.Namespace) -> None:
    """Set up, warm up, then measure the repeats."""
    node, protos, peers = await setup(args.rooms)
    got = [0]
    await asyncio.sleep(0.05)
    drain(peers, got)
    frames = [
        [
            b"".join(
                masked(2, encode_binary_pose([n * 0.01, 1.6, (j + i) * 0.1], [0.0, 0.0, 0.0, 1.0]) or b"")
                for i in range(args.per_read)
            )
            for j in range(POSES_PER_CLIENT)
        ]
        for n in range(len(protos))
    ]
    gc.set_threshold(*GC_THRESHOLDS)
    await rounds(node, protos, peers, frames, args.warmup, 0, got)
    per_pose: list[float] = []
    per_tick: list[float] = []
    profiler = cProfile.Profile() if args.profile else None
    got[0] = 0
    done = args.warmup
    for _ in range(args.repeats):
        gc.collect()
        gc.freeze()
        if profiler is not None:
            profiler.enable()
        reads, ticks = await rounds(node, protos, peers, frames, args.rounds, done, got)
        if profiler is not None:
            profiler.disable()
        done += args.rounds
        n = args.rounds * len(protos)
        per_pose.append(reads / (n * args.per_read) * 1e6)
        per_tick.append(ticks / n * 1e6)
    if profiler is not None:
        profiler.dump_stats(args.profile)
    received = got[0] / (args.rounds * args.repeats * len(protos))
    calls = ""
    if args.count_calls:  # deterministic, whatever the load: function calls (Python and built-in) per pose and tick
        counters = (cProfile.Profile(), cProfile.Profile())
        await rounds(node, protos, peers, frames, args.count_calls, done, got, counters)
        n = args.count_calls * len(protos)
        per = [sum(row[1] for row in pstats.Stats(c).stats.values()) / n for c in counters]  # type: ignore[attr-defined]
        calls = f"; {per[0] / args.per_read:.2f} calls per pose read, {per[1]:.2f} calls per client per tick"
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(
        f"{args.rooms} rooms x {ROOM_SIZE}, {args.rounds} rounds x {args.repeats}, {args.per_read} poses per read: "
        f"pose read {statistics.median(per_pose):.2f} us CPU (repeats {', '.join(f'{v:.2f}' for v in per_pose)}), "
        f"tick {statistics.median(per_tick):.2f} us CPU per client "
        f"(repeats {', '.join(f'{v:.2f}' for v in per_tick)}); "
        f"{received:.1f} bytes per client per tick received; "
        f"load {' '.join(load)}{calls}"
    )
    node.stall.stop()
    for hub in node.hubs.values():
        await hub.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=300, help="measured rounds per repeat (a pose per client)")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--per-read", type=int, default=1, help="pose messages per client per read (back to back)")
    parser.add_argument("--profile", help="write a cProfile of the measured rounds here")
    parser.add_argument("--count-calls", type=int, default=0, help="rounds after the repeats counting function calls")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main(parser.parse_args()))
