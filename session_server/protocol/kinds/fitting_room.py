"""``fitting_room``: one fitting room of a store (room id ``fit.<store>.<room>``).

The mirror (a screen with a camera and a tag reader), at most one paired phone, the store's staff and
viewers share the items in the room, the shopper's requests to the staff, the look being tried on and
the recommendations the retail layer fills in.  Readers and HTTP calls change the room through server
commands (``SessionNode.command``); every request created or updated here is forwarded to the store's
staff room (``staff.<store>``) with a summary of the room.  A room where nobody is (no paired phone
connected, and no mirror connected or nothing in the room) for ``visit_timeout`` seconds is cleared
(``visit.cleared``) for the next shopper.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints

from ..errors import AuthError, BadMessage, Conflict, LimitExceeded
from ..limits import Limits
from ..messages import Command, Id, Request, Wire
from ..state import State, core_fields
from .base import EditData, ParticipantView, RoomKind

if TYPE_CHECKING:
    from ..room import Room

PREFIX = "fit."
OPEN_STATES = frozenset({"open", "accepted"})
"""Request states in which staff still has something to do."""
NEXT_STATES: dict[str, frozenset[str]] = {
    "open": frozenset({"accepted", "delivered", "unavailable", "cancelled"}),
    "accepted": frozenset({"delivered", "unavailable", "cancelled"}),
}
"""Allowed request transitions; delivered, unavailable and cancelled are final."""
MAX_ITEMS = 100
MAX_OPEN_REQUESTS = 50

Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=200)]
Url = Annotated[str, StringConstraints(max_length=2048)]
Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def split_room_id(room: str) -> tuple[str, str] | None:
    """(store, room name) of a fitting-room id ``fit.<store>.<room>``, or None."""
    parts = room.split(".")
    if len(parts) == 3 and parts[0] == "fit" and parts[1] and parts[2]:
        return parts[1], parts[2]
    return None


def staff_room_of(store: str) -> str:
    """The id of the store's staff room."""
    return f"staff.{store}"


# ---- state ------------------------------------------------------------------------------------------


def _no_look() -> dict[str, Any]:
    return {"skus": [], "active": False}


@dataclass(frozen=True, slots=True)
class FittingState(State):
    """State of a fitting room; the mappings hold JSON-ready dicts and are copied, never written into."""

    store: str = ""
    name: str = ""
    visit: dict[str, Any] | None = None
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    phone: dict[str, Any] | None = None
    look: dict[str, Any] = field(default_factory=_no_look)
    recs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold."""
        State.check(self)
        assert set(self.recs) <= set(self.items), "recommendations for items not in the room"
        for req in self.requests.values():
            assert req["item"] is None or req["item"] in self.items or req["state"] not in OPEN_STATES
        if self.items or self.requests or self.phone is not None:
            assert self.visit is not None, "items, requests or a phone without a visit"

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready snapshot (the ``state`` of a welcome)."""
        return {
            **State.snapshot(self),
            "kind": "fitting_room",
            "store": self.store,
            "name": self.name,
            "visit": None if self.visit is None else dict(self.visit),
            "items": {k: dict(v) for k, v in self.items.items()},
            "requests": {k: dict(v) for k, v in self.requests.items()},
            "phone": None if self.phone is None else dict(self.phone),
            "look": {"skus": list(self.look["skus"]), "active": bool(self.look["active"])},
            "recs": {k: dict(v) for k, v in self.recs.items()},
        }

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> FittingState:
        """The state a snapshot describes."""
        return cls(
            **core_fields(data),
            store=str(data["store"]),
            name=str(data["name"]),
            visit=data["visit"],
            items=dict(data["items"]),
            requests=dict(data["requests"]),
            phone=data["phone"],
            look=dict(data["look"]),
            recs=dict(data["recs"]),
        )

    def summary(self) -> dict[str, Any]:
        """What the staff room shows of this room."""
        return {
            "items": len(self.items),
            "open_requests": sum(1 for r in self.requests.values() if r["state"] in OPEN_STATES),
            "phone": self.phone is not None,
            "mirror": bool(self.connected_with("mirror")),
            "visit": self.visit is not None,
        }


def _new(room: str, limits: Limits) -> FittingState:
    store, name = split_room_id(room) or ("", "")
    return FittingState(room, store=store, name=name)


@dataclass(slots=True)
class Clock:
    """Per-room scratch: since when nobody (mirror or phone) is there; the last summary sent to staff;
    whether the staff room must be told every request again (after this process took the room over)."""

    empty_since: float | None = None
    summary: dict[str, Any] | None = None
    resync: bool = False


