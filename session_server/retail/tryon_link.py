"""Try-on from the mirror: ``/tryon/live`` renders the look of the fitting room a mirror is bound to.

The mirror opens ``/tryon/live``, sends ``{"type": "room", "token": "<its mirror room token>"}`` (in a
message, so the token never lands in an access log), then its camera frames; the room's ``look``
(``{"skus": [...], "active": bool}``, set with the ``look.set`` room message) is what gets rendered.
"""

from __future__ import annotations

import time
from typing import Any

from tryon.errors import InvalidInput

from ..protocol import auth
from ..protocol.errors import ProtocolError
from .errors import RetailError
from .rooms import split_fitting_room

LOOK_REFRESH_S = 0.3


class RoomLook:
    """The look of one fitting room, read at most every ``LOOK_REFRESH_S``."""

    def __init__(self, service: Any, room: str) -> None:
        self.service = service
        self.room = room
        self._at = -1e9
        self._products: list[dict[str, Any]] | None = None

    async def products(self) -> list[dict[str, Any]] | None:
        """Catalog entries of the room's active look, or None."""
        now = time.monotonic()
        if now - self._at >= LOOK_REFRESH_S:
            self._at = now
            try:
                state = await self.service.room_state(self.room)
            except RetailError:
                return self._products  # keep rendering the last look while the room is unreachable
            look = state.get("look") or {}
            skus = [s for s in look.get("skus") or [] if isinstance(s, str)]
            self._products = [{"sku": s} for s in skus] if look.get("active") and skus else None
        return self._products


def look_binder(service: Any) -> Any:
    """The binder ``tryon.live`` calls with a ``{"type": "room", "token"}`` message."""

    async def bind(msg: dict[str, Any]) -> RoomLook:
        token = msg.get("token")
        if not isinstance(token, str):
            raise InvalidInput("send the mirror's room token", field="token")
        try:
            claims = auth.verify(token, service.key, time.time())
        except ProtocolError as exc:
            raise InvalidInput(exc.detail(), field="token") from None
        if claims.role != "mirror" or split_fitting_room(claims.room) is None:
            raise InvalidInput("only a fitting room's mirror renders the room's look", field="token")
        return RoomLook(service, claims.room)

    return bind
