"""CPU per object move through the session server's core, in process (no sockets): issue #13's move path.

What one ``object.move`` costs on the server, from the received frame to the frames every client of the
room gets: ``ClientLink.feed`` (rate check, parse), the hand-over to the room's inbox, the leader's turn
(``Room.handle``: idempotency, lock check, the delta applied), the commit to the in-memory backplane, the
mirror following the log, the delta's frame encoded and held, the ack released after it, and the next
presence tick sending them (no poses: the tick carries only what the move made).  Every room runs on the
real ``RoomHub`` and ``MemoryBackplane`` of a ``SessionNode``; the links' senders only keep what they get.

The load is the session benchmark's room-of-ten scenario without the poses: ``--rooms`` rooms of 10
clients, each client with an object it placed and locked, moving it once per round with the message the
Node load generator sends (``{"v":1,"type":"object.move","id":"m<n>","object":...,"pose":{"p":[t,0,0]}}``),
one move per room at a time by default (``--per-turn``): the leader takes each in a turn of its own, as it
does when ten moves a second reach a room at random moments.
The real server checkpoints each room every ``CHECKPOINT_EVERY_S`` = 2 s, i.e. every 20 moves of a
room of ten moving once a second; here the checkpoint is forced every 2 rounds to keep that ratio (the
rounds run far faster than once a second).  A checkpoint's own cost (``Room.dump`` and the commit that
stores it, idempotency caches full as in a long run) is measured apart too.

The garbage collector is tuned as in a server process (``runner.GC_THRESHOLDS``), and what lives is frozen
before each measured phase (a full collection's pause would otherwise land in one phase or another at random).
Figures are CPU time of this process (``time.process_time``) divided by the moves; run with ``nice`` and
record ``/proc/loadavg`` with them.  ``--profile FILE`` writes a cProfile of the measured rounds.

Usage::

    .venv/bin/python tests/benchmarks/bench_moves.py [--rooms 20] [--rounds 300] [--repeats 3] [--per-turn 1]
        [--profile F]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.append(str(ROOT))  # after PYTHONPATH: the same script can measure another checkout

from session_server.backplane.memory import MemoryBackplane  # noqa: E402
from session_server.protocol import auth  # noqa: E402
from session_server.protocol import messages as m  # noqa: E402
from session_server.server import hub as hub_module  # noqa: E402
from session_server.server.hub import RoomHub  # noqa: E402
from session_server.server.link import ClientLink  # noqa: E402
from session_server.server.node import SessionNode  # noqa: E402
from session_server.server.runner import GC_THRESHOLDS  # noqa: E402
from session_server.settings import LimitSettings, SessionSettings  # noqa: E402

ROOM_SIZE = 10
CHECKPOINT_EVERY_ROUNDS = 2
"""A room of ten moving once a second makes 20 moves per 2 s checkpoint period: one checkpoint per 2 rounds."""


class KeepingSender:
    """A sender that keeps what it is given (counts frames; nothing is written anywhere)."""

    def __init__(self) -> None:
        self.queued_bytes = 0
        self.failed: str | None = None
        self.frames = 0

    def send(self, frame: Any) -> None:
        """Count a reliable frame."""
        self.frames += 1

    def send_presence(self, tick: Any, frame: Any, t: float) -> None:
        """Count a presence frame."""
        self.frames += 1

    def send_tick(self, reliable: list[Any], presence: Any, t: float, whole: Any = None) -> None:
        """Count a tick's frame."""
        self.frames += 1

    async def flush(self, timeout: float) -> None:
        """Nothing is queued."""

    def check(self, mono: float) -> None:
        """Nothing to check."""


class NoSocket:
    """A socket that is never closed in this benchmark."""

    async def close(self, code: int) -> None:
        """Nothing to close."""

    def abort(self) -> None:
        """Nothing to abort."""


def move_frame(pid: str, seq: int) -> bytes:
    """The move message the Node load generator sends (its pose's x a millisecond clock, as there)."""
    x = (time.time() * 1000) % 1e6
    return f'{{"v":1,"type":"object.move","id":"m{seq}","object":"{pid}","pose":{{"p":[{x},0,0]}}}}'.encode()


async def settle(hubs: list[RoomHub], revision: dict[str, int]) -> None:
    """Let the loop run until every room's mirror reached the revision expected."""
    for _ in range(10_000):
        if all(h.mirror.revision >= revision[h.room_id] and not h._replies for h in hubs):
            return
        await asyncio.sleep(0)
    raise RuntimeError("the rooms did not settle")