def _idle(s: FittingState) -> bool:
    return s.visit is None and not s.items and not s.requests and s.phone is None


# ---- the state as clients see it (a welcome's ``state``) ---------------------------------------------

Source = Literal["rfid", "barcode", "qr", "manual"]
RequestKind = Literal["size", "colour", "assistant"]
RequestStatus = Literal["open", "accepted", "delivered", "unavailable", "cancelled"]


class VisitView(Wire):
    """The visit under way: its id and when it started (server time)."""

    id: str
    started: float


class ItemView(Wire):
    """An item in the room: the product (what the catalog knows of it), how it came in, when."""

    sku: str | None
    size: str | None
    colour: str | None
    name: str | None
    price: float | None
    currency: str | None
    model_url: str | None
    image_url: str | None
    source: Source
    known: bool
    tag: str | None
    added: float


class RequestView(Wire):
    """A request to the staff: what is asked, its state, the staff member on it, last change."""

    kind: RequestKind
    item: str | None
    size: str | None
    colour: str | None
    state: RequestStatus
    by_staff: str | None
    updated: float


class PhoneView(Wire):
    """The paired phone: its participant id and when it was paired."""

    participant: str
    paired: float


class LookView(Wire):
    """The look the mirror's try-on renders (catalog SKUs) and whether try-on is on."""

    skus: list[str]
    active: bool


class FittingSnapshot(Wire):
    """The ``state`` of a ``fitting_room`` (``items``, ``requests``, ``recs`` keyed by their ids)."""

    kind: Literal["fitting_room"]
    room: str
    revision: int
    participants: list[ParticipantView]
    store: str
    name: str
    visit: VisitView | None
    items: dict[str, ItemView]
    requests: dict[str, RequestView]
    phone: PhoneView | None
    look: LookView
    recs: dict[str, dict[str, Any]]


KIND = RoomKind(
    "fitting_room",
    state=FittingState,
    snapshot=FittingSnapshot,
    roles=frozenset({"mirror", "phone", "staff", "viewer"}),
    claims=lambda room: split_room_id(room) is not None,
    new=_new,
    memo=Clock,
    idle=_idle,
    doc="a store's fitting room: items, requests to staff, the paired phone, the try-on look",
)


# ---- rules -------------------------------------------------------------------------------------------


@KIND.admit
def _admit(room: Room, pid: str, role: str, now: float) -> None:
    s: FittingState = room.state
    if role == "mirror":
        others = [p for p in s.connected_with("mirror") if p != pid]
        if others:
            raise Conflict("conflict", f"this fitting room already has a live mirror ({others[0]!r})", field="role")
    elif role == "phone" and (s.phone is None or s.phone["participant"] != pid):
        raise AuthError("not_paired", "this phone is not paired with the fitting room; scan the mirror's code")


def _paired(room: Room, pid: str) -> None:
    """A phone may act only while it is the room's paired phone."""
    s: FittingState = room.state
    if s.participants[pid].role == "phone" and (s.phone is None or s.phone["participant"] != pid):
        raise AuthError("not_paired", "this phone is no longer paired with the fitting room")


def _ensure_visit(room: Room, now: float) -> str:
    s: FittingState = room.state
    if s.visit is None:
        room.emit("visit.started", {"visit": {"id": uuid.uuid4().hex, "started": now}})
    return str(room.state.visit["id"])


def _item_of(s: FittingState, item: str) -> dict[str, Any]:
    found = s.items.get(item)
    if found is None:
        raise Conflict("unknown_item", f"item {item!r} is not in the fitting room", field="item")
    return found


# ---- visit.started / visit.cleared ---------------------------------------------------------------


class VisitStartedData(EditData):
    """``visit.started``: a visit began (first item, request or paired phone)."""

    visit: VisitView


@KIND.op("visit.started", data=VisitStartedData)
def _visit_started(s: FittingState, d: dict[str, Any]) -> FittingState:
    if s.visit is not None:
        raise ValueError("a visit is already under way")
    return replace(s, visit={"id": str(d["visit"]["id"]), "started": float(d["visit"]["started"])})


class VisitClearedData(EditData):
    """``visit.cleared``: the visit ended (``ended`` by the mirror or server, ``timeout``): items,
    requests, phone, look and recommendations are emptied."""

    reason: Literal["ended", "timeout"]
    at: float


