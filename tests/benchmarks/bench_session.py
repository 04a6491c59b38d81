"""Side-by-side load benchmark: the session server against a bare ``websockets`` reference server and
Colyseus 0.16.

Loopback only, bounded in clients and time.  One load generator, pinned to core 0, drives every
server (each a subprocess pinned to core 1) with the same load:

* the comparison first (``--versus``, ``--repeats``): ours, the reference and Colyseus
  (``tools/node/colyseus_server.mjs``: the same scenario written as Colyseus does it, a schema state
  with one pose and one object per client, patches at 30 Hz) take turns, the order rotating each
  repeat, on rooms of 10 at 800 and 1,000 clients and one room of 200; per run: delivered updates/s,
  p50/p99, server CPU, frames per client per second, MB/s, RSS at rest (before any client) and
  loaded; then medians and ours/Colyseus ratios taken within each repeat;
* one room, N = 10, 50, 200 clients, each sending presence at 30 Hz and an object move every second;
* rooms of 10 clients, 100, 500, 800 and 1,000 clients on one server core;
* 5 of 200 clients stalled (they stop reading) for 20 s: server memory growth against the same run with
  none stalled, and the others' p99.

The load generator is ``tools/node/loadgen.mjs`` (Node + the ``ws`` package, as in issue #4; needs
``npm ci`` in ``tools/node``, which ``make setup`` runs).  ``--generator python`` uses the asyncio
``websockets`` clients of this file instead; they need about twice the CPU, and near a full core at
N = 200 they inflate the p99 they measure.  The Node generator sends our server binary pose messages
(PROTOCOL.md, *Binary pose*; 29 bytes, as Colyseus's clients send theirs in binary) and joins with
``binary_frames`` (PROTOCOL.md, *Binary tick frame*: presence arrives binary, and its probes decode it as
Colyseus's decode their binary patches); the Python one sends and receives JSON.

The reference keeps each client's latest presence message and broadcasts one batched frame per room
to everyone at 30 Hz (``websockets.broadcast``); moves are relayed at once.  Our server runs its
normal path: token join, validation, ordered deltas, coalesced presence ticks.

Measured over the window after a 2 s warm-up: delivered presence updates per second (other clients'
poses received; estimated from probe clients that parse every frame, the others only count frames),
p50/p99 latency from send to receipt (probes), frames and MB per second received, server CPU (% of
one core) and RSS, and the load generator's own CPU (a generator near 100 % means the figures are
generator-bound).  Listed under the tables: connection failures, closes, error frames, a generator
that fell behind its send schedule, and CPU contention (time the server or the generator was runnable
but waiting for a CPU: other load on the machine; such rows are not worth comparing).

Usage::

    .venv/bin/python tests/benchmarks/bench_session.py [--quick] [--seconds 6] [--out FILE.md]
        [--generator node|python] [--only-kinds reference,ours,ours+redis] [--sizes 10,50,200]
        [--rooms 100,500,800,1000] [--no-one-room] [--no-rooms] [--no-stall]

``PHYGITAL_BENCH_PROFILE=DIR`` runs our server under cProfile, one ``DIR/ours-PORT.prof`` per run (its
figures are then those of a profiled server, not to be compared).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
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
WARMUP_S = 2.0
MOD = 1_000_000.0  # timestamps travel as ms modulo 1e6 inside the pose (fits the pose limits)
LOADGEN = ROOT / "tools" / "node" / "loadgen.mjs"
COLYSEUS = ROOT / "tools" / "node" / "colyseus_server.mjs"
KINDS = ("reference", "ours", "ours+redis", "colyseus")
GENERATOR_PROCESSES = 1
"""Processes the Node generator deals its clients out to (``--generator-processes``; its config's ``processes``)."""
REST_SETTLE_S = 2.0  # memory at rest: RSS this long after the server started listening, before any client


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


def pinned(core: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` pinning a child (all its threads) to one core, when there are two or more.

    Server and generator also start in sessions of their own: with the kernel's autogroup scheduling a
    session shares one CPU weight, so in ours they would split it with each other and this process."""
    if (psutil.cpu_count() or 1) < 2 or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    kind: str  # "ours", "ours+redis", "reference" or "colyseus"
    port: int
    proc: subprocess.Popen[bytes]
    ps: psutil.Process
    rest_rss: int = 0  # bytes, REST_SETTLE_S after it started listening, before any client

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws" if self.kind.startswith("ours") else f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if os.environ.get("PHYGITAL_BENCH_PROFILE") and self.kind.startswith("ours"):
            # uvicorn re-raises SIGTERM once shut down (the process dies unprofiled); SIGINT ends it with an exit
            self.proc.send_signal(signal.SIGINT)
        else:
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
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
        "PHYGITAL_SESSION_LIMITS__MESSAGES_PER_SECOND": "200",
        "PHYGITAL_SESSION_LIMITS__MESSAGE_BURST": "400",
        "PHYGITAL_SESSION_LIMITS__MAX_PARTICIPANTS_PER_ROOM": "250",
    }
    if kind == "reference":
        cmd = [sys.executable, __file__, "--reference-server", str(port)]
    elif kind == "colyseus":
        cmd = [shutil.which("node") or "node", str(COLYSEUS), str(port)]
    else:
        cmd = [sys.executable, "-m", "session_server", "serve", "--port", str(port), "--quiet"]
        if profile_dir := os.environ.get("PHYGITAL_BENCH_PROFILE"):  # cProfile our server, one file per run
            out = Path(profile_dir) / f"{kind}-{port}.prof"
            cmd[1:1] = ["-m", "cProfile", "-o", str(out)]
        if redis_prefix:
            env["PHYGITAL_SESSION_REDIS_URL"] = "redis://127.0.0.1:6379/0"
            env["PHYGITAL_SESSION_REDIS_PREFIX"] = redis_prefix
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=pinned(1), start_new_session=True
    )
    ps = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while not any(c.laddr.port == port and c.status == psutil.CONN_LISTEN for c in ps.net_connections("tcp")):
        if proc.poll() is not None or time.monotonic() > deadline:  # e.g. someone else took the port
            raise RuntimeError(f"{kind} server did not start listening on port {port}")
        time.sleep(0.1)
    time.sleep(REST_SETTLE_S)
    return Server(kind, port, proc, ps, rest_rss=ps.memory_info().rss)


# ---------------------------------------------------------------------------------------------
# load plan and the measured window (shared by both generators)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientSpec:
    room: str
    pid: str
    probe: bool
    stall: bool


def plan(clients: int, room_size: int, stall: int = 0) -> list[ClientSpec]:
    """Clients spread over rooms of ``room_size``; every k-th is a probe; the first ``stall`` others stall."""
    rooms = max(1, clients // room_size)
    probe_every = max(1, clients // PROBES_PER_RUN)
    specs: list[ClientSpec] = []
    stalled = 0
    for i in range(clients):
        probe = i % probe_every == 0
        stall_me = not probe and stalled < stall
        stalled += stall_me
        specs.append(ClientSpec(f"room-{i % rooms}", f"c{i}", probe, stall_me))
    return specs


def token(spec: ClientSpec) -> str:
    return auth.sign(auth.Claims(spec.room, spec.pid, "phone", time.time() + 3600), SECRET.encode())


@dataclass
class Totals:
    """What a generator counted over its measured window (stalled clients left out)."""

    frames: int
    bytes: int
    probe_updates: int
    moves: int
    errors: int
    p50: float
    p99: float
    elapsed: float
    notes: list[str] = field(default_factory=list)
    latency: dict[str, Any] = field(default_factory=dict)
    """The generator's whole latency report (more percentiles, a histogram), when it gives one."""


def _family(ps: psutil.Process) -> list[psutil.Process]:
    """The process and its live child processes (a generator with several processes)."""
    try:
        return [ps, *ps.children(recursive=True)]
    except psutil.Error:
        return [ps]


def _cpu(ps: psutil.Process) -> float:
    """CPU seconds (user + system) of the process and its live children."""
    total = 0.0
    for proc in _family(ps):
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def _waited(ps: psutil.Process) -> float:
    """Seconds the threads of the process and its live children have spent runnable but waiting for a CPU (Linux
    schedstat; else 0)."""
    total = 0
    for proc in _family(ps):
        for task in Path(f"/proc/{proc.pid}/task").glob("*"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


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


class Window:
    """Server CPU and RSS, generator CPU over the measured window; with ``count_connections``, also the
    server's open connections at both ends (a /health request: only for the stall runs)."""

    def __init__(self, server: Server, generator: psutil.Process, count_connections: bool) -> None:
        self.server, self.generator, self.count_connections = server, generator, count_connections
        self.redis = _redis_process() if server.kind == "ours+redis" else None
        self.started = self.stopped = False

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0, self.gen0 = _cpu(self.server.ps), _cpu(self.generator)
        self.wait0, self.gen_wait0 = _waited(self.server.ps), _waited(self.generator)
        self.red0 = _cpu(self.redis) if self.redis else 0.0
        self.rss_before = self.rss_peak = self.server.ps.memory_info().rss
        self.conns_before = _connections(self.server) if self.count_connections else None
        self.started = True

    def sample(self) -> None:
        if self.started and not self.stopped:
            self.rss_peak = max(self.rss_peak, self.server.ps.memory_info().rss)

    def stop(self) -> None:
        self.sample()
        self.elapsed = time.monotonic() - self.t0
        self.server_cpu = (_cpu(self.server.ps) - self.cpu0) / self.elapsed * 100
        self.gen_cpu = (_cpu(self.generator) - self.gen0) / self.elapsed * 100
        self.server_wait = (_waited(self.server.ps) - self.wait0) / self.elapsed * 100
        self.gen_wait = (_waited(self.generator) - self.gen_wait0) / self.elapsed * 100
        self.redis_cpu = (_cpu(self.redis) - self.red0) / self.elapsed * 100 if self.redis else None
        self.rss_after = self.server.ps.memory_info().rss
        self.load = os.getloadavg()[0]
        self.conns_after = _connections(self.server) if self.count_connections else None
        self.stopped = True


# ---------------------------------------------------------------------------------------------
# node load generator (default): tools/node/loadgen.mjs, pinned to core 0
# ---------------------------------------------------------------------------------------------


def node_ready() -> str | None:
    """Why the node generator cannot run, or None."""
    if shutil.which("node") is None:
        return "the node generator needs node on PATH (or use --generator python)"
    if not (LOADGEN.parent / "node_modules" / "ws").is_dir():
        return f"the node generator needs 'npm ci' in {LOADGEN.parent} (run 'make setup'; or use --generator python)"
    return None


def colyseus_ready() -> str | None:
    """Why the Colyseus server cannot run, or None."""
    if shutil.which("node") is None:
        return "Colyseus needs node on PATH"
    for pkg in ("@colyseus/core", "@colyseus/ws-transport", "colyseus.js"):
        if not (LOADGEN.parent / "node_modules" / pkg).is_dir():
            return f"Colyseus needs 'npm ci' in {LOADGEN.parent} (no {pkg}; run 'make setup')"
    return None


async def run_node(
    server: Server, specs: list[ClientSpec], seconds: float, stall_seconds: float
) -> tuple[Totals, Window]:
    ours = server.kind.startswith("ours")
    config = {
        "kind": "ours" if ours else server.kind,
        "url": server.url,
        "clients": [
            {"room": s.room, "pid": s.pid, "probe": s.probe, "stall": s.stall} | ({"token": token(s)} if ours else {})
            for s in specs
        ],
        "presence_hz": PRESENCE_HZ,
        "move_interval": 1.0,
        "warmup": WARMUP_S,
        "seconds": seconds,
        "stall_seconds": stall_seconds,
        "hold": True,  # stay connected after MEASURE_END until we have looked at the server
        "pose_encoding": "binary",  # ours: 29-byte binary pose messages (as Colyseus clients send binary)
        "frames": "binary",  # ours: binary tick frames, decoded by the probes (as Colyseus's decode its patches)
        "processes": GENERATOR_PROCESSES,
    }
    with tempfile.NamedTemporaryFile("w", prefix="bench-session-", suffix=".json", delete=False) as f:
        json.dump(config, f)
    config_file = Path(f.name)
    proc = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(LOADGEN),
        str(config_file),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=pinned(0),
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    window = Window(server, psutil.Process(proc.pid), count_connections=stall_seconds > 0)
    log: list[str] = []
    try:
        stdout = asyncio.create_task(proc.stdout.read())
        deadline = time.monotonic() + WARMUP_S + seconds + stall_seconds + 45  # the generator stops itself at +30
        while time.monotonic() < deadline:
            try:
                line = await asyncio.wait_for(proc.stderr.readline(), 0.5)
            except TimeoutError:
                window.sample()
                continue
            if not line:  # the generator has exited
                break
            text = line.decode(errors="replace").rstrip()
            if text == "MEASURE_START":
                window.start()
            elif text == "MEASURE_END":
                window.stop()
                proc.stdin.write(b"done\n")
                await proc.stdin.drain()
            else:
                log.append(text)
        try:
            out = json.loads((await asyncio.wait_for(stdout, 10)) or b"null")
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            out = None
    finally:
        config_file.unlink()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    if proc.returncode == 3:
        raise RuntimeError("the load generator hit its hard deadline (server not answering?)")
    if not window.stopped or not isinstance(out, dict):
        raise RuntimeError(f"load generator failed (exit {proc.returncode}): {' / '.join(log[-3:]) or 'no output'}")
    if not out["connected"]:
        raise RuntimeError(f"no client could connect (first: {out['connect_errors'][0]})")
    lat = out["latency"]
    nan = float("nan")
    totals = Totals(
        frames=out["frames"],
        bytes=out["bytes"],
        probe_updates=out["probe_updates"],
        moves=out["moves"],
        errors=out["errors"],
        p50=nan if lat["p50"] is None else lat["p50"],
        p99=nan if lat["p99"] is None else lat["p99"],
        elapsed=out["elapsed"],
        latency=lat,
    )
    expected = out["connected"] * PRESENCE_HZ * out["elapsed"]
    if out["sent"] < 0.9 * expected or out["loop_lag_ms"]["p99"] > 40:
        totals.notes.append(
            f"generator fell behind (figures may be generator-bound): sent {out['sent'] / expected:.0%} of the "
            f"presence due, event-loop lag p99 {out['loop_lag_ms']['p99']:.0f} ms, "
            f"{out['cpu_s'] / out['elapsed'] * 100:.0f} % of a core used"
        )
    if out["connect_failed"]:
        totals.notes.append(f"{out['connect_failed']} clients failed to connect (first: {out['connect_errors'][0]})")
    for key, what in (
        ("closed", "connections closed by the server"),
        ("ws_errors", "socket errors"),
        ("errors", "error frames seen by probes"),
        ("send_skipped", "presence sends skipped (server not reading)"),
    ):
        if out[key]:
            totals.notes.append(f"{out[key]} {what}")
    return totals, window


# ---------------------------------------------------------------------------------------------
# python load generator (--generator python): asyncio websockets clients in this process
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
    def __init__(self, kind: str, url: str, spec: ClientSpec, stats: Stats) -> None:
        self.kind, self.url, self.spec, self.stats = kind, url, spec, stats
        self.pid, self.probe = spec.pid, spec.probe
        self.ws: ClientConnection | None = None
        self.measuring = False
        self.stalled = asyncio.Event()
        self.seq = 0
        # the reference cannot tell who sent a batched message, so its bots name themselves
        tail = "}" if kind.startswith("ours") else f',"from":"{self.pid}"}}'
        self.presence_text = '{"v":1,"type":"presence","pose":{"p":[%.4f,%d,0],"q":[0,0,0,1]}' + tail

    async def open(self) -> None:
        self.ws = await connect(
            self.url,
            max_size=None,
            compression=None,
            max_queue=4 if self.spec.stall else 64,
            open_timeout=30,
            ping_interval=None,
        )
        if self.kind.startswith("ours"):
            await self.ws.send(
                json.dumps({"v": 1, "type": "join", "id": "j", "room": self.spec.room, "token": token(self.spec)})
            )
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
            await self.ws.send(json.dumps({"room": self.spec.room, "id": self.pid}))
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


async def run_python(
    server: Server, specs: list[ClientSpec], seconds: float, stall_seconds: float
) -> tuple[Totals, Window]:
    stats = Stats()
    bots = [Bot(server.kind, server.url, s, stats) for s in specs]
    for start in range(0, len(bots), 50):  # connect in waves
        await asyncio.gather(*(b.open() for b in bots[start : start + 50]))
    loop = asyncio.get_running_loop()
    stop = loop.time() + WARMUP_S + stall_seconds + seconds
    tasks = [asyncio.create_task(b.recv_loop()) for b in bots] + [asyncio.create_task(b.send_loop(stop)) for b in bots]
    window = Window(server, psutil.Process(), count_connections=stall_seconds > 0)
    await asyncio.sleep(WARMUP_S)
    stalled = [b for b in bots if b.spec.stall]
    window.start()
    for b in bots:
        b.measuring = not b.spec.stall
    for b in stalled:
        b.stalled.set()
    while loop.time() < stop - 0.05:
        await asyncio.sleep(min(0.5, stop - loop.time()))
        window.sample()
        if time.monotonic() - window.t0 >= stall_seconds:
            for b in stalled:
                b.stalled.clear()
    window.stop()
    for b in bots:
        b.measuring = False
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(b.close() for b in bots))
    lat = sorted(stats.latencies) or [float("nan")]
    totals = Totals(
        frames=stats.frames,
        bytes=stats.bytes,
        probe_updates=stats.probe_updates,
        moves=stats.moves,
        errors=stats.errors,
        p50=lat[len(lat) // 2],
        p99=lat[min(len(lat) - 1, int(len(lat) * 0.99))],
        elapsed=window.elapsed,
    )
    totals.notes += [
        f"{n} {what}" for n, what in ((stats.closed, "connections closed"), (stats.errors, "error frames")) if n
    ]
    return totals, window


# ---------------------------------------------------------------------------------------------
# one run, and the driver
# ---------------------------------------------------------------------------------------------


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
    generator: str = "node",
    stall: int = 0,
    stall_seconds: float = 0.0,
) -> Result:
    specs = plan(clients, room_size, stall)
    run = run_node if generator == "node" else run_python
    t, w = await run(server, specs, seconds, stall_seconds)
    if max(w.server_wait, w.gen_wait) > 10:
        t.notes.append(
            f"CPU contention: runnable but waiting for a CPU {w.server_wait:.0f} % of the window (server), "
            f"{w.gen_wait:.0f} % (generator)"
        )
    probes = sum(s.probe for s in specs)
    counted = sum(not s.stall for s in specs)
    per_client_s = counted / max(1, probes) / t.elapsed  # probe counts -> everyone, per s
    return Result(
        label=f"{clients}",
        server=server.kind,
        clients=clients,
        updates_per_s=t.probe_updates * per_client_s,
        p50=t.p50,
        p99=t.p99,
        frames_per_s=t.frames / t.elapsed,
        mb_per_s=t.bytes / t.elapsed / 1e6,
        moves_per_s=t.moves * per_client_s,
        cpu=w.server_cpu,
        rss_mib=w.rss_after / 2**20,
        gen_cpu=w.gen_cpu,
        errors=t.errors,
        extra={
            "rss_growth_mib": (w.rss_peak - w.rss_before) / 2**20,
            "frames_per_client_s": t.frames / t.elapsed / max(1, counted),
            "rest_rss_mib": server.rest_rss / 2**20,
            "load": w.load,
            "redis_cpu": w.redis_cpu,
            "closed": "n/a" if w.conns_before is None or w.conns_after is None else w.conns_before - w.conns_after,
            "notes": t.notes,
            "latency": t.latency,
        },
    )


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


class Bench:
    """Runs servers one at a time under the chosen generator; keeps the notes for under the tables."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.notes: list[str] = []

    async def measure(self, kind: str, clients: int, room_size: int, seconds: float, **kw: Any) -> Result | None:
        what = f"{kind}, {clients} clients in rooms of {room_size}" + (f", {kw['stall']} stalled" if kw else "")
        prefix = f"phygital-bench:{uuid.uuid4().hex}" if kind == "ours+redis" else None
        try:
            server = start_server(kind, prefix)
        except RuntimeError as exc:  # e.g. a port taken between finding it free and binding it
            self.note(f"{what}: run failed: {exc}")
            return None
        try:
            r = await run_load(server, clients, room_size, seconds, self.args.generator, **kw)
        except RuntimeError as exc:
            self.note(f"{what}: run failed: {exc}")
            return None
        finally:
            server.stop()
            if prefix:
                from redis import Redis

                red = Redis.from_url("redis://127.0.0.1:6379/0")
                keys = list(red.scan_iter(match=f"{prefix}:*"))
                if keys:
                    red.delete(*keys)
                red.close()
        for n in r.extra["notes"]:
            self.note(f"{what}: {n}")
        return r

    def note(self, text: str) -> None:
        self.notes.append(f"- {text}")
        print(self.notes[-1], file=sys.stderr, flush=True)


VERSUS_KINDS = ("reference", "ours", "colyseus")


def _median(values: list[float]) -> float:
    values = sorted(v for v in values if v == v)  # NaN (no sample) left out
    if not values:
        return float("nan")
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


async def versus(bench: Bench, args: argparse.Namespace, out: list[str], emit: Callable[[str], None]) -> None:
    """The issue's comparison: ours, the bare reference and Colyseus on the same scenarios, taking turns
    (the order rotates each repeat), several repeats; medians and ours/Colyseus ratios from this run."""
    kinds = [k for k in VERSUS_KINDS if k in (args.only_kinds or VERSUS_KINDS)]
    if "colyseus" in kinds and (why := colyseus_ready()):
        bench.note(f"Colyseus left out: {why}")
        kinds.remove("colyseus")
    scenarios: list[tuple[int, int]] = args.versus
    out.append(
        "### Ours, bare `websockets` and Colyseus, taking turns\n\n"
        "Each client sends its pose at 30 Hz and moves an object once a second; `N x M` is N clients in rooms of "
        f"M. {args.repeats} repeats, the servers' order rotating each repeat; each row below is one run.\n"
    )
    out.append(
        "| repeat | scenario | server | updates/s | p50 ms | p99 ms | server CPU | frames/client/s | MB/s received | "
        "RSS at rest MiB | RSS loaded MiB | generator CPU | load avg |\n" + "|---" * 13 + "|"
    )
    results: dict[tuple[int, int], dict[str, list[Result]]] = {sc: {k: [] for k in kinds} for sc in scenarios}
    for rep in range(args.repeats):
        order = kinds[rep % len(kinds) :] + kinds[: rep % len(kinds)]
        for n, size in scenarios:
            for kind in order:
                r = await bench.measure(kind, n, size, args.seconds)
                if r is None:
                    continue
                results[(n, size)][kind].append(r)
                emit(
                    f"| {rep + 1} | {n} x {size} | {kind} | {r.updates_per_s:,.0f} | {r.p50:.1f} | {r.p99:.1f} | "
                    f"{r.cpu:.0f} % | {r.extra['frames_per_client_s']:.1f} | {r.mb_per_s:.1f} | "
                    f"{r.extra['rest_rss_mib']:.0f} | "
                    f"{r.rss_mib:.0f} | {r.gen_cpu:.0f} % | {r.extra['load']:.1f} |"
                )
    out.append(
        "\nMedians over the repeats, and ours against Colyseus (the median of the per-repeat ratios; a ratio is "
        "taken between runs of the same repeat):\n"
    )
    out.append(
        "| scenario | server | updates/s | p99 ms | server CPU | frames/client/s | RSS at rest MiB | "
        "updates vs Colyseus | p99 vs Colyseus | CPU vs Colyseus |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    for (n, size), by_kind in results.items():
        theirs = by_kind.get("colyseus", [])
        for kind, rs in by_kind.items():
            if not rs:
                continue
            ratios = ["", "", ""]
            if kind != "colyseus" and theirs:
                pairs = list(zip(rs, theirs, strict=False))
                ratios = [
                    f"{_median([a.updates_per_s / b.updates_per_s for a, b in pairs if b.updates_per_s]):.2f}x",
                    f"{_median([a.p99 / b.p99 for a, b in pairs if b.p99]):.2f}x",
                    f"{_median([a.cpu / b.cpu for a, b in pairs if b.cpu]):.2f}x",
                ]
            emit(
                f"| {n} x {size} | {kind} | {_median([r.updates_per_s for r in rs]):,.0f} | "
                f"{_median([r.p99 for r in rs]):.1f} | {_median([r.cpu for r in rs]):.0f} % | "
                f"{_median([r.extra['frames_per_client_s'] for r in rs]):.1f} | "
                f"{_median([r.extra['rest_rss_mib'] for r in rs]):.0f} | {' | '.join(ratios)} |"
            )
    out.append("")


def _generator_info(generator: str) -> str:
    if generator == "python":
        return f"generator: Python {platform.python_version()} websockets"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    ws = json.loads((LOADGEN.parent / "node_modules" / "ws" / "package.json").read_text())["version"]
    return f"generator: node {node} loadgen.mjs (ws {ws})"


async def main(args: argparse.Namespace) -> str:
    with contextlib.suppress(AttributeError, OSError):
        if (psutil.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {0})
    bench = Bench(args)
    out: list[str] = []
    info = (
        f"{platform.node()} · Python {platform.python_version()} · {psutil.cpu_count()} cores · "
        f"{_generator_info(args.generator)}"
        + (f" in {GENERATOR_PROCESSES} processes" if GENERATOR_PROCESSES > 1 else "")
        + f" · load average {os.getloadavg()[0]:.1f} at start · "
        f"{args.seconds:g} s per run after {WARMUP_S:g} s warm-up"
    )
    out.append(f"Run: {time.strftime('%Y-%m-%d %H:%M')} · {info}\n")

    def emit(line: str) -> None:
        out.append(line)
        print(line, file=sys.stderr, flush=True)

    if not args.no_versus:
        await versus(bench, args, out, emit)
    kinds: list[str] = args.only_kinds or ["reference", "ours", "ours+redis"]
    pair = args.only_kinds or ["reference", "ours"]  # rooms and stall: Redis only when asked for
    one_room: dict[int, dict[str, Result]] = {}
    if not args.no_one_room:
        sizes = args.sizes or ([10, 50] if args.quick else [10, 50, 200])
        out.append("### One room, presence at 30 Hz + one move per second per client\n")
        out.append(HEADER)
        for n in sizes:
            one_room[n] = {}
            for kind in kinds:
                if kind == "ours+redis" and n != 50 and not args.sizes:
                    continue
                r = await bench.measure(kind, n, n, args.seconds)
                if r is not None:
                    one_room[n][kind] = r
                    emit(row(r, one_room[n].get("reference")))

        if 50 in one_room and "ours" in one_room[50] and "ours+redis" in one_room[50]:
            mem, red = one_room[50]["ours"], one_room[50]["ours+redis"]
            rc = red.extra.get("redis_cpu")
            out.append(
                "\nRedis hop at N = 50 (same run): p50 "
                f"{red.p50 - mem.p50:+.1f} ms, p99 {red.p99 - mem.p99:+.1f} ms, "
                f"server CPU {red.cpu - mem.cpu:+.0f} points"
                + (
                    f", redis-server {rc:.0f} % of a core (shared with anything else using it)"
                    if rc is not None
                    else ""
                )
            )

    if not args.no_rooms:
        totals = args.rooms or ([100, 500] if args.quick else [100, 500, 800, 1000])
        out.append("\n### Rooms of 10 clients on one server core\n")
        out.append(HEADER)
        for n in totals:
            ref: Result | None = None
            for kind in pair:
                r = await bench.measure(kind, n, 10, args.seconds)
                if r is not None:
                    ref = ref or r
                    emit(row(r, ref))

    if not args.no_stall:
        n_stall = 50 if args.quick else 200
        stall_s = 8.0 if args.quick else 20.0
        out.append(f"\n### {n_stall} clients in one room, 5 of them stop reading for {stall_s:.0f} s\n")
        out.append(
            "Each server runs the same load twice for the same time, once with no client stalled (its memory "
            "grows by itself too: the resume log keeps every delta of the last minute), once with 5 stalled; "
            "the stall's cost is the difference.\n"
        )
        out.append(
            "| server | RSS growth, 5 stalled MiB | RSS growth, none stalled MiB | stall's cost MiB | others' p99 ms "
            "| p99 none stalled ms | change | stalled clients closed by server | generator CPU |\n"
            "|---|---|---|---|---|---|---|---|---|"
        )
        for kind in pair:
            calm = await bench.measure(kind, n_stall, n_stall, stall_s)
            r = await bench.measure(kind, n_stall, n_stall, 0.0, stall=5, stall_seconds=stall_s)
            if calm is None or r is None:
                continue
            change = (r.p99 / calm.p99 - 1) * 100 if calm.p99 > 0 else float("nan")
            grown, calm_grown = r.extra["rss_growth_mib"], calm.extra["rss_growth_mib"]
            emit(
                f"| {kind} | {grown:.1f} | {calm_grown:.1f} | {grown - calm_grown:+.1f} | {r.p99:.1f} | "
                f"{calm.p99:.1f} | {change:+.0f} % | {r.extra['closed']} | {r.gen_cpu:.0f} % |"
            )
    if bench.notes:
        out.append("\nNotes:\n")
        out.extend(bench.notes)
    return "\n".join(out) + "\n"


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def _scenarios(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for part in text.split(","):
        n, _, size = part.strip().partition("x")
        if not (n.isdigit() and size.isdigit() and int(n) >= 1 and int(size) >= 1):
            raise argparse.ArgumentTypeError(f"expected CLIENTSxROOM_SIZE[,...] like 800x10, got {part.strip()!r}")
        out.append((int(n), int(size)))
    return out


def _kinds(text: str) -> list[str]:
    kinds = {k.strip() for k in text.split(",") if k.strip()}
    if not kinds or not kinds <= set(KINDS):
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(KINDS)}, got {text!r}")
    return [k for k in KINDS if k in kinds]  # the reference first: the others are compared with it


def cli() -> None:
    p = argparse.ArgumentParser(description="session server vs bare websockets reference (loopback)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and shorter stall")
    p.add_argument("--seconds", type=float, default=6.0, help="measured seconds per run")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    p.add_argument("--generator", choices=("node", "python"), default="node", help="load generator (default node)")
    p.add_argument(
        "--generator-processes",
        type=int,
        default=1,
        help="Node generator processes, each with its own event loop, the clients dealt out to them (default 1)",
    )
    p.add_argument("--only-kinds", type=_kinds, default=None, help=f"servers to run, subset of {','.join(KINDS)}")
    p.add_argument("--sizes", type=_ints, default=None, help="one-room sizes, e.g. 10,50,200")
    p.add_argument("--rooms", type=_ints, default=None, help="client totals in rooms of 10, e.g. 100,500,1000")
    p.add_argument("--no-one-room", action="store_true", help="skip the one-room runs")
    p.add_argument("--no-rooms", action="store_true", help="skip the rooms-of-10 runs")
    p.add_argument("--no-stall", action="store_true", help="skip the stall scenario")
    p.add_argument("--no-versus", action="store_true", help="skip the ours / reference / Colyseus comparison")
    p.add_argument(
        "--versus",
        type=_scenarios,
        default=[(800, 10), (1000, 10), (200, 200)],
        help="comparison scenarios as CLIENTSxROOM_SIZE, e.g. 800x10,1000x10,200x200 (the default)",
    )
    p.add_argument("--repeats", type=int, default=4, help="repeats of the comparison (default 4)")
    p.add_argument("--reference-server", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.reference_server is not None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(reference_server(args.reference_server))
        return
    if args.generator == "python" and not args.no_versus:
        print("bench_session: the comparison with Colyseus needs the node generator (or --no-versus)", file=sys.stderr)
        sys.exit(2)
    if args.generator == "node" and (why := node_ready()):
        print(f"bench_session: {why}", file=sys.stderr)
        sys.exit(2)
    global GENERATOR_PROCESSES
    GENERATOR_PROCESSES = args.generator_processes
    table = asyncio.run(main(args))
    print(table)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(table)
        tmp.replace(args.out)


if __name__ == "__main__":
    cli()
