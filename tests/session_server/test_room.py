from typing import Any

import pytest

from session_server.protocol import deltas
from session_server.protocol.kinds.shared_space import SpaceState
from session_server.protocol.limits import Limits
from session_server.protocol.room import DropCmd, Emit, JoinCmd, LeaveCmd, Reply, ResumeCmd, Room, RoomConfig

from .helpers import msg, pose


def replies(out: list[Any], pid: str) -> list[dict[str, Any]]:
    return [o.frame for o in out if isinstance(o, Reply) and o.participant == pid]


def emitted(out: list[Any]) -> list[deltas.Delta]:
    return [o.delta for o in out if isinstance(o, Emit)]


def make_room(**cfg: Any) -> Room:
    room = Room("store-1", RoomConfig(**cfg), now=0.0)
    room.handle("ana", JoinCmd("phone", "s-ana"), 0.0)
    room.handle("ben", JoinCmd("headset", "s-ben"), 0.0)
    return room


def place(room: Room, pid: str = "ana", oid: str = "sofa", now: float = 1.0) -> None:
    out = room.handle(pid, msg("object.place", object=oid, sku="SKU-1", pose=pose(1)), now)
    assert replies(out, pid)[0]["type"] == "ack"


def test_join_emits_delta_and_welcome() -> None:
    room = Room("store-1")
    out = room.handle("ana", JoinCmd("phone", "s1", ref="j1"), 0.0)
    assert [d.op for d in emitted(out)] == ["participant.join"]
    welcome = replies(out, "ana")[0]
    assert welcome["type"] == "welcome" and welcome["revision"] == 1 and welcome["ref"] == "j1"


def test_edit_requires_lock_and_others_are_refused() -> None:
    room = make_room()
    place(room)
    before = room.state
    out = room.handle("ana", msg("object.move", object="sofa", pose=pose(2)), 2.0)
    assert replies(out, "ana")[0]["code"] == "lock_required" and room.state is before
    room.handle("ana", msg("object.lock", object="sofa"), 2.0)
    out = room.handle("ben", msg("object.move", object="sofa", pose=pose(3)), 2.0)
    err = replies(out, "ben")[0]
    assert err["code"] == "locked" and "ana" in err["message"]
    out = room.handle("ben", msg("object.lock", object="sofa", takeover=True), 2.0)
    assert replies(out, "ben")[0]["code"] == "forbidden"
    out = room.handle("ana", msg("object.move", object="sofa", pose=pose(4)), 3.0)
    assert replies(out, "ana")[0]["type"] == "ack"
    assert room.state.objects["sofa"].pose[0] == 4.0


def test_staff_takes_over() -> None:
    room = make_room()
    room.handle("eve", JoinCmd("staff", "s-eve"), 0.0)
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 1.0)
    out = room.handle("eve", msg("object.lock", object="sofa", takeover=True), 1.0)
    assert [d.op for d in emitted(out)] == ["lock.take"]
    assert room.state.locks["sofa"].holder == "eve"


def test_viewer_cannot_edit_but_can_chat() -> None:
    room = make_room()
    room.handle("vic", JoinCmd("viewer", "s-vic"), 0.0)
    out = room.handle("vic", msg("object.place", object="x", sku="s", pose=pose(0)), 1.0)
    assert replies(out, "vic")[0]["code"] == "forbidden"
    out = room.handle("vic", msg("chat", text="nice sofa"), 1.0)
    assert replies(out, "vic")[0]["type"] == "ack" and room.state.chat[-1].text == "nice sofa"


def test_repeated_request_id_is_answered_not_applied_twice() -> None:
    room = make_room()
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 1.0)
    move = msg("object.move", id="m-1", object="sofa", pose=pose(5))
    first = room.handle("ana", move, 2.0)
    rev = room.state.revision
    again = room.handle("ana", move, 3.0)
    assert emitted(again) == [] and room.state.revision == rev
    assert replies(again, "ana")[0] == {**replies(first, "ana")[0], "duplicate": True}
    # another participant may use the same id independently
    place(room, "ben", "lamp")


