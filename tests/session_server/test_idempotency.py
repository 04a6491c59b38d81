"""Request ids are scoped to a session, and every answer (ack or refusal) survives a takeover."""

from typing import Any

from session_server.protocol.room import JoinCmd, LeaveCmd, Reply, ResumeCmd, Room, RoomConfig

from .helpers import msg, pose


def answer(out: list[Any], pid: str) -> dict[str, Any]:
    frames = [o.frame for o in out if isinstance(o, Reply) and o.participant == pid]
    assert len(frames) == 1, frames
    return frames[0]


def test_a_new_join_starts_a_new_id_scope_and_a_resume_keeps_it() -> None:
    room = Room("store-1", RoomConfig(), now=0.0)
    room.handle("ana", JoinCmd("phone", "s1"), 0.0)
    first = answer(room.handle("ana", msg("chat", id="c1", text="one", kind="text"), 1.0), "ana")
    assert first["type"] == "ack" and not first.get("duplicate")
    again = answer(room.handle("ana", msg("chat", id="c1", text="one", kind="text"), 1.5), "ana")
    assert again["duplicate"] is True and again["revision"] == first["revision"]
    # a resume of the same session keeps its ids
    room.handle("ana", ResumeCmd("phone", "s1", room.state.revision, "s-unused"), 2.0)
    resumed = answer(room.handle("ana", msg("chat", id="c1", text="one", kind="text"), 2.5), "ana")
    assert resumed["duplicate"] is True
    # leave, join again: c1 is a new request of the new session, applied
    room.handle("ana", LeaveCmd("s1"), 3.0)
    room.handle("ana", JoinCmd("phone", "s2"), 4.0)
    fresh = answer(room.handle("ana", msg("chat", id="c1", text="two", kind="text"), 5.0), "ana")
    assert fresh["type"] == "ack" and not fresh.get("duplicate") and fresh["revision"] > first["revision"]
    assert [c.text for c in room.state.chat] == ["one", "two"]


def test_a_rejoin_without_leave_also_starts_a_new_scope() -> None:
    room = Room("store-1", RoomConfig(), now=0.0)
    room.handle("ana", JoinCmd("phone", "s1"), 0.0)
    answer(room.handle("ana", msg("chat", id="c1", text="one", kind="text"), 1.0), "ana")
    room.handle("ana", JoinCmd("phone", "s2"), 2.0)  # the same participant joins from a new connection
    fresh = answer(room.handle("ana", msg("chat", id="c1", text="two", kind="text"), 3.0), "ana")
    assert not fresh.get("duplicate") and len(room.state.chat) == 2


def _room_with_lock() -> Room:
    room = Room("store-1", RoomConfig(), now=0.0)
    room.handle("ana", JoinCmd("phone", "s-ana"), 0.0)
    room.handle("ben", JoinCmd("phone", "s-ben"), 0.0)
    room.handle("ana", msg("object.place", object="sofa", sku="SKU-1", pose=pose(1)), 1.0)
    room.handle("ana", msg("object.lock", object="sofa"), 1.0)
    room.take_answers()
    return room


def test_a_refusal_is_recorded_and_replayed_by_the_next_leader() -> None:
    room = _room_with_lock()
    checkpoint = room.dump()
    refused = answer(room.handle("ben", msg("object.move", id="m1", object="sofa", pose=pose(2)), 2.0), "ben")
    assert refused["code"] == "locked"
    answers = room.take_answers()
    assert [(a["participant"], a["id"], a["frame"]["code"]) for a in answers] == [("ben", "m1", "locked")]
    assert room.take_answers() == []
    # a takeover from the checkpoint taken before the refusal, with the log's deltas and answers since
    successor = Room.load(checkpoint, RoomConfig(), 3.0)
    successor.replay([], answers)
    successor.handle("ana", msg("object.unlock", object="sofa"), 3.0)  # the lock is free now
    retried = answer(successor.handle("ben", msg("object.move", id="m1", object="sofa", pose=pose(2)), 4.0), "ben")
    assert retried == refused  # the same refusal, not applied
    assert successor.state.objects["sofa"].pose[0] == 1.0
    new = answer(successor.handle("ben", msg("object.lock", id="l2", object="sofa"), 5.0), "ben")
    assert new["type"] == "ack"  # the test can fail: a new id is applied


def test_answers_of_an_ended_session_are_not_replayed() -> None:
    room = _room_with_lock()
    checkpoint = room.dump()
    room.handle("ben", msg("object.move", id="m1", object="sofa", pose=pose(2)), 2.0)
    answers = room.take_answers()
    successor = Room.load(checkpoint, RoomConfig(), 3.0)
    successor.handle("ben", LeaveCmd("s-ben"), 3.0)
    successor.handle("ben", JoinCmd("phone", "s-ben-2"), 3.0)
    successor.replay([], answers)  # ben's refusal belongs to s-ben, which has ended
    successor.handle("ana", msg("object.unlock", object="sofa"), 3.5)
    successor.handle("ben", msg("object.lock", id="l1", object="sofa"), 3.5)
    moved = answer(successor.handle("ben", msg("object.move", id="m1", object="sofa", pose=pose(2)), 4.0), "ben")
    assert moved["type"] == "ack" and successor.state.objects["sofa"].pose[0] == 2.0


def test_acks_with_deltas_are_not_recorded_twice() -> None:
    room = _room_with_lock()
    room.handle("ana", msg("object.move", object="sofa", pose=pose(3)), 2.0)
    assert room.take_answers() == []  # the delta carries by/req: the log has it already
