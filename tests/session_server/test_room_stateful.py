"""A Room driven by random (valid, invalid and malformed) messages, checked against a plain model."""

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from session_server.protocol import deltas
from session_server.protocol.connection import Connection, Identity
from session_server.protocol.errors import ProtocolError
from session_server.protocol.kinds.shared_space import SpaceState
from session_server.protocol.limits import Limits
from session_server.protocol.room import DropCmd, Emit, JoinCmd, Reply, ResumeCmd, Room, RoomConfig

PEOPLE = ["ana", "ben", "eve", "vic"]
ROLES = {"ana": "phone", "ben": "headset", "eve": "staff", "vic": "viewer"}
OBJECTS = ["o1", "o2", "o3"]
LIMITS = Limits(max_objects_per_room=2)

coords = st.floats(min_value=-10, max_value=10, allow_nan=False)
garbage = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.builds(
        lambda t, x: json.dumps({"v": 1, "type": t, "id": "g", "object": x}),
        st.sampled_from(["object.move", "object.lock", "teleport", "object.delete", "join"]),
        st.one_of(st.integers(), st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=3)),
    ),
)


class RoomMachine(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.room = Room("r", RoomConfig(limits=LIMITS, lock_ttl=1e9, quiet_timeout=1e9, resume_window=1e9))
        self.conn = {p: Connection(LIMITS, 0.0) for p in PEOPLE}
        self.now = 0.0
        self.seq = 0
        # plain model
        self.joined: dict[str, bool] = {}
        self.objects: dict[str, list[float]] = {}
        self.locks: dict[str, str] = {}
        self.mirror = SpaceState("r", chat_limit=LIMITS.chat_log_length)

    def _feed(self, out: list[Any]) -> list[dict[str, Any]]:
        for o in out:
            if isinstance(o, Emit):
                self.mirror = deltas.apply(
                    self.mirror, deltas.Delta.from_wire(json.loads(json.dumps(o.delta.to_wire())))
                )
        return [o.frame for o in out if isinstance(o, Reply)]

    def _send(self, pid: str, kind: str, **fields: Any) -> dict[str, Any] | None:
        self.seq += 1
        self.now += 0.01
        data = json.dumps({"v": 1, "type": kind, "id": f"q{self.seq}", **fields})
        try:
            m = self.conn[pid].receive(data, self.now)
        except ProtocolError:
            return None
        frames = self._feed(self.room.handle(pid, m, self.now))
        return frames[0] if frames else None

    @rule(pid=st.sampled_from(PEOPLE))
    def join(self, pid: str) -> None:
        frames = self._feed(self.room.handle(pid, JoinCmd(ROLES[pid], f"s-{pid}"), self.now))
        assert frames[0]["type"] == "welcome"
        self.joined[pid] = True
        self.conn[pid] = Connection(LIMITS, self.now)
        self.conn[pid].joined(Identity("r", pid, ROLES[pid]))

    @rule(pid=st.sampled_from(PEOPLE))
    def drop(self, pid: str) -> None:
        self._feed(self.room.handle(pid, DropCmd(f"s-{pid}"), self.now))
        self.conn[pid] = Connection(LIMITS, self.now)
        if self.joined.get(pid):
            self.joined[pid] = False
            self.locks = {o: h for o, h in self.locks.items() if h != pid}

    @rule(pid=st.sampled_from(PEOPLE), rev=st.integers(min_value=0, max_value=10_000))
    def resume(self, pid: str, rev: int) -> None:
        frames = self._feed(self.room.handle(pid, ResumeCmd(ROLES[pid], f"s-{pid}", rev, f"s-{pid}"), self.now))
        if frames[0]["type"] == "welcome":
            self.joined[pid] = True
            self.conn[pid] = Connection(LIMITS, self.now)
            self.conn[pid].joined(Identity("r", pid, ROLES[pid]))
        else:
            assert frames[0]["code"] == "future_revision" and rev > self.room.state.revision

    @rule(pid=st.sampled_from(PEOPLE), oid=st.sampled_from(OBJECTS), x=coords)
    def place(self, pid: str, oid: str, x: float) -> None:
        r = self._send(pid, "object.place", object=oid, sku="S", pose={"p": [x, 0, 0]})
        ok = (
            self.joined.get(pid)
            and ROLES[pid] != "viewer"
            and oid not in self.objects
            and len(self.objects) < LIMITS.max_objects_per_room
        )
        assert (r is not None and r["type"] == "ack") == bool(ok), r
        if ok:
            self.objects[oid] = [x]

    @rule(pid=st.sampled_from(PEOPLE), oid=st.sampled_from(OBJECTS), takeover=st.booleans())
    def lock(self, pid: str, oid: str, takeover: bool) -> None:
        r = self._send(pid, "object.lock", object=oid, takeover=takeover)
        holder = self.locks.get(oid)
        ok = (
            self.joined.get(pid)
            and ROLES[pid] != "viewer"
            and oid in self.objects
            and (holder in (None, pid) or (takeover and ROLES[pid] == "staff"))
        )
        assert (r is not None and r["type"] == "ack") == bool(ok), r
        if ok:
            self.locks[oid] = pid

    @rule(pid=st.sampled_from(PEOPLE), oid=st.sampled_from(OBJECTS), x=coords)
    def move(self, pid: str, oid: str, x: float) -> None:
        r = self._send(pid, "object.move", object=oid, pose={"p": [x, 1, 2]})
        ok = self.joined.get(pid) and ROLES[pid] != "viewer" and self.locks.get(oid) == pid
        assert (r is not None and r["type"] == "ack") == bool(ok), r
        if ok:
            self.objects[oid] = [x]

    @rule(pid=st.sampled_from(PEOPLE), oid=st.sampled_from(OBJECTS))
    def delete(self, pid: str, oid: str) -> None:
        r = self._send(pid, "object.delete", object=oid)
        ok = self.joined.get(pid) and ROLES[pid] != "viewer" and self.locks.get(oid) == pid
        assert (r is not None and r["type"] == "ack") == bool(ok), r
        if ok:
            del self.objects[oid]
            del self.locks[oid]

    @rule(pid=st.sampled_from(PEOPLE), data=garbage)
    def malformed(self, pid: str, data: str | bytes) -> None:
        before = self.room.state.snapshot()
        try:
            m = self.conn[pid].receive(data, self.now)
        except ProtocolError as exc:
            assert exc.code and str(exc)
            assert self.room.state.snapshot() == before
            return
        self._feed(self.room.handle(pid, m, self.now))

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "room"):
            return
        s = self.room.state
        s.check()
        assert {o: [v.pose[0]] for o, v in s.objects.items()} == {o: [round(x[0], 4)] for o, x in self.objects.items()}
        assert {o: lk.holder for o, lk in s.locks.items()} == self.locks
        assert {p: v.connected for p, v in s.participants.items()} == self.joined
        assert self.mirror.snapshot() == s.snapshot()


RoomMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=50, deadline=None)
TestRoomMachine = RoomMachine.TestCase
