"""Deltas: one ordered change each.  ``apply(state, delta)`` is the only way state changes, on the
server, in the backplane's replay and in ``client.RoomMirror``.

A delta is ``Delta(rev, op, data)``; the room's kind maps each op to a pure function
``(state, data) -> state`` (declared with ``@KIND.op`` in its module under ``kinds/``).  ``apply``
refuses a delta whose ``rev`` is not ``state.revision + 1``, and gives the state the op returns the delta's
revision (an op on a hot path may set it, ``s.revision + 1``, in the one copy it makes).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ProtocolError
from .kinds.base import kind_of
from .state import State, evolve, slot_init

S = TypeVar("S", bound=State)


@slot_init
@dataclass(frozen=True, slots=True)
class Delta:
    """One ordered change: revision, op name, JSON data."""

    rev: int
    op: str
    data: dict[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The delta as a JSON-ready dict."""
        return {"rev": self.rev, "op": self.op, "data": self.data}

    @staticmethod
    def from_wire(raw: dict[str, Any]) -> Delta:
        """Read a delta back; ProtocolError("bad_delta") when malformed."""
        try:
            return Delta(int(raw["rev"]), str(raw["op"]), dict(raw["data"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError("bad_delta", f"delta is malformed: {exc}") from exc


def apply(state: S, delta: Delta) -> S:
    """Return the state after ``delta``; raise ProtocolError("bad_delta") and leave ``state`` untouched."""
    if delta.rev != state.revision + 1:
        raise ProtocolError("bad_delta", f"delta revision {delta.rev} does not follow {state.revision}")
    try:
        new = kind_of(state).apply(state, delta.op, delta.data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError("bad_delta", f"delta {delta.rev} {delta.op} does not apply: {exc!r}") from exc
    return new if new.revision == delta.rev else evolve(new, revision=delta.rev)


def apply_all(state: S, deltas: Iterable[Delta]) -> S:
    """Apply deltas in order."""
    for d in deltas:
        state = apply(state, d)
    return state


class DeltaLog:
    """Ring of the most recent deltas, for resume.  ``since(rev)`` is None when ``rev`` fell out.

    Bounded in count (``maxlen``) and, when ``max_age`` is given, in age: a delta appended with a time
    is dropped once it is older than ``max_age`` (a client away longer than the resume window gets a
    snapshot anyway, so older deltas are only memory)."""

    def __init__(self, maxlen: int, start_revision: int = 0, max_age: float | None = None) -> None:
        self._ring: deque[Delta] = deque(maxlen=maxlen)
        self._times: deque[float] = deque(maxlen=maxlen)
        self._last = start_revision
        self.max_age = max_age

    @property
    def last(self) -> int:
        """Return the last revision in the log."""
        return self._last

    def append(self, delta: Delta, now: float = float("inf")) -> None:
        """Add the next delta; ``now`` (seconds, any clock) ages it out after ``max_age``."""
        if delta.rev != self._last + 1:
            raise ProtocolError("bad_delta", f"log expects revision {self._last + 1}, got {delta.rev}")
        self._ring.append(delta)
        self._times.append(now)
        self._last = delta.rev
        if self.max_age is not None and now != float("inf"):
            horizon = now - self.max_age
            while self._times and self._times[0] < horizon:
                self._times.popleft()
                self._ring.popleft()

    def __len__(self) -> int:
        return len(self._ring)

    def reset(self, revision: int) -> None:
        """Empty the log, which now starts after ``revision``."""
        self._ring.clear()
        self._times.clear()
        self._last = revision

    def since(self, rev: int) -> list[Delta] | None:
        """Return the deltas after revision ``rev``, or None when the log no longer holds them all."""
        if rev > self._last:
            return None
        if rev == self._last:
            return []
        first = self._ring[0].rev if self._ring else self._last + 1
        if rev + 1 < first:
            return None
        return list(self._ring)[rev + 1 - first :]
