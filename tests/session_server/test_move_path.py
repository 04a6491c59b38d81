"""The move path's shortcuts change nothing: the mirror takes the leader's states, evolve copies, apply sets the
revision, an ack's template and a delta's frame write what encoding them wrote."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from typing import Any

import pytest

from session_server.backplane.memory import MemoryBackplane, MemoryStore
from session_server.protocol import deltas
from session_server.protocol import messages as m
from session_server.protocol.inbox import Item, JoinCmd
from session_server.protocol.kinds.shared_space import PlacedObject, SpaceState
from session_server.protocol.room import Emit, Reply, RoomConfig
from session_server.protocol.state import Participant, copier, evolve, slot_init
from session_server.server import hub as hub_module
from session_server.server.hub import RoomHub
from session_server.server.sender import text_of

from .helpers import msg, pose


async def _turns(hub: RoomHub, requests: list[tuple[str, Any]], revision: int) -> None:
    """Submit ``requests`` at once (one turn of the leader) and wait until the mirror reached ``revision``."""
    for pid, body in requests:
        await hub._submit(pid, body)
    for _ in range(500):
        if hub.mirror.revision >= revision:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"mirror at {hub.mirror.revision}, expected {revision}")


def _counting_apply(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    applied: list[int] = []

    def counting(state: Any, delta: deltas.Delta) -> Any:
        applied.append(delta.rev)
        return deltas.apply(state, delta)

    monkeypatch.setattr(hub_module, "apply", counting)
    return applied


@pytest.mark.parametrize("distributed", [False, True])
def test_the_mirror_takes_the_leaders_state_for_every_delta_of_a_turn(
    monkeypatch: pytest.MonkeyPatch, distributed: bool
) -> None:
    """Alone on the room, the mirror applies none of its own leader's deltas, however many one turn made (it
    takes the state the leader made with each); with other processes about, it applies every one.  Either
    way it ends in the leader's state and sends every delta once, in order."""
    applied = _counting_apply(monkeypatch)

    async def main() -> None:
        bp = MemoryBackplane("a", MemoryStore() if distributed else None, lease_ms=60_000)
        hub = RoomHub("store-1", bp, RoomConfig())
        await hub.start()
        joins = [(pid, JoinCmd("phone", f"s-{pid}")) for pid in ("ana", "ben", "cy")]
        await _turns(hub, joins, 3)
        places = [(p, msg("object.place", object=f"o-{p}", sku="SKU", pose=pose(1))) for p in ("ana", "ben", "cy")]
        locks = [(p, msg("object.lock", object=f"o-{p}")) for p in ("ana", "ben", "cy")]
        await _turns(hub, places + locks, 9)
        moves = [(p, msg("object.move", object=f"o-{p}", pose=pose(i))) for i in range(4) for p in ("ana", "ben")]
        await _turns(hub, moves, 17)
        assert hub.leader is not None
        assert hub.mirror == hub.leader.state and hub.mirror.snapshot() == hub.leader.state.snapshot()
        assert hub.mirror.objects["o-ana"].pose[0] == 3.0 and hub.mirror.objects["o-cy"].pose[0] == 1.0
        sent = [frame.text for _, frame in hub._held]
        assert [int(t.split('"rev":')[1].split(",")[0]) for t in sent] == list(range(1, 18))
        assert applied == ([] if not distributed else list(range(1, 18)))
        assert not hub._made  # every entry was taken
        await hub.stop()

    asyncio.run(main())


def test_a_delta_the_leader_did_not_commit_is_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    """A state kept for a revision (``_made``, when the mirror was behind the log) counts only for the very delta the
    leader committed: a delta at that revision read from the log that is not it (say, the leader's commit failed and
    another one was made) is applied."""
    applied = _counting_apply(monkeypatch)

    async def main() -> None:
        hub = RoomHub("store-1", MemoryBackplane(), RoomConfig())
        await hub.start()
        await _turns(hub, [("ana", JoinCmd("phone", "s-ana"))], 1)
        assert applied == []
        for task in hub._tasks:  # stop following and leading for a moment
            task.cancel()
        await asyncio.gather(*hub._tasks, return_exceptions=True)
        await hub._submit("ben", JoinCmd("phone", "s-ben"))
        assert hub.leader is not None
        hub._behind.set()  # as if the log held deltas the mirror has not taken: the leader's are left to _follow
        items = await hub.bp.read_inbox(hub.room_id, hub._cursor, 0)
        await hub._process(items, tick=False)
        assert hub.mirror.revision == 1
        raw, emit = hub._made[2]
        hub._made[2] = ({**raw}, emit)  # the same content, not the dict committed
        hub._tasks = [asyncio.create_task(hub._follow())]
        for _ in range(200):
            if hub.mirror.revision == 2:
                break
            await asyncio.sleep(0.01)
        assert applied == [2] and hub.mirror == hub.leader.state
        await hub.stop()

    asyncio.run(main())