@KIND.op("visit.cleared", data=VisitClearedData)
def _visit_cleared(s: FittingState, d: dict[str, Any]) -> FittingState:
    return replace(s, visit=None, items={}, requests={}, phone=None, look=_no_look(), recs={})


def _clear(room: Room, reason: str, now: float) -> bool:
    s: FittingState = room.state
    if _idle(s) and not s.look["skus"]:
        return False
    for rid, req in s.requests.items():
        if req["state"] in OPEN_STATES:
            room.forward(
                staff_room_of(s.store),
                {"type": "request.update", "request": rid, "state": "cancelled", "by_staff": None},
            )
    room.emit("visit.cleared", {"reason": reason, "at": now})
    return True


class VisitEnd(Request):
    """The shopper is done: clear the room for the next one (the phone's pairing ends)."""

    type: Literal["visit.end"]


@KIND.message(VisitEnd, roles=frozenset({"mirror"}))
def _visit_end(room: Room, pid: str, msg: VisitEnd, now: float) -> None:
    _clear(room, "ended", now)


class VisitEndCommand(Command):
    """Server command: end the visit (same as the mirror's ``visit.end``)."""

    type: Literal["visit.end"]


@KIND.command(VisitEndCommand)
def _visit_end_command(room: Room, cmd: VisitEndCommand, now: float) -> dict[str, Any]:
    return {"cleared": _clear(room, "ended", now)}


# ---- items -----------------------------------------------------------------------------------------


ITEM_FIELDS = ("sku", "size", "colour", "name", "price", "currency", "model_url", "image_url", "source", "known", "tag")


def _add_item(room: Room, fields: dict[str, Any], item: str | None, now: float) -> dict[str, Any]:
    s: FittingState = room.state
    tag = fields.get("tag")
    if tag is not None:
        for iid, existing in s.items.items():
            if existing.get("tag") == tag:
                return {"item": iid, "added": False, "visit": s.visit["id"] if s.visit else None}
    if item is not None and item in s.items:
        return {"item": item, "added": False, "visit": s.visit["id"] if s.visit else None}
    if len(s.items) >= MAX_ITEMS:
        raise LimitExceeded("too_many_objects", "the fitting room holds too many items", limit=MAX_ITEMS)
    visit = _ensure_visit(room, now)
    iid = item or uuid.uuid4().hex[:12]
    room.emit("item.added", {"item": iid, **{k: fields.get(k) for k in ITEM_FIELDS}, "added": now})
    return {"item": iid, "added": True, "visit": visit}


class ItemAddedData(ItemView, EditData):
    """``item.added``: an item came in (``item`` its id; the other fields as in the state)."""

    item: str


@KIND.op("item.added", data=ItemAddedData)
def _item_added(s: FittingState, d: dict[str, Any]) -> FittingState:
    if s.visit is None:
        raise ValueError("item added outside a visit")
    entry = {k: d.get(k) for k in ITEM_FIELDS}
    entry["known"] = bool(entry["known"])
    entry["added"] = float(d["added"])
    return replace(s, items={**s.items, str(d["item"]): entry})


class ItemAdd(Request):
    """Add an item by hand (the mirror's or staff's catalog picker); known product details may come along."""

    type: Literal["item.add"]
    item: Id | None = None
    sku: Id
    size: Label | None = None
    colour: Label | None = None
    name: Text | None = None
    price: Money | None = None
    currency: Currency | None = None
    model_url: Url | None = None
    image_url: Url | None = None


@KIND.message(ItemAdd, roles=frozenset({"mirror", "staff"}))
def _item_add(room: Room, pid: str, msg: ItemAdd, now: float) -> None:
    fields = msg.model_dump(exclude={"v", "type", "id", "item"})
    _add_item(room, {**fields, "source": "manual", "known": True, "tag": None}, msg.item, now)


class ItemRead(Command):
    """Server command: a tag or code was read (after debounce) and resolved against the catalog."""

    type: Literal["item.read"]
    item: Id | None = None
    sku: Id | None = None
    size: Label | None = None
    colour: Label | None = None
    name: Text | None = None
    price: Money | None = None
    currency: Currency | None = None
    model_url: Url | None = None
    image_url: Url | None = None
    source: Literal["rfid", "barcode", "qr", "manual"] = "rfid"
    known: bool = True
    tag: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


