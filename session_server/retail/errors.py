"""Errors of the fitting-room HTTP layer: one table of codes -> HTTP status and description.

Hierarchy::

    ProtocolError                   the session package's base (code, message, field)
    └── ClientError
        └── RetailError             a bad request to /api/...; answered as status + JSON, nothing changed

Every error is answered as ``{"error": code, "code": code, "field": field, "message": message}``
(``code`` duplicates ``error`` so pages can share the catalog API's error reader).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol.errors import ClientError


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """HTTP status and a description for the page that shows the error."""

    status: int
    description: str


RETAIL_CODES: dict[str, HttpSpec] = {
    "bad_request": HttpSpec(400, "the request body or a parameter is not valid"),
    "auth_required": HttpSpec(401, "this call needs a device key or a room token"),
    "unknown_device": HttpSpec(401, "the device key is not known"),
    "device_revoked": HttpSpec(401, "the device key was revoked"),
    "bad_token": HttpSpec(401, "the room token is malformed or forged"),
    "token_expired": HttpSpec(401, "the room token has expired; ask for a new one"),
    "wrong_room": HttpSpec(403, "the token or key belongs to another room"),
    "wrong_store": HttpSpec(403, "the key or tag belongs to another store"),
    "forbidden": HttpSpec(403, "this device or role may not do this"),
    "unknown_store": HttpSpec(404, "the store does not exist"),
    "unknown_room": HttpSpec(404, "the fitting room does not exist"),
    "unknown_item": HttpSpec(404, "the item is not in the room"),
    "unknown_sku": HttpSpec(404, "the product is not in the catalog"),
    "unknown_size": HttpSpec(409, "the product has no such size or colour"),
    "out_of_stock": HttpSpec(409, "that size or colour is not in stock in this store"),
    "unknown_request": HttpSpec(404, "the request does not exist"),
    "conflict": HttpSpec(409, "the request is already closed; nothing changed"),
    "unknown_pairing": HttpSpec(404, "the pairing code is not known; scan the mirror's code again"),
    "pairing_expired": HttpSpec(410, "the pairing code has expired; scan the mirror's new code"),
    "pairing_used": HttpSpec(409, "the pairing code was already used; scan the mirror's new code"),
    "already_paired": HttpSpec(409, "another phone is already paired with this room"),
    "no_visit": HttpSpec(409, "no phone is paired with this room"),
    "consent_required": HttpSpec(403, "agree to keep a wishlist first; without it nothing of the visit is kept"),
    "unknown_shopper": HttpSpec(401, "the wishlist key is not known (deleted or expired)"),
    "too_many": HttpSpec(413, "too many entries in one request"),
    "too_large": HttpSpec(413, "the body is larger than allowed"),
    "bad_frame": HttpSpec(422, "the camera frame is not a decodable image"),
    "rate_limited": HttpSpec(429, "too many calls; slow down"),
    "unavailable": HttpSpec(503, "the room could not be reached; retry"),
}

class RetailError(ClientError):
    """A refused fitting-room call; ``status`` is its HTTP status."""

    def __init__(self, code: str, message: str | None = None, *, field: str | None = None, **extra: Any) -> None:
        if code not in RETAIL_CODES:
            raise KeyError(f"unknown retail error code {code!r}")
        # the codes live in RETAIL_CODES (HTTP), not in the WebSocket table, so the base check is skipped
        self.code = code
        self.message = message or RETAIL_CODES[code].description
        self.field = field
        self.limit = None
        self.actual = None
        self.extra = extra
        Exception.__init__(self, str(self))

    @property
    def close_code(self) -> int | None:
        """HTTP errors never close a WebSocket."""
        return None

    @property
    def status(self) -> int:
        """HTTP status of this error."""
        return RETAIL_CODES[self.code].status

    @property
    def cause(self) -> str | None:
        """The session core's error code this one translates, if any."""
        cause = self.extra.get("cause")
        return cause if isinstance(cause, str) else None

    def body(self) -> dict[str, Any]:
        """JSON body of the error response."""
        extra = {k: v for k, v in self.extra.items() if k != "cause"}
        return {"error": self.code, "code": self.code, "field": self.field, "message": self.detail(), **extra}