def test_alone_the_mirror_takes_a_turns_deltas_in_the_turn() -> None:
    """Alone on the room (one process, memory backplane) the leader hands its committed deltas to the mirror in its
    own turn: the mirror is at the new revision, the delta and then the ack are held, and nothing waits on the log
    (no second task is woken per change)."""

    async def main() -> None:
        bp = MemoryBackplane()
        hub = RoomHub("store-1", bp, RoomConfig())
        await hub.start()
        await _turns(hub, [("ana", JoinCmd("phone", "s-ana"))], 1)
        link = _Recording("ana")
        hub.clients["ana"] = link  # type: ignore[assignment]
        await asyncio.sleep(0.05)
        assert bp.store.log("store-1").waiters == []  # the follower waits on no log read
        for task in hub._tasks:  # no other task runs from here on
            task.cancel()
        await asyncio.gather(*hub._tasks, return_exceptions=True)
        hub._held.clear()
        await hub._submit("ana", msg("object.place", object="o", sku="SKU", pose=pose(1), id="p1"))
        items = await bp.read_inbox(hub.room_id, hub._cursor, 0)
        await hub._process(items, tick=False)
        assert hub.mirror.revision == 2 and "o" in hub.mirror.objects
        kinds = [json.loads(text_of(frame))["type"] for _, frame in hub._held]
        assert kinds == ["delta", "ack"]
        assert hub._held[1][0] is link and not hub._replies and not hub._made
        await hub.stop()

    asyncio.run(main())


def test_listeners_get_the_wire_form_the_clients_get() -> None:
    """Alone on the room the delta's wire form is built once, for the clients' frame and the node's listeners: the
    listeners get what the frame carries (``public_delta``, without the participant's session id)."""

    class _Events:
        def __init__(self) -> None:
            self.seen: list[dict[str, Any]] = []

        def committed(self, room: str, delta: dict[str, Any]) -> None:
            self.seen.append(delta)

    async def main() -> None:
        events = _Events()
        hub = RoomHub("store-1", MemoryBackplane(), RoomConfig(), events=events)  # type: ignore[arg-type]
        await hub.start()
        await _turns(hub, [("ana", JoinCmd("phone", "s-ana"))], 1)
        hub.clients["ana"] = _Recording("ana")  # type: ignore[assignment]
        await _turns(hub, [("ana", msg("object.place", object="o", sku="SKU", pose=pose(1), id="p1"))], 2)
        await hub.stop()
        frames = [hub_module.public_delta(d) for d in hub.log.since(0)]  # type: ignore[union-attr]
        assert [d["op"] for d in events.seen] == ["participant.join", "object.place"]
        assert events.seen == frames and "session" not in events.seen[0]["data"]

    asyncio.run(main())


class _Recording:
    """A link of participant ``pid`` whose sender keeps nothing."""

    def __init__(self, pid: str) -> None:
        self.participant, self.session, self.role = pid, "s-" + pid, "phone"


def test_evolve_is_replace() -> None:
    """``evolve`` makes what ``dataclasses.replace`` makes, fields of subclasses too, and refuses unknown fields."""
    obj = PlacedObject("o", "SKU", None, (0.0,) * 7, 1.0, "ana")
    assert evolve(obj, scale=2.0, anchor="a") == dataclasses.replace(obj, scale=2.0, anchor="a")
    state = SpaceState("r", 3, {"ana": Participant("ana", "phone", "s")}, objects={"o": obj}, chat_limit=7)
    moved = evolve(state, revision=4)
    assert moved == dataclasses.replace(state, revision=4) and moved.objects is state.objects
    assert type(moved) is SpaceState and state.revision == 3
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(obj, colour="red")
    every = {f.name: f"new-{f.name}" for f in dataclasses.fields(SpaceState)}
    renamed = evolve(state, **every)  # every field, in the class's order and reversed
    assert renamed == dataclasses.replace(state, **every) == evolve(state, **dict(reversed(every.items())))
    with pytest.raises(dataclasses.FrozenInstanceError):
        moved.revision = 5  # type: ignore[misc]


@dataclasses.dataclass(frozen=True, slots=True)
class _Checked:
    """A frozen class whose ``__post_init__`` checks and counts: ``evolve`` must call the constructor for it."""

    n: int
    made: list[int] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("n < 0")
        self.made.append(self.n)


@dataclasses.dataclass(frozen=True)
class _Plain:
    """A frozen class without slots."""

    a: int
    b: str = "b"


