"""A follower whose log position was trimmed away rebuilds from the checkpoint and re-welcomes its clients."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from session_server.backplane.memory import LOG_KEEP, MemoryBackplane, MemoryStore
from session_server.protocol.room import Emit, JoinCmd, Room, RoomConfig
from session_server.server.hub import RoomHub
from session_server.server.sender import text_of

from .helpers import msg, pose


class RecordingSender:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []
        self.queued_bytes = 0
        self.failed = None

    def send(self, frame: Any) -> None:
        self.frames.append(json.loads(text_of(frame)))


class FakeLink:
    def __init__(self, pid: str) -> None:
        self.participant, self.session, self.role = pid, "s-" + pid, "viewer"
        self.sender = RecordingSender()


def _commit_all(room: Room, outs: list[Any]) -> list[dict[str, Any]]:
    return [o.delta.to_wire() for o in outs if isinstance(o, Emit)]


def test_follower_resyncs_after_its_log_position_was_trimmed() -> None:
    async def main() -> None:
        store = MemoryStore()
        writer = MemoryBackplane("writer", store, lease_ms=60_000)
        follower = MemoryBackplane("follower", store, lease_ms=60_000)
        assert await writer.acquire("r")
        room = Room("r", RoomConfig(), 0.0)
        await writer.commit("r", [], room.dump(), "-1")
        first = _commit_all(room, room.handle("ana", JoinCmd("phone", "s-ana"), 0.0))
        await writer.commit("r", first, None, "-1")

        hub = RoomHub("r", follower, RoomConfig())
        hub.lead = False  # only follow: the writer orders the room
        await hub.start()
        for _ in range(100):
            if hub.mirror.revision == room.state.revision:
                break
            await asyncio.sleep(0.01)
        assert hub.mirror.revision == 1
        watcher = FakeLink("vic")
        hub.clients["vic"] = watcher  # type: ignore[assignment]

        # the follower stalls; meanwhile the room moves on and its log is trimmed past the follower
        for task in hub._tasks:
            task.cancel()
        await asyncio.gather(*hub._tasks, return_exceptions=True)
        for i in range(5):
            outs = room.handle("ana", msg("object.place", object=f"o{i}", sku="SKU-1", pose=pose(i)), 1.0)
            await writer.commit("r", _commit_all(room, outs), None, "-1")
        await writer.commit("r", [], room.dump(), "-1")
        store.logs["r"].trim(store.logs["r"].next_id - 3)  # only the last 2 deltas are left
        assert len(store.logs["r"].items) == 2 and LOG_KEEP > 2

        hub._tasks = [asyncio.create_task(hub._follow())]
        for _ in range(200):
            if hub.mirror.revision == room.state.revision:
                break
            await asyncio.sleep(0.01)
        await hub.stop()

        assert hub.mirror.revision == room.state.revision == 6
        assert sorted(hub.mirror.objects) == [f"o{i}" for i in range(5)]
        welcomes = [f for f in watcher.sender.frames if f["type"] == "welcome"]
        assert len(welcomes) == 1 and welcomes[0]["resumed"] is False
        assert welcomes[0]["revision"] == 6
        assert sorted(o["id"] for o in welcomes[0]["state"]["objects"]) == [f"o{i}" for i in range(5)]
        assert hub.log.since(6) == [] and hub.log.since(5) is None  # old positions get snapshots from here on

    asyncio.run(main())
