"""Two server processes, one Redis: same order everywhere; kill the lease holder, nothing is lost."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from session_server.client import SessionClient
from session_server.protocol.deltas import Delta
from tests.conftest import TIME_FACTOR

from .conftest import SECRET, free_port, make_token

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
ROOM = "showroom"


def spawn(port: int, prefix: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
        "PHYGITAL_SESSION_REDIS_URL": REDIS_URL,
        "PHYGITAL_SESSION_REDIS_PREFIX": prefix,
        "PHYGITAL_SESSION_LEASE_MS": "800",
    }
    debug = bool(os.environ.get("SCALEOUT_DEBUG"))
    return subprocess.Popen(
        [sys.executable, "-m", "session_server", "serve", "--port", str(port), *([] if debug else ["--quiet"])],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=None if debug else subprocess.DEVNULL,
        text=True,
    )


def wait_healthy(port: int, proc: subprocess.Popen[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health").json()  # type: ignore[no-any-return]
        except httpx.TransportError:
            assert proc.poll() is None, "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def test_two_processes_share_a_room_and_survive_a_kill() -> None:
    prefix = f"phygital-test:{uuid.uuid4().hex}"
    port_a, port_b = free_port(), free_port()
    proc_a, proc_b = spawn(port_a, prefix), spawn(port_b, prefix)
    url_a, url_b = f"ws://127.0.0.1:{port_a}/ws", f"ws://127.0.0.1:{port_b}/ws"
    try:
        wait_healthy(port_a, proc_a)
        wait_healthy(port_b, proc_b)
        asyncio.run(asyncio.wait_for(scenario(url_a, url_b, port_a, proc_a), 90 * TIME_FACTOR))
    finally:
        for p in (proc_a, proc_b):
            p.kill()
            p.wait()
        r = Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()


async def scenario(url_a: str, url_b: str, port_a: int, proc_a: subprocess.Popen[str]) -> None:
    seen: dict[str, list[Delta]] = {}
    clients: dict[str, SessionClient] = {}
    names = [("a1", url_a, url_b), ("b1", url_b, url_a), ("a2", url_a, url_b), ("b2", url_b, url_a)]
    for name, first, second in names:
        seen[name] = []
        c = SessionClient([first, second], ROOM, make_token(ROOM, name), on_delta=seen[name].append)
        await c.connect()
        clients[name] = c
    assert httpx.get(f"http://127.0.0.1:{port_a}/health").json()["leading"] == 1  # a1 joined first

    async def work(name: str, rounds: int, tag: str) -> None:
        c = clients[name]
        oid = f"{name}-obj"
        if oid not in c.mirror.state.objects:
            await c.request("object.place", object=oid, sku="SKU-" + name, pose={"p": [0, 0, 0]})
        await c.request("object.lock", object=oid)
        for i in range(rounds):
            await c.request("object.move", object=oid, pose={"p": [float(i), 0, 0]}, id=f"{name}-{tag}-{i}")
            await c.send_presence([float(i), 1.6, 0])

    await asyncio.gather(*(work(n, 10, "one") for n, *_ in names))
    final_rev = max(c.mirror.revision for c in clients.values())
    for c in clients.values():
        await c.wait_until(lambda s: s.revision >= final_rev, timeout=10)
    orders = {n: [(d.rev, d.op, d.data.get("object")) for d in seen[n] if d.rev > 6] for n in seen}
    assert len({tuple(o) for o in orders.values()}) == 1, "every client saw the same order"
    for _ in range(50):  # presence crosses processes within a few ticks
        if clients["a1"].mirror.presence.get("b1", [0])[0] == clients["b1"].mirror.presence.get("a1", [0])[0] == 9:
            break
        await asyncio.sleep(0.05)
    assert clients["a1"].mirror.presence["b1"][0] == 9.0 and clients["b1"].mirror.presence["a1"][0] == 9.0

    # kill the process that holds the lease, while everyone keeps working
    async def killer() -> None:
        await asyncio.sleep(0.05)
        proc_a.kill()

    try:
        await asyncio.gather(killer(), *(work(n, 15, "two") for n, *_ in names))
    except TimeoutError:
        for n, c in clients.items():
            print(
                "DEBUG",
                n,
                c.url,
                c.resumes,
                c.mirror.revision,
                list(c._pending),
                [f for _, _, f in c._acked],
                c.errors[-3:],
            )
        raise
    assert clients["a1"].resumes >= 1 and clients["a2"].resumes >= 1
    final_rev = max(c.mirror.revision for c in clients.values())
    for c in clients.values():
        await c.wait_until(
            lambda s: s.revision >= final_rev and all(p.connected for p in s.participants.values()), timeout=15
        )
    snaps = [c.mirror.state.public_snapshot() for c in clients.values()]
    assert all(s == snaps[0] for s in snaps)
    state = clients["b1"].mirror.state
    for name, *_ in names:
        assert state.objects[f"{name}-obj"].pose[0] == 14.0  # the last acknowledged move of each client
    # every request applied exactly once, none lost
    for name in seen:
        reqs = Counter(d.data.get("req") for d in seen[name] if d.op == "object.move")
        assert all(n == 1 for n in reqs.values())
        for other, *_ in names:
            for tag, rounds in (("one", 10), ("two", 15)):
                for i in range(rounds):
                    assert reqs[f"{other}-{tag}-{i}"] == 1, (name, other, tag, i)
    for c in clients.values():
        await c.close()


def test_resume_on_a_process_that_never_saw_the_room(start_server: Any) -> None:
    prefix = f"phygital-test:{uuid.uuid4().hex}"
    redis = {"redis_url": REDIS_URL, "redis_prefix": prefix}
    srv_a, srv_b = start_server(**redis), start_server(**redis)

    async def main() -> None:
        a1 = SessionClient(srv_a.url, ROOM, make_token(ROOM, "a1"), auto_resume=False)
        a2 = SessionClient(srv_a.url, ROOM, make_token(ROOM, "a2"))
        await a1.connect()
        await a2.connect()
        await a1.request("object.place", object="lamp", sku="LAMP", pose={"p": [0, 0, 0]})
        await a2.wait_until(lambda s: "lamp" in s.objects)
        seen = a1.mirror.revision
        await a1.abort()
        await a2.wait_until(lambda s: not s.participants["a1"].connected)
        await a2.request("object.lock", object="lamp")
        for i in range(5):
            await a2.request("object.move", object="lamp", pose={"p": [float(i), 0, 0]})
        await asyncio.sleep(2.2)  # the next commit writes a checkpoint newer than a1's revision
        await a2.request("object.move", object="lamp", pose={"p": [9.0, 0, 0]})
        assert ROOM not in srv_b.node.hubs
        a1._closing = False
        welcome = await a1.resume(srv_b.url)
        assert welcome["resumed"] is True
        assert [d["rev"] for d in welcome["deltas"]] == list(range(seen + 1, welcome["revision"] + 1))
        await a1.wait_until(lambda s: s.revision >= a2.mirror.revision)
        assert a1.mirror.state.public_snapshot()["objects"] == a2.mirror.state.public_snapshot()["objects"]
        await a1.close()
        await a2.close()

    try:
        asyncio.run(asyncio.wait_for(main(), 60 * TIME_FACTOR))
    finally:
        srv_a.stop()
        srv_b.stop()
        r = Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()
