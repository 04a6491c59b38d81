"""Sans-I/O session protocol core: messages, state, deltas, room, presence, auth, limits, errors.

Imports no asyncio, fastapi, starlette, websockets or redis (enforced by a test).
"""

from .deltas import Delta, DeltaLog, apply
from .errors import ERROR_CODES, ProtocolError
from .limits import Limits
from .messages import PROTOCOL_VERSION, parse
from .room import Room, RoomConfig
from .state import RoomState

__all__ = [
    "ERROR_CODES",
    "PROTOCOL_VERSION",
    "Delta",
    "DeltaLog",
    "Limits",
    "ProtocolError",
    "Room",
    "RoomConfig",
    "RoomState",
    "apply",
    "parse",
]
