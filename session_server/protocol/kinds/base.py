"""What a room kind is: one ``RoomKind`` declared in one module, its parts registered beside each other.

A kind module declares

* its state: a frozen subclass of ``state.State`` with ``snapshot``/``from_snapshot``;
* ``KIND = RoomKind(name, state=..., snapshot=..., roles=..., claims=..., new=...)``, ``snapshot`` the
  model of its ``state`` as a ``welcome`` carries it;
* each delta op: ``@KIND.op("object.move", data=Model)`` on a pure ``(state, data) -> state``, with
  the model (a ``messages.Wire``) of its ``data`` as clients see it (PROTOCOL.md, the JSON Schema);
* each client message: its pydantic model (a ``messages.Request``) and, right under it,
  ``@KIND.message(Model, roles=...)`` on its handler ``(room, participant, msg, now) -> None``, which
  checks, raises ``ProtocolError`` or calls ``room.emit(op, data)``; the core answers ``ack``;
* each server command (``SessionNode.command``): its model (a ``messages.Command``) and
  ``@KIND.command(Model)`` on ``(room, cmd, now) -> dict`` (the result);
* optional hooks: ``@KIND.admit`` (join rules), ``@KIND.absent`` (a participant dropped or went
  quiet), ``@KIND.tick`` (timers), ``@KIND.restore`` (after a checkpoint was loaded), ``@KIND.settle``
  (after every turn: e.g. tell another room what changed with ``room.forward``), ``idle`` (whether a
  room without participants may be forgotten), and ``memo``, a factory of per-room scratch data that
  is not state (e.g. when each lock was last touched).

``registry.KINDS`` lists the kinds; a new kind is one module and one line there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ProtocolError
from ..limits import Limits
from ..messages import Command, Request, Wire, type_name
from ..state import Participant, State

if TYPE_CHECKING:
    from ..room import Room

S = TypeVar("S", bound=State)
Transition = Callable[[Any, dict[str, Any]], Any]
Handler = Callable[["Room", str, Any, float], None]
CommandHandler = Callable[["Room", Any, float], dict[str, Any]]
Hook = Callable[..., None]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """A client message of a kind: its model, its handler and the roles that may send it (None: all)."""

    model: type[Request]
    handler: Handler
    roles: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A server command of a kind: its model and its handler."""

    model: type[Command]
    handler: CommandHandler


# ---- the participant ops every kind has ------------------------------------------------------------


def participant_join(s: S, d: dict[str, Any]) -> S:
    """A participant joined (or re-joined with another role)."""
    parts = dict(s.participants)
    parts[d["participant"]] = Participant(d["participant"], d["role"], d.get("session", ""))
    return replace(s, participants=parts)  # type: ignore[return-value]


def participant_status(s: S, d: dict[str, Any]) -> S:
    """A participant dropped (resumable) or came back."""
    pid = d["participant"]
    old = s.participants[pid]
    parts = dict(s.participants)
    connected = bool(d["connected"])
    parts[pid] = replace(
        old,
        connected=connected,
        dropped_at=None if connected else float(d["at"]),
        session=d.get("session", old.session),
    )
    return replace(s, participants=parts)  # type: ignore[return-value]


def participant_leave(s: S, d: dict[str, Any]) -> S:
    """A participant left for good."""
    pid = d["participant"]
    if pid not in s.participants:
        raise KeyError(pid)
    return replace(s, participants={k: v for k, v in s.participants.items() if k != pid})  # type: ignore[return-value]


CORE_OPS: dict[str, Transition] = {
    "participant.join": participant_join,
    "participant.status": participant_status,
    "participant.leave": participant_leave,
}


class EditData(Wire):
    """Fields of every delta a client's request made: who (``by``) and its request id (``req``);
    absent from deltas of server commands and timers."""

    by: str | None = None
    req: str | None = None


class ParticipantJoined(EditData):
    """``participant.join``: a participant joined (or joined again with another role)."""

    participant: str
    role: str


class ParticipantStatus(EditData):
    """``participant.status``: a participant dropped (``connected: false``, resumable, keeps its seat)
    or came back (``connected: true``); ``at`` is the server time of the change."""

    participant: str
    connected: bool
    at: float


class ParticipantLeft(EditData):
    """``participant.leave``: a participant left for good (``leave``, or its resume window ended)."""

    participant: str


CORE_OP_DATA: dict[str, type[Wire]] = {
    "participant.join": ParticipantJoined,
    "participant.status": ParticipantStatus,
    "participant.leave": ParticipantLeft,
}


class ParticipantView(Wire):
    """One participant in a ``state``: its role and whether it is connected (``dropped_at``: since
    when it is not, server time; a dropped participant keeps its seat until its resume window ends)."""

    id: str
    role: str
    connected: bool
    dropped_at: float | None


