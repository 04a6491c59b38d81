"""Request ids are scoped to a session, and every answer (ack or refusal) survives a takeover."""

import json
from typing import Any

import pytest

from session_server.protocol import messages as m
from session_server.protocol.room import (
    IDEMPOTENCY_PER_PARTICIPANT,
    Answers,
    JoinCmd,
    LeaveCmd,
    Reply,
    ResumeCmd,
    Room,
    RoomConfig,
)

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


def _moves(room: Room, ids: range, at: float) -> list[dict[str, Any]]:
    return [
        answer(room.handle("ana", msg("object.move", id=f"m{i}", object="sofa", pose=pose(i)), at), "ana") for i in ids
    ]


def test_the_last_256_ids_of_a_session_are_remembered_and_the_oldest_goes_first() -> None:
    """PROTOCOL.md: the server remembers the last 256 request ids of each session."""
    room = _room_with_lock()
    keep = IDEMPOTENCY_PER_PARTICIPANT
    first = _moves(room, range(keep + 1), 2.0)  # m0 .. m256: m0 is the one forgotten
    revision = room.state.revision
    again = _moves(room, range(1, keep + 1), 3.0)
    assert [a["duplicate"] for a in again] == [True] * keep
    assert [a["revision"] for a in again] == [a["revision"] for a in first[1:]]
    assert room.state.revision == revision  # nothing applied twice
    forgotten = _moves(room, range(1), 4.0)[0]
    assert forgotten["duplicate"] is False and forgotten["revision"] == revision + 1
    # m0 came back as the newest and pushed out m1, the oldest: m2 is the oldest now, and goes next
    assert _moves(room, range(2, 3), 5.0)[0]["duplicate"] is True
    assert _moves(room, range(1, 2), 5.0)[0]["duplicate"] is False
    assert _moves(room, range(3, 4), 6.0)[0]["duplicate"] is True
    assert _moves(room, range(2, 3), 6.0)[0]["duplicate"] is False


def test_a_checkpoint_keeps_the_answers_as_they_were_and_loads_them_in_order() -> None:
    """A checkpoint is the answers at that moment (later ones are not in it), in order, through JSON too (the
    form Redis stores), and the room loaded from it forgets the oldest first as before."""
    room = _room_with_lock()
    keep = IDEMPOTENCY_PER_PARTICIPANT
    _moves(room, range(keep + 10), 2.0)  # m10 .. m265 remembered
    checkpoint = room.dump()
    stored = json.dumps(checkpoint)
    _moves(room, range(1000, 1005), 3.0)  # after the checkpoint: not in it
    assert json.dumps(checkpoint) == stored
    assert [rid for rid, _ in checkpoint["done"]["ana"]] == [f"m{i}" for i in range(10, keep + 10)]
    successor = Room.load(json.loads(stored), RoomConfig(), 4.0)
    revision = successor.state.revision
    assert _moves(successor, range(10, 11), 5.0)[0]["duplicate"] is True
    assert _moves(successor, range(1000, 1001), 5.0)[0]["duplicate"] is False  # not in the checkpoint: applied
    assert successor.state.revision == revision + 1
    assert _moves(successor, range(10, 11), 5.0)[0]["duplicate"] is False  # m10 was the oldest: pushed out
    assert _moves(successor, range(12, 13), 5.0)[0]["duplicate"] is True  # (m10 again pushed out m11)
    assert _moves(successor, range(11, 12), 5.0)[0]["duplicate"] is False


def test_answers_remembered_twice_keep_their_place() -> None:
    """An id remembered again (a replayed answer the checkpoint had already) keeps its place and takes the answer."""
    answers = Answers(keep=3)
    for rid in ("a", "b", "c"):
        answers.add(rid, {"type": "ack", "ref": rid})
    answers.add("a", {"type": "ack", "ref": "a", "again": True})
    assert [rid for rid, _ in answers.pairs()] == ["a", "b", "c"]
    assert answers.get("a") == {"type": "ack", "ref": "a", "again": True}
    for rid in ("d", "e", "f", "g"):  # the list is cut back as it goes: the same three latest every time
        answers.add(rid, {"type": "ack", "ref": rid})
        assert len(answers) == 3 and [r for r, _ in answers.pairs()][-1] == rid
    assert [rid for rid, _ in answers.pairs()] == ["e", "f", "g"]
    assert answers.get("d") is None and answers.get("a") is None and answers.get("g") == {"type": "ack", "ref": "g"}


def test_plain_acks_are_kept_as_revisions_and_answered_as_the_same_frames() -> None:
    """A plain ack is remembered as its revision (an int, not a frame dict: about 100 MB less for a thousand
    participants moving once a second) and answered again as the frame it was, marked duplicate; refusals and
    other frames are kept as they are."""
    room = _room_with_lock()
    moved = _moves(room, range(3), 2.0)
    refused = answer(room.handle("ben", msg("object.move", id="b1", object="sofa", pose=pose(2)), 2.5), "ben")
    assert refused["type"] == "error"
    checkpoint = room.dump()
    kept = {rid: ans for rid, ans in checkpoint["done"]["ana"] if rid.startswith("m")}
    assert kept == {f"m{i}": moved[i]["revision"] for i in range(3)}
    assert all(type(ans) is int for ans in kept.values())
    assert dict(checkpoint["done"]["ben"])["b1"] == refused
    again = _moves(room, range(1, 2), 3.0)[0]
    assert again == {**moved[1], "duplicate": True}
    assert answer(room.handle("ben", msg("object.move", id="b1", object="sofa", pose=pose(2)), 3.0), "ben") == refused


@pytest.mark.parametrize("form", ["frames", "dict"])
def test_checkpoints_in_other_forms_still_load(form: str) -> None:
    """Checkpoints from before (``done`` as ``[[request id, frame], ...]``, or as ``{request id: answer}``) load,
    and their acks answer as before."""
    room = _room_with_lock()
    moved = _moves(room, range(2), 2.0)
    old = json.loads(json.dumps(room.dump()))
    if form == "frames":
        old["done"] = {
            pid: [[rid, ans if isinstance(ans, dict) else m.ack(rid, ans)] for rid, ans in done]
            for pid, done in old["done"].items()
        }
    else:
        old["done"] = {pid: dict(done) for pid, done in old["done"].items()}
    loaded = Room.load(old, RoomConfig(), 3.0)
    assert [rid for rid, _ in loaded.dump()["done"]["ana"]][-2:] == ["m0", "m1"]
    assert _moves(loaded, range(2), 4.0) == [{**a, "duplicate": True} for a in moved]


def test_a_checkpoint_answer_that_is_no_frame_is_forgotten_not_fatal() -> None:
    """A takeover never fails on a stored answer it cannot use (null, a string, a bool): that request id is only
    not remembered, and a retry of it is applied as new."""
    room = _room_with_lock()
    _moves(room, range(2), 2.0)
    stored = json.loads(json.dumps(room.dump()))
    stored["done"]["ana"] += [["m0", None], ["m1", True], ["m9", "ack"]]
    stored["done"]["ana"] = [pair for pair in stored["done"]["ana"] if pair[0] not in ("m0", "m1") or pair[1] in
                             (None, True)]
    loaded = Room.load(stored, RoomConfig(), 3.0)
    assert [a["duplicate"] for a in _moves(loaded, range(2), 4.0)] == [False, False]
