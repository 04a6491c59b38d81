"""The room kinds, in the order they claim room ids (``shared_space`` last: it takes every other id).

Adding a kind: one module beside this one and one entry in ``KINDS``.
"""

from __future__ import annotations

from ..errors import ProtocolError
from ..messages import Request
from . import fitting_room, shared_space, staff
from .base import RoomKind

KINDS: tuple[RoomKind, ...] = (fitting_room.KIND, staff.KIND, shared_space.KIND)


def kind_for(room: str) -> RoomKind:
    """The kind of the room with this id (the first kind that claims it)."""
    for kind in KINDS:
        if kind.claims(room):
            return kind
    raise ProtocolError("internal", f"no room kind claims {room!r}")  # pragma: no cover - shared_space claims all


def kind_named(name: str) -> RoomKind:
    """The kind called ``name``; KeyError if there is none."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def message_models() -> dict[str, type[Request]]:
    """Every kind's client messages by type; a type two kinds share must be the same model."""
    out: dict[str, type[Request]] = {}
    for kind in KINDS:
        for name, spec in kind.messages.items():
            if out.setdefault(name, spec.model) is not spec.model:
                raise ValueError(f"message type {name!r} is declared by two kinds with different models")
    return out
