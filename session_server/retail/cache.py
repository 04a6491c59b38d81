"""A small time-bounded, size-bounded cache for hot catalog and device look-ups (clock passed in)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

MISSING = object()


class TTLCache:
    """Values kept ``ttl_s`` seconds, at most ``max_entries`` (the oldest inserted go first)."""

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable, now: float) -> Any:
        """The value, or ``MISSING`` when absent or expired."""
        hit = self._data.get(key)
        if hit is None:
            return MISSING
        if now - hit[0] >= self.ttl_s:
            del self._data[key]
            return MISSING
        return hit[1]

    def get_aged(self, key: Hashable, now: float, max_age: float) -> tuple[Any, float] | Any:
        """``(value, age)`` of an entry younger than ``max_age`` (which may exceed ``ttl_s``: the caller
        decides what to do with a stale one), else ``MISSING``."""
        hit = self._data.get(key)
        if hit is None:
            return MISSING
        age = now - hit[0]
        if age >= max_age:
            del self._data[key]
            return MISSING
        return hit[1], age

    def pop(self, key: Hashable) -> None:
        """Forget one entry."""
        self._data.pop(key, None)

    def put(self, key: Hashable, value: Any, now: float) -> None:
        """Keep ``value`` for ``key`` from ``now``."""
        self._data.pop(key, None)
        self._data[key] = (now, value)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()
