"""Room ids of the fitting-room kinds and the gateway through which HTTP calls change rooms.

``fit.<store>.<room>`` is a fitting room, ``staff.<store>`` the store's staff room (see the session
core's kinds). The gateway sends server-originated commands to the room wherever it lives
(``SessionNode.command``) and turns the session package's refusals into ``RetailError``.
"""

from __future__ import annotations

from typing import Any

from ..protocol.errors import ProtocolError
from .errors import RETAIL_CODES, RetailError


def fitting_room_id(store: str, room: str) -> str:
    """Session room id of fitting room ``room`` of ``store``."""
    return f"fit.{store}.{room}"


def staff_room_id(store: str) -> str:
    """Session room id of the store's staff room."""
    return f"staff.{store}"


def split_fitting_room(room_id: str) -> tuple[str, str] | None:
    """(store, room) of a fitting-room id, or None for any other room."""
    parts = room_id.split(".")
    if len(parts) == 3 and parts[0] == "fit":
        return parts[1], parts[2]
    return None


class RoomGateway:
    """Server commands to rooms, through the node (owner node under Redis scale-out)."""

    def __init__(self, node: Any, timeout: float = 5.0) -> None:
        self.node = node
        self.timeout = timeout

    async def command(self, room_id: str, cmd: dict[str, Any]) -> dict[str, Any]:
        """Apply ``cmd`` to the room; its result, or RetailError when the room refuses it."""
        if not hasattr(self.node, "command"):
            raise RetailError("unavailable", "this server's session core has no room commands")
        try:
            result = await self.node.command(room_id, cmd, timeout=self.timeout)
        except RetailError:
            raise
        except ProtocolError as exc:
            code = exc.code if exc.code in RETAIL_CODES else ("unavailable" if exc.code in (
                "internal", "lease_lost", "shutdown", "too_many_rooms") else "conflict")
            raise RetailError(code, exc.detail(), field=exc.field, cause=exc.code) from None
        except TimeoutError:
            raise RetailError("unavailable", f"room {room_id} did not answer in time; retry") from None
        return result if isinstance(result, dict) else {}
