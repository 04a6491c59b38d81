"""SessionNode.command under Redis scale-out: a command made on one process is applied by the process that
orders the room, answered back, and still works (with nothing lost) after that process is killed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from redis import Redis

from session_server.client import SessionClient
from session_server.server.app import make_backplane
from session_server.server.node import SessionNode
from session_server.settings import SessionSettings
from tests.conftest import TIME_FACTOR

from .conftest import SECRET, free_port, make_token
from .test_scaleout import REDIS_URL, spawn, wait_healthy

FIT = "fit.nice-03.1"
STAFF = "staff.nice-03"


def test_command_reaches_the_owner_process_and_survives_its_kill() -> None:
    prefix = f"phygital-test:{uuid.uuid4().hex}"
    port_a = free_port()
    proc_a = spawn(port_a, prefix)
    try:
        wait_healthy(port_a, proc_a)
        asyncio.run(asyncio.wait_for(scenario(port_a, proc_a, prefix), 90 * TIME_FACTOR))
    finally:
        proc_a.kill()
        proc_a.wait()
        r = Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()


async def scenario(port_a: int, proc_a: Any, prefix: str) -> None:
    url_a = f"ws://127.0.0.1:{port_a}/ws"
    mirror = SessionClient(url_a, FIT, make_token(FIT, "mirror-1", "mirror"), auto_resume=False)
    await mirror.connect()  # process A orders the fitting room
    staff = SessionClient(url_a, STAFF, make_token(STAFF, "eve", "staff"), auto_resume=False)
    await staff.connect()

    # process B: this test process, a node on the same Redis without any client of its own
    settings = SessionSettings(
        _env_file=None,  # type: ignore[call-arg]
        token_secret=SECRET,
        redis_url=REDIS_URL,
        redis_prefix=prefix,
        lease_ms=800,
    )
    node_b = SessionNode(settings, make_backplane(settings))
    seen_b: list[tuple[str, dict[str, Any]]] = []
    node_b.add_listener(lambda room, delta: seen_b.append((room, delta)))
    await node_b.start()
    try:
        read = await node_b.command(FIT, {"type": "item.read", "tag": "EPC-A", "sku": "SKIRT-1", "size": "38"})
        assert read["added"] is True
        await mirror.wait_until(lambda s: read["item"] in s.items, timeout=10 * TIME_FACTOR)
        assert not any(op["op"] == "item.added" for room, op in seen_b if room == FIT)  # A ordered it, not B

        made = await node_b.command(FIT, {"type": "request.create", "request": "req-1", "kind": "assistant"})
        assert made == {"request": "req-1", "created": True}
        await staff.wait_until(lambda s: "req-1" in s.requests, timeout=10 * TIME_FACTOR)  # forwarded by A

        proc_a.kill()  # the process that orders both rooms dies during the visit
        proc_a.wait()
        second = await node_b.command(FIT, {"type": "item.read", "tag": "EPC-B", "sku": "TOP-2"}, timeout=20)
        assert second["added"] is True and second["visit"] == read["visit"]
        done = await node_b.command(
            FIT, {"type": "request.update", "request": "req-1", "state": "accepted", "by_staff": "eve"}, timeout=20
        )
        assert done == {"request": "req-1", "state": "accepted"}
        hub = node_b.hubs[FIT]
        assert hub.leader is not None  # B orders the room now
        assert {i["tag"] for i in hub.leader.state.items.values()} == {"EPC-A", "EPC-B"}  # nothing lost
        assert [op["op"] for room, op in seen_b if room == FIT][-2:] == ["item.added", "request.updated"]
        # the staff room follows too: B took it over when the forwarded update arrived
        for _ in range(int(200 * TIME_FACTOR)):
            staff_hub = node_b.hubs.get(STAFF)
            if staff_hub is not None and staff_hub.mirror.requests.get("req-1", {}).get("state") == "accepted":
                break
            await asyncio.sleep(0.05)
        assert node_b.hubs[STAFF].mirror.requests["req-1"]["state"] == "accepted"
    finally:
        await mirror.abort()
        await staff.abort()
        await node_b.drain()