def test_lock_expires_when_holder_goes_quiet_or_drops() -> None:
    room = make_room(lock_ttl=5.0, quiet_timeout=100.0)
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 1.0)
    assert emitted(room.tick(4.0)) == []
    assert [d.op for d in emitted(room.tick(7.0))] == ["lock.release"]
    room.handle("ana", msg("object.lock", object="sofa"), 8.0)
    out = room.handle("ana", DropCmd("s-ana"), 9.0)
    assert [d.op for d in emitted(out)] == ["participant.status", "lock.release"]
    assert not room.state.locks


def test_a_server_stall_is_not_charged_to_a_lock_holder() -> None:
    """The holder moved at t; at t + ttl + 5, 10 s of which the server was stalled, the lock is kept (no credit:
    it lapses); once ttl seconds of the server running have passed since the move, it lapses after all."""
    for credit, kept in ((10.0, True), (0.0, False)):
        room = make_room(lock_ttl=5.0, quiet_timeout=100.0)
        place(room)
        room.handle("ana", msg("object.lock", object="sofa"), 1.0, stalled=2.0)  # stalls before the move: no credit
        room.handle("ana", msg("object.move", object="sofa", pose=pose(2)), 2.0, stalled=2.0)
        out = room.tick(2.0 + 5.0 + 5.0, stalled=2.0 + credit)
        assert ("sofa" in room.state.locks) is kept
        assert [d.op for d in emitted(out)] == ([] if kept else ["lock.release"])
    room = make_room(lock_ttl=5.0, quiet_timeout=100.0)
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 2.0)
    assert emitted(room.tick(12.0, stalled=10.0)) == []
    assert emitted(room.tick(16.5, stalled=10.0)) == []  # 4.5 s running since the lock
    assert [d.op for d in emitted(room.tick(17.5, stalled=10.0))] == ["lock.release"]  # 5.5 s: the credit is spent


def test_a_server_stall_is_not_charged_to_a_quiet_participant() -> None:
    """Nothing heard from ana for longer than quiet_timeout, most of it the server's own stall: she stays."""
    for credit, connected in ((10.0, True), (0.0, False)):
        room = make_room(quiet_timeout=5.0)
        room.handle("ana", msg("chat", text="hi"), 1.0)
        room.tick(12.0, stalled=credit)
        assert room.state.participants["ana"].connected is connected


def test_only_the_stalls_of_the_process_leading_since_it_took_the_room_are_credited() -> None:
    """A room loaded from a checkpoint (failover) credits no stall from before the load, whoever stalled: the
    total passed at the load is where its credit starts, and a lock lapses after lock_ttl of it running."""
    room = make_room(lock_ttl=5.0, quiet_timeout=100.0)
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 2.0)
    taken = Room.load(room.dump(), room.config, now=3.0, stalled=40.0)  # this process had stalled 40 s before
    assert emitted(taken.tick(7.0, stalled=40.0)) == []
    assert [d.op for d in emitted(taken.tick(8.5, stalled=40.0))] == ["lock.release"]
    taken = Room.load(room.dump(), room.config, now=3.0, stalled=40.0)
    assert emitted(taken.tick(12.0, stalled=47.0)) == []  # 7 s of its own stall since: 2 s running
    assert [d.op for d in emitted(taken.tick(15.5, stalled=47.0))] == ["lock.release"]  # 5.5 s running


