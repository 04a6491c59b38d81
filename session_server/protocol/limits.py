"""Limits every connection and room enforces, and a token bucket driven by a passed-in clock."""

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
    """``rate`` tokens per second up to ``burst``; ``take(now)`` returns False when empty."""

    __slots__ = ("_last", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._last = now

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many (else take none and return False)."""
        elapsed = max(0.0, now - self._last)
        self._last = now
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False


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