@KIND.command(ItemRead)
def _item_read(room: Room, cmd: ItemRead, now: float) -> dict[str, Any]:
    if cmd.tag is None and cmd.sku is None:
        raise BadMessage("bad_message", "item.read needs a tag or a sku", field="tag")
    fields = cmd.model_dump(exclude={"type", "item"})
    if fields["known"] and cmd.sku is None:
        fields["known"] = False
    return _add_item(room, fields, cmd.item, now)


class ItemRemove(Request):
    """Take an item out of the room."""

    type: Literal["item.remove"]
    item: Id


@KIND.message(ItemRemove, roles=frozenset({"mirror", "phone", "staff"}))
def _item_remove(room: Room, pid: str, msg: ItemRemove, now: float) -> None:
    _paired(room, pid)
    _item_of(room.state, msg.item)
    room.emit("item.removed", {"item": msg.item, "reason": "removed"})


class ItemLeave(Command):
    """Server command: an item left the room (no read for a while, or an explicit remove); by id or tag."""

    type: Literal["item.leave"]
    item: Id | None = None
    tag: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


@KIND.command(ItemLeave)
def _item_leave(room: Room, cmd: ItemLeave, now: float) -> dict[str, Any]:
    s: FittingState = room.state
    iid = cmd.item
    if iid is None and cmd.tag is not None:
        iid = next((k for k, v in s.items.items() if v.get("tag") == cmd.tag), None)
        if iid is None:
            raise Conflict("unknown_item", f"no item with tag {cmd.tag!r} is in the fitting room", field="tag")
    if iid is None:
        raise BadMessage("bad_message", "item.leave needs an item or a tag", field="item")
    _item_of(s, iid)
    room.emit("item.removed", {"item": iid, "reason": "left"})
    return {"item": iid}


class ItemRemovedData(EditData):
    """``item.removed``: an item was taken out (``removed``) or left the reader's field (``left``)."""

    item: str
    reason: Literal["removed", "left"]


@KIND.op("item.removed", data=ItemRemovedData)
def _item_removed(s: FittingState, d: dict[str, Any]) -> FittingState:
    iid = d["item"]
    if iid not in s.items:
        raise KeyError(iid)
    return replace(
        s,
        items={k: v for k, v in s.items.items() if k != iid},
        recs={k: v for k, v in s.recs.items() if k != iid},
    )


# ---- requests ---------------------------------------------------------------------------------------


def _create_request(
    room: Room,
    kind: str,
    item: str | None,
    size: str | None,
    colour: str | None,
    request: str | None,
    now: float,
) -> dict[str, Any]:
    s: FittingState = room.state
    if kind == "size" and (item is None or size is None):
        raise BadMessage("bad_message", "a size request names the item and the size", field="size")
    if kind == "colour" and (item is None or colour is None):
        raise BadMessage("bad_message", "a colour request names the item and the colour", field="colour")
    if item is not None:
        _item_of(s, item)
    if request is not None and request in s.requests:
        return {"request": request, "created": False}
    if sum(1 for r in s.requests.values() if r["state"] in OPEN_STATES) >= MAX_OPEN_REQUESTS:
        raise LimitExceeded("too_many_objects", "too many open requests in this room", limit=MAX_OPEN_REQUESTS)
    _ensure_visit(room, now)
    rid = request or uuid.uuid4().hex[:16]
    data = {"request": rid, "kind": kind, "item": item, "size": size, "colour": colour, "at": now}
    room.emit("request.created", data)
    staff = {k: v for k, v in data.items() if k != "at"}
    sku = s.items[item]["sku"] if item else None
    room.forward(staff_room_of(s.store), {"type": "request.add", **staff, "room": s.name, "sku": sku})
    return {"request": rid, "created": True}


class RequestCreatedData(EditData):
    """``request.created``: a request to the staff (state ``open``; ``at`` is its ``updated``)."""

    request: str
    kind: RequestKind
    item: str | None
    size: str | None
    colour: str | None
    at: float


@KIND.op("request.created", data=RequestCreatedData)
def _request_created(s: FittingState, d: dict[str, Any]) -> FittingState:
    rid = str(d["request"])
    if rid in s.requests:
        raise ValueError(f"request {rid} exists")
    entry = {
        "kind": d["kind"],
        "item": d.get("item"),
        "size": d.get("size"),
        "colour": d.get("colour"),
        "state": "open",
        "by_staff": None,
        "updated": float(d["at"]),
    }
    return replace(s, requests={**s.requests, rid: entry})