def test_resume_within_window_and_expiry() -> None:
    room = make_room(resume_window=60.0, quiet_timeout=1000.0)
    room.handle("ana", DropCmd("s-ana"), 10.0)
    assert not room.state.participants["ana"].connected
    out = room.handle("ana", ResumeCmd("phone", "s-ana", room.state.revision, "new"), 20.0)
    welcome = replies(out, "ana")[0]
    assert welcome["resumed"] is True and welcome["session"] == "s-ana"
    room.handle("ana", DropCmd("s-ana"), 30.0)
    assert emitted(room.tick(80.0)) == []
    assert [d.op for d in emitted(room.tick(91.0))] == ["participant.leave"]
    out = room.handle("ana", ResumeCmd("phone", "s-ana", 3, "s-new"), 95.0)
    welcome = replies(out, "ana")[0]
    assert welcome["resumed"] is False and welcome["session"] == "s-new"


def test_future_revision_is_refused() -> None:
    room = make_room()
    room.handle("ana", DropCmd("s-ana"), 1.0)
    before = room.state
    out = room.handle("ana", ResumeCmd("phone", "s-ana", 999, "x"), 2.0)
    assert replies(out, "ana")[0]["code"] == "future_revision" and room.state is before


def test_limits_participants_and_objects() -> None:
    room = Room("r", RoomConfig(limits=Limits(max_participants_per_room=1, max_objects_per_room=1)))
    room.handle("a", JoinCmd("phone", "s"), 0.0)
    out = room.handle("b", JoinCmd("phone", "s2"), 0.0)
    assert replies(out, "b")[0]["code"] == "room_full"
    room.handle("a", msg("object.place", object="o1", sku="s", pose=pose(0)), 0.0)
    out = room.handle("a", msg("object.place", object="o2", sku="s", pose=pose(0)), 0.0)
    assert replies(out, "a")[0]["code"] == "too_many_objects"


def test_not_joined_participant_is_refused() -> None:
    room = make_room()
    out = room.handle("zed", msg("chat", text="hi"), 0.0)
    assert replies(out, "zed")[0]["code"] == "not_joined"


def test_leave_removes_participant_and_locks() -> None:
    room = make_room()
    place(room)
    room.handle("ana", msg("object.lock", object="sofa"), 1.0)
    room.handle("ana", LeaveCmd("s-ana"), 2.0)
    assert "ana" not in room.state.participants and not room.state.locks
    room.state.check()


def test_log_replay_and_dump_load_reproduce_state() -> None:
    room = Room("store-1", RoomConfig(), now=0.0)
    log = emitted(room.handle("ana", JoinCmd("phone", "s-ana"), 0.0))
    log += emitted(room.handle("ben", JoinCmd("headset", "s-ben"), 0.0))
    log += emitted(room.handle("ana", msg("object.place", object="sofa", sku="SKU-1", pose=pose(1)), 1.0))
    log += emitted(room.handle("ana", msg("object.lock", object="sofa"), 1.0))
    log += emitted(room.handle("ana", msg("object.variant", object="sofa", variant="blue"), 1.0))
    assert [d.rev for d in log] == list(range(1, room.state.revision + 1))
    replayed = deltas.apply_all(SpaceState.from_snapshot(Room("store-1").state.snapshot()), log)
    assert replayed.snapshot() == room.state.snapshot()
    loaded = Room.load(room.dump(), room.config, 5.0)
    assert loaded.state.snapshot() == room.state.snapshot()
    dup = loaded.handle("ana", msg("object.variant", id="v-dup", object="sofa", variant="red"), 6.0)
    assert replies(dup, "ana")[0]["type"] == "ack"


def test_delta_log_window() -> None:
    log = deltas.DeltaLog(3)
    state = Room("r").state
    for i in range(1, 6):
        d = deltas.Delta(i, "participant.join", {"participant": f"p{i}", "role": "phone"})
        state = deltas.apply(state, d)
        log.append(d)
    assert [d.rev for d in log.since(2) or []] == [3, 4, 5]
    assert log.since(1) is None and log.since(5) == [] and log.since(6) is None
    with pytest.raises(deltas.ProtocolError):
        deltas.apply(state, deltas.Delta(9, "chat", {}))
