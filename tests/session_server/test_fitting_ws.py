"""Fitting rooms over real sockets: mirror, phone and staff clients, server commands, listeners, the timer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from session_server.client import SessionClient, SessionError
from session_server.protocol.errors import ProtocolError
from session_server.protocol.kinds.fitting_room import FittingState
from tests.conftest import TIME_FACTOR

from .conftest import RunningServer, make_token, run

FIT = "fit.lyon-02.7"
STAFF = "staff.lyon-02"


class Commands:
    """Calls ``SessionNode.command`` on the server's own loop from the test's loop; records listener deltas."""

    def __init__(self, srv: RunningServer) -> None:
        self.node = srv.node
        self.deltas: list[tuple[str, dict[str, Any]]] = []
        self.seen = threading.Event()
        self.node.add_listener(self._record)

    def _record(self, room: str, delta: dict[str, Any]) -> None:
        self.deltas.append((room, delta))
        self.seen.set()

    async def __call__(self, room: str, cmd: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        fut = asyncio.run_coroutine_threadsafe(self.node.command(room, cmd, timeout=timeout), self.node.loop)
        return await asyncio.wrap_future(fut)  # type: ignore[no-any-return]

    async def wait_for(self, pred: Callable[[list[tuple[str, dict[str, Any]]]], bool], timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout * TIME_FACTOR
        while not pred(list(self.deltas)):
            assert asyncio.get_running_loop().time() < deadline, "the expected deltas did not come"
            await asyncio.sleep(0.05)


async def client(srv: RunningServer, room: str, pid: str, role: str) -> SessionClient:
    c = SessionClient(srv.url, room, make_token(room, pid, role), auto_resume=False)
    await c.connect()
    return c


def test_a_visit_with_mirror_phone_and_staff(start_server: Callable[..., RunningServer]) -> None:
    srv = start_server()
    commands = Commands(srv)

    async def main() -> None:
        mirror = await client(srv, FIT, "mirror-7", "mirror")
        assert isinstance(mirror.mirror.state, FittingState)  # the welcome's state is the fitting room's
        assert mirror.mirror.state.store == "lyon-02" and mirror.mirror.state.name == "7"
        staff = await client(srv, STAFF, "eve", "staff")

        read = await commands(FIT, {"type": "item.read", "tag": "EPC-77", "sku": "COAT-1", "size": "M"})
        assert read["added"] is True
        await mirror.wait_until(lambda s: read["item"] in s.items)

        with pytest.raises(SessionError) as refused:
            await client(srv, FIT, "mirror-8", "mirror")
        assert refused.value.code == "conflict"
        with pytest.raises(SessionError) as refused:
            await client(srv, FIT, "phone-x", "phone")
        assert refused.value.code == "not_paired"

        await commands(FIT, {"type": "phone.pair", "participant": "phone-x"})
        with pytest.raises(ProtocolError) as second:
            await commands(FIT, {"type": "phone.pair", "participant": "phone-y"})
        assert second.value.code == "already_paired"
        phone = await client(srv, FIT, "phone-x", "phone")
        assert phone.mirror.state.phone["participant"] == "phone-x"
        await phone.request("request.create", kind="size", item=read["item"], size="L")
        (rid,) = phone.mirror.state.requests
        await staff.wait_until(lambda s: rid in s.requests and s.rooms.get("7", {}).get("open_requests") == 1)
        assert staff.mirror.state.requests[rid]["sku"] == "COAT-1"

        await staff.request("request.accept", request=rid)
        await mirror.wait_until(lambda s: s.requests[rid]["state"] == "accepted")
        await staff.request("request.deliver", request=rid)
        await phone.wait_until(lambda s: s.requests[rid]["state"] == "delivered")
        with pytest.raises(SessionError) as closed:
            await staff.request("request.unavailable", request=rid)
        assert closed.value.code == "conflict"
        with pytest.raises(ProtocolError) as closed_cmd:
            await commands(FIT, {"type": "request.update", "request": rid, "state": "accepted"})
        assert closed_cmd.value.code == "conflict"

        snap = await commands(FIT, {"type": "state"})
        assert snap["kind"] == "fitting_room" and snap["state"] == mirror.mirror.state.public_snapshot()
        assert (await commands(STAFF, {"type": "state"}))["state"]["requests"][rid]["state"] == "delivered"
        await mirror.request("look.set", skus=["COAT-1"])
        await phone.wait_until(lambda s: s.look == {"skus": ["COAT-1"], "active": True})
        await mirror.request("visit.end")
        await phone.wait_until(lambda s: s.visit is None and s.items == {} and s.phone is None)
        with pytest.raises(SessionError) as unpaired:
            await phone.request("look.set", skus=["X"])
        assert unpaired.value.code == "not_paired"
        await staff.wait_until(lambda s: s.rooms["7"]["visit"] is False)

        # every delta was seen once by the node's listeners, in order per room
        fit_ops = [d["op"] for room, d in commands.deltas if room == FIT]
        assert fit_ops.count("item.added") == 1 and fit_ops[-1] == "visit.cleared"
        revs = [d["rev"] for room, d in commands.deltas if room == FIT]
        assert revs == list(range(revs[0], revs[0] + len(revs)))
        assert all("session" not in d["data"] for _room, d in commands.deltas)
        for c in (mirror, phone, staff):
            await c.close()

    run(main())


def test_a_room_left_empty_is_cleared_by_the_timer(start_server: Callable[..., RunningServer]) -> None:
    srv = start_server(visit_timeout_s=0.5, resume_window_s=0.2)
    commands = Commands(srv)

    async def main() -> None:
        mirror = await client(srv, FIT, "mirror-7", "mirror")
        await commands(FIT, {"type": "item.read", "tag": "EPC-1", "sku": "A"})
        await mirror.close()  # the shopper walked out with the mirror switched off
        await commands.wait_for(lambda ds: any(r == FIT and d["op"] == "visit.cleared" for r, d in ds))
        cleared = next(d for r, d in commands.deltas if r == FIT and d["op"] == "visit.cleared")
        assert cleared["data"]["reason"] == "timeout"
        again = await client(srv, FIT, "mirror-7", "mirror")
        assert again.mirror.state.items == {} and again.mirror.state.visit is None
        await again.close()

    run(main())


def test_commands_are_refused_with_the_session_error(start_server: Callable[..., RunningServer]) -> None:
    srv = start_server()
    commands = Commands(srv)

    async def main() -> None:
        for cmd, code in [
            ({"type": "item.leave", "item": "nope"}, "unknown_item"),
            ({"type": "object.place"}, "unknown_type"),
            ({"type": "item.read", "sku": "A", "price": "free"}, "bad_message"),
        ]:
            with pytest.raises(ProtocolError) as info:
                await commands(FIT, cmd)
            assert info.value.code == code, cmd
        with pytest.raises(ProtocolError) as info:
            await commands("bad room!", {"type": "item.read", "sku": "A"})
        assert info.value.code == "bad_message" and info.value.field == "room"
        with pytest.raises(ProtocolError) as info:
            await commands("store-1", {"type": "item.read", "sku": "A"})
        assert info.value.code == "unknown_type" and "shared_space" in info.value.message

    run(main())