class RequestCreate(Request):
    """Ask the staff: bring this ``item`` in another ``size`` or ``colour``, or call an assistant."""

    type: Literal["request.create"]
    kind: RequestKind
    item: Id | None = None
    size: Label | None = None
    colour: Label | None = None


@KIND.message(RequestCreate, roles=frozenset({"mirror", "phone"}))
def _request_create(room: Room, pid: str, msg: RequestCreate, now: float) -> None:
    _paired(room, pid)
    _create_request(room, msg.kind, msg.item, msg.size, msg.colour, None, now)


class RequestCreateCommand(Command):
    """Server command: a request made over HTTP (checked against stock and stored first); ``request`` is its id."""

    type: Literal["request.create"]
    request: Id | None = None
    kind: RequestKind
    item: Id | None = None
    size: Label | None = None
    colour: Label | None = None


@KIND.command(RequestCreateCommand)
def _request_create_command(room: Room, cmd: RequestCreateCommand, now: float) -> dict[str, Any]:
    return _create_request(room, cmd.kind, cmd.item, cmd.size, cmd.colour, cmd.request, now)


RequestState = Literal["accepted", "delivered", "unavailable", "cancelled"]


def check_transition(requests: dict[str, dict[str, Any]], rid: str, state: str) -> bool:
    """Whether moving request ``rid`` to ``state`` changes anything; ProtocolError when it may not."""
    req = requests.get(rid)
    if req is None:
        raise Conflict("unknown_request", f"request {rid!r} does not exist", field="request")
    if req["state"] == state:
        return False
    if state not in NEXT_STATES.get(req["state"], frozenset()):
        raise Conflict("conflict", f"request {rid!r} is already {req['state']}", field="request")
    return True


class RequestUpdate(Command):
    """Server command: a staff action on a request (stored first by the caller), or a cancel."""

    type: Literal["request.update"]
    request: Id
    state: RequestState
    by_staff: Id | None = None


@KIND.command(RequestUpdate)
def _request_update(room: Room, cmd: RequestUpdate, now: float) -> dict[str, Any]:
    s: FittingState = room.state
    if check_transition(s.requests, cmd.request, cmd.state):
        data = {"request": cmd.request, "state": cmd.state, "by_staff": cmd.by_staff}
        room.emit("request.updated", {**data, "at": now})
        room.forward(staff_room_of(s.store), {"type": "request.update", **data})
    return {"request": cmd.request, "state": room.state.requests[cmd.request]["state"]}


class RequestUpdatedData(EditData):
    """``request.updated``: a request's new state (staff action or cancel) and who acted."""

    request: str
    state: RequestStatus
    by_staff: str | None
    at: float


@KIND.op("request.updated", data=RequestUpdatedData)
def _request_updated(s: FittingState, d: dict[str, Any]) -> FittingState:
    rid = d["request"]
    old = s.requests[rid]
    new = {**old, "state": d["state"], "by_staff": d.get("by_staff"), "updated": float(d["at"])}
    return replace(s, requests={**s.requests, rid: new})


# ---- the phone ---------------------------------------------------------------------------------------


class PhonePair(Command):
    """Server command: pair the phone participant (after the pairing code was redeemed)."""

    type: Literal["phone.pair"]
    participant: Id


@KIND.command(PhonePair)
def _phone_pair(room: Room, cmd: PhonePair, now: float) -> dict[str, Any]:
    s: FittingState = room.state
    if s.phone is not None and s.phone["participant"] != cmd.participant:
        raise Conflict("already_paired", "another phone is already paired with this fitting room")
    visit = _ensure_visit(room, now)
    if room.state.phone is None:
        room.emit("phone.paired", {"participant": cmd.participant, "paired": now})
    return {"participant": cmd.participant, "visit": visit}


class PhonePairedData(EditData):
    """``phone.paired``: the phone participant is paired with the room."""

    participant: str
    paired: float


@KIND.op("phone.paired", data=PhonePairedData)
def _phone_paired(s: FittingState, d: dict[str, Any]) -> FittingState:
    if s.visit is None:
        raise ValueError("phone paired outside a visit")
    return replace(s, phone={"participant": str(d["participant"]), "paired": float(d["paired"])})


class PhoneUnpair(Command):
    """Server command: end the phone's pairing (the visit goes on)."""

    type: Literal["phone.unpair"]


@KIND.command(PhoneUnpair)
def _phone_unpair(room: Room, cmd: PhoneUnpair, now: float) -> dict[str, Any]:
    s: FittingState = room.state
    if s.phone is None:
        return {"unpaired": False}
    room.emit("phone.unpaired", {"participant": s.phone["participant"]})
    return {"unpaired": True}


