"""Backplane: where a room's changes are ordered and fanned out between server processes.

Primitives every implementation provides (one contract suite tests them all):

* lease: ``acquire(room)`` takes or renews the room's lease for this node; one node at a time.  Each
  new holder gets a higher *epoch* (a fencing token); ``commit`` is refused unless the room's epoch is
  still the one this node acquired, so a holder that stalled past its lease while another node took
  over cannot write.  A holder whose lease lapsed while nobody else took it keeps its epoch (its state
  is still the room's), so a stall alone never costs a room its leader; a single-process backplane has
  no expiry at all.  ``release`` ends the epoch.
* log + state: ``commit(room, deltas, checkpoint, cursor, answers)`` appends deltas (revisions must
  follow on), stores the inbox cursor, the *answers* that no delta records (refusals, acks of requests
  that changed nothing) and, when given, a checkpoint of the room, atomically and only under the
  epoch this node holds (else ``LeaseLost``); ``load(room)`` returns the last checkpoint and cursor
  (the log after the checkpoint is replayed on top, then ``read_answers``);
  ``read_log(room, after, block_ms)`` returns deltas with revision > ``after`` in order.
* inbox: ``submit(room, item)`` from any node; the lease holder reads ``read_inbox(room, cursor)``.
* replies: ``reply(node, item)`` / ``read_replies(block_ms)`` for this node.
* presence: ``publish_presence(room, item)`` / ``read_presence(room, cursor, block_ms)``; lossy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..protocol.errors import ProtocolError


class LeaseLost(ProtocolError):
    """Raised by ``commit`` when this process no longer holds the room's lease."""

    def __init__(self, room: str) -> None:
        super().__init__("lease_lost", f"room {room!r}: this process no longer holds the lease")


@dataclass(frozen=True, slots=True)
class Lease:
    """What ``acquire`` got: the epoch held (true) or, when another node holds the room (false), about how
    many milliseconds until its lease ends unless renewed (``wait_ms``)."""

    epoch: int = 0
    wait_ms: int = 0

    def __bool__(self) -> bool:
        return self.epoch > 0


@dataclass(frozen=True, slots=True)
class Stored:
    """A room's last checkpoint (its state as JSON) and the inbox cursor stored with it."""
    blob: dict[str, Any]
    cursor: str


class Backplane(ABC):
    """Orders and fans out a room's changes between server processes (see the module docstring)."""
    node_id: str
    distributed: bool = False
    start_cursor: str = "0"
    lease_ms: int = 600

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect to the backing service (optional hook)."""
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close the connection to the backing service (optional hook)."""
        pass

    @abstractmethod
    async def acquire(self, room: str) -> Lease:
        """Take or renew the room's lease for this node; true (with its epoch) when this node holds it."""

    @abstractmethod
    async def release(self, room: str) -> None:
        """Give up the room's lease if this node holds it (its epoch ends)."""

    @abstractmethod
    async def commit(
        self,
        room: str,
        deltas: list[dict[str, Any]],
        checkpoint: dict[str, Any] | None,
        cursor: str,
        answers: list[dict[str, Any]] | None = None,
    ) -> None:
        """Append deltas and answers, store the inbox cursor (and checkpoint) atomically under this node's epoch;
        else LeaseLost."""

    @abstractmethod
    async def read_answers(self, room: str, revision: int) -> list[dict[str, Any]]:
        """Return the answers committed at revision ``revision`` or later, in order."""

    @abstractmethod
    async def load(self, room: str) -> Stored | None:
        """Return the room's last checkpoint and cursor, or None for a new room."""

    @abstractmethod
    async def read_log(self, room: str, after: int, block_ms: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Return up to ``limit`` deltas with revision > ``after`` in order, waiting up to ``block_ms`` for one."""

    @abstractmethod
    async def submit(self, room: str, item: dict[str, Any]) -> None:
        """Add a client request to the room's inbox (from any node)."""

    def submit_now(self, room: str, item: dict[str, Any]) -> bool:
        """``submit`` without waiting, when this backplane can (in memory): True once added, False when the
        caller must ``await submit`` instead (nothing added)."""
        return False

    @abstractmethod
    async def read_inbox(self, room: str, cursor: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Return (cursor, item) pairs of the room's inbox after ``cursor``, waiting up to ``block_ms``."""

    @abstractmethod
    async def reply(self, node: str, item: dict[str, Any]) -> None:
        """Send a reply to the node ``node``."""

    @abstractmethod
    async def read_replies(self, block_ms: int) -> list[dict[str, Any]]:
        """Return the replies sent to this node, waiting up to ``block_ms`` for one."""

    @abstractmethod
    async def publish_presence(self, room: str, item: dict[str, Any]) -> None:
        """Publish a presence tick of this node's clients to the other nodes (lossy)."""

    @abstractmethod
    async def read_presence(self, room: str, cursor: str, block_ms: int) -> tuple[str, list[dict[str, Any]]]:
        """Return (next cursor, ticks) other nodes published after ``cursor``, waiting up to ``block_ms``."""

    @abstractmethod
    async def forget(self, room: str) -> None:
        """Delete everything stored for a room (after its last participant left)."""
