"""The napper: a served process's loop polls at most once per interval while it has clients, and waits for
events as usual without them (server.nap)."""

from __future__ import annotations

import asyncio
import time

import pytest

from session_server.server import nap
from session_server.server.app import create_app
from session_server.server.nap import BUSY_SHARE, IDLE_LOOK_S, WINDOW_TURNS, Napper
from session_server.server.runner import make_server
from session_server.settings import SessionSettings

INTERVAL = 0.01


async def _turns(napper: Napper, seconds: float, work: float = 0.0) -> tuple[int, float]:
    """Loop turns seen by a callback that schedules itself each turn (and is busy ``work`` seconds in each), over
    ``seconds``, with ``napper`` running."""
    loop = asyncio.get_running_loop()
    turns = 0
    done = loop.create_future()
    start = time.monotonic()

    def count() -> None:
        nonlocal turns
        turns += 1
        until = time.monotonic() + work
        while time.monotonic() < until:  # a turn with this much to do (reads, a tick)
            pass
        if time.monotonic() - start < seconds:
            loop.call_soon(count)
        else:
            done.set_result(None)

    napper.start()
    loop.call_soon(count)
    await done
    napper.stop()
    return turns, time.monotonic() - start


def test_while_busy_the_loop_turns_at_most_once_per_interval() -> None:
    napper = Napper(INTERVAL, lambda: True)
    turns, elapsed = asyncio.run(_turns(napper, 0.15, work=2 * BUSY_SHARE * INTERVAL))
    # each turn runs the napper once, and its runs are at least INTERVAL apart (sleeping never ends early)
    assert turns <= elapsed / INTERVAL + 2, (turns, elapsed)
    assert napper.naps >= 1


def test_turns_with_next_to_nothing_to_do_end_the_napping() -> None:
    napper = Napper(0.001, lambda: True)  # napping on, it would nap about 1,000 times in the second
    turns, elapsed = asyncio.run(_turns(napper, 1.0))
    # WINDOW_TURNS naps per try, a try every IDLE_LOOK_S: a few idle clients do not make the loop wake 1/INTERVAL
    # times a second
    assert napper.naps <= (elapsed / IDLE_LOOK_S + 2) * WINDOW_TURNS, (napper.naps, elapsed)
    assert turns > napper.naps


def test_turns_with_little_to_do_end_the_napping() -> None:
    """Turns busy under ``BUSY_SHARE`` of the interval on average (one big room: a few reads a turn) end the
    napping, which would cost more wake-ups than it saves; turns busier than that keep it."""
    light = Napper(0.002, lambda: True)
    turns, elapsed = asyncio.run(_turns(light, 1.2, work=BUSY_SHARE * 0.002 / 3))
    assert light.naps <= (elapsed / IDLE_LOOK_S + 2) * WINDOW_TURNS, (light.naps, elapsed)
    assert turns > 2 * light.naps
    busy = Napper(0.002, lambda: True)
    turns, elapsed = asyncio.run(_turns(busy, 0.6, work=BUSY_SHARE * 0.002 * 3))
    assert busy.naps > (elapsed / IDLE_LOOK_S + 2) * WINDOW_TURNS, (busy.naps, elapsed)


def test_a_nap_ends_at_the_deadline_and_naps_go_on_once_it_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tick due during a nap is not made late by it: no nap sleeps past ``deadline()``; once the deadline has
    passed (its timer about to run), the napper naps as usual instead of spinning."""
    interval = 0.02
    naps: list[tuple[float, float]] = []  # (when it began, seconds asked for)
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        naps.append((time.monotonic(), seconds))
        real_sleep(seconds)

    monkeypatch.setattr(nap.time, "sleep", sleep)
    start = time.monotonic()
    due = start + 0.05
    napper = Napper(interval, lambda: True, lambda: due)
    turns, elapsed = asyncio.run(_turns(napper, 0.15, work=2 * BUSY_SHARE * interval))
    before = [(at, s) for at, s in naps if at < due]
    after = [s for at, s in naps if at >= due]
    assert before and after, naps
    assert all(at + s <= due + 2e-4 for at, s in before), (due, before)  # (``at`` is read a little later)
    assert any(abs(at + s - due) < 1e-3 for at, s in before), (due, before)  # one nap was cut short at it
    assert min(after) > interval / 2, after  # after it: whole naps again, no spinning
    assert turns <= elapsed / interval + 3, (turns, elapsed)


def test_without_clients_it_never_sleeps() -> None:
    napper = Napper(INTERVAL, lambda: False)
    turns, _ = asyncio.run(_turns(napper, 0.05))
    assert napper.naps == 0
    assert turns > 0


def test_it_stops_napping_when_the_clients_are_gone() -> None:
    clients = [1]
    napper = Napper(INTERVAL, lambda: bool(clients))

    async def scenario() -> tuple[int, int]:
        napper.start()
        while napper.naps < 2:
            await asyncio.sleep(0)
        clients.clear()
        await asyncio.sleep(0.03)
        before = napper.naps
        await asyncio.sleep(0.05)
        napper.stop()
        return before, napper.naps

    before, after = asyncio.run(scenario())
    assert after == before


def test_a_served_process_naps_at_the_configured_interval_and_zero_turns_it_off() -> None:
    on = SessionSettings(_env_file=None, token_secret="x" * 32)  # type: ignore[call-arg]
    off = SessionSettings(_env_file=None, token_secret="x" * 32, poll_interval_ms=0)  # type: ignore[call-arg]
    assert make_server(create_app(on), on).poll_interval == on.poll_interval_ms / 1000 > 0
    assert make_server(create_app(off), off).poll_interval == 0
