"""What a device is, without its database: the record, the kinds, and the names stores and rooms may have.

The HTTP routes and the CLI import this when the server starts; the key store itself (``devices.py``, over
SQLAlchemy) loads with the first device call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

from .errors import RetailError

DeviceKind = Literal["mirror", "reader", "staff"]
DEVICE_KINDS: tuple[str, ...] = get_args(DeviceKind)
NAME = re.compile(r"^[A-Za-z0-9_\-]{1,40}$")


@dataclass(frozen=True, slots=True)
class Device:
    """One registered device (never its key)."""

    id: str
    store: str
    room: str | None
    kind: str
    label: str | None
    created: float
    revoked: float | None

    def as_dict(self) -> dict[str, object]:
        """JSON form for the CLI and the API."""
        return {"id": self.id, "store": self.store, "room": self.room, "kind": self.kind, "label": self.label,
                "created": self.created, "revoked": self.revoked}


def check_name(value: str, field: str) -> str:
    """A store or room name: letters, digits, ``_`` and ``-`` (they become part of room ids)."""
    if not isinstance(value, str) or not NAME.match(value):
        raise RetailError("bad_request", f"{value!r} must be 1-40 letters, digits, '_' or '-'", field=field)
    return value
