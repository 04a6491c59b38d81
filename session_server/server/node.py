"""SessionNode: this process's rooms, its presence ticker, housekeeping and graceful drain.

Besides the WebSocket clients, the HTTP layer talks to rooms through the node: ``command(room, cmd)``
applies a server command to a room wherever it is ordered (this process or, under Redis scale-out,
the process holding the room's lease) and returns its result; ``add_listener(fn)`` sees every delta
this process orders.  Commands a room forwards to another room (a fitting room's requests to its
store's staff room) leave in order through one queue.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

from ..backplane.base import Backplane
from ..protocol.auth import ID_RE, ID_RULE
from ..protocol.errors import ERROR_CODES, BadMessage, LimitExceeded, ProtocolError
from ..protocol.room import RoomConfig
from ..settings import SessionSettings
from .align import aligned_slot
from .hub import RoomHub
from .stall import StallWatch

logger = logging.getLogger(__name__)
HUB_LINGER_S = 5.0
TICK_GRACE = 0.25
"""A tick is late once it is this fraction of a period past its time (then reading waits for it)."""
TICK_SLOTS = 8
"""The rooms' presence ticks are spread over this many evenly spaced moments of each period (each room
ticks in one of them, at tick_hz): a room's clients get their frame shortly after that room's poses are
taken, instead of after every room's fan-out, and reading is not held up by one long tick.  With
``tick_align`` a room moves to the slot just after its members' poses arrive (``server.align``).  8 (4 ms
apart at 30 Hz) against 4: p99 0.79-0.97x in rooms of ten at 800 clients, even at 1,000, the same CPU within the
noise (docs/benchmarks-session.md, *The interpreter, and 8 tick slots*)."""
SLOT_SHARE = 1.25
"""With ``tick_align``, no room moves into a slot that holds this many times its share of the rooms (arrivals
measured under load drew 43-84 of 100 rooms into one slot of four)."""
ALIGN_EVERY = 15
"""With ``tick_align``, a room's slot is looked at again every this many periods (half a second at 30 Hz)."""


