"""Protocol errors: one base class, one table of error codes and close codes.

Hierarchy::

    ProtocolError                 base; structured fields code/message/field/limit/actual
    ├── ClientError               the peer sent something bad (details are sent back)
    │   ├── BadMessage            malformed JSON, unknown type, wrong field types, wrong version
    │   ├── LimitExceeded         size, depth, rate, participants, objects, rooms
    │   ├── AuthError             forged, expired, wrong-room token; forbidden role
    │   └── Conflict              lock held, not owner, unknown object, revision from the future
    └── ServerError               we failed; answered without details

``ERROR_CODES`` is the single table: code -> (close code or None, description).  A ``None`` close
code means the error is answered and the connection stays open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# WebSocket close codes used by the server (RFC 6455 + private 4000-4999 range).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_SERVICE_RESTART = 1012
CLOSE_AUTH = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_SLOW_CONSUMER = 4004
CLOSE_IDLE = 4005
CLOSE_ROOM_FULL = 4006
CLOSE_SERVER_FULL = 4007
CLOSE_RATE = 4008


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error code's WebSocket close code (None: the connection stays open) and description."""
    close_code: int | None
    description: str


ERROR_CODES: dict[str, ErrorSpec] = {
    "bad_json": ErrorSpec(None, "frame is not valid JSON text"),
    "bad_message": ErrorSpec(None, "message does not match the schema for its type"),
    "unknown_type": ErrorSpec(None, "message type is not known"),
    "bad_version": ErrorSpec(CLOSE_POLICY, "protocol version is not supported"),
    "too_big": ErrorSpec(CLOSE_TOO_BIG, "message is larger than the size limit"),
    "too_deep": ErrorSpec(None, "message nesting is deeper than the depth limit"),
    "rate_limited": ErrorSpec(None, "too many messages per second on this connection"),
    "rate_abuse": ErrorSpec(CLOSE_RATE, "rate limit exceeded repeatedly; connection closed"),
    "room_full": ErrorSpec(CLOSE_ROOM_FULL, "room has reached its participant limit"),
    "too_many_objects": ErrorSpec(None, "room has reached its object limit"),
    "too_many_anchors": ErrorSpec(None, "room has reached its anchor limit"),
    "too_many_rooms": ErrorSpec(CLOSE_SERVER_FULL, "server has reached its room limit"),
    "bad_token": ErrorSpec(CLOSE_AUTH, "token is malformed or its signature is wrong"),
    "token_expired": ErrorSpec(CLOSE_AUTH, "token has expired"),
    "wrong_room": ErrorSpec(CLOSE_AUTH, "token names another room"),
    "auth_required": ErrorSpec(CLOSE_AUTH, "room is not open; a token is required"),
    "forbidden": ErrorSpec(None, "role may not do this"),
    "not_joined": ErrorSpec(None, "join first (or wait for the welcome of a join that was refused)"),
    "already_joined": ErrorSpec(None, "connection has already joined"),
    "unknown_object": ErrorSpec(None, "object does not exist"),
    "unknown_anchor": ErrorSpec(None, "anchor does not exist"),
    "object_exists": ErrorSpec(None, "object id is already used"),
    "lock_required": ErrorSpec(None, "take the object's lock before editing it"),
    "locked": ErrorSpec(None, "object is locked by another participant"),
    "future_revision": ErrorSpec(None, "revision is newer than the room's revision"),
    "conflict": ErrorSpec(None, "conflicts with the room's current state (e.g. the request is already closed)"),
    "unknown_item": ErrorSpec(None, "the item is not in the fitting room"),
    "unknown_request": ErrorSpec(None, "the request does not exist"),
    "already_paired": ErrorSpec(None, "another phone is already paired with this fitting room"),
    "not_paired": ErrorSpec(None, "this phone is not paired with the fitting room (or its visit ended)"),
    "idle_timeout": ErrorSpec(CLOSE_IDLE, "no message within the idle timeout"),
    "slow_consumer": ErrorSpec(CLOSE_SLOW_CONSUMER, "client reads too slowly; reconnect and resume"),
    "replaced": ErrorSpec(CLOSE_POLICY, "the same participant joined from another connection"),
    "shutdown": ErrorSpec(CLOSE_SERVICE_RESTART, "server is shutting down; reconnect and resume"),
    "bad_delta": ErrorSpec(None, "delta does not apply to the state (gap or unknown target)"),
    "lease_lost": ErrorSpec(None, "this process no longer orders the room's changes"),
    "internal": ErrorSpec(CLOSE_INTERNAL, "internal error"),
    "unreachable": ErrorSpec(None, "the server could not be reached (client side: refused, unknown host, timeout)"),
}


class ProtocolError(Exception):
    """Base of every session-protocol error; ``code`` is a key of ``ERROR_CODES``."""

    def __init__(
        self,
        code: str,
        message: str | None = None,
        *,
        field: str | None = None,
        limit: Any = None,
        actual: Any = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise KeyError(f"unknown error code {code!r}")
        self.code = code
        self.message = message or ERROR_CODES[code].description
        self.field = field
        self.limit = limit
        self.actual = actual
        super().__init__(str(self))

    @property
    def close_code(self) -> int | None:
        """Return the WebSocket close code of this error (None when the connection stays open)."""
        return ERROR_CODES[self.code].close_code

    def detail(self) -> str:
        """The message with the limit, without the field (the wire carries the field on its own)."""
        if self.limit is None:
            return self.message
        return (
            f"{self.message} (limit {self.limit}, got {self.actual})"
            if self.actual is not None
            else (f"{self.message} (limit {self.limit})")
        )

    def __str__(self) -> str:
        return f"{self.field}: {self.detail()}" if self.field else self.detail()

    def to_wire(self, request_id: str | None = None) -> dict[str, Any]:
        """Return the error frame's fields (code, message, field, ref) for a request id."""
        out: dict[str, Any] = {"code": self.code, "message": self.detail()}
        if self.field is not None:
            out["field"] = self.field
        if request_id is not None:
            out["ref"] = request_id
        return out


class ClientError(ProtocolError):
    """The peer sent something the protocol refuses."""


class BadMessage(ClientError):
    """A message that is not valid (JSON, type, fields, values)."""
    pass


class LimitExceeded(ClientError):
    """A configured limit was reached (size, rate, participants, objects, rooms)."""
    pass


class AuthError(ClientError):
    """The token is missing, invalid, expired, or for another room, or the role may not do this."""
    pass


class Conflict(ClientError):
    """The request conflicts with the room's state (locked object, unknown object, already placed)."""
    pass


class ServerError(ProtocolError):
    """We failed; the peer is told only ``internal``."""

    def __init__(self, message: str = "internal error") -> None:
        super().__init__("internal", message)

    def to_wire(self, request_id: str | None = None) -> dict[str, Any]:
        """Return an ``internal`` error frame's fields with no internal details."""
        out: dict[str, Any] = {"code": "internal", "message": "internal error"}
        if request_id is not None:
            out["ref"] = request_id
        return out
