"""Per-tick presence encoding, in process: the JSON ``presence`` frame against the binary tick frame
(PROTOCOL.md, *Binary tick frame*), for one room's tick, and the bytes a client receives per second.

Three pose sets per room size: the bench's (tests/benchmarks/bench_session.py: ids ``c123``, a time in ms
in x, a counter in y, no rotation); the same as they arrive in binary pose messages, as the Node generator
sends them ("bench, binary in": their steps are written as they came); and a typical AR device's (ids of 8
characters, positions within a few metres, a rotation).  CPU time (``time.process_time``) over many
iterations, best of 5 rounds; the load average is printed with the figures (the machine is shared).  Usage::

    .venv/bin/python tests/benchmarks/bench_tick_frames.py [--iterations 20000] [--sizes 10,200]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from session_server.protocol.frames import encode_presence, tick_frame
from session_server.protocol.inbound import binary_steps, encode_binary_pose
from session_server.protocol.presence import PresenceTick
from session_server.server.sender import presence_text, wire_frame

TICK_HZ = 30


def ticks(size: int, kind: str, rng: random.Random) -> list[PresenceTick]:
    """A few ticks of ``size`` changed poses (rounded as the server keeps them)."""
    out = []
    for n in range(8):
        poses = {}
        for i in range(size):
            if kind.startswith("bench"):
                pid = f"c{rng.randrange(1000)}{i}"
                pose = [round(rng.uniform(0, 1e5) * 1e4) / 1e4, float(rng.randrange(100000)), 0.0, 0.0, 0.0, 0.0, 1.0]
            else:
                pid = f"dev{i:05d}"
                pose = [round(rng.uniform(-5, 5) * 1e4) / 1e4 for _ in range(3)]
                pose += [round(rng.uniform(-1, 1) * 1e5) / 1e5 for _ in range(4)]
            if kind == "bench, binary in":  # as the server keeps a binary pose message's pose (its 28 bytes of steps)
                pose = binary_steps(encode_binary_pose(pose[:3], pose[3:]) or b"") or pose
            poses[pid] = pose
        out.append(PresenceTick(poses, ()))
        del n
    return out


def cpu_us(fn, items: list[PresenceTick], iterations: int) -> float:  # type: ignore[no-untyped-def]
    """Best of 5 rounds: CPU microseconds per call of ``fn(tick)``."""
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for i in range(iterations):
            fn(items[i % len(items)])
        best = min(best, (time.process_time() - start) / iterations * 1e6)
    return best


def main() -> None:
    """Print the table (markdown)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--sizes", default="10,200")
    args = p.parse_args()
    rng = random.Random(7)
    t = 1764871200.1234
    print(f"load average {os.getloadavg()[0]:.1f} at start; {args.iterations} iterations, best of 5")
    print(
        "| poses per tick | poses | JSON encode us | binary encode us | binary / JSON CPU | JSON bytes/client/s | "
        "binary bytes/client/s | binary / JSON bytes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in ("bench", "bench, binary in", "device"):
            items = ticks(size, kind, rng)
            iters = max(200, args.iterations * 10 // size)
            js = cpu_us(lambda tk: wire_frame(presence_text(tk, t)), items, iters)
            bn = cpu_us(lambda tk: wire_frame(tick_frame(None, encode_presence(tk, t) or b"")), items, iters)
            jb = sum(len(wire_frame(presence_text(tk, t))) for tk in items) / len(items) * TICK_HZ
            bb = (
                sum(len(wire_frame(tick_frame(None, encode_presence(tk, t) or b""))) for tk in items)
                / len(items)
                * TICK_HZ
            )
            print(
                f"| {size} | {kind} | {js:.1f} | {bn:.1f} | {bn / js:.2f}x | {jb:,.0f} | {bb:,.0f} | {bb / jb:.2f}x |"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
