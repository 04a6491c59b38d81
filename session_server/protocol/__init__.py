"""Sans-I/O session protocol core: messages, state, deltas, room, room kinds, presence, auth, limits, errors.

Imports no asyncio, fastapi, starlette, websockets or redis (enforced by a test).
"""

from .deltas import Delta, DeltaLog, apply
from .errors import ERROR_CODES, ProtocolError
from .inbound import parse
from .kinds import KINDS, RoomKind, kind_for
from .limits import Limits
from .messages import PROTOCOL_VERSION
from .room import Room, RoomConfig
from .state import State

__all__ = [
    "ERROR_CODES",
    "KINDS",
    "PROTOCOL_VERSION",
    "Delta",
    "DeltaLog",
    "Limits",
    "ProtocolError",
    "Room",
    "RoomConfig",
    "RoomKind",
    "State",
    "apply",
    "kind_for",
    "parse",
]
