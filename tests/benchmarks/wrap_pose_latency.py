"""Where a pose's latency goes inside the session server: a ``--wrap`` script for ``bench_session_ab.py``.

It patches the running server's hub and node, then runs ``python -m session_server`` as usual.  For every pose
in the usual binary form (the Node generator writes its send time, ms modulo 1e5, into x), it counts in 1 ms
buckets:

- ``read``: from the send to the server reading it;
- ``tick``: from the send to the room's tick taking it (the last pose of each member per tick);
- ``after_slot``: from the last tick slot's fan-out (any room) to the read: arrivals spread evenly over the
  period fill these buckets evenly, arrivals bunched after the fan-outs do not;
- ``tick_ms``: how long each room's tick took, in 0.1 ms buckets.

Only seconds 4-14 after the first pose are counted (after the connections and the warm-up).  The counts go to
``$PHYGITAL_POSE_LATENCY_DIR/pose-latency-PID.json`` (default: the system's temporary folder) every second;
``--show FILE...`` prints their percentiles.  Usage::

    .venv/bin/python tests/benchmarks/bench_session_ab.py . --clients 800 --pairs 1 --seconds 12 \\
        --wrap tests/benchmarks/wrap_pose_latency.py
    .venv/bin/python tests/benchmarks/wrap_pose_latency.py --show /tmp/pose-latency-*.json

Both clocks are the host's wall clock (the generator's ``performance.timeOrigin + now()``, the server's
``time.time()``), so a few tenths of a millisecond of offset between them are part of ``read``.
"""

from __future__ import annotations

import json
import os
import runpy
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MOD_MS = 1e5
"""The generator's timestamps are ms modulo this."""
WINDOW_S = (4.0, 14.0)
"""Seconds after the first pose between which poses are counted."""
BUCKETS = 120

counts: dict[str, list[int]] = {name: [0] * BUCKETS for name in ("read", "tick", "after_slot", "tick_ms")}
_first = [0.0]
_last_slot = [0.0]
_pending: dict[int, dict[str, float]] = {}


def _counting() -> bool:
    """True inside the counted window."""
    now = time.monotonic()
    if not _first[0]:
        _first[0] = now
    return WINDOW_S[0] < now - _first[0] < WINDOW_S[1]


def _age_ms(sent_ms: float) -> float:
    """Milliseconds since ``sent_ms`` (the generator's send time, ms modulo 1e5)."""
    age = (time.time() * 1000) % MOD_MS - sent_ms
    return age + MOD_MS if age < -MOD_MS / 2 else age


def _add(name: str, value: float) -> None:
    counts[name][min(BUCKETS - 1, max(0, int(value)))] += 1


def install() -> None:
    """Patch ``RoomHub.update_presence``, ``RoomHub.tick_presence`` and ``SessionNode._tick_slot`` to count."""
    from session_server.server import hub, node

    update = hub.RoomHub.update_presence
    tick = hub.RoomHub.tick_presence
    slot = node.SessionNode._tick_slot

    def update_presence(self: Any, pid: str, pose: Any) -> None:
        if isinstance(pose, bytes) and len(pose) == 28 and _counting():
            sent = struct.unpack_from("<i", pose, 0)[0] / 1e4
            _add("read", _age_ms(sent))
            _add("after_slot", (time.monotonic() - _last_slot[0]) * 1000)
            _pending.setdefault(id(self), {})[pid] = sent
        update(self, pid, pose)

    async def tick_presence(self: Any, t: float) -> int:
        sent = _pending.pop(id(self), None)
        started = time.perf_counter()
        for value in (sent or {}).values():
            _add("tick", _age_ms(value))
        out = await tick(self, t)
        if sent:
            _add("tick_ms", (time.perf_counter() - started) * 1e4)
        return out

    async def tick_slot(self: Any, *args: Any, **kwargs: Any) -> None:
        await slot(self, *args, **kwargs)
        _last_slot[0] = time.monotonic()

    hub.RoomHub.update_presence = update_presence  # type: ignore[method-assign]
    hub.RoomHub.tick_presence = tick_presence  # type: ignore[method-assign]
    node.SessionNode._tick_slot = tick_slot  # type: ignore[method-assign]


def _dump_every_second(path: Path) -> None:
    while True:
        time.sleep(1.0)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(counts))
        tmp.replace(path)


def percentile(buckets: list[int], q: float) -> int | None:
    """The bucket holding the ``q`` quantile of the counts (None when there are none)."""
    total = sum(buckets)
    seen = 0
    for i, n in enumerate(buckets):
        seen += n
        if total and seen >= q * total:
            return i
    return None


def show(files: list[str]) -> None:
    """Print each file's counts and percentiles (bucket numbers: ms, or 0.1 ms for ``tick_ms``)."""
    for name in files:
        data = json.loads(Path(name).read_text())
        print(name)
        for key, buckets in data.items():
            pct = ", ".join(f"p{int(q * 100)} {percentile(buckets, q)}" for q in (0.5, 0.9, 0.99))
            print(f"  {key:10s} n={sum(buckets):,}: {pct}; first 12 buckets {buckets[:12]}")


def main() -> None:
    """``--show FILE...``, or instrument and run the server with the arguments given."""
    if sys.argv[1:2] == ["--show"]:
        show(sys.argv[2:])
        return
    folder = Path(os.environ.get("PHYGITAL_POSE_LATENCY_DIR", tempfile.gettempdir()))
    install()
    path = folder / f"pose-latency-{os.getpid()}.json"
    threading.Thread(target=_dump_every_second, args=(path,), daemon=True).start()
    runpy.run_module("session_server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
