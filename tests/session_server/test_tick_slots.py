"""The rooms' presence ticks are spread over the period (``TICK_SLOTS``): every slot's rooms still tick."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from session_server.client import SessionClient
from session_server.server.node import TICK_SLOTS

from .conftest import RunningServer, make_token, run


async def joined(srv: RunningServer, room: str, pid: str) -> SessionClient:
    c = SessionClient(srv.url, room, make_token(room, pid))
    await c.connect()
    return c


def test_rooms_are_spread_over_the_slots_and_each_slot_ticks(start_server: Any) -> None:
    """Rooms take the least used slot (one each here), and a pose reaches the other client in every room."""
    srv = start_server()
    node = srv.node
    rooms = [f"slots-{i}" for i in range(TICK_SLOTS + 2)]

    async def main() -> None:
        pairs = []
        for room in rooms:
            pairs.append((await joined(srv, room, "ana"), await joined(srv, room, "ben")))
        slots = Counter(node.tick_slots[room] for room in rooms)
        assert set(slots) == set(range(TICK_SLOTS))
        assert max(slots.values()) - min(slots.values()) <= 1
        assert set(node.tick_slots) == set(node.hubs)
        for i, (a, _) in enumerate(pairs):
            await a.send_presence([i + 0.5, 1.6, 0])
        for i, (_, b) in enumerate(pairs):
            for _ in range(200):
                if b.mirror.presence.get("ana", [None])[0] == i + 0.5:
                    break
                await asyncio.sleep(0.05)
            assert b.mirror.presence["ana"][0] == i + 0.5, rooms[i]
        for a, b in pairs:
            await a.close()
            await b.close()

    run(main())


def test_a_new_room_takes_the_least_used_slot(start_server: Any) -> None:
    """``free_tick_slot`` picks the slot with the fewest rooms, the lowest of equals."""
    srv = start_server()
    node = srv.node

    async def main() -> None:
        clients = [await joined(srv, f"least-{i}", "ana") for i in range(3)]
        assert sorted(node.tick_slots[f"least-{i}"] for i in range(3)) == [0, 1, 2]
        used = Counter(node.tick_slots[room] for room in node.hubs)
        free = node.free_tick_slot()
        assert used[free] == min(used.get(s, 0) for s in range(TICK_SLOTS))
        assert free == min(s for s in range(TICK_SLOTS) if used.get(s, 0) == used[free])
        for c in clients:
            await c.close()

    run(main())
