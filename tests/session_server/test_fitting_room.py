"""The fitting_room and staff kinds, sans-I/O: rules, messages, commands, forwarding, the visit timer."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from session_server.protocol import deltas
from session_server.protocol.inbox import CommandCmd, DropCmd, JoinCmd, Seen
from session_server.protocol.kinds.fitting_room import FittingState
from session_server.protocol.kinds.staff import StaffState
from session_server.protocol.room import Emit, Forward, Reply, Result, Room, RoomConfig

from .helpers import msg

FIT = "fit.paris-01.3"
STAFF = "staff.paris-01"
CONFIG = RoomConfig(visit_timeout=300.0, quiet_timeout=1e9)


class Store:
    """Rooms by id; forwarded commands are delivered in order, as the node's forwarder does.

    Every delta also goes, through JSON, to a client-side mirror of its room (``deltas.apply``)."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self.mirrors: dict[str, Any] = {}
        self.now = 0.0
        self.forwards: list[tuple[str, dict[str, Any]]] = []

    def room(self, rid: str) -> Room:
        if rid not in self.rooms:
            self.rooms[rid] = Room(rid, CONFIG, self.now)
            self.mirrors[rid] = self.rooms[rid].kind.new(rid, CONFIG.limits)
        return self.rooms[rid]

    def _run(self, rid: str, outs: list[Any]) -> list[Any]:
        queue = deque([(rid, outs)])
        first = outs
        while queue:
            target, batch = queue.popleft()
            for o in batch:
                if isinstance(o, Emit):
                    wire = json.loads(json.dumps(o.delta.to_wire()))
                    self.mirrors[target] = deltas.apply(self.mirrors[target], deltas.Delta.from_wire(wire))
                elif isinstance(o, Forward):
                    self.forwards.append((o.room, o.command))
                    room = self.room(o.room)
                    queue.append((o.room, room.command(CommandCmd("fwd", o.command), self.now)))
        return first

    def send(self, rid: str, pid: str, message: Any) -> list[Any]:
        return self._run(rid, self.room(rid).handle(pid, message, self.now))

    def join(self, rid: str, pid: str, role: str) -> dict[str, Any]:
        out = self.send(rid, pid, JoinCmd(role, f"s-{pid}"))
        return next(o.frame for o in out if isinstance(o, Reply) and o.participant == pid)

    def command(self, rid: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """The command's result; raises on error (with its code) like SessionNode.command."""
        out = self._run(rid, self.room(rid).command(CommandCmd("c", cmd), self.now))
        result = next(o for o in out if isinstance(o, Result))
        if result.error is not None:
            raise CommandRefused(result.error["code"], result.error)
        assert result.result is not None
        return result.result

    def lose_forwards(self, rid: str, outs: list[Any]) -> None:
        """Apply a turn's deltas to the client mirror but drop its forwards (their process died)."""
        self._run(rid, [o for o in outs if not isinstance(o, Forward)])

    def tick(self, rid: str) -> list[Any]:
        return self._run(rid, self.room(rid).tick(self.now))

    def state(self, rid: str) -> Any:
        return self.rooms[rid].state


class CommandRefused(Exception):
    def __init__(self, code: str, error: dict[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.error = error


def answer(out: list[Any], pid: str) -> dict[str, Any]:
    return next(o.frame for o in out if isinstance(o, Reply) and o.participant == pid)


def ops(out: list[Any]) -> list[str]:
    return [o.delta.op for o in out if isinstance(o, Emit)]


@pytest.fixture
def store() -> Store:
    s = Store()
    assert s.join(FIT, "mirror-1", "mirror")["type"] == "welcome"
    return s


def test_a_whole_visit_with_staff(store: Store) -> None:
    added = store.command(FIT, {"type": "item.read", "tag": "EPC-1", "sku": "DRESS-1", "size": "S", "name": "Dress"})
    assert added["added"] is True and store.state(FIT).visit["id"] == added["visit"]
    again = store.command(FIT, {"type": "item.read", "tag": "EPC-1", "sku": "DRESS-1", "size": "S"})
    assert again == {**added, "added": False} and len(store.state(FIT).items) == 1
    item = added["item"]

    out = store.send(FIT, "mirror-1", msg("request.create", kind="size", item=item, size="M"))
    assert answer(out, "mirror-1")["type"] == "ack" and ops(out) == ["request.created"]
    (rid,) = store.state(FIT).requests
    staff_state: StaffState = store.state(STAFF)
    assert staff_state.requests[rid]["room"] == "3" and staff_state.requests[rid]["sku"] == "DRESS-1"
    assert staff_state.rooms["3"] == {"items": 1, "open_requests": 1, "phone": False, "mirror": True, "visit": True}

    assert store.join(STAFF, "eve", "staff")["type"] == "welcome"
    out = store.send(STAFF, "eve", msg("request.accept", request=rid))
    assert answer(out, "eve")["type"] == "ack"
    assert store.state(FIT).requests[rid]["state"] == "accepted" and store.state(FIT).requests[rid]["by_staff"] == "eve"
    store.send(STAFF, "eve", msg("request.deliver", request=rid))
    assert store.state(FIT).requests[rid]["state"] == store.state(STAFF).requests[rid]["state"] == "delivered"
    assert store.state(STAFF).rooms["3"]["open_requests"] == 0

    before = (store.state(FIT), store.state(STAFF))
    out = store.send(STAFF, "eve", msg("request.unavailable", request=rid))
    assert answer(out, "eve")["code"] == "conflict" and "delivered" in answer(out, "eve")["message"]
    with pytest.raises(CommandRefused) as info:
        store.command(FIT, {"type": "request.update", "request": rid, "state": "accepted", "by_staff": "eve"})
    assert info.value.code == "conflict" and (store.state(FIT), store.state(STAFF)) == before

    store.command(FIT, {"type": "recs.set", "item": item, "recs": {"sizes": ["M"]}})
    store.send(FIT, "mirror-1", msg("look.set", skus=["DRESS-1", "LIP-2"]))
    assert store.state(FIT).look == {"skus": ["DRESS-1", "LIP-2"], "active": True}
    store.command(FIT, {"type": "item.leave", "tag": "EPC-1"})
    assert store.state(FIT).items == {} and store.state(FIT).recs == {}

    out = store.send(FIT, "mirror-1", msg("visit.end"))
    assert ops(out) == ["visit.cleared"] and store.state(FIT).visit is None
    # the clients' mirrors, fed every delta through JSON, hold the same states
    for rid_ in (FIT, STAFF):
        assert store.mirrors[rid_].snapshot() == store.state(rid_).snapshot()
        store.state(rid_).check()


def test_one_live_mirror_and_one_paired_phone(store: Store) -> None:
    assert store.join(FIT, "mirror-2", "mirror")["code"] == "conflict"
    store.send(FIT, "mirror-1", DropCmd("s-mirror-1"))
    assert store.join(FIT, "mirror-2", "mirror")["type"] == "welcome"  # the first one dropped
    assert store.join(FIT, "mirror-1", "mirror")["code"] == "conflict"

    assert store.join(FIT, "phone-a", "phone")["code"] == "not_paired"
    paired = store.command(FIT, {"type": "phone.pair", "participant": "phone-a"})
    assert paired["participant"] == "phone-a" and store.state(FIT).visit is not None
    assert store.command(FIT, {"type": "phone.pair", "participant": "phone-a"}) == paired  # repeated: same answer
    with pytest.raises(CommandRefused) as info:
        store.command(FIT, {"type": "phone.pair", "participant": "phone-b"})
    assert info.value.code == "already_paired"
    assert store.join(FIT, "phone-b", "phone")["code"] == "not_paired"
    assert store.join(FIT, "phone-a", "phone")["type"] == "welcome"
    assert answer(store.send(FIT, "phone-a", msg("look.set", skus=["LIP-2"])), "phone-a")["type"] == "ack"
    assert answer(store.send(FIT, "phone-a", msg("visit.end")), "phone-a")["code"] == "forbidden"

    assert store.join(FIT, "hat", "headset")["code"] == "forbidden"
    assert store.join(FIT, "vic", "viewer")["type"] == "welcome"
    out = store.send(FIT, "vic", msg("item.add", sku="X"))
    assert answer(out, "vic")["code"] == "forbidden"
    out = store.send(FIT, "vic", msg("object.place", object="o", sku="X", pose={"p": [0, 0, 0]}))
    assert answer(out, "vic")["code"] == "unknown_type"
    assert store.join(STAFF, "ana", "phone")["code"] == "forbidden"

    store.command(FIT, {"type": "phone.unpair"})
    out = store.send(FIT, "phone-a", msg("look.set", skus=["LIP-3"]))
    assert answer(out, "phone-a")["code"] == "not_paired" and store.state(FIT).look["skus"] == ["LIP-2"]


def test_an_empty_room_is_cleared_after_the_visit_timeout(store: Store) -> None:
    store.command(FIT, {"type": "phone.pair", "participant": "phone-a"})
    store.join(FIT, "phone-a", "phone")
    item = store.command(FIT, {"type": "item.read", "tag": "EPC-9", "sku": "SHOE-1"})["item"]
    store.send(FIT, "phone-a", msg("request.create", kind="colour", item=item, colour="red"))
    (rid,) = store.state(FIT).requests
    store.send(FIT, "mirror-1", DropCmd("s-mirror-1"))
    store.now = 10.0
    assert ops(store.tick(FIT)) == []  # the paired phone is still there
    store.send(FIT, "phone-a", DropCmd("s-phone-a"))
    store.now = 20.0
    assert ops(store.tick(FIT)) == []  # starts the clock
    store.now = 20.0 + 299.0
    assert ops(store.tick(FIT)) == ["participant.leave", "participant.leave"]  # resume window over; not cleared
    store.now = 20.0 + 300.0
    assert ops(store.tick(FIT)) == ["visit.cleared"]
    s: FittingState = store.state(FIT)
    assert (s.visit, s.items, s.requests, s.phone, s.look["skus"]) == (None, {}, {}, None, [])
    assert store.state(STAFF).requests[rid]["state"] == "cancelled"
    assert store.state(STAFF).rooms["3"] == {
        "items": 0, "open_requests": 0, "phone": False, "mirror": False, "visit": False,
    }  # fmt: skip
    store.now += 1000
    assert ops(store.tick(FIT)) == []  # nothing more to clear
    # the pairing ended with the visit: the phone's session comes back but may not act
    assert store.join(FIT, "phone-a", "phone")["code"] == "not_paired"
    # closed requests leave the staff room visit_timeout after their last change
    assert ops(store.tick(STAFF)) == ["request.removed"] and store.state(STAFF).requests == {}
    # nothing left to keep: the rooms may be forgotten once nobody is in them
    assert store.rooms[STAFF].empty
    store.send(FIT, "phone-a", DropCmd("s-phone-a"))
    store.now += 61
    store.tick(FIT)
    assert store.rooms[FIT].empty


def test_a_room_with_items_is_kept_without_participants() -> None:
    room = Room(FIT, CONFIG, 0.0)
    room.command(CommandCmd("c", {"type": "item.read", "sku": "S-1", "tag": "T"}), 0.0)
    assert room.state.participants == {} and not room.empty


@pytest.mark.parametrize(
    ("cmd", "code", "field"),
    [
        ({"type": "teleport"}, "unknown_type", "type"),
        ({"type": "item.read"}, "bad_message", "tag"),
        ({"type": "item.read", "sku": "A", "price": -1}, "bad_message", None),
        ({"type": "item.read", "sku": "A", "extra": 1}, "bad_message", None),
        ({"type": "item.leave", "item": "nope"}, "unknown_item", "item"),
        ({"type": "item.leave", "tag": "nope"}, "unknown_item", "tag"),
        ({"type": "recs.set", "item": "nope", "recs": {}}, "unknown_item", "item"),
        ({"type": "request.update", "request": "nope", "state": "accepted"}, "unknown_request", "request"),
        ({"type": "request.update", "request": "r", "state": "open"}, "bad_message", None),
        ({"type": "request.create", "kind": "size", "item": "nope", "size": "M"}, "unknown_item", "item"),
        ({"type": "request.create", "kind": "size"}, "bad_message", "size"),
    ],
)
def test_bad_commands_are_refused_and_change_nothing(
    store: Store, cmd: dict[str, Any], code: str, field: str | None
) -> None:
    before = store.state(FIT)
    with pytest.raises(CommandRefused) as info:
        store.command(FIT, cmd)
    assert info.value.code == code and store.state(FIT) is before
    if field is not None:
        assert info.value.error.get("field") == field


@pytest.mark.parametrize(
    ("kind", "fields", "code"),
    [
        ("request.create", {"kind": "colour", "item": "x"}, "bad_message"),
        ("request.create", {"kind": "size", "item": "x", "size": "M"}, "unknown_item"),
        ("request.create", {"kind": "hug"}, None),
        ("item.remove", {"item": "x"}, "unknown_item"),
        ("look.set", {"skus": ["a"] * 21}, None),
    ],
)
def test_bad_messages_are_refused(store: Store, kind: str, fields: dict[str, Any], code: str | None) -> None:
    if code is None:  # refused by the schema before it reaches the room
        with pytest.raises(Exception) as info:
            msg(kind, **fields)
        assert getattr(info.value, "code", None) == "bad_message"
        return
    before = store.state(FIT)
    out = store.send(FIT, "mirror-1", msg(kind, **fields))
    assert answer(out, "mirror-1")["code"] == code and store.state(FIT) is before


def test_checkpoints_round_trip() -> None:
    s = Store()
    s.join(FIT, "mirror-1", "mirror")
    item = s.command(FIT, {"type": "item.read", "tag": "T1", "sku": "A", "price": 49.5, "currency": "EUR"})["item"]
    s.send(FIT, "mirror-1", msg("request.create", kind="assistant"))
    s.command(FIT, {"type": "recs.set", "item": item, "recs": {"also": ["B"]}})
    for rid in (FIT, STAFF):
        room = s.rooms[rid]
        loaded = Room.load(json.loads(json.dumps(room.dump())), CONFIG, 5.0)
        assert loaded.kind is room.kind and loaded.state == room.state
        assert room.kind.from_snapshot(room.state.snapshot()) == room.state
    welcome_state = s.rooms[FIT].state.public_snapshot()
    assert welcome_state["kind"] == "fitting_room" and welcome_state["name"] == "3"
    assert "session" not in welcome_state["participants"][0]


def test_a_take_over_tells_the_other_room_again_what_a_lost_forward_said() -> None:
    s = Store()
    s.join(FIT, "mirror-1", "mirror")
    s.join(STAFF, "eve", "staff")
    item = s.command(FIT, {"type": "item.read", "tag": "T1", "sku": "A"})["item"]
    # the process ordering the fitting room dies after committing, before its forwards left
    create = {"type": "request.create", "request": "r1", "kind": "size", "item": item, "size": "M"}
    s.lose_forwards(FIT, s.rooms[FIT].command(CommandCmd("c", create), s.now))
    accept = {"type": "request.update", "request": "r1", "state": "accepted", "by_staff": "eve"}
    s.lose_forwards(FIT, s.rooms[FIT].command(CommandCmd("c", accept), s.now))
    assert "r1" not in s.state(STAFF).requests
    s.rooms[FIT] = Room.load(s.rooms[FIT].dump(), CONFIG, s.now)  # another process takes the room over
    s.tick(FIT)
    assert s.state(STAFF).requests["r1"]["state"] == "accepted" and s.state(STAFF).requests["r1"]["sku"] == "A"
    # and the other way: a staff action whose forward to the fitting room was lost
    s.lose_forwards(STAFF, s.rooms[STAFF].handle("eve", msg("request.deliver", request="r1"), s.now))
    assert s.state(FIT).requests["r1"]["state"] == "accepted"
    s.rooms[STAFF] = Room.load(s.rooms[STAFF].dump(), CONFIG, s.now)
    s.tick(STAFF)
    assert s.state(FIT).requests["r1"]["state"] == "delivered"
    forwarded = len(s.forwards)
    s.tick(FIT)
    s.tick(STAFF)  # nothing more to say: the rooms agree and stay put
    assert len(s.forwards) == forwarded
    assert s.state(FIT).requests["r1"]["by_staff"] == s.state(STAFF).requests["r1"]["by_staff"] == "eve"
    for rid in (FIT, STAFF):
        assert s.mirrors[rid].snapshot() == s.state(rid).snapshot()


def test_a_mirror_left_on_does_not_keep_a_finished_visit() -> None:
    s = Store()
    s.join(FIT, "mirror-1", "mirror")  # stays connected all along
    item = s.command(FIT, {"type": "item.read", "tag": "T1", "sku": "A"})["item"]
    s.command(FIT, {"type": "phone.pair", "participant": "phone-a"})
    s.send(FIT, "mirror-1", msg("look.set", skus=["A"]))
    s.now = 1000.0
    assert ops(s.tick(FIT)) == [] and ops(s.tick(FIT)) == []  # items in the room: someone is there
    s.command(FIT, {"type": "item.leave", "item": item})  # the shopper left with the garment
    s.send(FIT, "mirror-1", Seen())
    s.now = 1001.0
    assert ops(s.tick(FIT)) == []
    s.now = 1001.0 + 299.0
    s.send(FIT, "mirror-1", Seen())
    assert ops(s.tick(FIT)) == []
    s.now = 1001.0 + 300.0
    s.send(FIT, "mirror-1", Seen())
    assert ops(s.tick(FIT)) == ["visit.cleared"]
    assert s.state(FIT).phone is None and s.state(FIT).look["skus"] == []
    assert s.state(FIT).connected_with("mirror") == ["mirror-1"]  # the mirror itself stays
