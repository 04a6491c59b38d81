"""Failover on Redis with real server processes: ``kill -9`` of a room's leader, round after round, loses
no acknowledged change and applies none twice; a refusal survives its leader; a stopped leader that
another process replaced writes nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections import Counter
from typing import Any

import pytest

from session_server.client import SessionClient, SessionError
from session_server.protocol.deltas import Delta
from tests.conftest import TIME_FACTOR

from .conftest import make_token
from .procs import ServerProcess, clean_redis, redis_env

ROOM = "failover-room"
LEASE_MS = 600


def leader_of(procs: list[ServerProcess]) -> ServerProcess:
    leading = [p for p in procs if p.proc is not None and p.proc.poll() is None and p.health()["leading"] == 1]
    assert len(leading) == 1, [p.health() for p in procs]
    return leading[0]


async def wait_leader(procs: list[ServerProcess], timeout: float = 10.0) -> ServerProcess:
    deadline = asyncio.get_running_loop().time() + timeout * TIME_FACTOR
    while True:
        try:
            return await asyncio.to_thread(leader_of, procs)
        except AssertionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.fixture
def pair() -> Any:
    prefix = f"phygital-test:{uuid.uuid4().hex}"
    env = {**redis_env(prefix, LEASE_MS), "PHYGITAL_SESSION_QUIET_TIMEOUT_S": "3"}
    procs = [ServerProcess(env), ServerProcess(env)]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.close()
        clean_redis(prefix)


def test_a_refusal_survives_the_leader_and_a_retry_gets_it_again(pair: list[ServerProcess]) -> None:
    a, b = pair

    async def main() -> None:
        z = SessionClient(a.url, ROOM, make_token(ROOM, "zoe"), auto_resume=False)
        await z.connect()  # the room starts on a: a leads it
        assert a.health()["leading"] == 1
        x = SessionClient(b.url, ROOM, make_token(ROOM, "xavier"))
        y = SessionClient(b.url, ROOM, make_token(ROOM, "yara"))
        await x.connect()
        await y.connect()
        await x.request("object.place", object="sofa", sku="SOFA-1", pose={"p": [0, 0, 0]})
        await asyncio.sleep(2.2)  # the next commit carries a checkpoint, the refusal's does not
        await x.request("object.lock", object="sofa")
        with pytest.raises(SessionError) as refused:
            await y.request("object.move", id="move-1", object="sofa", pose={"p": [5, 0, 0]})
        assert refused.value.code == "locked"
        a.kill()  # the leader dies with the refusal in its memory
        await x.request("object.unlock", object="sofa", id="unlock-1")  # ordered by b once it took over
        assert b.health()["leading"] == 1
        await y.request("object.lock", object="sofa", id="lock-2")  # y holds the lock now
        with pytest.raises(SessionError) as again:  # yet the same id gets the same answer, not applied
            await y.request("object.move", id="move-1", object="sofa", pose={"p": [5, 0, 0]})
        assert again.value.code == "locked" and str(again.value) == str(refused.value)
        await y.wait_until(lambda s: s.objects["sofa"].pose[0] == 0.0)
        await y.request("object.move", id="move-2", object="sofa", pose={"p": [7, 0, 0]})  # a new id is applied
        await x.wait_until(lambda s: s.objects["sofa"].pose[0] == 7.0)
        for c in (x, y):
            await c.close()

    asyncio.run(asyncio.wait_for(main(), 60 * TIME_FACTOR))


async def _workers(
    clients: dict[str, SessionClient], acked: dict[str, list[str]], stop: asyncio.Event, tag: str
) -> None:
    async def work(name: str) -> None:
        c = clients[name]
        i = 0
        while not stop.is_set():
            rid = f"{name}-{tag}-{i}"
            await c.request("object.move", id=rid, object=f"obj-{name}", pose={"p": [float(i), 0, 0]})
            acked[name].append(rid)
            i += 1
            await asyncio.sleep(0.02)

    await asyncio.gather(*(work(n) for n in clients))


def test_kill_the_leader_five_times_nothing_acked_is_lost_or_doubled(pair: list[ServerProcess]) -> None:
    async def main() -> None:
        seen: dict[str, list[Delta]] = {}
        clients: dict[str, SessionClient] = {}
        for i in range(4):
            name = f"c{i}"
            urls = [pair[i % 2].url, pair[1 - i % 2].url]
            seen[name] = []
            c = SessionClient(urls, ROOM, make_token(ROOM, name), on_delta=seen[name].append, request_timeout=30)
            await c.connect()
            await c.request("object.place", object=f"obj-{name}", sku="SKU", pose={"p": [0, 0, 0]})
            await c.request("object.lock", object=f"obj-{name}")
            clients[name] = c
        acked: dict[str, list[str]] = {n: [] for n in clients}
        for rnd in range(5):
            stop = asyncio.Event()
            work = asyncio.create_task(_workers(clients, acked, stop, f"r{rnd}"))
            await asyncio.sleep(1.0)
            victim = await wait_leader(pair)
            victim.kill()
            await asyncio.sleep(1.5)
            stop.set()
            await work
            await asyncio.to_thread(victim.start)  # back on the same port, as a new process
        last = max(c.mirror.revision for c in clients.values())
        for c in clients.values():
            await c.wait_until(lambda s: s.revision >= last, timeout=15)
        snaps = [c.mirror.state.public_snapshot()["objects"] for c in clients.values()]
        assert all(s == snaps[0] for s in snaps)
        for name, c in clients.items():
            applied = Counter(d.data.get("req") for d in seen[name] if d.op == "object.move")
            assert all(n == 1 for n in applied.values()), [r for r, n in applied.items() if n > 1]
            for other, ids in acked.items():
                missing = [rid for rid in ids if applied[rid] != 1]
                assert not missing, (name, other, missing[:5])
                last_pose = float(ids[-1].rsplit("-", 1)[1])
                assert c.mirror.state.objects[f"obj-{other}"].pose[0] == last_pose
        assert sum(len(ids) for ids in acked.values()) > 40
        assert sum(c.resumes for c in clients.values()) >= 5  # every round moved someone
        for c in clients.values():
            await c.close()

    asyncio.run(asyncio.wait_for(main(), 180 * TIME_FACTOR))


def test_a_stopped_leader_replaced_meanwhile_writes_nothing(pair: list[ServerProcess]) -> None:
    async def main() -> None:
        seen: list[Delta] = []
        clients = {
            "a1": SessionClient([pair[0].url, pair[1].url], ROOM, make_token(ROOM, "a1"), request_timeout=30),
            "b1": SessionClient([pair[1].url, pair[0].url], ROOM, make_token(ROOM, "b1"), on_delta=seen.append),
        }
        for name, c in clients.items():
            await c.connect()
            await c.request("object.place", object=f"obj-{name}", sku="SKU", pose={"p": [0, 0, 0]})
            await c.request("object.lock", object=f"obj-{name}")
        old = await wait_leader(pair)
        assert old is pair[0] and old.proc is not None
        acked: dict[str, list[str]] = {n: [] for n in clients}
        stop = asyncio.Event()
        work = asyncio.create_task(_workers(clients, acked, stop, "s"))
        await asyncio.sleep(0.5)
        os.kill(old.proc.pid, signal.SIGSTOP)  # a1's requests wait in a's socket meanwhile
        try:
            await asyncio.sleep(3 * LEASE_MS / 1000 + 1.0)
            assert pair[1].health()["leading"] == 1  # b took the room over
        finally:
            os.kill(old.proc.pid, signal.SIGCONT)
        await asyncio.sleep(1.5)
        stop.set()
        await work
        assert await wait_leader(pair) is pair[1]  # a follows now
        last = max(c.mirror.revision for c in clients.values())
        for c in clients.values():
            await c.wait_until(lambda s: s.revision >= last, timeout=15)
        applied = Counter(d.data.get("req") for d in seen if d.op == "object.move")
        assert all(n == 1 for n in applied.values())
        for ids in acked.values():
            assert all(applied[rid] == 1 for rid in ids)
        assert acked["a1"] and acked["b1"]
        for c in clients.values():
            await c.close()

    asyncio.run(asyncio.wait_for(main(), 90 * TIME_FACTOR))
