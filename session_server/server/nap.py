"""Napper: a server process's event loop polls its sockets at most once per interval while it has clients.

Under load every client message arrives on its own (one pose per read, 30 a second per client), and an event
loop that waits for the next event wakes for nearly each one: a context switch, an ``epoll_pwait`` and a loop
turn per message or two (8,000 wake-ups a second for 22,000 reads at 800 clients in rooms of ten).  While the
process has clients, the napper sleeps out what is left of ``interval`` since its last nap, in a callback that
schedules itself again: the loop then polls without waiting and takes everything that arrived meanwhile in one
turn.  A turn that took longer than the interval is not followed by a sleep, so a busy process never naps, and
a message waits at most ``interval`` longer.  With no clients, or when ``QUIET_TURNS`` turns in a row after a nap
had next to nothing to do (less than ``BUSY_SHARE`` of the interval each: a few idle clients, where napping would
only add wake-ups), the loop waits for events as usual and the napper tries again ``IDLE_LOOK_S`` later.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

IDLE_LOOK_S = 0.05
"""While not napping: how often the napper tries again."""
BUSY_SHARE = 0.05
"""A turn after a nap that took less than this share of the interval had next to nothing to do."""
QUIET_TURNS = 8
"""So many such turns in a row end the napping (one alone may just follow a short nap)."""


class Napper:
    """Naps the running loop between turns while ``busy()`` (see the module docstring)."""

    def __init__(self, interval: float, busy: Callable[[], bool]) -> None:
        self.interval = interval
        self.busy = busy
        self.naps = 0
        """Sleeps taken so far."""
        self._last = 0.0
        self._napping = False
        self._quiet = 0
        self._handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start napping on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._last = time.monotonic()
        self._handle = self._loop.call_soon(self._turn)

    def stop(self) -> None:
        """Stop napping (the loop waits for events as usual)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _turn(self) -> None:
        loop = self._loop
        assert loop is not None
        now = time.monotonic()
        if self._napping and now - self._last < self.interval * BUSY_SHARE:
            self._quiet += 1
        else:
            self._quiet = 0
        if not self.busy() or self._quiet >= QUIET_TURNS:
            self._napping = False
            self._quiet = 0
            self._handle = loop.call_later(IDLE_LOOK_S, self._turn)
            return
        wait = self._last + self.interval - now if self._napping else self.interval
        self._napping = True
        if wait > 0:
            time.sleep(wait)
            self.naps += 1
        self._last = time.monotonic()
        self._handle = loop.call_soon(self._turn)
