"""Robustness benchmark of the session server: failover after ``kill -9`` and stalls of the server.

``failover``: two server processes on Redis.  Each round starts two fresh clients on each process
(moving their own object as fast as the acks come, one request at a time), kills the process that holds
the room's lease, and measures from the kill:

* first ack on the survivor: the first ack to a request sent after the kill by a client connected to
  the surviving process (the room is ordered again);
* all clients acked: until every client, those of the killed process included (they reconnect to the
  survivor and ``resume``), has an ack to a request sent after the kill.

The killed process is started again on its port before the next round, so each round kills the
process that took over in the one before.  Counted in each round: acknowledged moves missing from the
log or in it twice.

``stall``: one server process (in memory, or alone on Redis), twenty clients sending presence at half
the allowed rate and a move a second; the server is stopped (SIGSTOP) for 5 s, then for 13 s.  Counted:
``rate_limited`` errors, moves refused, clients closed, ``lease lost`` lines in the server's log.

Not tests: nothing here is held against a threshold.  ``--reference DIR`` runs the same, in the same
run, against the server code in ``DIR`` (e.g. an earlier commit: ``git archive 8e9bb86 session_server
assets_pipeline tryon scanning | tar -x -C /tmp/before``) with its own default settings.

Usage::

    .venv/bin/python tests/benchmarks/bench_session_robust.py failover [--rounds 5] [--lease-ms 600,3000]
        [--reference DIR] [--out FILE.md]
    .venv/bin/python tests/benchmarks/bench_session_robust.py stall [--reference DIR] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from session_server.client import SessionClient, SessionError  # noqa: E402
from session_server.protocol import auth  # noqa: E402
from session_server.protocol.deltas import Delta  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET = "bench-secret-" + uuid.uuid4().hex
ROOM = "failover-bench"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Server:
    def __init__(self, port: int, prefix: str | None, lease_ms: int, code: Path = ROOT) -> None:
        self.port, self.prefix, self.lease_ms, self.code = port, prefix, lease_ms, code
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="failover-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(self.code),
            "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
        }
        if self.prefix is not None:
            env |= {"PHYGITAL_SESSION_REDIS_URL": REDIS_URL, "PHYGITAL_SESSION_REDIS_PREFIX": self.prefix}
        if self.lease_ms:
            env["PHYGITAL_SESSION_LEASE_MS"] = str(self.lease_ms)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "session_server", "serve", "--port", str(self.port), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            cwd=self.code,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2)
                return
            except httpx.TransportError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {Path(self.log.name).read_text()[-500:]}") from None
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def leading(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return bool(httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).json()["leading"])
        except httpx.TransportError:
            return False

    def text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@dataclass
class Round:
    code: str
    lease_ms: int
    number: int
    first_ack_s: float = float("nan")
    all_acked_s: float = float("nan")
    acked: int = 0
    lost: int = 0
    doubled: int = 0
    load: str = ""
    moved: int = 0
    errors: list[str] = field(default_factory=list)


async def one_round(servers: list[Server], label: str, lease_ms: int, number: int) -> Round:
    result = Round(label, lease_ms, number)
    seen: list[Delta] = []
    clients: dict[str, tuple[SessionClient, Server]] = {}
    for i, home in enumerate([servers[0], servers[1], servers[0], servers[1]]):
        other = servers[1] if home is servers[0] else servers[0]
        name = f"r{number}-c{i}"
        token = auth.sign(auth.Claims(ROOM, name, "phone", time.time() + 600), SECRET.encode())
        c = SessionClient([home.url, other.url], ROOM, token, request_timeout=30)
        await c.connect()
        await c.request("object.place", object=f"obj-{name}", sku="SKU", pose={"p": [0, 0, 0]})
        await c.request("object.lock", object=f"obj-{name}")
        clients[name] = (c, home)
    leader = None
    for _ in range(200):
        flags = [await asyncio.to_thread(s.leading) for s in servers]
        leader = next((s for s, lead in zip(servers, flags, strict=True) if lead), None)
        if leader is not None:
            break
        await asyncio.sleep(0.05)
    assert leader is not None, "no process leads the room"
    survivor = next(s for s in servers if s is not leader)
    watcher_name = next(n for n, (_, home) in clients.items() if home is survivor)
    clients[watcher_name][0].on_delta = seen.append
    acks: dict[str, list[tuple[float, float, str]]] = {n: [] for n in clients}
    stop = asyncio.Event()

    async def work(name: str) -> None:
        c = clients[name][0]
        i = 0
        while not stop.is_set():
            rid = f"{name}-{i}"
            sent = time.monotonic()
            try:
                await c.request("object.move", id=rid, object=f"obj-{name}", pose={"p": [float(i), 0, 0]})
                acks[name].append((sent, time.monotonic(), rid))
            except (SessionError, TimeoutError) as exc:
                result.errors.append(f"{name}: {exc}")
            i += 1
            await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(work(n)) for n in clients]
    await asyncio.sleep(1.5)
    killed_at = time.monotonic()
    leader.kill()
    result.load = loadavg()
    await asyncio.sleep(max(3.0, 3 * (lease_ms or 3000) / 1000 + 1.0))
    stop.set()
    await asyncio.gather(*tasks)
    after = {n: next((got for sent, got, _ in a if sent > killed_at), float("nan")) for n, a in acks.items()}
    on_survivor = [after[n] for n, (_, home) in clients.items() if home is survivor]
    result.first_ack_s = min(on_survivor) - killed_at
    result.all_acked_s = max(after.values()) - killed_at
    result.moved = sum(c.resumes for c, _ in clients.values())
    # every acknowledged move once in the log (as seen by a client of the survivor)
    watcher = clients[watcher_name][0]
    last = max(c.mirror.revision for c, _ in clients.values())
    await watcher.wait_until(lambda s: s.revision >= last, timeout=15)
    applied = Counter(d.data.get("req") for d in seen if d.op == "object.move")
    ids = [rid for a in acks.values() for _, _, rid in a]
    result.acked = len(ids)
    result.lost = sum(1 for rid in ids if applied[rid] == 0)
    result.doubled = sum(1 for n in applied.values() if n > 1)
    for c, _ in clients.values():
        await c.close()
    await asyncio.to_thread(leader.start)
    await asyncio.sleep(1.0)
    return result


async def run(label: str, code: Path, lease_ms: int, rounds: int) -> list[Round]:
    prefix = f"phygital-bench:{uuid.uuid4().hex}"
    servers = [Server(free_port(), prefix, lease_ms, code), Server(free_port(), prefix, lease_ms, code)]
    try:
        for s in servers:
            await asyncio.to_thread(s.start)
        out = []
        for n in range(1, rounds + 1):
            r = await one_round(servers, label, lease_ms, n)
            print(
                f"{label}, lease {lease_ms or 'default'} ms, round {n}: "
                f"first ack on survivor {r.first_ack_s * 1000:.0f} ms, "
                f"all clients {r.all_acked_s * 1000:.0f} ms, acked {r.acked}, lost {r.lost}, doubled {r.doubled}, "
                f"refused {len(r.errors)} {r.errors[:2]}, load {r.load}",
                flush=True,
            )
            out.append(r)
        return out
    finally:
        for s in servers:
            s.close()
        clean(prefix)


def table(results: list[Round]) -> str:
    lines = [
        "| code | lease | round | first ack on survivor | all clients acked again | moves acked | lost | doubled "
        "| refused | load avg |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.code} | {r.lease_ms or 'default'} ms | {r.number} | {r.first_ack_s * 1000:.0f} ms | "
            f"{'never' if r.all_acked_s != r.all_acked_s else f'{r.all_acked_s * 1000:.0f} ms'} | "
            f"{r.acked} | {r.lost} | {r.doubled} | {len(r.errors)} | {r.load} |"
        )
    by_lease: dict[tuple[str, int], list[Round]] = {}
    for r in results:
        by_lease.setdefault((r.code, r.lease_ms), []).append(r)
    lines.append("")
    for (code, lease), rs in by_lease.items():
        firsts = [r.first_ack_s * 1000 for r in rs]
        alls = [r.all_acked_s * 1000 for r in rs if r.all_acked_s == r.all_acked_s]  # nan: someone never got back
        back = (
            f"all clients median {statistics.median(alls):.0f} ms (max {max(alls):.0f}) "
            f"in {len(alls)} of {len(rs)} rounds"
            if alls
            else "in no round did every client get an ack again"
        )
        lines.append(
            f"- {code}, lease {lease or 'default'} ms: first ack on survivor median {statistics.median(firsts):.0f} ms "
            f"(max {max(firsts):.0f}), {back}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# stall: SIGSTOP of one server, 5 s then 13 s, twenty clients at half the allowed rate
# ---------------------------------------------------------------------------------------------

STALL_CLIENTS = 20
STALL_PRESENCE_HZ = 30.0


@dataclass
class StallResult:
    code: str
    backplane: str
    rate_limited: int = 0
    other_errors: int = 0
    moves: int = 0
    moves_refused: int = 0
    closed: int = 0
    lease_lost: int = 0
    load: str = ""


def clean(prefix: str | None) -> None:
    if prefix is None:
        return
    r = Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{prefix}:*"))
    if keys:
        r.delete(*keys)
    r.close()


async def stall_run(label: str, code: Path, backplane: str) -> StallResult:
    result = StallResult(label, backplane)
    prefix = f"phygital-bench:{uuid.uuid4().hex}" if backplane == "redis" else None
    srv = Server(free_port(), prefix, 0, code)
    room = "stall-bench"
    try:
        await asyncio.to_thread(srv.start)
        assert srv.proc is not None
        clients = []
        for i in range(STALL_CLIENTS):
            token = auth.sign(auth.Claims(room, f"p{i}", "phone", time.time() + 600), SECRET.encode())
            c = SessionClient(srv.url, room, token, request_timeout=60, auto_resume=False)
            await c.connect()
            await c.request("object.place", object=f"obj-{i}", sku="SKU", pose={"p": [0, 0, 0]})
            await c.request("object.lock", object=f"obj-{i}")
            clients.append(c)
        running = True
        moves: list[asyncio.Task[Any]] = []

        async def presence(c: SessionClient, i: int) -> None:
            n = 0
            while running and c._ws is not None and c._ws.close_code is None:
                await c.send_presence([float(n % 100), 1.6, float(i)])
                n += 1
                await asyncio.sleep(1 / STALL_PRESENCE_HZ)

        async def mover(c: SessionClient, i: int) -> None:
            n = 0
            while running and c._ws is not None and c._ws.close_code is None:
                pose = {"p": [float(n), 0.0, 0.0]}
                moves.append(asyncio.create_task(c.request("object.move", object=f"obj-{i}", pose=pose)))
                n += 1
                await asyncio.sleep(1.0)

        loops = [asyncio.create_task(presence(c, i)) for i, c in enumerate(clients)]
        loops += [asyncio.create_task(mover(c, i)) for i, c in enumerate(clients)]
        await asyncio.sleep(2.0)
        for stall in (5.0, 13.0):
            os.kill(srv.proc.pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(stall)
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            result.load = loadavg()
            await asyncio.sleep(3.0)
        running = False
        await asyncio.gather(*loops)
        answers = await asyncio.gather(*(asyncio.wait_for(t, 20) for t in moves), return_exceptions=True)
        result.moves = len(answers)
        result.moves_refused = sum(1 for a in answers if isinstance(a, BaseException))
        for c in clients:
            codes = [e.get("code") for e in c.errors]
            result.rate_limited += codes.count("rate_limited")
            result.other_errors += sum(1 for code in codes if code != "rate_limited")
            result.closed += int(c._ws is None or c._ws.close_code is not None)
        for c in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(c.close(), 5)
        text = srv.text()
        result.lease_lost = text.count("lease lost")
        if result.moves_refused:
            refusals = {type(a).__name__ + ": " + str(a)[:80] for a in answers if isinstance(a, BaseException)}
            print(f"refusals: {sorted(refusals)[:5]}\nserver log (end):\n{text[-12000:]}", flush=True)
        print(result, flush=True)
        return result
    finally:
        srv.close()
        clean(prefix)


def stall_table(results: list[StallResult]) -> str:
    lines = [
        "| code | backplane | `rate_limited` errors | other errors | moves refused / sent | clients closed (of 20) "
        "| `lease lost` logged | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.code} | {r.backplane} | {r.rate_limited} | {r.other_errors} | {r.moves_refused} / {r.moves} | "
            f"{r.closed} | {r.lease_lost} | {r.load} |"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> str:
    if args.mode == "stall":
        stalls: list[StallResult] = []
        if args.reference is not None:
            ref = args.reference.resolve()
            stalls.append(await stall_run(f"reference ({args.reference.name})", ref, "memory"))
        for backplane in args.backplanes:
            stalls.append(await stall_run("this tree", ROOT, backplane))
        return stall_table(stalls)
    results: list[Round] = []
    if args.reference is not None:
        results += await run(f"reference ({args.reference.name})", args.reference.resolve(), 0, args.rounds)
    for lease in args.lease_ms:
        results += await run("this tree", ROOT, lease, args.rounds)
    return table(results)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["failover", "stall"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lease-ms", type=lambda t: [int(x) for x in t.split(",")], default=[600])
    parser.add_argument("--reference", type=Path, help="a checkout of other server code to run the same on")
    parser.add_argument("--backplanes", type=lambda t: t.split(","), default=["memory", "redis"])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = f"load average at start {loadavg()}\n\n" + asyncio.run(main(args))
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    cli()
