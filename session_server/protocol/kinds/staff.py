"""``staff``: the staff room of a store (room id ``staff.<store>``).

Staff tablets see every request of the store's fitting rooms live and act on them
(``request.accept``, ``request.deliver``, ``request.unavailable``); each action is forwarded to the
fitting room, whose mirror and phone show it.  The fitting rooms keep this room up to date with
server commands (``request.add``, ``request.update``, ``room.summary``).  Closed requests are dropped
``visit_timeout`` seconds after their last change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from ..limits import Limits
from ..messages import Command, Id, Request, Wire
from ..state import State, core_fields
from .base import EditData, ParticipantView, RoomKind
from .fitting_room import OPEN_STATES, Label, RequestKind, RequestState, RequestStatus, check_transition

if TYPE_CHECKING:
    from ..room import Room

STAFF_ROLES = frozenset({"staff"})


def store_of(room: str) -> str | None:
    """The store of a staff-room id ``staff.<store>``, or None."""
    parts = room.split(".")
    return parts[1] if len(parts) == 2 and parts[0] == "staff" and parts[1] else None


@dataclass(frozen=True, slots=True)
class StaffState(State):
    """The store's requests (each naming its fitting room) and a summary of each fitting room."""

    store: str = ""
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready snapshot (the ``state`` of a welcome)."""
        return {
            **State.snapshot(self),
            "kind": "staff",
            "store": self.store,
            "requests": {k: dict(v) for k, v in self.requests.items()},
            "rooms": {k: dict(v) for k, v in self.rooms.items()},
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> StaffState:
        """The state a snapshot describes."""
        return cls(
            **core_fields(data), store=str(data["store"]), requests=dict(data["requests"]), rooms=dict(data["rooms"])
        )


def _new(room: str, limits: Limits) -> StaffState:
    return StaffState(room, store=store_of(room) or "")


def _idle(s: StaffState) -> bool:
    return not s.requests and not any(any(v.values()) for v in s.rooms.values())


@dataclass(slots=True)
class Resync:
    """Per-room scratch: whether the staff actions must be forwarded again (after a take-over)."""

    pending: bool = False


class StaffRequestView(Wire):
    """A request of one of the store's fitting rooms (``room``: the fitting room's name)."""

    room: str
    kind: RequestKind
    item: str | None
    sku: str | None
    size: str | None
    colour: str | None
    state: RequestStatus
    by_staff: str | None
    updated: float


class RoomSummaryView(Wire):
    """What a fitting room holds now: items, open requests, whether a phone is paired, a mirror is
    connected, a visit is under way."""

    items: int
    open_requests: int
    phone: bool
    mirror: bool
    visit: bool


class StaffSnapshot(Wire):
    """The ``state`` of a ``staff`` room (``requests`` by request id, ``rooms`` by fitting-room name)."""

    kind: Literal["staff"]
    room: str
    revision: int
    participants: list[ParticipantView]
    store: str
    requests: dict[str, StaffRequestView]
    rooms: dict[str, RoomSummaryView]


KIND = RoomKind(
    "staff",
    state=StaffState,
    snapshot=StaffSnapshot,
    roles=frozenset({"staff", "viewer"}),
    claims=lambda room: store_of(room) is not None,
    new=_new,
    memo=Resync,
    idle=_idle,
    doc="a store's staff room: every request of its fitting rooms, live, and a summary of each room",
)


def _fitting_room(s: StaffState, name: str) -> str:
    return f"fit.{s.store}.{name}"


# ---- staff actions -------------------------------------------------------------------------------


class RequestAccept(Request):
    """Staff takes the request on."""

    type: Literal["request.accept"]
    request: Id


class RequestDeliver(Request):
    """Staff brought what was asked for."""

    type: Literal["request.deliver"]
    request: Id


class RequestUnavailable(Request):
    """Staff cannot bring it (not in stock after all)."""

    type: Literal["request.unavailable"]
    request: Id


def _act(room: Room, pid: str, rid: str, state: str, now: float) -> None:
    s: StaffState = room.state
    if check_transition(s.requests, rid, state):
        room.emit("request.updated", {"request": rid, "state": state, "by_staff": pid, "at": now})
        room.forward(
            _fitting_room(s, s.requests[rid]["room"]),
            {"type": "request.update", "request": rid, "state": state, "by_staff": pid},
        )


@KIND.message(RequestAccept, roles=STAFF_ROLES)
def _accept(room: Room, pid: str, msg: RequestAccept, now: float) -> None:
    _act(room, pid, msg.request, "accepted", now)


@KIND.message(RequestDeliver, roles=STAFF_ROLES)
def _deliver(room: Room, pid: str, msg: RequestDeliver, now: float) -> None:
    _act(room, pid, msg.request, "delivered", now)


@KIND.message(RequestUnavailable, roles=STAFF_ROLES)
def _unavailable(room: Room, pid: str, msg: RequestUnavailable, now: float) -> None:
    _act(room, pid, msg.request, "unavailable", now)


class StaffRequestUpdatedData(EditData):
    """``request.updated``: a request's new state and the staff member who acted."""

    request: str
    state: RequestStatus
    by_staff: str | None
    at: float


