"""Staff requests ("bring me size M", "this in another colour", "call an assistant"), stored first.

The database is the source of truth: a request is inserted before any room hears of it, and a staff
action is checked and stored in one transaction before the rooms are told, so a request survives a
restart or a node kill and two staff members cannot both close it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sqlalchemy import delete, insert, select, update

from .db import RetailDB, requests
from .errors import RetailError

RequestKind = Literal["size", "colour", "assistant"]
REQUEST_KINDS: tuple[str, ...] = get_args(RequestKind)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "accept": ("accepted", frozenset({"open"})),
    "deliver": ("delivered", frozenset({"open", "accepted"})),
    "unavailable": ("unavailable", frozenset({"open", "accepted"})),
    "cancel": ("cancelled", frozenset({"open", "accepted"})),
}
OPEN_STATES = ("open", "accepted")


@dataclass(frozen=True, slots=True)
class StaffRequest:
    """One request as stored."""

    id: str
    store: str
    room: str
    kind: str
    item: str | None
    sku: str | None
    size: str | None
    colour: str | None
    state: str
    by_staff: str | None
    created: float
    updated: float

    def as_dict(self) -> dict[str, Any]:
        """Wire form (rooms, API)."""
        return {"id": self.id, "store": self.store, "room": self.room, "kind": self.kind, "item": self.item,
                "sku": self.sku, "size": self.size, "colour": self.colour, "state": self.state,
                "by_staff": self.by_staff, "created": self.created, "updated": self.updated}


def _row(row: Any) -> StaffRequest:
    r = row._mapping
    return StaffRequest(r["id"], r["store"], r["room"], r["kind"], r["item"], r["sku"], r["size"], r["colour"],
                        r["state"], r["by_staff"], r["created"], r["updated"])


class RequestBook:
    """Requests in the database."""

    def __init__(self, db: RetailDB) -> None:
        self.db = db

    def create(self, store: str, room: str, kind: str, item: str | None, sku: str | None, size: str | None,
               colour: str | None, now: float | None = None) -> StaffRequest:
        """Store a new open request."""
        now = time.time() if now is None else now
        req = StaffRequest("rq-" + secrets.token_hex(6), store, room, kind, item, sku, size, colour, "open", None,
                           now, now)
        with self.db.engine.begin() as conn:
            conn.execute(insert(requests).values(**{k: v for k, v in req.as_dict().items()}))
        return req

    def remove(self, request_id: str) -> None:
        """Undo a create whose rooms could not be told (so a refused call changes nothing)."""
        with self.db.engine.begin() as conn:
            conn.execute(delete(requests).where(requests.c.id == request_id))

    def get(self, request_id: str) -> StaffRequest:
        """One request; RetailError ``unknown_request``."""
        with self.db.engine.connect() as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
        if row is None:
            raise RetailError("unknown_request", f"no request {request_id!r}", field="request")
        return _row(row)

    def act(self, request_id: str, action: str, store: str, staff: str, now: float | None = None) -> StaffRequest:
        """Apply a staff action (accept, deliver, unavailable; cancel by the room) in one transaction."""
        if action not in ACTIONS:
            raise RetailError("bad_request", f"action must be one of {', '.join(ACTIONS)}", field="action")
        target, allowed = ACTIONS[action]
        now = time.time() if now is None else now
        with self.db.engine.begin() as conn:
            row = conn.execute(select(requests).where(requests.c.id == request_id)).first()
            if row is None:
                raise RetailError("unknown_request", f"no request {request_id!r}", field="request")
            req = _row(row)
            if req.store != store:
                raise RetailError("wrong_store", f"request {request_id} belongs to store {req.store}",
                                  field="request")
            if req.state not in allowed:
                raise RetailError("conflict", f"request {request_id} is already {req.state}; cannot {action} it",
                                  field="request", state=req.state)
            done = conn.execute(update(requests).where(requests.c.id == request_id, requests.c.state == req.state)
                                .values(state=target, by_staff=staff, updated=now))
            if done.rowcount != 1:
                raise RetailError("conflict", f"request {request_id} changed meanwhile; reload it", field="request")
        return StaffRequest(**{**req.as_dict(), "state": target, "by_staff": staff, "updated": now})

    def cancel_open(self, store: str, room: str, now: float | None = None) -> int:
        """Cancel the room's open and accepted requests (its visit ended); returns how many."""
        now = time.time() if now is None else now
        with self.db.engine.begin() as conn:
            done = conn.execute(update(requests).where(requests.c.store == store, requests.c.room == room,
                                                       requests.c.state.in_(OPEN_STATES))
                                .values(state="cancelled", updated=now))
        return done.rowcount or 0

    def list(self, store: str, room: str | None = None, states: tuple[str, ...] | None = None,
             limit: int = 500) -> list[StaffRequest]:
        """A store's requests (of one room, in some states), oldest first."""
        query = select(requests).where(requests.c.store == store)
        if room is not None:
            query = query.where(requests.c.room == room)
        if states:
            query = query.where(requests.c.state.in_(states))
        with self.db.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query.order_by(requests.c.created, requests.c.id).limit(limit))]
