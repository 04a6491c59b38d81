"""Limits every connection and room enforces, a token bucket and a decaying strike count driven by a
passed-in clock.

Fair under stalls: when the server itself did not read for a while (its event loop was blocked, the
process was stopped), what a client sent meanwhile arrives all at once.  The caller passes the
server's total stalled time (``stalled``, seconds, only ever growing; see ``server.stall``) and the
bucket credits ``rate * (new stall time)`` on top of its burst, so a client that kept to the rate
during the stall is not refused when the backlog is read.  The credit is what the client was allowed
to send while the server was not reading, no more, and it lapses shortly after the stall.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LimitExceeded


@dataclass(frozen=True, slots=True)
class Limits:
    """Every configurable limit; defaults live here and only here."""

    max_message_bytes: int = 32 * 1024
    max_json_depth: int = 12
    messages_per_second: float = 60.0
    message_burst: int = 120
    rate_strikes_before_close: int = 200
    rate_strike_window_s: float = 10.0
    """Refusals age out: the strike count drains at ``rate_strikes_before_close / rate_strike_window_s`` per second."""
    max_participants_per_room: int = 250
    max_objects_per_room: int = 500
    max_anchors_per_room: int = 64
    max_rooms: int = 2000
    max_chat_chars: int = 500
    chat_log_length: int = 50
    max_id_chars: int = 64
    delta_log_length: int = 10_000


DEFAULT_LIMITS = Limits()


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take(now)`` returns False when empty.

    ``take(now, stalled=S)``: ``S`` is the server's total stalled time so far; time newly stalled since
    the last call is credited (``rate`` per second) above ``burst`` for ``grace`` seconds (at least 1 s,
    else as long as the stall)."""

    __slots__ = ("_credit_until", "_last", "_stalled", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float, stalled: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now
        self._stalled = stalled
        self._credit_until = now

    def take(self, now: float, cost: float = 1.0, stalled: float = 0.0) -> bool:
        """Take ``cost`` tokens if there are that many (else take none and return False)."""
        return self.take_many(now, 1, stalled, cost) == 1

    def take_many(self, now: float, count: int, stalled: float = 0.0, cost: float = 1.0) -> int:
        """``count`` takes of ``cost`` at ``now``, one after the other: how many succeed (the first ones; once
        one fails the rest fail too, as nothing refills between them)."""
        elapsed = now - self._last
        self._last = now
        tokens = self._tokens
        burst = self.burst  # an int compares and adds exactly as its float would
        if tokens > burst and now > self._credit_until:
            tokens = burst  # an unused stall credit lapses
        if elapsed > 0.0:  # min(max(burst, tokens), tokens + elapsed * rate) without the calls (per message)
            refill = tokens + elapsed * self.rate
            cap = tokens if tokens > burst else burst
            tokens = refill if refill < cap else cap
        if stalled > self._stalled:  # the server did not read for a while: what was sent meanwhile is not a flood
            gap = stalled - self._stalled
            self._stalled = stalled
            tokens += gap * self.rate
            self._credit_until = now + max(1.0, gap)
        # a cost of 0 always succeeds; one take of at most the tokens too (the usual case: no min() call)
        taken = 0 if tokens < cost else count if cost <= 0 or count == 1 else min(count, int(tokens // cost))
        self._tokens = tokens - taken * cost
        return taken


class Strikes:
    """A count of refusals that drains at ``limit / window`` per second (a leaky bucket): ``add(now)`` is True
    once more than ``limit`` refusals are outstanding, i.e. refusals came faster than they age out."""

    __slots__ = ("_last", "_level", "drain", "limit")

    def __init__(self, limit: int, window_s: float, now: float) -> None:
        self.limit = limit
        self.drain = limit / window_s if window_s > 0 else float("inf")
        self._level = 0.0
        self._last = now

    def add(self, now: float) -> bool:
        """Count one refusal at ``now``; True when the outstanding count is over the limit."""
        self._level = max(0.0, self._level - max(0.0, now - self._last) * self.drain) + 1.0
        self._last = now
        return self._level > self.limit

    @property
    def level(self) -> float:
        """The outstanding count at the last ``add``."""
        return self._level


def check_size(size: int, limits: Limits) -> None:
    """Raise LimitExceeded when a message of ``size`` bytes is over the size limit."""
    if size > limits.max_message_bytes:
        raise LimitExceeded(
            "too_big", "message is larger than the size limit", limit=limits.max_message_bytes, actual=size
        )


def json_depth(value: object) -> int:
    """Nesting depth of a decoded JSON value (scalars are depth 0), computed without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            depth += 1
            stack.extend((v, depth) for v in item.values())
        elif isinstance(item, list):
            depth += 1
            stack.extend((v, depth) for v in item)
        deepest = max(deepest, depth)
    return deepest