class SessionNode:
    """This process's rooms: their hubs, the backplane, the presence ticker and housekeeping."""

    def __init__(self, settings: SessionSettings, backplane: Backplane, clock: Any = time.time) -> None:
        self.settings = settings
        self.bp = backplane
        self.clock = clock
        self.limits = settings.limits.to_limits()
        self.config = RoomConfig(
            limits=self.limits,
            resume_window=settings.resume_window_s,
            lock_ttl=settings.lock_ttl_s,
            quiet_timeout=settings.quiet_timeout_s,
            presence_radius=settings.presence_radius_m,
            visit_timeout=settings.visit_timeout_s,
        )
        self.key = settings.token_secret.get_secret_value().encode()
        self.hubs: dict[str, RoomHub] = {}
        self.tick_slots: dict[str, int] = {}
        """Each room's moment in the tick period (0 .. TICK_SLOTS - 1; see ``TICK_SLOTS``)."""
        self._slot_moves: dict[str, int] = {}
        """Rooms' new slots (``tick_align``), taken up at the start of the next period."""
        self.slot_moves = 0
        """How many times a room moved to another tick slot (``tick_align``)."""
        self.links: set[Any] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.draining = False
        self.ticks = 0
        self.tick_lag_ms = 0.0
        self._commands: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: list[Callable[[str, dict[str, Any]], None]] = []
        self._forwards: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.stall = StallWatch()
        """This process's event-loop stalls (rate limits, rooms' quiet timers and locks do not charge them to
        clients)."""
        self.tick_due = math.inf
        """``time.monotonic()`` after which the presence tick is late; a fast-path connection read after it
        stops being read until the tick ran (``defer_reading``).  Infinite while no ticker runs."""
        self._slot_load = [0] * TICK_SLOTS
        """Rooms per tick slot, counted when aligning (moves included as they are decided)."""
        self.next_slot_at = math.inf
        """``time.monotonic()`` when the ticker's next slot is due (the napper never sleeps past it); infinite
        while the ticker is not waiting for a slot."""
        self._deferred: list[Any] = []
        self.reads_deferred = 0
        """How many times a connection stopped being read until a late tick ran."""
        self.loop: asyncio.AbstractEventLoop | None = None
        """The loop the node runs on (set by ``start``; other threads submit ``command`` to it)."""

    @staticmethod
    def new_node_id() -> str:
        """Return a new random node id (12 hex digits)."""
        return uuid.uuid4().hex[:12]

    async def start(self) -> None:
        """Start the backplane and this process's background tasks (on the running loop)."""
        self.loop = asyncio.get_running_loop()
        self.stall.start()
        await self.bp.start()
        self._tasks = [
            asyncio.create_task(self._ticker(), name="presence-ticker"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
            asyncio.create_task(self._forwarder(), name="forwarder"),
        ]
        if self.bp.distributed:
            self._tasks.append(asyncio.create_task(self._replies(), name="replies"))

    async def get_hub(self, room: str) -> RoomHub:
        """Return the room's hub, starting it when new; LimitExceeded past the room limit."""
        hub = self.hubs.get(room)
        if hub is None:
            if len(self.hubs) >= self.limits.max_rooms:
                raise LimitExceeded("too_many_rooms", limit=self.limits.max_rooms, actual=len(self.hubs) + 1)
            hub = RoomHub(room, self.bp, self.config, self.clock, events=self, stalled=self.stall.total)
            self.tick_slots[room] = self.free_tick_slot()
            self.hubs[room] = hub
            await hub.start()
        hub.idle_since = None
        return hub

    def free_tick_slot(self) -> int:
        """Return the tick slot the fewest of this process's rooms tick in (the lowest of equals)."""
        used = [0] * TICK_SLOTS
        for room in self.hubs:
            used[self.tick_slots.get(room, 0)] += 1
        return used.index(min(used))

    # ---- server commands, listeners, forwarding --------------------------------------------------------
    async def command(self, room_id: str, cmd: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        """Apply a server command to ``room_id`` wherever the room is ordered; its result.

        Raises the room's refusal as ``ProtocolError`` (``code``/``message``/``field``), ``LimitExceeded``
        when this process has no room left, and ``TimeoutError`` when no answer came in ``timeout`` s."""
        if self.draining:
            raise ProtocolError("shutdown", "this server is shutting down; retry on another")
        if not ID_RE.fullmatch(room_id):
            raise BadMessage("bad_message", f"{room_id!r} is not a room id ({ID_RULE})", field="room")
        hub = await self.get_hub(room_id)
        cid = uuid.uuid4().hex
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._commands[cid] = fut
        try:
            await hub.submit_command(cid, cmd)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._commands.pop(cid, None)

    def command_done(self, cid: str, result: dict[str, Any] | None, error: dict[str, Any] | None) -> None:
        """A command submitted from here was answered (called by hubs and the replies reader)."""
        fut = self._commands.get(cid)
        if fut is None:
            if error is not None:
                logger.info("forwarded command %s was refused: %s", cid, error.get("message"))
            return
        if fut.done():
            return
        if error is not None:
            code = error.get("code", "internal")
            code = code if code in ERROR_CODES else "internal"
            fut.set_exception(ProtocolError(code, error.get("message"), field=error.get("field")))
        else:
            fut.set_result(result or {})

    def add_listener(self, fn: Callable[[str, dict[str, Any]], None]) -> None:
        """Call ``fn(room_id, delta)`` for every delta this process orders (once per delta in the cluster)."""
        self._listeners.append(fn)

    def committed(self, room: str, delta: dict[str, Any]) -> None:
        """A hub ordered ``delta`` of ``room``: tell the listeners (a failing listener is logged, not fatal)."""
        for fn in self._listeners:
            try:
                fn(room, delta)
            except Exception:
                logger.exception("room %s: delta listener failed", room)

    def forward(self, room: str, command: dict[str, Any]) -> None:
        """Queue a command a room sends to another room (sent in order by the forwarder)."""
        self._forwards.put_nowait((room, command))

    async def _forwarder(self) -> None:
        while True:
            room, command = await self._forwards.get()
            try:
                hub = await self.get_hub(room)
                await hub.submit_command("fwd-" + uuid.uuid4().hex, command)
            except (ProtocolError, OSError, ConnectionError) as exc:
                logger.warning("room %s: forwarded %s lost: %s", room, command.get("type"), exc)

    def defer_reading(self, connection: Any) -> None:
        """``connection`` stopped reading because the tick is late; ``resume_after_tick()`` once it ran."""
        self._deferred.append(connection)
        self.reads_deferred += 1

    def _resume_reading(self) -> None:
        deferred, self._deferred = self._deferred, []
        for connection in deferred:
            connection.resume_after_tick()

    async def _ticker(self) -> None:
        """Tick every room once a period, each in its slot (``TICK_SLOTS``); only occupied slots wake it."""
        period = 1.0 / self.settings.tick_hz
        step = period / TICK_SLOTS
        loop = asyncio.get_running_loop()
        start = loop.time()  # the current period's slot 0
        try:
            while True:
                by_slot: dict[int, list[str]] = {}
                for room in self.hubs:
                    by_slot.setdefault(self.tick_slots.get(room, 0), []).append(room)
                align = self.settings.tick_align and self.ticks % ALIGN_EVERY == 0
                if align:
                    self._slot_load = [len(by_slot.get(s, ())) for s in range(TICK_SLOTS)]
                for slot in sorted(by_slot) or [0]:
                    delay = start + slot * step - loop.time()
                    if delay > 0:
                        mono = time.monotonic()
                        # when the loop's timer is due: uvloop counts whole milliseconds of the same clock
                        self.next_slot_at = (math.floor(mono * 1000) + round(delay * 1000)) / 1000
                        self.tick_due = mono + delay + period * TICK_GRACE
                        await asyncio.sleep(delay)
                        self.next_slot_at = math.inf
                    self.tick_lag_ms = max(0.0, -delay * 1000) * 0.1 + self.tick_lag_ms * 0.9  # smoothed
                    await self._tick_slot(slot, by_slot.get(slot, []), period if align else 0.0)
                    self._resume_reading()
                self.ticks += 1
                if self._slot_moves:  # from this period on: each room still ticks once a period
                    self.tick_slots.update((room, s) for room, s in self._slot_moves.items() if room in self.hubs)
                    self._slot_moves.clear()
                start += period
                behind = loop.time() - start
                if behind > period:  # fell behind: skip missed ticks instead of bursting
                    start += behind
                self.tick_due = time.monotonic() + max(0.0, -behind) + period * TICK_GRACE
        finally:
            self.tick_due = self.next_slot_at = math.inf
            self._resume_reading()

    async def _tick_slot(self, slot: int, rooms: list[str], align_period: float = 0.0) -> None:
        """One presence tick of ``rooms`` (those in ``slot``); with ``align_period`` (the period, when aligning
        this time) each room's slot for the next periods is chosen from when its members' poses arrive."""
        now = self.clock()
        for room in rooms:
            hub = self.hubs.get(room)
            if hub is None:  # gone while an earlier room's tick waited
                continue
            mono = time.monotonic() if align_period else 0.0  # when this room's poses are taken
            try:
                await hub.tick_presence(now)
            except (OSError, ConnectionError) as exc:
                logger.warning("room %s: presence tick failed: %s", hub.room_id, exc)
            if align_period:
                self._align(room, hub, slot, mono, align_period)

    def _align(self, room: str, hub: RoomHub, slot: int, mono: float, period: float) -> None:
        """Move ``room`` to the slot after its members' poses arrive (``server.align``), from the next period; a
        slot already holding ``SLOT_SHARE`` times its share of the rooms takes no more."""
        ages = [age for link in hub.clients.values() if (age := mono - link.last_received) < 2 * period]
        load = self._slot_load
        cap = max(1.0, SLOT_SHARE * len(self.hubs) / TICK_SLOTS)
        new = aligned_slot(ages, slot, TICK_SLOTS, period, [s for s in range(TICK_SLOTS) if load[s] + 1 > cap])
        if new != slot:
            self._slot_moves[room] = new
            load[slot] -= 1
            load[new] += 1
            self.slot_moves += 1

    async def _housekeeping(self) -> None:
        interval = min(1.0, self.settings.quiet_timeout_s / 4, self.settings.idle_timeout_s / 4)
        last_seen_sent = 0.0
        while True:
            await asyncio.sleep(interval)
            mono = time.monotonic()
            for link in list(self.links):
                link.check_idle(mono)
            send_seen = mono - last_seen_sent > self.settings.quiet_timeout_s / 3
            if send_seen:
                last_seen_sent = mono
            for room, hub in list(self.hubs.items()):
                try:
                    if send_seen:
                        await hub.attendance()
                    if hub.local_count == 0:
                        if hub.idle_since is None:
                            hub.idle_since = mono
                        elif mono - hub.idle_since > HUB_LINGER_S and (hub.leader is None or hub.leader.empty):
                            del self.hubs[room]
                            self.tick_slots.pop(room, None)
                            await hub.stop(forget=True)
                except (OSError, ConnectionError) as exc:
                    logger.warning("room %s: housekeeping failed: %s", room, exc)

    async def _replies(self) -> None:
        while True:
            try:
                items = await self.bp.read_replies(500)
            except (OSError, ConnectionError) as exc:
                logger.warning("reading replies failed: %s", exc)
                await asyncio.sleep(0.5)
                continue
            for item in items:
                if "command" in item:
                    self.command_done(str(item["command"]), item.get("result"), item.get("error"))
                    continue
                hub = self.hubs.get(item["room"])
                if hub is not None:
                    hub.on_reply(item["participant"], item["frame"])

    async def drain(self, timeout: float = 2.0) -> None:
        """Tell every client to reconnect elsewhere, close them, hand the rooms over."""
        if self.draining:
            return
        self.draining = True
        links = list(self.links)
        logger.info("draining %d connections", len(links))
        await asyncio.gather(*(link.shutdown(timeout) for link in links), return_exceptions=True)
        self.stall.stop()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for hub in list(self.hubs.values()):
            await hub.stop()
        self.hubs.clear()
        self.tick_slots.clear()
        await self.bp.close()
