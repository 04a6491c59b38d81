"""The read debouncer: one item per garment held in front of the reader; items with no read leave."""

from __future__ import annotations

import pytest

from session_server.retail.debounce import ReadDebouncer


def test_ten_seconds_of_reads_is_one_item() -> None:
    d = ReadDebouncer(debounce_s=10, leave_after_s=30)
    told = [d.note("fit.s.3", "EPC1", t / 4) for t in range(40)]  # 4 reads a second for 10 s
    assert told.count(True) == 1 and told[0]
    assert d.note("fit.s.3", "EPC1", 10.0)  # re-told after the debounce (idempotent in the room)
    assert d.note("fit.s.4", "EPC1", 10.0)  # another room is another item
    assert not d.note("fit.s.3", "EPC1", 11.0)


def test_item_without_reads_leaves_and_can_come_back() -> None:
    d = ReadDebouncer(debounce_s=10, leave_after_s=30)
    d.note("fit.s.3", "A", 0.0)
    d.note("fit.s.3", "B", 0.0)
    d.note("fit.s.3", "B", 20.0)
    assert d.expired(29.0) == []
    assert d.expired(30.0) == [("fit.s.3", "A")]
    assert d.expired(49.0) == [] and d.expired(50.0) == [("fit.s.3", "B")]
    assert len(d) == 0
    assert d.note("fit.s.3", "A", 51.0)  # brought back in: a new item


def test_unsent_retries_and_room_clear_forgets() -> None:
    d = ReadDebouncer(debounce_s=10, leave_after_s=30)
    assert d.note("r", "A", 0.0)
    d.unsent("r", "A")
    assert d.note("r", "A", 0.5)  # the room could not be told: the next read tries again
    d.note("r2", "B", 0.0)
    d.forget_room("r")
    assert len(d) == 1 and d.note("r", "A", 1.0)


def test_bounded() -> None:
    d = ReadDebouncer(debounce_s=10, leave_after_s=30, max_entries=2)
    d.note("r", "A", 0.0)
    d.note("r", "B", 0.0)
    assert not d.note("r", "A", 1.0)  # known codes still work when full
    with pytest.raises(OverflowError):
        d.note("r", "C", 0.0)