def test_evolve_calls_the_constructor_where_it_does_more_than_set_fields() -> None:
    """A class with ``__post_init__`` (or without slots) is built by its constructor, as ``dataclasses.replace``
    builds it: the check runs, the count grows; slotted classes without one are filled slot by slot, the same."""
    made: list[int] = []
    one = _Checked(1, made)
    assert evolve(one, n=2) == dataclasses.replace(one, n=2) and made == [1, 2, 2]
    with pytest.raises(ValueError, match="n < 0"):
        evolve(one, n=-1)
    plain = _Plain(1)
    assert evolve(plain, b="c") == _Plain(1, "c") and type(evolve(plain, a=2)) is _Plain


def test_apply_sets_the_revision_whether_the_op_did_or_not() -> None:
    """``object.move`` sets the revision in its one copy of the state; other ops leave it to ``deltas.apply``."""
    state = SpaceState("r", 4, {"ana": Participant("ana", "phone", "s")})
    placed = deltas.apply(state, deltas.Delta(5, "object.place", {"object": "o", "sku": "S", "pose": [0.0] * 7,
                                                                 "scale": 1.0, "owner": "ana"}))  # fmt: skip
    moved = deltas.apply(placed, deltas.Delta(6, "object.move", {"object": "o", "pose": [2.0] + [0.0] * 6}))
    assert (state.revision, placed.revision, moved.revision) == (4, 5, 6)
    assert moved.objects["o"].pose[0] == 2.0 and placed.objects["o"].pose[0] == 0.0
    with pytest.raises(deltas.ProtocolError):
        deltas.apply(moved, deltas.Delta(8, "object.move", {"object": "o", "pose": [3.0] + [0.0] * 6}))


def test_rounded_pose_of_the_identity_rotation_is_the_rounding() -> None:
    """``rounded_pose`` skips rounding the identity rotation (``q == NO_TURN``): the numbers are those the rounding
    gives, float for float and sign for sign (``-0.0`` rounds to ``0.0``), for any position."""

    def rounded(p: tuple[float, ...], q: tuple[float, ...]) -> list[float]:
        return [round(v * 1e4) / 1e4 for v in p] + [round(v * 1e5) / 1e5 for v in q]

    turns: list[tuple[Any, ...]] = [
        m.NO_TURN, (0.0, 0.0, 0.0, 1.0), (-0.0, 0.0, 0.0, 1.0), (-0.0, -0.0, -0.0, 1.0), (0, 0, 0, 1),
        (0.0, 0.0, 0.0, -1.0), (1e-6, 0.0, 0.0, 1.0), (0.0, 0.0, -4e-6, 1.0), (0.0, 0.0, 0.0, 0.999996),
    ]
    rng = random.Random(13)
    positions = [(0.0, -0.0, 0.0), (-0.00004, 0.00005, 1e6)]
    positions += [tuple(rng.uniform(-100, 100) for _ in range(3)) for _ in range(200)]
    for p in positions:
        for q in turns:
            got = m.rounded_pose(p, q)
            assert [repr(v) for v in got] == [repr(v) for v in rounded(p, q)], (p, q)
            assert all(type(v) is float for v in got)


@dataclasses.dataclass(frozen=True, slots=True)
class _Three:
    """A frozen slotted class as the dataclass builds it."""

    a: int
    b: str = "b"
    c: Any = None


_Fast = slot_init(dataclasses.dataclass(frozen=True, slots=True)(type("_Fast", (), {"__annotations__": {
    "a": "int", "b": "str", "c": "Any"}, "b": "b", "c": None})))  # fmt: skip


