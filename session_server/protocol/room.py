"""The room: ``Room.handle(participant, msg, now) -> list[Outbound]`` and ``Room.tick(now)``.

Sans-I/O: no sockets, timers or clocks here.  Every change is a ``Delta`` applied through
``deltas.apply`` and appended to the room's ``DeltaLog``.  This core is the same for every room kind:
participants (join, resume, drop, leave, quiet), idempotency (request ids, scoped to a participant's
session: a new join starts afresh, a resume keeps them), role checks and the
per-room participant limit.  What a kind adds (its state, messages, delta ops, join rules and
timers) comes from its module under ``kinds/``, found by the room id (``kinds.kind_for``).

Fair under stalls: the caller passes, with ``now``, the server process's total stalled time so far (``stalled``,
seconds, only ever growing; see ``server.stall``).  Timers of participants' quiet (``quiet_timeout``, a kind's
``lock_ttl``) run on ``awake(now)``, which stands still while the process stalls: what a participant did not send
or could not get read while the server did not run is not charged to it.  The credit starts at the total given
when the room is made or loaded, so a room taken over from another process credits only this process's stalls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import messages as m
from .deltas import Delta, apply
from .errors import AuthError, BadMessage, Conflict, LimitExceeded, ProtocolError, ServerError
from .inbox import Attendance, CommandCmd, DropCmd, Item, JoinCmd, LeaveCmd, ResumeCmd, Seen
from .kinds import RoomKind, kind_for
from .limits import DEFAULT_LIMITS, Limits
from .state import State, slot_init

logger = logging.getLogger(__name__)

IDEMPOTENCY_PER_PARTICIPANT = 256

__all__ = [
    "DropCmd",
    "Emit",
    "Forward",
    "JoinCmd",
    "LeaveCmd",
    "Outbound",
    "Reply",
    "Result",
    "ResumeCmd",
    "Room",
    "RoomConfig",
    "Seen",
]


_ACK_KEYS = frozenset(m.ack("", 0))
"""The keys of a plain ``ack`` frame (one that ``Answers`` keeps as its revision)."""


class Answers:
    """One participant's answers to its session's requests, by request id: the last ``keep`` remembered.

    An append-only list of ``(request id, answer)`` pairs, oldest first, with a dict from id to answer for the
    look-up; the oldest pair is dropped as a new one passes ``keep`` (the list's dropped head is cut off every
    ``keep // 8`` drops).  A plain ``ack`` (what ``messages.ack`` builds, not a duplicate) is kept as its revision,
    an int, and built again when asked for: a server with a thousand participants moving once a second keeps 256
    answers for each, and a frame dict apiece, with up to 512 pairs in the list, was about 170 MB.  A checkpoint
    takes the pairs as they are (``pairs``: a copy of the list, not of the pairs: a dict copy instead cost a
    checkpoint 7-13x the CPU).
    """

    __slots__ = ("_by_id", "_pairs", "_start", "keep")

    def __init__(self, keep: int = IDEMPOTENCY_PER_PARTICIPANT) -> None:
        self.keep = keep
        self._by_id: dict[str, int | dict[str, Any]] = {}
        self._pairs: list[tuple[str, int | dict[str, Any]]] = []
        self._start = 0
        """Pairs before this index were dropped."""

    def add(self, request_id: str, answer: dict[str, Any] | int) -> None:
        """Remember the answer to ``request_id`` (a frame, or the revision of a plain ``ack``); one remembered
        already keeps its place, with this answer."""
        if type(answer) is dict and answer.get("type") == "ack" and answer.get("duplicate") is False:
            if answer.keys() == _ACK_KEYS and type(answer["revision"]) is int:
                answer = answer["revision"]
        elif type(answer) is not dict and type(answer) is not int:
            raise TypeError(f"answer to {request_id!r}: a frame or a revision, not {type(answer).__name__}")
        by_id, pairs = self._by_id, self._pairs
        if request_id in by_id:
            by_id[request_id] = answer
            at = next(i for i in range(self._start, len(pairs)) if pairs[i][0] == request_id)
            pairs[at] = (request_id, answer)
            return
        by_id[request_id] = answer
        pairs.append((request_id, answer))
        if len(by_id) > self.keep:
            del by_id[pairs[self._start][0]]
            self._start += 1
            if self._start >= max(1, self.keep // 8):
                del pairs[: self._start]
                self._start = 0

    def get(self, request_id: str) -> dict[str, Any] | None:
        """The answer remembered for ``request_id`` as a frame, or None."""
        answer = self._by_id.get(request_id)
        if type(answer) is int:
            return m.ack(request_id, answer)
        return answer  # type: ignore[return-value]

    def pairs(self) -> list[tuple[str, int | dict[str, Any]]]:
        """The ``(request id, answer)`` pairs remembered, oldest first, an answer being a frame or the revision of a
        plain ``ack`` (a new list; the pairs are shared)."""
        return self._pairs[self._start :]

    def __len__(self) -> int:
        return len(self._by_id)


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """Per-room settings (from ``SessionSettings``)."""

    limits: Limits = DEFAULT_LIMITS
    resume_window: float = 60.0
    lock_ttl: float = 15.0
    quiet_timeout: float = 30.0
    presence_radius: float = 0.0
    """Send each device only the poses within about this many meters (0: everyone's)."""
    visit_timeout: float = 300.0
    """A fitting room with no mirror and no phone connected this long is cleared."""


# ---- outputs ----------------------------------------------------------------------------------


@slot_init
@dataclass(frozen=True, slots=True)
class Reply:
    """A frame for one participant."""

    participant: str
    frame: dict[str, Any]


@slot_init
@dataclass(frozen=True, slots=True)
class Emit:
    """A delta for everyone (already applied to the room's state)."""

    delta: Delta
    state: Any = None
    """The room's state right after the delta (immutable: whoever follows the room in this process may take it
    instead of applying the delta again)."""


@dataclass(frozen=True, slots=True)
class Result:
    """The answer to a server command: ``result`` or ``error`` (``ProtocolError.to_wire`` form)."""

    id: str
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Forward:
    """A server command for another room (sent after this room's deltas are committed, in order)."""

    room: str
    command: dict[str, Any]


Outbound = Reply | Emit | Result | Forward


class Room:
    """One room of any kind; its kind comes from the room id unless given."""

    def __init__(
        self,
        room: str,
        config: RoomConfig = RoomConfig(),
        now: float = 0.0,
        kind: RoomKind | None = None,
        stalled: float = 0.0,
    ) -> None:
        self.config = config
        self.stalled = stalled
        """The server's total stalled time as last passed in (seconds; ``awake`` does not count it)."""
        self.kind = kind or kind_for(room)
        self.state: Any = self.kind.new(room, config.limits)
        self.memo: Any = self.kind.memo()
        self._done: dict[str, Answers] = {}
        """Per participant: the answers to the requests of its session (``Answers``)."""
        self._seen: dict[str, float] = {}
        """Per participant: when it was last heard from, on the ``awake`` clock."""
        self._started = now
        self._woke = now - stalled
        """``awake(now)`` when the room was made."""
        self._current: tuple[str, str] | None = None
        self._out: list[Outbound] = []
        self.answers: list[dict[str, Any]] = []
        """Answers no delta records (refusals, acks of requests that changed nothing), for the backplane's log;
        the caller takes them (``take_answers``) and commits them with the turn's deltas."""

    # -- persistence (backplane) ---------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """Checkpoint: the state and the idempotency cache (``{participant: [[request id, answer], ...]}``, oldest
        first, an answer being a frame or the revision of a plain ``ack``; the pairs are the cache's own, shared: a
        checkpoint copies no answer)."""
        return {"state": self.state.snapshot(), "done": {p: d.pairs() for p, d in self._done.items()}}

    @classmethod
    def load(
        cls, data: dict[str, Any], config: RoomConfig, now: float, kind: RoomKind | None = None, stalled: float = 0.0
    ) -> Room:
        """A room from a checkpoint (``dump``); its kind from the room id unless given; ``stalled``: this process's
        total stalled time now (only later stalls are credited to its participants' timers)."""
        room = cls(data["state"]["room"], config, now, kind, stalled)
        room.state = room.kind.from_snapshot(data["state"])
        for pid, answers in data.get("done", {}).items():
            # ``[[request id, answer], ...]``; a dict ``{request id: answer}`` is read too
            for request_id, answer in answers.items() if isinstance(answers, dict) else answers:
                if type(answer) is dict or type(answer) is int:  # anything else is no answer: forgotten
                    room._remember(pid, request_id, answer)
        for pid in room.state.participants:
            room._seen[pid] = room._woke
        room._restore(now)
        return room

    def replay(self, deltas: list[Delta], answers: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
        """Apply deltas committed after the loaded checkpoint and rebuild the idempotency cache from them and from
        the ``answers`` committed since (those of a session that has ended are skipped)."""
        for delta in deltas:
            self._scope(delta)
            self.state = apply(self.state, delta)
            by, req = delta.data.get("by"), delta.data.get("req")
            if isinstance(by, str) and isinstance(req, str):
                self._remember(by, req, delta.rev)
        for answer in answers:
            part = self.state.participants.get(answer.get("participant"))
            if part is not None and part.session == answer.get("session"):
                self._remember(part.id, str(answer["id"]), answer["frame"])
        self._restore(self._started)

    def _remember(self, participant: str, request_id: str, frame: dict[str, Any] | int) -> None:
        done = self._done.get(participant)
        if done is None:
            done = self._done[participant] = Answers()
        done.add(request_id, frame)

    def _scope(self, delta: Delta) -> None:
        """Request ids are scoped to a session: forget a participant's answers when its session ends."""
        if not delta.op.startswith("participant."):
            return
        pid = delta.data.get("participant")
        part = self.state.participants.get(pid)
        if delta.op == "participant.leave" or (
            "session" in delta.data and (part is None or part.session != delta.data["session"])
        ):
            self._done.pop(pid, None)

    def take_answers(self) -> list[dict[str, Any]]:
        """Return and clear the answers to commit with this turn (see ``answers``)."""
        answers, self.answers = self.answers, []
        return answers

    def _restore(self, now: float) -> None:
        if self.kind.restore_hook is not None:
            self.kind.restore_hook(self, now)

    def awake(self, now: float) -> float:
        """``now`` less the server's stalled time: the clock participants' quiet is measured on (timers of quiet
        compare two of its readings; a stall between them does not count)."""
        return now - self.stalled

    @property
    def room_id(self) -> str:
        """The room's id."""
        return str(self.state.room)

    # -- what kinds' handlers call ----------------------------------------------------------------
    def emit(self, op: str, data: dict[str, Any]) -> Delta:
        """Apply a change now and send it to everyone (edits carry ``by`` and ``req``)."""
        if self._current is not None:
            data = {**data, "by": self._current[0], "req": self._current[1]}
        delta = Delta(self.state.revision + 1, op, data)
        if op.startswith("participant."):
            self._scope(delta)
        self.state = apply(self.state, delta)
        self._out.append(Emit(delta, self.state))
        return delta

    def reply(self, participant: str, frame: dict[str, Any]) -> None:
        """Send a frame to one participant."""
        self._out.append(Reply(participant, frame))

    def forward(self, room: str, command: dict[str, Any]) -> None:
        """Send a server command to another room once this turn is committed."""
        self._out.append(Forward(room, command))

    def _take(self, now: float) -> list[Outbound]:
        if self.kind.settle_hook is not None:
            self.kind.settle_hook(self, now)
        out, self._out = self._out, []
        return out

    # -- core -----------------------------------------------------------------------------------
    def handle_item(self, item: Item, now: float, stalled: float = 0.0) -> list[Outbound]:
        """Handle one inbox item (a client's request, a connection event or a server command); ``stalled``: the
        server's total stalled time so far (see the module docstring)."""
        if stalled > self.stalled:
            self.stalled = stalled
        body = item.body
        if isinstance(body, Attendance):
            for pid in body.participants:
                self._seen[pid] = now - self.stalled
            return []
        if isinstance(body, CommandCmd):
            return self.command(body, now)
        return self.handle(item.participant, body, now, stalled)

    def handle(self, participant: str, msg: object, now: float, stalled: float = 0.0) -> list[Outbound]:
        """Handle a participant's message or connection event; returns replies and deltas.  ``stalled``: the
        server's total stalled time so far (see the module docstring)."""
        if stalled > self.stalled:
            self.stalled = stalled
        self._seen[participant] = now - self.stalled
        if isinstance(msg, Seen):
            return []
        request = msg if isinstance(msg, m.Request) else None
        ref = request.id if request is not None else getattr(msg, "ref", None)
        if request is not None:
            done = self._done.get(participant)
            cached = None if done is None else done.get(request.id)
            if cached is not None:
                return [Reply(participant, {**cached, "duplicate": True} if cached["type"] == "ack" else cached)]
            self._current = (participant, request.id)
        self._out = []
        before = self.state
        try:
            self._dispatch(participant, msg, now)
        except ProtocolError as exc:
            self._out.append(Reply(participant, m.server_frame("error", **exc.to_wire(ref))))
        except Exception:  # a bug: nothing of this turn happened (the caller logs it)
            self.state, self._out = before, []
            raise
        finally:
            self._current = None
        out = self._take(now)
        if request is not None:
            reply = None
            for o in out:
                if isinstance(o, Reply) and o.participant == participant:
                    reply = o.frame
                    break
            if reply is not None:
                self._remember(participant, request.id, reply)
                recorded = False  # does a delta of this turn carry the answer (its by and req)?
                for o in out:
                    if isinstance(o, Emit) and o.delta.data.get("req") == request.id:
                        recorded = o.delta.data.get("by") == participant
                        if recorded:
                            break
                part = self.state.participants.get(participant)
                if not recorded and part is not None:  # no delta carries this answer: the log must
                    self.answers.append(
                        {
                            "rev": self.state.revision,
                            "participant": participant,
                            "session": part.session,
                            "id": request.id,
                            "frame": reply,
                        }
                    )
        return out

    def command(self, cmd: CommandCmd, now: float) -> list[Outbound]:
        """Run a server command of this room's kind; the last output is its ``Result``."""
        self._out = []
        kind = cmd.command.get("type") if isinstance(cmd.command, dict) else None
        if kind == "state":  # every kind: a read in order with the changes (nothing is emitted)
            self._out.append(Result(cmd.id, result={"kind": self.kind.name, "state": self.state.public_snapshot()}))
            return self._take(now)
        try:
            spec = self.kind.commands.get(kind) if isinstance(kind, str) else None
            if spec is None:
                raise BadMessage("unknown_type", f"{self.kind.name} rooms have no command {kind!r}", field="type")
            try:
                parsed = spec.model.model_validate(cmd.command)
            except ValueError as exc:
                raise BadMessage("bad_message", f"command {kind}: {exc}".splitlines()[0]) from exc
            before = self.state
            try:
                result = spec.handler(self, parsed, now)
            except ProtocolError:
                raise
            except Exception:  # a bug: nothing of this turn happened; the caller is told "internal"
                self.state, self._out = before, []
                logger.exception("room %s: command %s failed", self.room_id, kind)
                raise ServerError() from None
            self._out.append(Result(cmd.id, result=result))
        except ProtocolError as exc:
            self._out.append(Result(cmd.id, error=exc.to_wire()))
        return self._take(now)

    def _dispatch(self, pid: str, msg: object, now: float) -> None:
        if isinstance(msg, (JoinCmd, ResumeCmd)):  # a tuple: the union type checks at twice the cost
            self._join(pid, msg, now)
            return
        part = self.state.participants.get(pid)
        if isinstance(msg, DropCmd):
            if part is not None and part.session == msg.session and part.connected:
                self.emit("participant.status", {"participant": pid, "connected": False, "at": now})
                self._absent(pid, now)
            return
        if isinstance(msg, LeaveCmd):
            if part is not None and part.session == msg.session:
                self.emit("participant.leave", {"participant": pid})
            return
        if part is None or not part.connected:
            raise ProtocolError("not_joined", "participant has not joined this room")
        if not isinstance(msg, m.Request):
            raise ProtocolError("bad_message", f"{type(msg).__name__} is not handled by the room")
        kind = msg.type  # type: ignore[attr-defined]
        spec = self.kind.messages.get(kind)
        if spec is None:
            raise BadMessage("unknown_type", f"{kind!r} is not a message of {self.kind.name} rooms", field="type")
        if spec.roles is not None and part.role not in spec.roles:
            raise AuthError("forbidden", f"role {part.role!r} may not send {kind}", field="type")
        spec.handler(self, pid, msg, now)
        self._out.append(Reply(pid, m.ack(msg.id, self.state.revision)))

    def _absent(self, pid: str, now: float) -> None:
        if self.kind.absent_hook is not None:
            self.kind.absent_hook(self, pid, now)

    def _join(self, pid: str, cmd: JoinCmd | ResumeCmd, now: float) -> None:
        s: State = self.state
        part = s.participants.get(pid)
        resumed = False
        session = cmd.session
        if cmd.role not in self.kind.roles:
            roles = ", ".join(sorted(self.kind.roles))
            raise AuthError(
                "forbidden", f"role {cmd.role!r} may not join a {self.kind.name} room ({roles})", field="role"
            )
        if isinstance(cmd, ResumeCmd):
            if part is not None and part.session == cmd.session and cmd.revision > s.revision:
                raise Conflict(
                    "future_revision",
                    f"revision {cmd.revision} is newer than the room's {s.revision}",
                    field="revision",
                )
            resumed = part is not None and part.session == cmd.session
            session = cmd.session if resumed else cmd.new_session
        if self.kind.admit_hook is not None:
            self.kind.admit_hook(self, pid, cmd.role, now)
        if part is None:
            if len(s.participants) >= self.config.limits.max_participants_per_room:
                raise LimitExceeded("room_full", limit=self.config.limits.max_participants_per_room)
            self.emit("participant.join", {"participant": pid, "role": cmd.role, "session": session})
        elif not part.connected or part.session != session or part.role != cmd.role:
            if part.role != cmd.role:
                self.emit("participant.leave", {"participant": pid})
                self.emit("participant.join", {"participant": pid, "role": cmd.role, "session": session})
            else:
                self.emit("participant.status", {"participant": pid, "connected": True, "at": now, "session": session})
        self._seen[pid] = now - self.stalled
        self.reply(
            pid,
            m.server_frame(
                "welcome",
                ref=cmd.ref,
                room=s.room,
                participant=pid,
                role=cmd.role,
                session=session,
                resumed=resumed,
                revision=self.state.revision,
                **({"from_revision": cmd.revision} if resumed and isinstance(cmd, ResumeCmd) else {}),
            ),
        )

    def tick(self, now: float, stalled: float = 0.0) -> list[Outbound]:
        """Drop quiet participants, remove expired sessions, then run the kind's timers.  ``stalled``: the
        server's total stalled time so far (not counted toward the quiet timers; see the module docstring)."""
        if stalled > self.stalled:
            self.stalled = stalled
        self._out = []
        cfg = self.config
        awake = now - self.stalled
        for pid, part in list(self.state.participants.items()):
            if part.connected and awake - self._seen.get(pid, self._woke) > cfg.quiet_timeout:
                self.emit("participant.status", {"participant": pid, "connected": False, "at": now})
                self._absent(pid, now)
            elif not part.connected and part.dropped_at is not None and now - part.dropped_at > cfg.resume_window:
                self.emit("participant.leave", {"participant": pid})
                self._done.pop(pid, None)
                self._seen.pop(pid, None)
        if self.kind.tick_hook is not None:
            self.kind.tick_hook(self, now)
        return self._take(now)

    @property
    def empty(self) -> bool:
        """No participant (connected or resumable) is left and the kind keeps nothing else (may be forgotten)."""
        return not self.state.participants and self.kind.idle(self.state)
