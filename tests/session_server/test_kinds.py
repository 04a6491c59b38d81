"""Room kinds: a kind is one declaration (state, messages with handlers, delta ops); inbox items are typed."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import pytest

from session_server.protocol import deltas, inbox
from session_server.protocol.errors import ProtocolError
from session_server.protocol.kinds import KINDS, RoomKind, kind_for
from session_server.protocol.kinds.base import EditData
from session_server.protocol.kinds.shared_space import SpaceState
from session_server.protocol.messages import Id, Request
from session_server.protocol.room import Emit, JoinCmd, Reply, Room, RoomConfig
from session_server.protocol.state import State, core_fields

from .helpers import msg, pose


@dataclass(frozen=True, slots=True)
class LaunchState(State):
    cheers: int = 0

    def snapshot(self) -> dict[str, Any]:
        return {**State.snapshot(self), "cheers": self.cheers}

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> LaunchState:
        return cls(**core_fields(data), cheers=int(data["cheers"]))


LAUNCH = RoomKind(
    "launch_event",
    state=LaunchState,
    roles=frozenset({"staff", "viewer"}),
    claims=lambda room: room.startswith("launch."),
    new=lambda room, limits: LaunchState(room),
)


class Cheer(Request):
    type: Literal["cheer"]
    by: Id


@LAUNCH.message(Cheer, roles=frozenset({"viewer"}))
def _cheer(room: Room, pid: str, m: Cheer, now: float) -> None:
    room.emit("cheered", {"n": 1})


class Cheered(EditData):
    """``cheered``: ``n`` more cheers."""

    n: int


@LAUNCH.op("cheered", data=Cheered)
def _cheered(s: LaunchState, d: dict[str, Any]) -> LaunchState:
    return replace(s, cheers=s.cheers + int(d["n"]))


def replies(out: list[Any], pid: str) -> list[dict[str, Any]]:
    return [o.frame for o in out if isinstance(o, Reply) and o.participant == pid]


def test_a_new_kind_is_one_declaration() -> None:
    room = Room("launch.sneaker-1", RoomConfig(), 0.0, kind=LAUNCH)
    assert replies(room.handle("eve", JoinCmd("staff", "s-eve"), 0.0), "eve")[0]["type"] == "welcome"
    assert replies(room.handle("ana", JoinCmd("phone", "s-ana"), 0.0), "ana")[0]["code"] == "forbidden"
    room.handle("vic", JoinCmd("viewer", "s-vic"), 0.0)
    out = room.handle("vic", Cheer(v=1, type="cheer", id="c1", by="vic"), 1.0)
    assert [o.delta.op for o in out if isinstance(o, Emit)] == ["cheered"] and room.state.cheers == 1
    assert replies(room.handle("eve", Cheer(v=1, type="cheer", id="c2", by="eve"), 1.0), "eve")[0]["code"] == (
        "forbidden"
    )
    # another kind's message is refused by name, state unchanged
    before = room.state
    out = room.handle("vic", msg("object.place", object="x", sku="s", pose=pose(0)), 1.0)
    assert replies(out, "vic")[0]["code"] == "unknown_type" and room.state is before
    # the checkpoint round-trips through the kind
    loaded = Room.load(room.dump(), RoomConfig(), 2.0, LAUNCH)
    assert loaded.kind is LAUNCH and loaded.state == room.state


def test_room_ids_map_to_kinds() -> None:
    assert KINDS[-1].name == "shared_space"
    assert kind_for("store-1").name == "shared_space"
    assert isinstance(Room("store-1").state, SpaceState)


def test_unknown_delta_op_is_refused_by_the_kind() -> None:
    with pytest.raises(ProtocolError) as info:
        deltas.apply(SpaceState("r"), deltas.Delta(1, "cheered", {"n": 1}))
    assert info.value.code == "bad_delta" and "shared_space" in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        JoinCmd("phone", "s1", "j1"),
        inbox.ResumeCmd("phone", "s1", 4, "s2", "r1"),
        inbox.DropCmd("s1"),
        inbox.LeaveCmd("s1"),
        inbox.Attendance(("ana", "ben")),
        inbox.CommandCmd("c1", {"type": "x", "a": 1}),
        msg("object.move", object="sofa", pose=pose(1)),
    ],
)
def test_inbox_items_round_trip_through_json(body: Any) -> None:
    import json

    item = inbox.Item("ana", body, "node-1")
    assert inbox.decode(json.loads(json.dumps(inbox.encode(item)))) == item
    assert inbox.decode({"local": item}) is item


@pytest.mark.parametrize(
    "raw",
    [{"kind": "teleport"}, {"kind": "join", "role": "phone"}, {"kind": "msg", "msg": {"type": "object.move"}}, {}],
)
def test_malformed_inbox_items_raise_value_or_key_error(raw: dict[str, Any]) -> None:
    with pytest.raises((KeyError, ValueError)):
        inbox.decode(raw)


def test_a_delta_op_declares_its_data() -> None:
    """What clients receive is declared beside the transition (PROTOCOL.md and the JSON Schema come from it)."""
    with pytest.raises(ValueError, match="needs its data model"):
        LAUNCH.op("booed")(lambda s, d: s)
    assert LAUNCH.op_data["cheered"] is Cheered
    for kind in KINDS:
        assert set(kind.op_data) == set(kind.ops) and kind.snapshot is not None, kind.name
