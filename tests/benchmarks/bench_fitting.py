"""Load benchmark of the smart fitting rooms: one store, many rooms, one server process.

Loopback only, bounded in rooms and time. The server is ``python -m session_server`` in a subprocess
(in-memory rooms, SQLite catalog + retail tables in a temporary folder), seeded with one store of N
fitting rooms (default 200), 10 tags per room and a reader and a mirror device key per room. Then, for
``--seconds``:

* each room's reader posts a tag read every 2 s (``POST /api/readers/reads``), cycling through its 10
  tags; items leave 6 s after their last read, so every read adds an item and the mirror gets a delta;
* each room's mirror is a WebSocket client (``session_server.client.SessionClient``) of its room;
* a staff tablet watches ``staff.<store>``; every 2 s one room asks for an assistant
  (``POST .../requests``) and the staff accepts and delivers it (``POST /api/requests/{id}/...``).

Measured after a warm-up (by default one cycle through every room's tags: the first read of each tag
looks it up in the catalog, later ones find it in the server's cache; those first reads are reported on a
line of their own): p50/p99/max latency from sending a tag read to the mirror receiving the
``item.added`` delta (same clock, one process), HTTP latency of the reads, reads and deltas per second,
server CPU (% of one core) and RSS, the load generator's CPU and how late its own event loop ran (a 10 ms
sleep's overshoot: the part of every latency that is the generator's, not the server's), the server's
presence-tick lag (``/health``), and the load average at start and end (other load on the machine inflates
every figure).

The readers post over one kept-alive HTTP/1.1 connection each, written by hand (``RawHTTP``): with an
``httpx.AsyncClient`` shared by 200 readers the generator needed more CPU than the server, and on a
loaded machine the "latency" it measured was mostly its own queue (seconds, while the server answered
in tens of milliseconds).

``--database-url postgresql://...`` keeps the catalog and the retail tables in PostgreSQL: a new
database ``bench_fitting_<pid>`` is created on that server for the run and dropped after it.

Usage::

    .venv/bin/python tests/benchmarks/bench_fitting.py [--rooms 200] [--seconds 60] [--warmup 22] \
        [--database-url postgresql://127.0.0.1:5432/test] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from session_server.client import SessionClient  # noqa: E402
from session_server.retail.service import item_id  # noqa: E402

STORE = "bench-01"
TAGS_PER_ROOM = 10


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawHTTP:
    """One kept-alive HTTP/1.1 connection posting small JSON bodies (a reader's): no pool, no task."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, headers: dict[str, str], payload: Any) -> tuple[int, bytes]:
        """(status, body) of a POST; reconnects once when the server closed the kept-alive connection."""
        body = json.dumps(payload).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
        for attempt in range(2):
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
            assert self._reader is not None
            try:
                self._writer.write(head + body)
                status_line = await self._reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                length = 0
                while (line := await self._reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                return int(status_line.split()[1]), await self._reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            self._writer = self._reader = None


def postgres_database(server_url: str) -> tuple[str, Any]:
    """A new empty database on the PostgreSQL server of ``server_url``: its URL and a function dropping it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(server_url)
    if base.drivername == "postgresql":  # the driver this project installs (psycopg 3)
        base = base.set(drivername="postgresql+psycopg")
    name = f"bench_fitting_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


def seed(url: str, rooms: int) -> dict[str, dict[int, str]]:
    """Store, stock, tags and device keys in the catalog at ``url``; the keys by kind and room."""
    from assets_pipeline.catalog import Category, Retail, open_catalog
    from assets_pipeline.settings import AssetSettings
    from session_server.retail.db import RetailDB
    from session_server.retail.devices import DeviceRegistry

    catalog = open_catalog(AssetSettings(catalog_url=url, _env_file=None))  # type: ignore[call-arg]
    retail = Retail(catalog)
    retail.add_store(STORE, "Bench", rooms=[str(r) for r in range(1, rooms + 1)])
    for n in range(TAGS_PER_ROOM):
        sku = f"BENCH-{n}"
        retail.set_attributes(sku, {"type": "shirt", "style": "casual"}, name=f"Shirt {n}", category=Category.apparel)
        retail.set_stock(STORE, sku, "M", "white", 5, price_cents=2990, currency="EUR")
    for r in range(1, rooms + 1):
        for n in range(TAGS_PER_ROOM):
            retail.add_tag(f"BENCH-{r}-{n}", f"BENCH-{n}", "M", "white", store=STORE)
    catalog.close()
    db = RetailDB(url)
    devices = DeviceRegistry(db)
    keys: dict[str, dict[int, str]] = {"reader": {}, "mirror": {}, "staff": {}}
    for r in range(1, rooms + 1):
        keys["reader"][r] = devices.add(STORE, "reader", str(r))[1]
        keys["mirror"][r] = devices.add(STORE, "mirror", str(r))[1]
    keys["staff"][0] = devices.add(STORE, "staff")[1]
    db.close()
    return keys


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def loop_lag(into: list[float], measuring: dict[str, bool]) -> None:
    """How late a 10 ms sleep wakes up on this process's event loop, while measuring (ms)."""
    loop = asyncio.get_running_loop()
    while True:
        t = loop.time()
        await asyncio.sleep(0.01)
        if measuring["on"]:
            into.append((loop.time() - t - 0.01) * 1000)


async def drive(url: str, keys: dict[str, dict[int, str]], rooms: int, seconds: float,
                warmup: float) -> dict[str, Any]:
    """Run the load; the measurements of the window after the warm-up."""
    ws_url = url.replace("http", "ws", 1) + "/ws"
    host, port = url.removeprefix("http://").rsplit(":", 1)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    measuring = {"on": False}
    deltas = {"n": 0}
    errors: list[str] = []

    cold: set[str] = set()  # items of the first read of their tag (the catalog is looked up)
    cold_ms: list[float] = []

    def on_delta(delta: Any) -> None:
        if delta.op == "item.added":
            item = delta.data.get("item")
            t0 = sent.pop(item, None)
            if t0 is not None and item in cold:
                cold.discard(item)
                cold_ms.append((time.perf_counter() - t0) * 1000)
            elif t0 is not None and measuring["on"]:
                latencies.append((time.perf_counter() - t0) * 1000)
        if measuring["on"]:
            deltas["n"] += 1

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        tokens = {}
        for r in range(1, rooms + 1):
            resp = await http.post("/api/devices/token", headers={"Authorization": f"Device {keys['mirror'][r]}"})
            tokens[r] = resp.json()
        staff_tok = (await http.post("/api/devices/token",
                                     headers={"Authorization": f"Device {keys['staff'][0]}"})).json()
        mirrors = [SessionClient(ws_url, tokens[r]["room"], tokens[r]["token"], on_delta=on_delta)
                   for r in range(1, rooms + 1)]
        for i in range(0, rooms, 50):
            await asyncio.gather(*(m.connect() for m in mirrors[i:i + 50]))
        staff = SessionClient(ws_url, staff_tok["room"], staff_tok["token"])
        await staff.connect()
        http_ms: list[float] = []
        lag: list[float] = []
        lag_task = asyncio.create_task(loop_lag(lag, measuring))
        reads = {"n": 0, "all": 0}
        requests_done = {"n": 0}
        start = time.monotonic()
        end = start + warmup + seconds

        async def reader(r: int) -> None:
            await asyncio.sleep(2.0 * r / rooms)  # spread the rooms over the 2 s period
            n = 0
            headers = {"Authorization": f"Device {keys['reader'][r]}"}
            conn = RawHTTP(host, int(port))
            next_at = time.monotonic()
            while time.monotonic() < end:
                tag = f"BENCH-{r}-{n % TAGS_PER_ROOM}"
                n += 1
                if n <= TAGS_PER_ROOM:
                    cold.add(item_id(tag))
                t0 = time.perf_counter()
                sent[item_id(tag)] = t0
                try:
                    status, text = await conn.post("/api/readers/reads", headers, {"reads": [{"tag": tag}]})
                    if status != 200:
                        errors.append(f"read {status} {text[:80]!r}")
                except OSError as exc:
                    errors.append(f"read {type(exc).__name__}")
                reads["all"] += 1
                if measuring["on"]:
                    http_ms.append((time.perf_counter() - t0) * 1000)
                    reads["n"] += 1
                next_at += 2.0
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await conn.close()

        async def staff_work() -> None:
            n = 0
            staff_headers = {"Authorization": f"Bearer {staff_tok['token']}"}
            while time.monotonic() < end:
                r = 1 + n % rooms
                n += 1
                mirror_headers = {"Authorization": f"Bearer {tokens[r]['token']}"}
                try:
                    made = await http.post(f"/api/rooms/{STORE}/{r}/requests", headers=mirror_headers,
                                           json={"kind": "assistant"})
                    if made.status_code == 201:
                        rid = made.json()["id"]
                        for action in ("accept", "deliver"):
                            await http.post(f"/api/requests/{rid}/{action}", headers=staff_headers)
                        if measuring["on"]:
                            requests_done["n"] += 1
                    else:
                        errors.append(f"request {made.status_code} {made.text[:80]}")
                except httpx.HTTPError as exc:
                    errors.append(f"request {type(exc).__name__}")
                await asyncio.sleep(2.0)

        async def window() -> tuple[float, float]:
            await asyncio.sleep(warmup)
            measuring["on"] = True
            return time.monotonic(), os.getloadavg()[0]

        tasks = [asyncio.create_task(reader(r)) for r in range(1, rooms + 1)]
        tasks.append(asyncio.create_task(staff_work()))
        t_start, _ = await window()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - t_start
        lag_task.cancel()
        health = (await http.get("/health")).json()
        for m in [*mirrors, staff]:
            await m.close()
    return {"latencies": latencies, "http_ms": http_ms, "reads": reads["n"], "all_reads": reads["all"],
            "deltas": deltas["n"],
            "requests": requests_done["n"], "elapsed": elapsed, "errors": errors, "generator_lag": lag,
            "tick_lag_ms": health.get("tick_lag_ms"), "cold_ms": cold_ms}


def run(rooms: int, seconds: float, warmup: float, database_url: str | None = None) -> dict[str, Any]:
    """Seed, start the server, drive the load, stop; the figures. ``database_url``: a PostgreSQL server
    (a new database on it holds the run's tables), else SQLite in a temporary folder."""
    drop = None
    with tempfile.TemporaryDirectory(prefix="bench-fitting-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'catalog.sqlite'}"
        if database_url:
            url, drop = postgres_database(database_url)
        try:
            keys = seed(url, rooms)
            return _serve_and_drive(folder, url, keys, rooms, seconds, warmup)
        finally:
            if drop is not None:
                drop()


def _serve_and_drive(folder: Path, db_url: str, keys: dict[str, dict[int, str]], rooms: int, seconds: float,
                     warmup: float) -> dict[str, Any]:
    """Start the server on the seeded database, drive the load, stop it; the figures."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PHYGITAL_ASSETS_CATALOG_URL": db_url,
           "PHYGITAL_SESSION_TOKEN_SECRET": "bench-secret-0123456789",
           "PHYGITAL_SESSION_RETAIL__LEAVE_AFTER_S": "6", "PHYGITAL_SESSION_RETAIL__SWEEP_INTERVAL_S": "0.5",
           "PHYGITAL_SESSION_RETAIL__READS_PER_SECOND": "50",
           "PHYGITAL_SESSION_LIMITS__MAX_ROOMS": str(rooms * 2 + 10)}
    # the server's log goes to a file: a pipe nobody reads fills up and then blocks the server's writes
    log_path = folder / "server.log"
    log = log_path.open("w")
    server = subprocess.Popen([sys.executable, "-m", "session_server", "serve", "--port", str(port), "--quiet"],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        proc = psutil.Process(server.pid)
        me = psutil.Process()
        load_start = os.getloadavg()[0]
        cpu0, me0, wall0 = proc.cpu_times(), me.cpu_times(), time.monotonic()
        out = asyncio.run(drive(url, keys, rooms, seconds, warmup))
        cpu1, me1, wall1 = proc.cpu_times(), me.cpu_times(), time.monotonic()
        server_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
        out["server_cpu"] = 100 * server_s / (wall1 - wall0)
        out["cpu_ms_per_read"] = 1000 * server_s / max(1, out["all_reads"])
        out["generator_cpu"] = 100 * ((me1.user + me1.system) - (me0.user + me0.system)) / (wall1 - wall0)
        out["rss_mb"] = proc.memory_info().rss / 2**20
        out["load_start"], out["load_end"] = load_start, os.getloadavg()[0]
        out["database"] = db_url.split(":", 1)[0]
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    text = log_path.read_text(errors="replace")
    out["log_warnings"] = text.count("WARNING") + text.count("ERROR")
    out["leases_lost"] = text.count("lease lost")
    return out


def report(out: dict[str, Any], rooms: int, seconds: float) -> str:
    """Markdown table of one run."""
    lat, http_ms = out["latencies"], out["http_ms"]
    lines = [
        f"{rooms} fitting rooms in one store, a tag read every 2 s per room, one staff request every 2 s; "
        f"{seconds:.0f} s measured; {out['database']}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, "
        f"load average {out['load_start']:.1f} at start, {out['load_end']:.1f} at end",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| tag read -> mirror delta p50 / p99 / max | {pct(lat, 50):.1f} / {pct(lat, 99):.1f} / "
        f"{max(lat, default=float('nan')):.1f} ms ({len(lat)} reads) |",
        f"| reads HTTP p50 / p99 | {pct(http_ms, 50):.1f} / {pct(http_ms, 99):.1f} ms |",
        f"| first read of each tag (catalog looked up; during the warm-up) p50 / p99 | "
        f"{pct(out['cold_ms'], 50):.1f} / {pct(out['cold_ms'], 99):.1f} ms ({len(out['cold_ms'])} reads) |",
        f"| reads per second | {out['reads'] / out['elapsed']:.1f} |",
        f"| deltas received by mirrors per second | {out['deltas'] / out['elapsed']:.1f} |",
        f"| staff requests created + accepted + delivered | {out['requests']} |",
        f"| server CPU (% of one core) | {out['server_cpu']:.0f} % |",
        f"| server CPU per tag read (everything it causes: deltas, recs, leave; requests too) | "
        f"{out['cpu_ms_per_read']:.2f} ms |",
        f"| server RSS | {out['rss_mb']:.0f} MB |",
        f"| load generator CPU (% of one core) | {out['generator_cpu']:.0f} % |",
        f"| load generator's event loop late p50 / p99 / max | {pct(out['generator_lag'], 50):.1f} / "
        f"{pct(out['generator_lag'], 99):.1f} / {max(out['generator_lag'], default=float('nan')):.1f} ms |",
        f"| server presence tick lag (smoothed, at the end) | {out['tick_lag_ms']} ms |",
        f"| server log warnings and errors (of them: room leases lost) | {out['log_warnings']} "
        f"({out['leases_lost']}) |",
        f"| errors | {len(out['errors'])}{': ' + '; '.join(sorted(set(out['errors']))[:3]) if out['errors'] else ''} |",
    ]
    return "\n".join(lines)


@pytest.mark.benchmark
def test_bench_fitting_small() -> None:
    """A short run with 20 rooms (``pytest -m benchmark``); the full run is the script."""
    out = run(20, 10, 4)
    print(report(out, 20, 10))
    assert out["latencies"] and not out["errors"]


def main() -> int:
    """Run and print (and optionally write) the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=2.0 * TAGS_PER_ROOM + 2,
                        help="seconds before measuring (default: every tag read once, plus 2 s)")
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: SQLite in a temporary folder)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not 1 <= args.rooms <= 1000 or not 1 <= args.seconds <= 600:
        sys.exit("error: --rooms must be 1-1000 and --seconds 1-600")
    if args.database_url and not args.database_url.startswith("postgresql"):
        sys.exit("error: --database-url must be a postgresql:// URL (SQLite is the default)")
    out = run(args.rooms, args.seconds, args.warmup, args.database_url)
    text = report(out, args.rooms, args.seconds)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
