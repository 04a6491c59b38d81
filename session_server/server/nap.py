"""Napper: a server process's event loop polls its sockets at most once per interval while it has clients.

Under load every client message arrives on its own (one pose per read, 30 a second per client), and an event
loop that waits for the next event wakes for nearly each one: a context switch, an ``epoll_pwait`` and a loop
turn per message or two (8,000 wake-ups a second for 22,000 reads at 800 clients in rooms of ten).  While the
process has clients, the napper sleeps out what is left of ``interval`` since its last nap, in a callback that
schedules itself again: the loop then polls without waiting and takes everything that arrived meanwhile in one
turn.  A turn that took longer than the interval is not followed by a sleep, so a busy process never naps, and
a message waits at most ``interval`` longer.  A nap ends early at ``deadline()`` (the presence ticker's next
slot): a tick due during a nap would otherwise run up to ``interval`` late, 0.5 ms on average for every pose.

A nap is itself a wake-up (a sleep and two context switches), so it pays only when a turn after it has enough
to do: with no clients, or when the turns of the last ``WINDOW_TURNS`` naps were busy less than ``BUSY_SHARE`` of
the interval on average, the loop waits for events as usual and the napper tries again ``IDLE_LOOK_S`` later.
Measured (``bench_session_ab.py``): in rooms of ten at 800 clients a turn after a nap is busy about 400 us of
1 ms and napping saves CPU; in one room of 200 about 70 us, and napping cost CPU (0.88x with it off).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

IDLE_LOOK_S = 0.5
"""While not napping: how often the napper tries again."""
BUSY_SHARE = 0.15
"""Napping goes on while the turns after the naps are busy at least this share of the interval on average."""
WINDOW_TURNS = 32
"""How many naps' turns that average is taken over."""


class Napper:
    """Naps the running loop between turns while ``busy()`` (see the module docstring)."""

    def __init__(
        self, interval: float, busy: Callable[[], bool], deadline: Callable[[], float] | None = None
    ) -> None:
        self.interval = interval
        self.busy = busy
        self.deadline = deadline
        """``time.monotonic()`` that a nap must not sleep past (for example the next tick), or None."""
        self.naps = 0
        """Sleeps taken so far."""
        self._last = 0.0
        self._napping = False
        self._turns = 0
        """Turns after a nap in the current window."""
        self._busy = 0.0
        """Their busy time, in seconds."""
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
        if self._napping:
            self._turns += 1
            self._busy += now - self._last
        if self._turns >= WINDOW_TURNS:
            quiet = self._busy < self._turns * self.interval * BUSY_SHARE
            self._turns, self._busy = 0, 0.0
        else:
            quiet = False
        if not self.busy() or quiet:
            self._napping = False
            self._turns, self._busy = 0, 0.0
            self._handle = loop.call_later(IDLE_LOOK_S, self._turn)
            return
        wait = self._last + self.interval - now if self._napping else self.interval
        if self.deadline is not None:
            due = self.deadline()
            if due > now:  # once it has passed (the timer about to run), naps go on as usual: no spinning
                wait = min(wait, due - now)
        self._napping = True
        if wait > 0:
            time.sleep(wait)
            self.naps += 1
        self._last = time.monotonic()
        self._handle = loop.call_soon(self._turn)
