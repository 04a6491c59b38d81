"""Tick alignment: the moment of the period a room ticks in, chosen so that its members' poses wait least.

A room's presence tick takes the poses that arrived since the last one, so a pose waits from its arrival to the
room's next tick: with the tick at a random moment of the period, anywhere from nothing to a whole period (33 ms at
30 Hz), and the member whose pose arrives just after the tick always waits the longest.  Members send at their
own steady rate, so their poses arrive at steady moments of the period, and of the process's evenly spaced tick
slots one keeps the longest wait shortest: the one just after a cluster of arrivals, before the widest gap
between them.

A pose that arrives less than ``MARGIN_S`` before a slot is counted as missing it (read a little later than usual:
the sender's timer, the network, this process's polling), so it waits a whole period more.  A room moves only
when that shortens its longest wait by ``GAIN_S`` or more, so arrival jitter does not move it back and forth,
and only to a slot that is not full (the caller's rule: a slot holding more than its share of the rooms takes no
more, so that one slot's ticks do not write to most of the clients at once).
"""

from __future__ import annotations

from collections.abc import Container, Iterable

MARGIN_S = 0.002
"""A pose arriving less than this before a tick is counted as missing it."""
GAIN_S = 0.0015
"""A room moves to another slot only when that shortens its longest wait by at least this."""


def longest_wait(phases: list[float], at: float, period: float, margin: float = MARGIN_S) -> float:
    """The longest time a pose arriving at one of ``phases`` (seconds into the period) waits for a tick at ``at``
    (one arriving less than ``margin`` before the tick is counted as missing it)."""
    return max(wait if (wait := (at - p) % period) >= margin else wait + period for p in phases)


def aligned_slot(
    ages: Iterable[float], slot: int, slots: int, period: float, full: Container[int] = ()
) -> int:
    """The slot (of ``slots`` evenly spaced in ``period``) a room ticking now in ``slot`` should tick in from the next
    period; ``ages`` are, for each member that sends poses, how long before this tick its latest one was read;
    ``full``: slots that take no more rooms.

    Returns ``slot`` when there is nothing to align or when moving would shorten the longest wait by less than
    ``GAIN_S``."""
    # when each member's poses arrive, in seconds after this tick (its next pose, if it keeps its rate)
    phases = [(-age) % period for age in ages]
    if not phases:
        return slot
    step = period / slots
    waits = [longest_wait(phases, shift * step, period) for shift in range(slots)]
    open_shifts = [shift for shift in range(1, slots) if (slot + shift) % slots not in full]
    if not open_shifts:
        return slot
    best = min(open_shifts, key=waits.__getitem__)
    if waits[0] - waits[best] < GAIN_S:
        return slot
    return (slot + best) % slots