class PhoneUnpairedData(EditData):
    """``phone.unpaired``: the phone's pairing ended (the visit goes on)."""

    participant: str


@KIND.op("phone.unpaired", data=PhoneUnpairedData)
def _phone_unpaired(s: FittingState, d: dict[str, Any]) -> FittingState:
    if s.phone is None:
        raise KeyError("phone")
    return replace(s, phone=None)


# ---- the look (try-on) and recommendations ------------------------------------------------------


class LookSet(Request):
    """Set the look the mirror's try-on renders (catalog SKUs); ``active: false`` stops try-on."""

    type: Literal["look.set"]
    skus: Annotated[list[Id], Field(max_length=20)]
    active: bool = True


@KIND.message(LookSet, roles=frozenset({"mirror", "phone"}))
def _look_set(room: Room, pid: str, msg: LookSet, now: float) -> None:
    _paired(room, pid)
    room.emit("look.set", {"skus": list(msg.skus), "active": msg.active and bool(msg.skus)})


class LookSetData(LookView, EditData):
    """``look.set``: the look the mirror renders (``active`` is false when there is no SKU)."""


@KIND.op("look.set", data=LookSetData)
def _look(s: FittingState, d: dict[str, Any]) -> FittingState:
    return replace(s, look={"skus": [str(x) for x in d["skus"]], "active": bool(d["active"])})


class RecsSet(Command):
    """Server command: the retail layer's recommendations for an item."""

    type: Literal["recs.set"]
    item: Id
    recs: dict[str, Any]


@KIND.command(RecsSet)
def _recs_set(room: Room, cmd: RecsSet, now: float) -> dict[str, Any]:
    _item_of(room.state, cmd.item)
    room.emit("recs.set", {"item": cmd.item, "recs": cmd.recs})
    return {"item": cmd.item}


class RecsSetData(EditData):
    """``recs.set``: the retail layer's recommendations for an item (its own JSON object)."""

    item: str
    recs: dict[str, Any]


@KIND.op("recs.set", data=RecsSetData)
def _recs(s: FittingState, d: dict[str, Any]) -> FittingState:
    if d["item"] not in s.items:
        raise KeyError(d["item"])
    return replace(s, recs={**s.recs, str(d["item"]): dict(d["recs"])})


# ---- timers and the staff room's summary --------------------------------------------------------------


def _present(s: FittingState) -> bool:
    """Someone is there: the paired phone is connected, or the mirror is and there are items or open requests.

    A mirror that stays on all day does not keep a finished visit (no items, nothing asked) alive: the next
    shopper must not find the last one's phone paired or look set."""
    phone = s.phone["participant"] if s.phone is not None else None
    if phone in s.connected_with("phone"):
        return True
    busy = bool(s.items) or any(r["state"] in OPEN_STATES for r in s.requests.values())
    return busy and bool(s.connected_with("mirror"))


@KIND.tick
def _tick(room: Room, now: float) -> None:
    clock: Clock = room.memo
    s: FittingState = room.state
    if _present(s):
        clock.empty_since = None
        return
    if clock.empty_since is None:
        clock.empty_since = now
        return
    if now - clock.empty_since >= room.config.visit_timeout and _clear(room, "timeout", now):
        clock.empty_since = now


@KIND.restore
def _restore(room: Room, now: float) -> None:
    # a forward may have been lost with the process that ordered the room before: say it all again
    # (request.add and request.update are idempotent in the staff room)
    room.memo.empty_since = None
    room.memo.resync = True


@KIND.settle
def _settle(room: Room, now: float) -> None:
    s: FittingState = room.state
    if room.memo.resync:
        room.memo.resync = False
        staff = staff_room_of(s.store)
        for rid, req in s.requests.items():
            sku = s.items[req["item"]]["sku"] if req["item"] in s.items else None
            fields = {"request": rid, "kind": req["kind"], "item": req["item"], "size": req["size"]}
            room.forward(staff, {"type": "request.add", **fields, "colour": req["colour"], "room": s.name, "sku": sku})
            if req["state"] != "open":
                update = {"request": rid, "state": req["state"], "by_staff": req["by_staff"]}
                room.forward(staff, {"type": "request.update", **update})
    summary = s.summary()
    if summary != room.memo.summary:
        room.memo.summary = summary
        room.forward(staff_room_of(s.store), {"type": "room.summary", "room": s.name, **summary})