@KIND.op("request.updated", data=StaffRequestUpdatedData)
def _request_updated(s: StaffState, d: dict[str, Any]) -> StaffState:
    rid = d["request"]
    new = {**s.requests[rid], "state": d["state"], "by_staff": d.get("by_staff"), "updated": float(d["at"])}
    return replace(s, requests={**s.requests, rid: new})


# ---- from the fitting rooms ----------------------------------------------------------------------------


class RequestAdd(Command):
    """Server command (from a fitting room): a new request."""

    type: Literal["request.add"]
    request: Id
    room: Id
    kind: RequestKind
    item: Id | None = None
    sku: Id | None = None
    size: Label | None = None
    colour: Label | None = None


@KIND.command(RequestAdd)
def _request_add(room: Room, cmd: RequestAdd, now: float) -> dict[str, Any]:
    if cmd.request not in room.state.requests:
        room.emit("request.created", {**cmd.model_dump(exclude={"type"}), "at": now})
    return {"request": cmd.request}


class StaffRequestCreatedData(EditData):
    """``request.created``: a new request in fitting room ``room`` (state ``open``)."""

    request: str
    room: str
    kind: RequestKind
    item: str | None
    sku: str | None
    size: str | None
    colour: str | None
    at: float


@KIND.op("request.created", data=StaffRequestCreatedData)
def _request_created(s: StaffState, d: dict[str, Any]) -> StaffState:
    rid = str(d["request"])
    if rid in s.requests:
        raise ValueError(f"request {rid} exists")
    entry = {k: d.get(k) for k in ("room", "kind", "item", "sku", "size", "colour")}
    entry.update(state="open", by_staff=None, updated=float(d["at"]))
    return replace(s, requests={**s.requests, rid: entry})


class StaffRequestUpdate(Command):
    """Server command (from a fitting room): a request changed there (staff action over HTTP, or cancelled)."""

    type: Literal["request.update"]
    request: Id
    state: RequestState
    by_staff: Id | None = None


@KIND.command(StaffRequestUpdate)
def _request_update(room: Room, cmd: StaffRequestUpdate, now: float) -> dict[str, Any]:
    if check_transition(room.state.requests, cmd.request, cmd.state):
        room.emit("request.updated", {"request": cmd.request, "state": cmd.state, "by_staff": cmd.by_staff, "at": now})
    return {"request": cmd.request, "state": room.state.requests[cmd.request]["state"]}


class RoomSummary(Command):
    """Server command (from a fitting room): what it holds now."""

    type: Literal["room.summary"]
    room: Id
    items: int
    open_requests: int
    phone: bool
    mirror: bool
    visit: bool


@KIND.command(RoomSummary)
def _room_summary(room: Room, cmd: RoomSummary, now: float) -> dict[str, Any]:
    summary = cmd.model_dump(exclude={"type", "room"})
    if room.state.rooms.get(cmd.room) != summary:
        room.emit("room.summary", {"room": cmd.room, **summary})
    return {"room": cmd.room}


class RoomSummaryData(RoomSummaryView, EditData):
    """``room.summary``: what fitting room ``room`` holds now."""

    room: str


@KIND.op("room.summary", data=RoomSummaryData)
def _summary(s: StaffState, d: dict[str, Any]) -> StaffState:
    entry = {k: d[k] for k in ("items", "open_requests", "phone", "mirror", "visit")}
    return replace(s, rooms={**s.rooms, str(d["room"]): entry})


# ---- after a take-over: tell the fitting rooms the staff actions again ------------------------------


@KIND.restore
def _restore(room: Room, now: float) -> None:
    room.memo.pending = True


@KIND.settle
def _settle(room: Room, now: float) -> None:
    if not room.memo.pending:
        return
    room.memo.pending = False
    s: StaffState = room.state
    for rid, req in s.requests.items():
        if req["state"] in ("accepted", "delivered", "unavailable") and req["by_staff"] is not None:
            update = {"request": rid, "state": req["state"], "by_staff": req["by_staff"]}
            room.forward(_fitting_room(s, req["room"]), {"type": "request.update", **update})


# ---- closed requests leave after a while -----------------------------------------------------------


@KIND.tick
def _tick(room: Room, now: float) -> None:
    s: StaffState = room.state
    for rid, req in list(s.requests.items()):
        if req["state"] not in OPEN_STATES and now - float(req["updated"]) >= room.config.visit_timeout:
            room.emit("request.removed", {"request": rid})


class RequestRemovedData(EditData):
    """``request.removed``: a closed request left the list (``visit_timeout`` after its last change)."""

    request: str


@KIND.op("request.removed", data=RequestRemovedData)
def _request_removed(s: StaffState, d: dict[str, Any]) -> StaffState:
    rid = d["request"]
    if rid not in s.requests:
        raise KeyError(rid)
    return replace(s, requests={k: v for k, v in s.requests.items() if k != rid})
