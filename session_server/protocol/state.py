"""Room state as frozen dataclasses.  Mappings are never written into: ``deltas.apply`` copies them.

``State`` holds what every room kind has (its id, revision and participants); each kind's state is a
frozen subclass declared in its module under ``protocol/kinds/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import MemberDescriptorType
from typing import Any, TypeVar

D = TypeVar("D")
PoseT = tuple[float, float, float, float, float, float, float]  # x, y, z, qx, qy, qz, qw


@dataclass(frozen=True, slots=True)
class Participant:
    """One participant: role from its token, session id, and whether it is connected now."""

    id: str
    role: str
    session: str
    connected: bool = True
    dropped_at: float | None = None


@dataclass(frozen=True, slots=True)
class State:
    """What every room has: its id, its revision and its participants."""

    room: str
    revision: int = 0
    participants: dict[str, Participant] = field(default_factory=dict)

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold (used by tests and after replay)."""
        assert self.revision >= 0
        for pid, part in self.participants.items():
            assert pid == part.id and (part.connected == (part.dropped_at is None))

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready snapshot of the whole state (kinds add their own fields)."""
        return {"room": self.room, "revision": self.revision, "participants": participants_snapshot(self)}

    def public_snapshot(self) -> dict[str, Any]:
        """Snapshot sent to clients: like ``snapshot`` but without participants' session ids."""
        snap = self.snapshot()
        for p in snap["participants"]:
            p.pop("session")
        return snap

    def connected_with(self, role: str) -> list[str]:
        """Ids of the connected participants with ``role``."""
        return [p.id for p in self.participants.values() if p.role == role and p.connected]


def participants_snapshot(state: State) -> list[dict[str, Any]]:
    """The participants as JSON-ready dicts (sessions included)."""
    return [
        {"id": p.id, "role": p.role, "session": p.session, "connected": p.connected, "dropped_at": p.dropped_at}
        for p in state.participants.values()
    ]


def core_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``State`` constructor arguments read back from a snapshot (for a kind's ``from_snapshot``)."""
    return {
        "room": str(data["room"]),
        "revision": int(data["revision"]),
        "participants": {
            p["id"]: Participant(p["id"], p["role"], p.get("session", ""), bool(p["connected"]), p.get("dropped_at"))
            for p in data["participants"]
        },
    }


_MAKERS: dict[tuple[Any, ...], Callable[..., Any]] = {}
"""``evolve``'s copiers, by ``(class, *changed field names)``."""


def evolve(obj: D, **changes: Any) -> D:
    """A copy of the dataclass ``obj`` with ``changes``: what ``dataclasses.replace`` returns, at under half its
    cost (the constructor is called positionally by a small function written once per class and set of changed
    fields, ``_maker``).  For the hot delta paths (every delta's new revision, ``object.move``); TypeError for a
    field the class does not have."""
    key = (type(obj), *changes)
    make = _MAKERS.get(key)
    if make is None:
        make = _MAKERS[key] = _maker(type(obj), tuple(changes))
    return make(obj, *changes.values())  # type: ignore[no-any-return]


def _maker(cls: type, changed: tuple[str, ...]) -> Callable[..., Any]:
    """``make(obj, *values)``: a ``cls`` with ``obj``'s init fields, those named in ``changed`` taken from ``values``
    in that order (the code is written from the field names, which are identifiers).  A class whose fields are all
    init fields kept in slots, with no ``__post_init__``, is filled slot by slot (its ``__init__`` would do no more:
    a frozen class's sets each field through ``object.__setattr__``, at twice the cost); any other is called."""
    every = fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in every if f.init]
    unknown = [name for name in changed if name not in names]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    values = [f"v{changed.index(name)}" if name in changed else f"o.{name}" for name in names]
    params = "".join(f", v{i}" for i in range(len(changed)))
    space: dict[str, Any] = {"cls": cls, "new": object.__new__}
    slots = [getattr(cls, name, None) for name in names]
    if (
        len(names) == len(every)
        and not hasattr(cls, "__post_init__")
        and all(type(slot) is MemberDescriptorType for slot in slots)
    ):
        space.update({f"set{i}": slot.__set__ for i, slot in enumerate(slots)})  # type: ignore[union-attr]
        body = "".join(f"    set{i}(n, {value})\n" for i, value in enumerate(values))
        code = f"def make(o{params}):\n    n = new(cls)\n{body}    return n\n"
    else:
        code = f"def make(o{params}):\n    return cls({', '.join(values)})\n"
    exec(code, space)  # the code is built from field names only
    return space["make"]  # type: ignore[no-any-return]
