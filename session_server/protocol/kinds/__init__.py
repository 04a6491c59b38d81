"""Room kinds: each kind of room (its state, messages, delta ops, rules, timers) is one module here.

``base`` says what a kind declares; ``registry`` lists the kinds and maps a room id to its kind.
"""

from .base import RoomKind, kind_of
from .registry import KINDS, kind_for, kind_named

__all__ = ["KINDS", "RoomKind", "kind_for", "kind_named", "kind_of"]