def test_slot_init_builds_what_the_dataclass_builds() -> None:
    """``slot_init``'s ``__init__`` takes the same arguments, positional or by name, with the same defaults, refuses
    what the dataclass's refuses and leaves the class frozen; classes it cannot fill slot by slot keep their own."""
    for args, kwargs in [((1,), {}), ((1, "x"), {}), ((1, "x", [2]), {}), ((), {"a": 1, "c": 3}), ((1,), {"b": "y"})]:
        ref, fast = _Three(*args, **kwargs), _Fast(*args, **kwargs)
        assert dataclasses.astuple(ref) == dataclasses.astuple(fast)
        assert repr(fast) == repr(ref).replace("_Three", "_Fast")
    assert _Fast(1) == _Fast(1) and hash(_Fast(1, "b", 2)) == hash(_Fast(1, "b", 2))
    for args, kwargs in [((), {}), ((1, 2, 3, 4), {}), ((1,), {"d": 1}), ((1,), {"a": 2})]:
        with pytest.raises(TypeError):
            _Three(*args, **kwargs)
        with pytest.raises(TypeError):
            _Fast(*args, **kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Fast(1).a = 2  # type: ignore[misc]
    for cls in (_Checked, _Plain):  # __post_init__ and a default factory; no slots
        init = cls.__init__
        assert slot_init(cls) is cls and cls.__init__ is init
    for cls in (deltas.Delta, Emit, Reply, Item):  # the objects of every request are built this way
        assert cls.__init__.__code__.co_filename == "<string>"
    delta = deltas.Delta(rev=3, op="x", data={})
    assert (delta.rev, delta.op, Emit(delta).state, Item("p", None).node) == (3, "x", None, "")


def test_copier_is_evolve() -> None:
    """``copier(cls, *names)`` is ``evolve`` with those fields, in that order."""
    obj = PlacedObject("o", "SKU", None, (0.0,) * 7, 1.0, "ana")
    moved = copier(PlacedObject, "pose", "scale")(obj, (1.0,) * 7, 2.0)
    assert moved == evolve(obj, pose=(1.0,) * 7, scale=2.0) == evolve(obj, scale=2.0, pose=(1.0,) * 7)
    assert copier(PlacedObject, "pose", "scale") is copier(PlacedObject, "pose", "scale")


def test_ack_text_is_the_encoded_ack() -> None:
    """``ack_text`` writes ``encode``'s text of an ack, filled into its template for the acks the room builds and
    encoded for anything else (another key order or key, a ref that JSON escapes, other types)."""
    rng = random.Random(13)
    chars = "abcXYZ019_.:-"
    refs = ["m1", "a" * 64, "-", ".:_"]
    refs += ["".join(rng.choice(chars) for _ in range(rng.randint(1, 64))) for _ in range(200)]
    for ref in refs:
        for revision in (0, 1, 7, 2**40):
            for duplicate in (False, True):
                frame = m.ack(ref, revision, duplicate)
                assert m.ack_text(frame) == m.encode(frame) == json.dumps(frame, separators=(",", ":"))
                assert m.ack_text({**frame, "duplicate": True}) == m.encode({**frame, "duplicate": True})
    usual = m.ack("m1", 7)
    odd: list[dict[str, Any]] = [
        {k: v for k, v in usual.items() if k != "duplicate"},
        {**usual, "extra": 1},
        {"type": "ack", "v": 1, "ref": "m1", "revision": 7, "duplicate": False},
        {**usual, "ref": 'm"1'}, {**usual, "ref": "m\\1"}, {**usual, "ref": "é"}, {**usual, "ref": "a b"},
        {**usual, "ref": ""}, {**usual, "ref": "a\n"},
        {**usual, "revision": True}, {**usual, "revision": 7.0}, {**usual, "duplicate": 0}, {**usual, "v": True},
        {**usual, "v": 2}, {**usual, "v": 1.0},
    ]  # fmt: skip
    for frame in odd:
        assert m.ack_text(frame) == m.encode(frame), frame
    assert m.ack("m1", 7) == m.server_frame("ack", ref="m1", revision=7, duplicate=False)


def test_delta_frame_is_the_server_frame_of_the_public_delta() -> None:
    """``delta_frame`` builds, key for key and in the same order, ``server_frame("delta", **public_delta(delta))``:
    the session id stays on the server."""
    for delta in [
        deltas.Delta(3, "object.move", {"object": "o", "pose": [0.0] * 7, "scale": None, "by": "ana", "req": "m1"}),
        deltas.Delta(4, "participant.join", {"participant": "ana", "role": "phone", "session": "s-ana"}),
        deltas.Delta(5, "participant.status", {"participant": "ana", "session": "s", "connected": True, "at": 1.5}),
    ]:
        frame = hub_module.delta_frame(delta)
        expected = m.server_frame("delta", **hub_module.public_delta(delta))
        assert list(frame.items()) == list(expected.items()) and m.encode(frame) == m.encode(expected)
        assert "session" not in frame["data"] and delta.data.get("session", "") == delta.data.get("session", "")


def test_read_inbox_waits_only_when_nothing_is_after_the_cursor() -> None:
    """``read_inbox`` returns at once what is after the cursor (however far back the cursor is), waits when nothing
    is, and returns what came meanwhile."""

    async def main() -> None:
        bp = MemoryBackplane()
        assert await bp.read_inbox("r", bp.start_cursor, 0) == []
        for i in range(3):
            bp.submit_now("r", {"n": i})
        assert [it["n"] for _, it in await bp.read_inbox("r", bp.start_cursor, 5000)] == [0, 1, 2]
        assert [it["n"] for _, it in await bp.read_inbox("r", "-7", 5000)] == [0, 1, 2]
        assert await bp.read_inbox("r", "2", 0) == [] and await bp.read_inbox("r", "9", 1) == []
        waiting = asyncio.create_task(bp.read_inbox("r", "2", 5000))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        bp.submit_now("r", {"n": 3})
        assert await asyncio.wait_for(waiting, 1.0) == [("3", {"n": 3})]

    asyncio.run(main())
