"""In-process backplane (the default).  Several ``MemoryBackplane`` nodes may share one
``MemoryStore`` (tests use that to run the contract suite with two nodes).

Alone (no shared store) a node's leases never expire: there is nobody to hand a room to, and a stall
of the process must not cost it its rooms.  On a shared store leases expire after ``lease_ms`` and
epochs fence commits as on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import math
import weakref
from collections import deque
from typing import Any

from .base import Backplane, Lease, LeaseLost, Stored

LOG_KEEP = 20_000
INBOX_KEEP = 20_000
PRESENCE_KEEP = 64
LOG_RETENTION_S = 120.0
"""Committed deltas older than this and covered by a checkpoint are dropped, unless the backplane is given its
own retention (the server gives the resume window and a margin: 70 s by default)."""


class _Stream:
    def __init__(self, keep: int) -> None:
        self.items: deque[Any] = deque(maxlen=keep)
        self.times: deque[float] = deque(maxlen=keep)
        self.next_id = 0  # id of the next item appended
        self.waiters: list[asyncio.Future[None]] = []
        self._waker: _Waker | None = None
        """The waker of the loop this stream was last waited on in (``_waker``'s look-up is a call of its own)."""

    def add(self, item: Any, now: float = 0.0) -> int:
        self.items.append(item)
        self.times.append(now)
        self.next_id += 1
        waiters, self.waiters = self.waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)
        return self.next_id - 1

    def trim(self, through: int, before: float = float("inf")) -> None:
        """Drop items with id <= ``through`` that were added before ``before``."""
        first = self.next_id - len(self.items)
        while self.items and first <= through and self.times[0] < before:
            self.items.popleft()
            self.times.popleft()
            first += 1

    def after(self, cursor: int) -> list[tuple[int, Any]]:
        first = self.next_id - len(self.items)
        start = max(cursor + 1, first)
        return [(i, self.items[i - first]) for i in range(start, self.next_id)]

    async def wait(self, block_ms: int) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.waiters.append(fut)
        waker = self._waker
        if waker is None or waker.loop is not loop:
            waker = self._waker = _waker(loop)
        waker.add(fut, block_ms / 1000)
        try:
            await fut
        finally:
            if self.waiters:  # a timed-out waiter must not pile up in an idle stream
                with contextlib.suppress(ValueError):
                    self.waiters.remove(fut)


WAKE_GRAIN_S = 0.02


