"""Debounce of tag and code reads (sans-I/O; the clock is passed in).

A reader reports a garment many times a second while it is in range; the room must see it once. For
each (room, code) the debouncer keeps when it was last read and when the room was last told:

* ``note(room, code, now)`` -> True when the room should be told (first read, or the last command is
  older than ``debounce_s``, which re-adds an item after the room was cleared while it is still read);
* ``expired(now)`` -> the (room, code) pairs with no read for ``leave_after_s``: those items have left;
* ``forget(room, code)`` / ``forget_room(room)`` when an item or the visit ends another way.

Entries are bounded (``max_entries``); when full, a new code is refused (``note`` raises
``OverflowError``) rather than forgetting items that are still in rooms.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class _Seen:
    last_read: float
    last_sent: float


class ReadDebouncer:
    """Which reads reach a room, and which items have not been read for too long."""

    def __init__(self, debounce_s: float, leave_after_s: float, max_entries: int = 200_000) -> None:
        self.debounce_s = debounce_s
        self.leave_after_s = leave_after_s
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], _Seen] = {}

    def __len__(self) -> int:
        return len(self._seen)

    def note(self, room: str, code: str, now: float) -> bool:
        """Record a read; True if the room should be told about it now."""
        key = (room, code)
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= self.max_entries:
                raise OverflowError(f"more than {self.max_entries} items are being tracked")
            self._seen[key] = _Seen(now, now)
            return True
        seen.last_read = max(seen.last_read, now)
        if now - seen.last_sent >= self.debounce_s:
            seen.last_sent = now
            return True
        return False

    def unsent(self, room: str, code: str) -> None:
        """The room could not be told: the next read tries again."""
        self._seen.pop((room, code), None)

    def forget(self, room: str, code: str) -> None:
        """The item left the room another way (explicit remove)."""
        self._seen.pop((room, code), None)

    def forget_room(self, room: str) -> None:
        """The room was cleared."""
        for key in [k for k in self._seen if k[0] == room]:
            del self._seen[key]

    def expired(self, now: float) -> list[tuple[str, str]]:
        """(room, code) of items with no read for ``leave_after_s``; they are forgotten."""
        gone = [k for k, s in self._seen.items() if now - s.last_read >= self.leave_after_s]
        for key in gone:
            del self._seen[key]
        return gone
