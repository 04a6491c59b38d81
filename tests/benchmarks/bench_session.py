"""Side-by-side load benchmark: the session server against a bare ``websockets`` reference server.

Loopback only, bounded in clients and time.  One load generator (this process, pinned to core 0)
drives both servers (each a subprocess pinned to core 1) with the same load:

* one room, N = 10, 50, 200 clients, each sending presence at 30 Hz and an object move every second;
* rooms of 10 clients, 100 up to 1,000 clients on one server core;
* 5 of 200 clients stalled (they stop reading) for 20 s: server memory growth and the others' p99.

The reference keeps each client's latest presence message and broadcasts one batched frame per room
to everyone at 30 Hz (``websockets.broadcast``); moves are relayed at once.  Our server runs its
normal path: token join, validation, ordered deltas, coalesced presence ticks.

Measured: delivered presence updates per second (other clients' poses received; estimated from
probe clients that parse every frame, the others only count frames), p50/p99 latency from send to
receipt (probes), frames and MB per second received, server CPU (% of one core) and RSS, and the
load generator's own CPU (a generator near 100 % means the figures are generator-bound).

Usage::

    .venv/bin/python tests/benchmarks/bench_session.py [--quick] [--seconds 6] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from session_server.protocol import auth  # noqa: E402

SECRET = "bench-secret-" + uuid.uuid4().hex
PRESENCE_HZ = 30.0
PROBES_PER_RUN = 10
MOD = 1_000_000.0  # timestamps travel as ms modulo 1e6 inside the pose (fits the pose limits)


# ---------------------------------------------------------------------------------------------
# reference server: bare websockets, latest message per client, one batched frame per room per tick
# ---------------------------------------------------------------------------------------------


async def reference_server(port: int) -> None:
    from websockets.asyncio.server import ServerConnection, broadcast, serve

    rooms: dict[str, set[ServerConnection]] = {}
    latest: dict[str, dict[ServerConnection, str]] = {}

    async def handler(ws: ServerConnection) -> None:
        hello = json.loads(await ws.recv())
        room = hello["room"]
        rooms.setdefault(room, set()).add(ws)
        latest.setdefault(room, {})
        await ws.send(json.dumps({"type": "welcome", "room": room}))
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    continue
                if msg.startswith('{"v":1,"type":"presence"'):
                    latest[room][ws] = msg
                else:  # a move: relay at once to the room
                    broadcast(rooms[room], msg)
        finally:
            rooms[room].discard(ws)
            latest[room].pop(ws, None)

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += 1 / PRESENCE_HZ
            for room, conns in rooms.items():
                msgs = latest[room]
                if msgs and conns:
                    frame = '{"type":"presence","msgs":[' + ",".join(msgs.values()) + "]}"
                    msgs.clear()
                    broadcast(conns, frame)
            await asyncio.sleep(max(0.0, next_at - loop.time()))

    async with serve(handler, "127.0.0.1", port, max_size=2**20, compression=None):
        await ticker()


# ---------------------------------------------------------------------------------------------
# servers under test
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    kind: str  # "ours", "ours+redis" or "reference"
    port: int
    proc: subprocess.Popen[bytes]
    ps: psutil.Process

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws" if self.kind.startswith("ours") else f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(kind: str, redis_prefix: str | None = None) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
        "PHYGITAL_SESSION_LIMITS__MESSAGES_PER_SECOND": "200",
        "PHYGITAL_SESSION_LIMITS__MESSAGE_BURST": "400",
        "PHYGITAL_SESSION_LIMITS__MAX_PARTICIPANTS_PER_ROOM": "250",
    }
    if kind == "reference":
        cmd = [sys.executable, __file__, "--reference-server", str(port)]
    else:
        cmd = [sys.executable, "-m", "session_server", "serve", "--port", str(port), "--quiet"]
        if redis_prefix:
            env["PHYGITAL_SESSION_REDIS_URL"] = "redis://127.0.0.1:6379/0"
            env["PHYGITAL_SESSION_REDIS_PREFIX"] = redis_prefix
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ps = psutil.Process(proc.pid)
    with contextlib.suppress(AttributeError, psutil.Error):
        if psutil.cpu_count() and psutil.cpu_count() > 1:
            ps.cpu_affinity([1])
    deadline = time.monotonic() + 30
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{kind} server did not start")
        time.sleep(0.1)
    return Server(kind, port, proc, ps)


# ---------------------------------------------------------------------------------------------
# load generator
# ---------------------------------------------------------------------------------------------


@dataclass
class Stats:
    frames: int = 0
    bytes: int = 0
    probe_frames: int = 0
    probe_updates: int = 0
    moves: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    closed: int = 0


def now_ms() -> float:
    return (time.time() * 1000.0) % MOD


def lat_ms(sent: float) -> float:
    d = now_ms() - sent
    return d + MOD if d < -MOD / 2 else d


class Bot:
    def __init__(self, kind: str, url: str, room: str, pid: str, probe: bool, stats: Stats) -> None:
        self.kind, self.url, self.room, self.pid, self.probe, self.stats = kind, url, room, pid, probe, stats
        self.ws: ClientConnection | None = None
        self.measuring = False
        self.stalled = asyncio.Event()
        self.seq = 0
        # the reference cannot tell who sent a batched message, so its bots name themselves
        tail = "}" if kind.startswith("ours") else f',"from":"{pid}"}}'
        self.presence_text = '{"v":1,"type":"presence","pose":{"p":[%.4f,%d,0],"q":[0,0,0,1]}' + tail

    async def open(self, stall_capable: bool) -> None:
        self.ws = await connect(
            self.url,
            max_size=None,
            compression=None,
            max_queue=4 if stall_capable else 64,
            open_timeout=30,
            ping_interval=None,
        )
        if self.kind.startswith("ours"):
            tok = auth.sign(auth.Claims(self.room, self.pid, "phone", time.time() + 3600), SECRET.encode())
            await self.ws.send(json.dumps({"v": 1, "type": "join", "id": "j", "room": self.room, "token": tok}))
            while json.loads(await self.ws.recv())["type"] != "welcome":
                pass
            await self.ws.send(
                json.dumps(
                    {
                        "v": 1,
                        "type": "object.place",
                        "id": "p",
                        "object": self.pid,
                        "sku": "BENCH",
                        "pose": {"p": [0, 0, 0]},
                    }
                )
            )
            await self.ws.send(json.dumps({"v": 1, "type": "object.lock", "id": "l", "object": self.pid}))
        else:
            await self.ws.send(json.dumps({"room": self.room, "id": self.pid}))
            await self.ws.recv()

    async def send_loop(self, stop: float) -> None:
        assert self.ws is not None
        period = 1 / PRESENCE_HZ
        loop = asyncio.get_running_loop()
        next_at = loop.time() + random.random() * period
        next_move = loop.time() + random.random()
        with contextlib.suppress(ConnectionClosed):
            while loop.time() < stop:
                await asyncio.sleep(max(0.0, next_at - loop.time()))
                next_at += period
                self.seq += 1
                await self.ws.send(self.presence_text % (now_ms(), self.seq % 100000))
                if loop.time() >= next_move:
                    next_move += 1.0
                    if self.kind.startswith("ours"):
                        msg = {
                            "v": 1,
                            "type": "object.move",
                            "id": f"m{self.seq}",
                            "object": self.pid,
                            "pose": {"p": [now_ms(), 0, 0]},
                        }
                    else:
                        msg = {"v": 1, "type": "object.move", "object": self.pid, "t": now_ms()}
                    await self.ws.send(json.dumps(msg))

    async def recv_loop(self) -> None:
        assert self.ws is not None
        st = self.stats
        try:
            while True:
                if self.stalled.is_set():
                    await asyncio.sleep(0.05)
                    continue
                data = await self.ws.recv(decode=False)
                if not self.measuring:
                    continue
                st.frames += 1
                st.bytes += len(data)
                if not self.probe:
                    continue
                frame = json.loads(data)
                for f in frame["frames"] if frame.get("type") == "batch" else (frame,):
                    self._count(f)
        except ConnectionClosed:
            st.closed += 1

    def _count(self, frame: dict[str, Any]) -> None:
        st = self.stats
        kind = frame.get("type")
        if kind == "presence":
            st.probe_frames += 1
            if self.kind.startswith("ours"):
                for pid, pose in frame["poses"].items():
                    if pid != self.pid:
                        st.probe_updates += 1
                        st.latencies.append(lat_ms(pose[0]))
            else:
                for msg in frame["msgs"]:
                    if msg["from"] != self.pid:
                        st.probe_updates += 1
                        st.latencies.append(lat_ms(msg["pose"]["p"][0]))
        elif kind in ("delta", "object.move"):
            st.moves += 1
        elif kind == "error":
            st.errors += 1

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 2)


def _redis_process() -> psutil.Process | None:
    for proc in psutil.process_iter(["name"]):
        if (proc.info.get("name") or "").startswith("redis-server"):
            return proc
    return None


def _connections(server: Server) -> int | None:
    """Open connections as the server itself counts them (ours only: /health)."""
    if not server.kind.startswith("ours"):
        return None
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=5) as resp:
        return int(json.loads(resp.read())["connections"])


@dataclass
class Result:
    label: str
    server: str
    clients: int
    updates_per_s: float
    p50: float
    p99: float
    frames_per_s: float
    mb_per_s: float
    moves_per_s: float
    cpu: float
    rss_mib: float
    gen_cpu: float
    errors: int
    extra: dict[str, Any] = field(default_factory=dict)


async def run_load(
    server: Server,
    clients: int,
    room_size: int,
    seconds: float,
    warmup: float = 2.0,
    stall: int = 0,
    stall_seconds: float = 0.0,
) -> Result:
    stats = Stats()
    rooms = max(1, clients // room_size)
    bots: list[Bot] = []
    probe_every = max(1, clients // PROBES_PER_RUN)
    for i in range(clients):
        room = f"room-{i % rooms}"
        bots.append(Bot(server.kind, server.url, room, f"c{i}", i % probe_every == 0, stats))
    stalled = [b for b in bots if not b.probe][:stall]
    for start in range(0, clients, 50):  # connect in waves
        await asyncio.gather(*(b.open(b in stalled) for b in bots[start : start + 50]))
    loop = asyncio.get_running_loop()
    total = warmup + seconds + stall_seconds
    stop = loop.time() + total
    tasks = [asyncio.create_task(b.recv_loop()) for b in bots] + [asyncio.create_task(b.send_loop(stop)) for b in bots]
    me = psutil.Process()
    await asyncio.sleep(warmup)
    rss_before = server.ps.memory_info().rss
    rss_peak = rss_before
    for b in bots:
        b.measuring = True
    redis_ps = _redis_process() if server.kind == "ours+redis" else None
    red0 = redis_ps.cpu_times() if redis_ps else None
    cpu0, gen0, t0 = server.ps.cpu_times(), me.cpu_times(), time.monotonic()
    for b in stalled:
        b.stalled.set()
    conns_before = _connections(server)
    while loop.time() < stop - 0.05:
        await asyncio.sleep(0.5)
        rss_peak = max(rss_peak, server.ps.memory_info().rss)
    elapsed = time.monotonic() - t0
    cpu1, gen1 = server.ps.cpu_times(), me.cpu_times()
    conns_after = _connections(server)
    load = os.getloadavg()[0]
    redis_cpu = None
    if redis_ps is not None and red0 is not None:
        red1 = redis_ps.cpu_times()
        redis_cpu = (red1.user + red1.system - red0.user - red0.system) / elapsed * 100
    for b in bots:
        b.measuring = False
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(b.close() for b in bots))
    probes = sum(1 for b in bots if b.probe)
    lat = sorted(stats.latencies) or [float("nan")]
    server_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / elapsed * 100
    gen_cpu = (gen1.user + gen1.system - gen0.user - gen0.system) / elapsed * 100
    return Result(
        label=f"{clients}",
        server=server.kind,
        clients=clients,
        updates_per_s=stats.probe_updates / max(1, probes) * (clients - len(stalled)) / elapsed,
        p50=lat[len(lat) // 2],
        p99=lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        frames_per_s=stats.frames / elapsed,
        mb_per_s=stats.bytes / elapsed / 1e6,
        moves_per_s=stats.moves / max(1, probes) * (clients - len(stalled)) / elapsed,
        cpu=server_cpu,
        rss_mib=server.ps.memory_info().rss / 2**20,
        gen_cpu=gen_cpu,
        errors=stats.errors,
        extra={
            "rss_growth_mib": (rss_peak - rss_before) / 2**20,
            "load": load,
            "redis_cpu": redis_cpu,
            "closed": "n/a" if conns_before is None or conns_after is None else conns_before - conns_after,
        },
    )


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------


def row(r: Result, ref: Result | None = None) -> str:
    ratio = f"{r.p99 / ref.p99:.2f}x" if ref is not None and ref.p99 > 0 and r is not ref else ""
    return (
        f"| {r.server} | {r.clients} | {r.updates_per_s:,.0f} | {r.p50:.1f} | {r.p99:.1f} | {ratio} | "
        f"{r.frames_per_s:,.0f} | {r.mb_per_s:.1f} | {r.moves_per_s:,.0f} | {r.cpu:.0f} % | {r.rss_mib:.0f} | "
        f"{r.gen_cpu:.0f} % | {r.extra['load']:.1f} |"
    )


HEADER = (
    "| server | clients | presence updates/s | p50 ms | p99 ms | p99 vs ref | frames/s | MB/s | moves/s | "
    "server CPU | RSS MiB | generator CPU | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


async def measure(kind: str, clients: int, room_size: int, seconds: float, **kw: Any) -> Result:
    prefix = f"phygital-bench:{uuid.uuid4().hex}" if kind == "ours+redis" else None
    server = start_server(kind, prefix)
    try:
        return await run_load(server, clients, room_size, seconds, **kw)
    finally:
        server.stop()
        if prefix:
            from redis import Redis

            r = Redis.from_url("redis://127.0.0.1:6379/0")
            keys = list(r.scan_iter(match=f"{prefix}:*"))
            if keys:
                r.delete(*keys)
            r.close()


async def main(args: argparse.Namespace) -> str:
    with contextlib.suppress(AttributeError, OSError):
        if (psutil.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {0})
    out: list[str] = []
    info = (
        f"{platform.node()} · Python {platform.python_version()} · {psutil.cpu_count()} cores · "
        f"load average {os.getloadavg()[0]:.1f} at start · {args.seconds:.0f} s per run after 2 s warm-up"
    )
    out.append(f"Run: {time.strftime('%Y-%m-%d %H:%M')} · {info}\n")

    sizes = [10, 50] if args.quick else [10, 50, 200]
    out.append("### One room, presence at 30 Hz + one move per second per client\n")
    out.append(HEADER)
    one_room: dict[int, dict[str, Result]] = {}
    for n in sizes:
        kinds = ["reference", "ours"] + (["ours+redis"] if n == 50 else [])
        one_room[n] = {}
        for kind in kinds:
            r = await measure(kind, n, n, args.seconds)
            one_room[n][kind] = r
            out.append(row(r, one_room[n].get("reference")))
            print(out[-1], file=sys.stderr, flush=True)

    if 50 in one_room and "ours+redis" in one_room[50]:
        mem, red = one_room[50]["ours"], one_room[50]["ours+redis"]
        rc = red.extra.get("redis_cpu")
        out.append(
            "\nRedis hop at N = 50 (same run): p50 "
            f"{red.p50 - mem.p50:+.1f} ms, p99 {red.p99 - mem.p99:+.1f} ms, server CPU {red.cpu - mem.cpu:+.0f} points"
            + (f", redis-server {rc:.0f} % of a core (shared with anything else using it)" if rc is not None else "")
        )

    totals = [100, 500] if args.quick else [100, 500, 1000]
    out.append("\n### Rooms of 10 clients on one server core\n")
    out.append(HEADER)
    for n in totals:
        ref = None
        for kind in ("reference", "ours"):
            r = await measure(kind, n, 10, args.seconds)
            ref = ref or r
            out.append(row(r, ref))
            print(out[-1], file=sys.stderr, flush=True)

    n_stall = 50 if args.quick else 200
    stall_s = 8.0 if args.quick else 20.0
    out.append(f"\n### {n_stall} clients in one room, 5 of them stop reading for {stall_s:.0f} s\n")
    out.append(
        "| server | RSS growth during stall MiB | others' p99 ms | p99 without stall ms | change | "
        "stalled clients closed by server |\n|---|---|---|---|---|---|"
    )
    for kind in ("reference", "ours"):
        base = one_room.get(n_stall, {}).get(kind) or await measure(kind, n_stall, n_stall, args.seconds)
        r = await measure(kind, n_stall, n_stall, 0.0, stall=5, stall_seconds=stall_s)
        change = (r.p99 / base.p99 - 1) * 100 if base.p99 > 0 else float("nan")
        out.append(
            f"| {kind} | {r.extra['rss_growth_mib']:.1f} | {r.p99:.1f} | {base.p99:.1f} | {change:+.0f} % | "
            f"{r.extra['closed']} |"
        )
        print(out[-1], file=sys.stderr, flush=True)
    return "\n".join(out) + "\n"


def cli() -> None:
    p = argparse.ArgumentParser(description="session server vs bare websockets reference (loopback)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter stall")
    p.add_argument("--seconds", type=float, default=6.0, help="measured seconds per run")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    p.add_argument("--reference-server", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.reference_server is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(reference_server(args.reference_server))
        return
    table = asyncio.run(main(args))
    print(table)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(table)
        tmp.replace(args.out)


if __name__ == "__main__":
    cli()