class RoomKind:
    """One kind of room: state, roles, which room ids it claims, messages, commands, delta ops, hooks."""

    def __init__(
        self,
        name: str,
        *,
        state: type[State],
        roles: frozenset[str],
        claims: Callable[[str], bool],
        new: Callable[[str, Limits], State],
        snapshot: type[Wire] | None = None,
        memo: Callable[[], Any] = dict,
        idle: Callable[[Any], bool] = lambda state: True,
        doc: str = "",
    ) -> None:
        self.name = name
        self.state_type = state
        self.snapshot = snapshot
        """The layout of this kind's ``state`` (as a ``welcome`` carries it), for the protocol's description."""
        self.roles = roles
        self.claims = claims
        self.new = new
        self.memo = memo
        self.idle = idle
        self.doc = doc
        self.messages: dict[str, MessageSpec] = {}
        self.commands: dict[str, CommandSpec] = {}
        self.ops: dict[str, Transition] = dict(CORE_OPS)
        self.op_data: dict[str, type[Wire]] = dict(CORE_OP_DATA)
        """The fields of each delta op's ``data``, for the protocol's description."""
        self.admit_hook: Hook | None = None
        self.absent_hook: Hook | None = None
        self.tick_hook: Hook | None = None
        self.restore_hook: Hook | None = None
        self.settle_hook: Hook | None = None
        if state in _BY_STATE:
            raise ValueError(f"state class {state.__name__} already belongs to kind {_BY_STATE[state].name}")
        _BY_STATE[state] = self

    def __repr__(self) -> str:
        return f"RoomKind({self.name!r})"

    # ---- declarations ------------------------------------------------------------------------
    def op(self, name: str, *, data: type[Wire] | None = None, override: bool = False) -> Callable[[F], F]:
        """Register the delta op ``name``: a pure ``(state, data) -> state``; ``data`` declares its fields."""

        def deco(fn: F) -> F:
            if name in self.ops and not override:
                raise ValueError(f"{self.name}: delta op {name!r} is declared twice")
            if data is None and name not in self.op_data:
                raise ValueError(f"{self.name}: delta op {name!r} needs its data model (data=...)")
            self.ops[name] = fn
            if data is not None:
                self.op_data[name] = data
            return fn

        return deco

    def message(self, model: type[Request], *, roles: frozenset[str] | None = None) -> Callable[[F], F]:
        """Register the client message ``model`` with its handler and the roles that may send it."""
        kind = type_name(model)

        def deco(fn: F) -> F:
            if kind in self.messages:
                raise ValueError(f"{self.name}: message {kind!r} is declared twice")
            self.messages[kind] = MessageSpec(model, fn, None if roles is None else frozenset(roles))
            return fn

        return deco

    def command(self, model: type[Command]) -> Callable[[F], F]:
        """Register the server command ``model`` with its handler ``(room, cmd, now) -> result``."""
        kind = type_name(model)

        def deco(fn: F) -> F:
            if kind in self.commands or kind == "state":  # "state" is every room's (Room.command)
                raise ValueError(f"{self.name}: command {kind!r} is declared twice")
            self.commands[kind] = CommandSpec(model, fn)
            return fn

        return deco

    def admit(self, fn: F) -> F:
        """Hook ``(room, participant, role, now)``: raise to refuse a join (e.g. a second mirror)."""
        self.admit_hook = fn
        return fn

    def absent(self, fn: F) -> F:
        """Hook ``(room, participant, now)``: a participant dropped or went quiet."""
        self.absent_hook = fn
        return fn

    def tick(self, fn: F) -> F:
        """Hook ``(room, now)``: the room's timers (called by ``Room.tick``)."""
        self.tick_hook = fn
        return fn

    def restore(self, fn: F) -> F:
        """Hook ``(room, now)``: rebuild the memo after a checkpoint was loaded and replayed."""
        self.restore_hook = fn
        return fn

    def settle(self, fn: F) -> F:
        """Hook ``(room, now)``: after every handled item and tick (e.g. forward a summary elsewhere)."""
        self.settle_hook = fn
        return fn

    # ---- state -----------------------------------------------------------------------------------
    def apply(self, state: State, op: str, data: dict[str, Any]) -> State:
        """Run the transition of ``op``; raise ProtocolError("bad_delta") when it is unknown."""
        fn = self.ops.get(op)
        if fn is None:
            raise ProtocolError("bad_delta", f"unknown delta op {op!r} in a {self.name} room")
        return fn(state, data)  # type: ignore[no-any-return]

    def from_snapshot(self, data: dict[str, Any]) -> State:
        """The state a snapshot describes."""
        return self.state_type.from_snapshot(data)  # type: ignore[attr-defined, no-any-return]


_BY_STATE: dict[type[State], RoomKind] = {}


def kind_of(state: State) -> RoomKind:
    """The kind a state belongs to."""
    try:
        return _BY_STATE[type(state)]
    except KeyError:
        raise ProtocolError("bad_delta", f"{type(state).__name__} is not the state of a room kind") from None