async def setup(rooms: int) -> tuple[SessionNode, list[RoomHub], list[list[ClientLink]]]:
    """A node with ``rooms`` rooms of ten joined clients, each with an object placed and locked."""
    settings = SessionSettings(
        limits=LimitSettings(messages_per_second=1e9, message_burst=10**9, max_participants_per_room=250)
    )
    node = SessionNode(settings, MemoryBackplane())
    node.loop = asyncio.get_running_loop()
    await node.bp.start()
    key = settings.token_secret.get_secret_value().encode()
    hubs: list[RoomHub] = []
    links: list[list[ClientLink]] = []
    for r in range(rooms):
        room = f"room-{r}"
        members = []
        for c in range(ROOM_SIZE):
            pid = f"c{r * ROOM_SIZE + c}"
            token = auth.sign(auth.Claims(room, pid, "phone", time.time() + 3600), key)
            link = ClientLink(node, KeepingSender(), NoSocket())  # type: ignore[arg-type]
            link.feed(m.encode({"v": 1, "type": "join", "id": "j", "room": room, "token": token}).encode())
            members.append(link)
        for _ in range(2000):
            await asyncio.sleep(0)
            if all(lk.conn.phase == "joined" for lk in members):
                break
        hub = node.hubs[room]
        for link in members:
            pid = link.participant
            link.feed(m.encode(m.server_frame("object.place", id="p", object=pid, sku="BENCH", pose={"p": [0, 0, 0]})))
            link.feed(m.encode(m.server_frame("object.lock", id="l", object=pid)))
        for _ in range(2000):
            await asyncio.sleep(0)
            if len(hub.mirror.locks) == ROOM_SIZE:
                break
        assert len(hub.mirror.locks) == ROOM_SIZE, "the objects were not placed and locked"
        await hub.tick_presence(time.time())
        hubs.append(hub)
        links.append(members)
    return node, hubs, links


async def rounds(
    hubs: list[RoomHub], links: list[list[ClientLink]], count: int, seq: list[int], per_turn: int = 1
) -> int:
    """``count`` rounds: every client moves its object once, ``per_turn`` clients of each room at a time (the
    rooms settle after each: one leader turn per ``per_turn`` moves), then each room ticks; the moves."""
    revision = {h.room_id: h.mirror.revision for h in hubs}
    moves = 0
    for i in range(count):
        if i % CHECKPOINT_EVERY_ROUNDS == 0:
            for hub in hubs:
                hub._last_checkpoint = 0.0  # the next commit checkpoints (every 2 s in the real server)
        for first in range(0, ROOM_SIZE, per_turn):
            for hub, members in zip(hubs, links, strict=True):
                for link in members[first : first + per_turn]:
                    seq[0] += 1
                    link.feed(move_frame(link.participant, seq[0]))
                    moves += 1
                    revision[hub.room_id] += 1
            await settle(hubs, revision)
        t = time.time()
        for hub in hubs:
            await hub.tick_presence(t)
    return moves


async def checkpoint_cost(hubs: list[RoomHub], count: int) -> float:
    """CPU microseconds of one checkpoint (``Room.dump`` and the commit that stores it), over ``count``."""
    start = time.process_time()
    done = 0
    while done < count:
        for hub in hubs:
            await hub._commit([], force_checkpoint=True)
            done += 1
    return (time.process_time() - start) / done * 1e6


def settle_gc() -> None:
    """Collect and freeze what lives so far, as a server process does at start: the young collections during a
    phase count, a full one (a random pause scanning every object of the process) does not land in one phase."""
    gc.collect()
    gc.freeze()


async def main(args: argparse.Namespace) -> None:
    """Set up, warm up (the idempotency caches fill), then measure the repeats."""
    _node, hubs, links = await setup(args.rooms)
    # the checkpoint clock and the room's timers run on wall time, which a slow run stretches (valgrind, a busy
    # machine: a checkpoint at every commit, locks lapsing): from here a room checkpoints every 2 rounds only and
    # its timers do not run, so that the work per move does not depend on how fast the run goes
    hub_module.CHECKPOINT_EVERY_S = float("inf")
    hub_module.ROOM_TICK_S = float("inf")
    gc.set_threshold(*GC_THRESHOLDS)  # the collector tuned as a server process tunes it (``runner``)
    seq = [0]
    await rounds(hubs, links, args.warmup, seq)
    per_move: list[float] = []
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(args.repeats):
        settle_gc()
        if profiler is not None:
            profiler.enable()
        start = time.process_time()
        moves = await rounds(hubs, links, args.rounds, seq, args.per_turn)
        per_move.append((time.process_time() - start) / moves * 1e6)
        if profiler is not None:
            profiler.disable()
    ckpt = []
    for _ in range(args.repeats):
        settle_gc()
        ckpt.append(await checkpoint_cost(hubs, 20 * len(hubs)))
    if profiler is not None:
        profiler.dump_stats(args.profile)
    load = Path("/proc/loadavg").read_text().split()[:3]
    done = sum(len(h.leader._done.get(lk.participant, ())) for h, ms in zip(hubs, links, strict=True) for lk in ms)
    print(
        f"rooms {args.rooms} x {ROOM_SIZE}, {args.rounds} rounds x {args.repeats}, {args.per_turn} move(s) per turn: "
        f"move {statistics.median(per_move):.1f} us CPU (repeats {', '.join(f'{v:.1f}' for v in per_move)}), "
        f"checkpoint {statistics.median(ckpt):.1f} us (repeats {', '.join(f'{v:.1f}' for v in ckpt)}); "
        f"idempotency entries {done}; load {' '.join(load)}"
    )
    for hub in hubs:
        await hub.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=300, help="measured rounds per repeat (one move per client)")
    parser.add_argument("--warmup", type=int, default=300, help="rounds before measuring (fills idempotency caches)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--per-turn", type=int, default=1, help="moves of a room handled in one leader turn (1: as at 10 moves/s)"
    )
    parser.add_argument("--profile", help="write a cProfile of the measured rounds here")
    asyncio.run(main(parser.parse_args()))