class _Waker:
    """Ends waits at their deadline, rounded up to ``WAKE_GRAIN_S``: one loop timer per grain for all the
    waits ending in it, instead of a timer per wait (each room's log and inbox wait once per request; the
    timers were 5 % of the server's CPU in rooms of ten, profiled)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.due: dict[int, list[asyncio.Future[None]]] = {}

    def add(self, fut: asyncio.Future[None], seconds: float) -> None:
        """Resolve ``fut`` (if nothing else did) ``seconds`` from now, at most ``WAKE_GRAIN_S`` later."""
        slot = math.ceil((self.loop.time() + seconds) / WAKE_GRAIN_S)
        futs = self.due.get(slot)
        if futs is None:
            futs = self.due[slot] = []
            self.loop.call_at(slot * WAKE_GRAIN_S, self._fire, slot)
        futs.append(fut)

    def _fire(self, slot: int) -> None:
        for fut in self.due.pop(slot, ()):
            if not fut.done():
                fut.set_result(None)


_WAKERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waker] = weakref.WeakKeyDictionary()


def _waker(loop: asyncio.AbstractEventLoop) -> _Waker:
    waker = _WAKERS.get(loop)
    if waker is None:
        waker = _WAKERS[loop] = _Waker(loop)
    return waker


class MemoryStore:
    """The in-memory state shared by the MemoryBackplanes of one process: leases, checkpoints, logs, streams."""

    def __init__(self) -> None:
        self.leases: dict[str, tuple[str, float]] = {}
        """room -> (holder node, expiry on the loop's clock)"""
        self.epochs: dict[str, int] = {}
        self.answers: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.blobs: dict[str, dict[str, Any]] = {}
        """room -> its last checkpoint"""
        self.cursors: dict[str, str] = {}
        """room -> the inbox cursor stored with its last commit (kept apart: a commit without a checkpoint stores
        only this)"""
        self.logs: dict[str, _Stream] = {}
        self.streams: dict[str, _Stream] = {}

    def stream(self, key: str, keep: int) -> _Stream:
        """Return the stream named ``key`` (created keeping the last ``keep`` items)."""
        s = self.streams.get(key)  # the usual case without a call (each request looks its streams up 3 times)
        return s if s is not None else _stream_in(self.streams, key, keep)

    def log(self, room: str) -> _Stream:
        """Return the room's log (created empty when new)."""
        s = self.logs.get(room)
        return s if s is not None else _stream_in(self.logs, room, LOG_KEEP)


def _stream_in(streams: dict[str, _Stream], key: str, keep: int) -> _Stream:
    """The stream ``streams[key]``, created (keeping the last ``keep`` items) when there is none: a stream is built
    only when it is new (a commit and a log read each built one, two deques, only to throw it away)."""
    s = streams.get(key)
    if s is None:
        s = streams[key] = _Stream(keep)
    return s


class MemoryBackplane(Backplane):
    """A backplane in this process's memory (one process; several nodes in tests)."""

    distributed = False
    start_cursor = "-1"

    def __init__(
        self,
        node_id: str = "local",
        store: MemoryStore | None = None,
        lease_ms: int = 600,
        log_retention_s: float | None = None,
    ) -> None:
        self.node_id = node_id
        self.store = store or MemoryStore()
        self.lease_ms = lease_ms
        self.log_retention_s = LOG_RETENTION_S if log_retention_s is None else log_retention_s
        """Seconds a committed delta covered by a checkpoint is kept (for resumes served by a hub made later)."""
        self.distributed = store is not None
        self._epochs: dict[str, int] = {}
        """room -> the epoch this node acquired last"""

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def acquire(self, room: str) -> Lease:
        """Take or renew the room's lease for this node; true (with its epoch) when this node holds it."""
        store = self.store
        holder = store.leases.get(room)
        now = self._now()
        expires = now + self.lease_ms / 1000
        epoch = store.epochs.get(room, 0)
        if holder is not None and holder[0] == self.node_id:
            store.leases[room] = (self.node_id, expires)
            self._epochs[room] = epoch
            return Lease(epoch)
        if holder is not None and (not self.distributed or holder[1] > now):
            return Lease(0, max(1, int((holder[1] - now) * 1000)))
        if holder is None and epoch > 0 and self._epochs.get(room) == epoch:  # ours lapsed, nobody took it
            store.leases[room] = (self.node_id, expires)
            return Lease(epoch)
        epoch = store.epochs[room] = epoch + 1
        store.leases[room] = (self.node_id, expires)
        self._epochs[room] = epoch
        return Lease(epoch)

    async def release(self, room: str) -> None:
        """Give up the room's lease if this node holds it (its epoch ends)."""
        holder = self.store.leases.get(room)
        if holder is not None and holder[0] == self.node_id:
            del self.store.leases[room]
            self.store.epochs[room] = self.store.epochs.get(room, 0) + 1

    async def commit(
        self,
        room: str,
        deltas: list[dict[str, Any]],
        checkpoint: dict[str, Any] | None,
        cursor: str,
        answers: list[dict[str, Any]] | None = None,
    ) -> None:
        """Append deltas and answers, store the cursor (and checkpoint) under this node's epoch; LeaseLost
        otherwise."""
        store = self.store
        epoch = self._epochs.get(room, 0)
        if epoch == 0 or store.epochs.get(room, 0) != epoch:
            raise LeaseLost(room)
        holder = store.leases.get(room)
        if holder is not None and holder[0] != self.node_id:
            raise LeaseLost(room)
        log = self.store.log(room)
        last = log.items[-1]["rev"] if log.items else None
        for d in deltas:
            if last is not None and d["rev"] != last + 1:
                raise LeaseLost(room)
            last = d["rev"]
        now = self._now()
        store.leases[room] = (self.node_id, now + self.lease_ms / 1000)  # a commit renews the lease
        for d in deltas:
            log.add(d, now)
        if answers:
            store.answers.setdefault(room, []).extend((int(a["rev"]), a) for a in answers)
        # what a takeover or a resume can still ask for stays; the rest is only memory
        store.stream(f"inbox:{room}", INBOX_KEEP).trim(int(cursor))
        if checkpoint is not None:
            covered = int(checkpoint["state"]["revision"])
            log.trim(log.next_id - 1 - (last - covered if last is not None else 0), now - self.log_retention_s)
            kept = [(r, a) for r, a in store.answers.get(room, ()) if r >= covered]
            if kept or room in store.answers:
                store.answers[room] = kept
            # callers hand over a fresh structure (Room.dump builds one) and never mutate it afterwards;
            # a deepcopy here cost ~1.5 % of the server's CPU at 50 clients (profiled)
            store.blobs[room] = checkpoint
        elif room not in store.blobs:
            raise ValueError(f"room {room!r}: the first commit must carry a checkpoint")
        store.cursors[room] = cursor

    async def read_answers(self, room: str, revision: int) -> list[dict[str, Any]]:
        """Return the answers committed at revision ``revision`` or later, in order."""
        return [a for r, a in self.store.answers.get(room, ()) if r >= revision]

    async def load(self, room: str) -> Stored | None:
        """Return the room's last checkpoint and cursor, or None."""
        blob = self.store.blobs.get(room)
        return None if blob is None else Stored(blob, self.store.cursors[room])

    async def read_log(self, room: str, after: int, block_ms: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Return up to ``limit`` deltas with revision > ``after``, waiting up to ``block_ms`` for one."""
        log = self.store.log(room)
        found = self._log_after(log, after, limit)
        if not found and block_ms > 0:
            await log.wait(block_ms)
            found = self._log_after(log, after, limit)
        return found

    @staticmethod
    def _log_after(log: _Stream, after: int, limit: int) -> list[dict[str, Any]]:
        if not log.items:
            return []
        start = max(0, after + 1 - log.items[0]["rev"])
        return [log.items[i] for i in range(start, min(len(log.items), start + limit))]

    async def submit(self, room: str, item: dict[str, Any]) -> None:
        """Add a client request to the room's inbox."""
        self.submit_now(room, item)

    def submit_now(self, room: str, item: dict[str, Any]) -> bool:
        """Add a client request to the room's inbox at once (nothing here needs a wait)."""
        self.store.stream(f"inbox:{room}", INBOX_KEEP).add(item)
        return True

    async def read_inbox(self, room: str, cursor: str, block_ms: int) -> list[tuple[str, dict[str, Any]]]:
        """Return (cursor, item) pairs of the room's inbox after ``cursor``, waiting up to ``block_ms``."""
        s = self.store.stream(f"inbox:{room}", INBOX_KEEP)
        after = int(cursor)
        if (after + 1 >= s.next_id or not s.items) and block_ms > 0:  # ``after`` would find nothing: wait first
            await s.wait(block_ms)
        return [(str(i), it) for i, it in s.after(after)]

    async def reply(self, node: str, item: dict[str, Any]) -> None:
        """Send a reply to the node ``node``."""
        self.store.stream(f"reply:{node}", INBOX_KEEP).add(item)

    async def read_replies(self, block_ms: int) -> list[dict[str, Any]]:
        """Return the replies sent to this node, waiting up to ``block_ms`` for one."""
        s = self.store.stream(f"reply:{self.node_id}", INBOX_KEEP)
        if not s.items and block_ms > 0:
            await s.wait(block_ms)
        out = list(s.items)
        s.items.clear()
        return out

    async def publish_presence(self, room: str, item: dict[str, Any]) -> None:
        """Publish a presence tick to the other nodes."""
        self.store.stream(f"presence:{room}", PRESENCE_KEEP).add({**item, "node": self.node_id})

    async def read_presence(self, room: str, cursor: str, block_ms: int) -> tuple[str, list[dict[str, Any]]]:
        """Return (next cursor, ticks) published after ``cursor`` ("$": from now), waiting up to ``block_ms``."""
        s = self.store.stream(f"presence:{room}", PRESENCE_KEEP)
        if cursor == "$":
            cursor = str(s.next_id - 1)
        items = s.after(int(cursor))
        if not items and block_ms > 0:
            await s.wait(block_ms)
            items = s.after(int(cursor))
        return (str(items[-1][0]) if items else cursor), [it for _, it in items]

    async def forget(self, room: str) -> None:
        """Delete everything stored for the room."""
        self.store.blobs.pop(room, None)
        self.store.cursors.pop(room, None)
        self.store.logs.pop(room, None)
        for key in (f"inbox:{room}", f"presence:{room}"):
            self.store.streams.pop(key, None)
        self.store.leases.pop(room, None)
        self.store.answers.pop(room, None)
        if room in self.store.epochs:  # a room started again later must not accept an old epoch's commits
            self.store.epochs[room] += 1
