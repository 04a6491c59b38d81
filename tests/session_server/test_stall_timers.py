"""A server stopped (SIGSTOP) for longer than a room timer does not charge the stop to its participants (issue 13,
"Fair under stalls"): a lock holder that moved just before the stop still holds its lock after it, though the stop
outlasted ``lock_ttl``, and nobody is dropped as quiet, though it outlasted ``quiet_timeout``; the lock still
lapses once ``lock_ttl`` of the server running passed without an edit.

A real server subprocess with a 2 s ``lock_ttl`` (or ``quiet_timeout``) stopped for 3.5 s, in memory and alone on
Redis.  The stop is over once the server answers a request sent after SIGCONT; that turn ran the room's timers, so
a lock or a seat charged with the stop is gone by then.  On the old server the holder's next move was refused
``lock_required`` (both backplanes), and on Redis the first request after the stop ``not_joined`` (the room's
first turn dropped every participant as quiet before the attendance read meanwhile reached it)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid

import pytest

from session_server.client import SessionClient
from session_server.protocol.deltas import Delta
from tests.conftest import TIME_FACTOR

from .conftest import make_token
from .procs import ServerProcess, clean_redis, redis_env

ROOM = "stall-timer-room"
TTL_S = 2.0
STOP_S = TTL_S + 1.5


async def scenario(srv: ServerProcess, timer: str) -> None:
    """Lock and move, stop the server past the ``timer``, move again: acknowledged, nothing released or dropped."""
    assert srv.proc is not None
    seen: list[Delta] = []
    timeout = 60 * TIME_FACTOR
    holder, watcher = (
        SessionClient(
            srv.url,
            ROOM,
            make_token(ROOM, pid),
            auto_resume=False,
            heartbeat=3600,
            request_timeout=timeout,
            on_delta=seen.append if pid == "watcher" else None,
        )
        for pid in ("holder", "watcher")
    )
    await holder.connect()
    await watcher.connect()
    await holder.request("object.place", object="sofa", sku="SKU-1", pose={"p": [0, 0, 0]})
    await holder.request("object.lock", object="sofa")
    await holder.request("object.move", object="sofa", pose={"p": [1.0, 0, 0]})
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(STOP_S)
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    await watcher.request("chat", text="back")  # answered: a turn after the stop ran the room's timers
    answer = await holder.request("object.move", object="sofa", pose={"p": [2.0, 0, 0]})
    assert answer["type"] == "ack"
    assert [d for d in seen if d.op in ("lock.release", "participant.status")] == []
    assert holder.errors == [] and watcher.errors == []
    assert srv.health()["stalled_s"] >= STOP_S - 0.5  # the server knew it had stopped
    if timer == "lock_ttl":  # the credit is the stop, no more: without edits the lock lapses after lock_ttl running
        await watcher.wait_until(lambda s: "sofa" not in s.locks, timeout=timeout)
    assert all(p.connected for p in watcher.mirror.state.participants.values())
    await holder.close()
    await watcher.close()


@pytest.mark.parametrize("timer", ["lock_ttl", "quiet_timeout"])
@pytest.mark.parametrize("backplane", ["memory", "redis"])
def test_a_stop_longer_than_a_room_timer_is_not_charged_to_participants(backplane: str, timer: str) -> None:
    prefix = f"phygital-test:{uuid.uuid4().hex}"
    env = {**(redis_env(prefix) if backplane == "redis" else {}), f"PHYGITAL_SESSION_{timer.upper()}_S": str(TTL_S)}
    srv = ServerProcess(env).start()
    try:
        asyncio.run(asyncio.wait_for(scenario(srv, timer), 120 * TIME_FACTOR))
        log = srv.log()
        assert "lease lost" not in log and "ERROR" not in log, log[-2000:]
    finally:
        srv.close()
        clean_redis(prefix)
