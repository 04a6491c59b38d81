"""Rules on the hot paths that were shortened (issue 13, server CPU in rooms of ten): a single pose read takes
the stall credit when the beat is overdue and none when it is on time, a pose after a removal in the same tick
is not reported gone, and a binary tick frame written straight from the tick still fails a slow consumer and
writes nothing to a closing transport."""

from __future__ import annotations

import asyncio
import time

from session_server.backplane.memory import MemoryBackplane, MemoryStore
from session_server.protocol.presence import PresenceTable, PresenceTick
from session_server.protocol.room import RoomConfig
from session_server.server.fastws import Corker, TransportSender
from session_server.server.hub import RoomHub
from tests.session_server.fastpath import masked
from tests.session_server.test_fastws_sender import FakeLink, Proto
from tests.session_server.test_pose_reads import clients, pose


def refusals(overdue_s: float) -> int:
    """Rate refusals for 20 single-pose reads (burst 10, 10 a second) with the stall beat ``overdue_s`` late."""

    async def go() -> int:
        c = await clients(1, messages_per_second=10, message_burst=10)
        proto = c.protos[0]
        c.node.stall.last = time.monotonic() - overdue_s
        for i in range(20):
            proto.data_received(masked(*pose(float(i))))
        await asyncio.sleep(0.05)
        answers, _ = c.outcome(0)
        return sum(a["type"] == "error" and a["code"] == "rate_limited" for a in answers)

    return asyncio.run(go())


def test_a_single_pose_read_is_credited_the_stall_only_while_the_beat_is_overdue() -> None:
    assert refusals(0.0) >= 9  # on time: 10 tokens, the join took one
    assert refusals(5.0) == 0  # overdue by 5 s: what 5 s allowed is credited


def test_a_pose_after_a_removal_in_the_same_tick_is_not_gone() -> None:
    t = PresenceTable()
    t.update("ana", [1.0, 0, 0, 0, 0, 0, 1])
    t.update("ben", [1.0, 0, 0, 0, 0, 0, 1])
    t.tick()
    t.remove("ana")
    t.update("ana", [2.0, 0, 0, 0, 0, 0, 1])
    t.update("ben", [3.0, 0, 0, 0, 0, 0, 1])
    assert t.tick() == PresenceTick({"ana": [2.0, 0, 0, 0, 0, 0, 1], "ben": [3.0, 0, 0, 0, 0, 0, 1]}, ())


def test_a_binary_tick_frame_fails_a_slow_consumer_and_skips_a_closing_transport() -> None:
    async def main() -> None:
        hub = RoomHub("r", MemoryBackplane("n", MemoryStore()), RoomConfig())  # not started: only its tick
        corker = Corker()
        protos = {pid: Proto() for pid in ("ana", "ben", "cy")}
        links = {pid: FakeLink(pid, TransportSender(p, corker, 300, 5.0)) for pid, p in protos.items()}  # type: ignore[arg-type]
        for link in links.values():
            link.sender.binary = True
        hub.clients = dict(links)  # type: ignore[arg-type]
        protos["cy"].transport.is_closing = lambda: True  # type: ignore[method-assign]
        for tick in range(4):
            for i, pid in enumerate(protos):
                hub.update_presence(pid, [float(i + tick), 1.6, 0.0, 0.0, 0.0, 0.0, 1.0])
            await hub.tick_presence(1.0 + tick)
            protos["ben"].transport.buffer = 0  # ben's peer reads; ana's does not
        ana, ben = protos["ana"].transport.writes, protos["ben"].transport.writes
        assert len(ben) == 4 and ana == ben[: len(ana)]  # the same frames, until ana's buffer passed 300 bytes
        assert sum(map(len, ana)) > 300 >= sum(map(len, ana[:-1])) and protos["ana"].failures == ["slow_consumer"]
        assert links["ana"].sender.failed == "slow_consumer"
        assert protos["ben"].failures == [] and links["ben"].sender.failed is None
        assert protos["cy"].transport.writes == [] and links["cy"].sender.failed == "gone"

    asyncio.run(main())
