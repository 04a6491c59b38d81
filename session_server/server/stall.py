"""StallWatch: notices when this process's event loop did not run for a while (blocked by a long call,
the machine overloaded, the process stopped with SIGSTOP) and keeps the total time stalled.

Everything a client sent during such a gap is read at once afterwards; rate limits are given the total
(``Connection.receive(..., stalled=)``) so that the server's own stall is not charged to its clients, and so
are the rooms' timers of participants' quiet and of locks (``Room.tick(now, stalled)``, through ``total``).
A beat every ``interval`` seconds sees the loop run; a frame read while the beat is overdue (the first
frames after a SIGSTOP, or a loop turn that takes seconds because the process is overloaded) counts the
stall so far (``check``), so the credit is there before the backlog is counted.
"""

from __future__ import annotations

import asyncio
import logging
import time

logger = logging.getLogger(__name__)


class StallWatch:
    """Total time this process's event loop was stalled (gaps longer than ``threshold`` between sightings)."""

    def __init__(self, interval: float = 0.05, threshold: float = 0.25) -> None:
        self.interval = interval
        self.threshold = threshold
        self.stalled = 0.0
        """Seconds stalled in total (only grows)."""
        self.stalls = 0
        self.longest = 0.0
        self.last = time.monotonic()
        """When the beat last saw the loop run (``time.monotonic``)."""
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start the beat on the running loop."""
        self.last = time.monotonic()
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._beat)

    def stop(self) -> None:
        """Stop the beat."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _beat(self) -> None:
        mono = time.monotonic()
        gap = mono - self.last
        self.last = mono
        if gap > self.threshold:
            lost = gap - self.interval
            self.stalled += lost
            self.stalls += 1
            self.longest = max(self.longest, lost)
            if lost >= 1.0:
                logger.warning("event loop stalled for %.1f s; clients are not charged for what came meanwhile", lost)
        self._handle = asyncio.get_running_loop().call_later(self.interval, self._beat)

    def check(self, mono: float) -> float:
        """Seconds stalled in total at ``mono``, counting a stall still under way (the beat is overdue: more than
        ``threshold`` after ``last``)."""
        gap = mono - self.last
        if gap > self.threshold:
            return self.stalled + gap - self.interval
        return self.stalled

    def total(self) -> float:
        """Seconds stalled in total now (``check`` at ``time.monotonic()``)."""
        return self.check(time.monotonic())
