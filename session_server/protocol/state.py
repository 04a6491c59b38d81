"""Room state as frozen dataclasses.  Mappings are never written into: ``deltas.apply`` copies them.

``State`` holds what every room kind has (its id, revision and participants); each kind's state is a
frozen subclass declared in its module under ``protocol/kinds/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
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


def copier(cls: type[D], *changed: str) -> Callable[..., D]:
    """``evolve``'s copier itself: ``copier(cls, "a", "b")(obj, a, b)`` is ``evolve(obj, a=a, b=b)`` for an ``obj`` of
    exactly ``cls``, without the look-up per call (for a hot op that always changes the same fields)."""
    key = (cls, *changed)
    make = _MAKERS.get(key)
    if make is None:
        make = _MAKERS[key] = _maker(cls, changed)
    return make


def _slot_setters(cls: type) -> list[Any] | None:
    """The ``__set__`` of each field's slot of a dataclass, in field order, when it can be filled slot by slot (every
    field an init field kept in a slot, no ``__post_init__``); None otherwise."""
    every = fields(cls)  # type: ignore[arg-type]
    slots = [getattr(cls, f.name, None) for f in every]
    if (
        not all(f.init for f in every)
        or hasattr(cls, "__post_init__")
        or not all(type(slot) is MemberDescriptorType for slot in slots)
    ):
        return None
    return [slot.__set__ for slot in slots]  # type: ignore[union-attr]


def _maker(cls: type, changed: tuple[str, ...]) -> Callable[..., Any]:
    """``make(obj, *values)``: a ``cls`` with ``obj``'s init fields, those named in ``changed`` taken from ``values``
    in that order (the code is written from the field names, which are identifiers).  A class whose fields are all
    init fields kept in slots, with no ``__post_init__``, is filled slot by slot (its ``__init__`` would do no more:
    a frozen class's sets each field through ``object.__setattr__``, at twice the cost); any other is called."""
    names = [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]
    unknown = [name for name in changed if name not in names]
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    values = [f"v{changed.index(name)}" if name in changed else f"o.{name}" for name in names]
    params = "".join(f", v{i}" for i in range(len(changed)))
    space: dict[str, Any] = {"cls": cls, "new": object.__new__}
    setters = _slot_setters(cls)
    if setters is not None:
        space.update({f"set{i}": setter for i, setter in enumerate(setters)})
        body = "".join(f"    set{i}(n, {value})\n" for i, value in enumerate(values))
        code = f"def make(o{params}):\n    n = new(cls)\n{body}    return n\n"
    else:
        code = f"def make(o{params}):\n    return cls({', '.join(values)})\n"
    exec(code, space)  # the code is built from field names only
    return space["make"]  # type: ignore[no-any-return]


C = TypeVar("C", bound=type)


def slot_init(cls: C) -> C:
    """Give a frozen slotted dataclass an ``__init__`` that fills each slot directly (as ``evolve`` copies): the same
    parameters and defaults, at about half the cost of the generated one, which sets each field through
    ``object.__setattr__``; for the small objects every request makes (deltas, a turn's outputs, inbox items).  A
    class with a ``__post_init__``, a field without a slot or outside ``__init__``, a keyword-only field or a
    default factory keeps its own."""
    setters = _slot_setters(cls)
    every = fields(cls)
    if setters is None or any(f.kw_only or f.default_factory is not MISSING for f in every):
        return cls
    space: dict[str, Any] = {f"set{i}": setter for i, setter in enumerate(setters)}
    params = []
    for i, f in enumerate(every):
        if f.default is MISSING:
            params.append(f.name)
        else:
            space[f"d{i}"] = f.default
            params.append(f"{f.name}=d{i}")
    body = "".join(f"    set{i}(self, {f.name})\n" for i, f in enumerate(every))
    exec(f"def __init__(self, {', '.join(params)}):\n{body}", space)  # the code is built from field names only
    init = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc]
    return cls
