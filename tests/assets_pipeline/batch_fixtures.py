"""Fixtures for the batch tests: a Redis namespace per test on the machine's Redis, a private redis-server (for
restarts), worker processes started as a user starts them, and catalog/store checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_pipeline.catalog.repository import Catalog

from ..conftest import TIME_FACTOR
from .catalog_fixtures import free_port

ROOT = Path(__file__).resolve().parents[2]
SHARED_REDIS = "redis://127.0.0.1:6379/0"


def drop_namespace(url: str, namespace: str) -> None:
    """Delete every key of a test's namespace (never FLUSHALL: the Redis is shared)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=3)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])
    except redis.RedisError:
        pass
    finally:
        client.close()


@pytest.fixture
def redis_namespace() -> Iterator[str]:
    """A unique broker namespace on the shared Redis, removed afterwards."""
    import redis

    try:
        redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at 127.0.0.1:6379 is unreachable: {exc}")
    namespace = f"phyg-test-batch-{uuid.uuid4().hex[:10]}"
    yield namespace
    drop_namespace(SHARED_REDIS, namespace)


def batch_env(root: Path, catalog_url: str, broker_url: str | None, namespace: str, **extra: str) -> dict[str, str]:
    """Environment of a CLI or worker process: this checkout's code, the test's store, catalog and broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHYGITAL_ASSETS_")}
    env.update({"PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1",
                "PHYGITAL_ASSETS_STORE_PATH": str(root / "objects"), "PHYGITAL_ASSETS_CATALOG_URL": catalog_url,
                "PHYGITAL_ASSETS_BATCH_NAMESPACE": namespace, "PHYGITAL_ASSETS_BATCH_HEARTBEAT_TIMEOUT_S": "4",
                "PHYGITAL_ASSETS_BATCH_MAINTENANCE_CHANCE": "1000000", "PHYGITAL_ASSETS_BATCH_MIN_BACKOFF_S": "0.2",
                "PHYGITAL_ASSETS_BATCH_MAX_BACKOFF_S": "2"})
    if broker_url:
        env["PHYGITAL_ASSETS_BATCH_BROKER_URL"] = broker_url
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str | Path, cwd: Path,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``python -m assets_pipeline ARGS`` as a user runs it."""
    return subprocess.run([sys.executable, "-m", "assets_pipeline", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout * TIME_FACTOR, check=False)


class Workers:
    """``phygital-assets worker`` processes; each log is kept for failure messages."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env, self.root = env, root
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, n: int = 1) -> list[subprocess.Popen[bytes]]:
        """Start n workers and wait until each says it is ready."""
        started = []
        for _ in range(n):
            log = self.root / f"worker-{len(self.procs)}.log"
            with log.open("wb") as fh:
                proc = subprocess.Popen([sys.executable, "-m", "assets_pipeline", "worker"], cwd=self.root,
                                        env=self.env, stdout=fh, stderr=subprocess.STDOUT)
            self.procs.append(proc)
            self.logs.append(log)
            started.append((proc, log))
        deadline = time.monotonic() + 60 * TIME_FACTOR
        for proc, log in started:
            while b"worker ready" not in log.read_bytes():
                assert proc.poll() is None, f"worker exited: {log.read_text()}"
                assert time.monotonic() < deadline, f"worker not ready: {log.read_text()}"
                time.sleep(0.1)
        return [p for p, _ in started]

    def output(self) -> str:
        """Every worker's log."""
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in self.logs)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL after a grace period."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(60 * TIME_FACTOR)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Set ``workers.env`` before ``start``; every worker is stopped at the end."""
    w = Workers({}, tmp_path)
    yield w
    w.stop()


class RedisServer:
    """A private redis-server with an append-only file, so that it can be stopped and started again."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """redis:// URL of this server."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (again) on the same port and data folder; wait until it answers."""
        import redis

        exe = shutil.which("redis-server")
        if exe is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen([exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.root)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                assert self.proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM: redis writes its append-only file and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own on a free port."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder)
    server.start()
    yield server
    server.stop()


def store_files(root: Path) -> tuple[set[str], list[Path]]:
    """Keys of the objects in a local store, and any partial copies left in it."""
    objects = root / "objects"
    keys = {f"{p.parent.name}/{p.name}" for p in objects.glob("*/*") if not p.name.startswith(".")}
    return keys, sorted(objects.glob("*/.*.part"))


def assert_store_matches_catalog(root: Path, catalog_url: str) -> None:
    """Every stored object is referenced by a catalog version and every referenced object is stored."""
    catalog = Catalog.open(catalog_url)
    try:
        referenced = catalog.referenced_keys()
    finally:
        catalog.close()
    keys, partials = store_files(root)
    assert not partials, partials
    assert keys == referenced, (sorted(keys - referenced), sorted(referenced - keys))


def wait_until(predicate: object, timeout: float, what: str, interval: float = 0.2) -> None:
    """Poll ``predicate()`` until true (bounded)."""
    deadline = time.monotonic() + timeout * TIME_FACTOR
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


class SlowProxy:
    """A TCP proxy on 127.0.0.1 in front of a real server whose answers trickle back at ``rate`` bytes a second:
    a slow network to a bucket, for jobs that must outlive their time limit whatever the machine's speed. A low
    rate holds a job in its download (the bytes keep coming, so no read timeout fires) until the test calls
    ``release()``, which lets the answers through at full speed."""

    def __init__(self, target_url: str, rate: int) -> None:
        import socket
        import threading
        from urllib.parse import urlparse

        parsed = urlparse(target_url)
        self._target = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._rate: int | None = rate
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._sockets: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target, timeout=10)
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def release(self) -> None:
        """From now on, answers (also those under way) go through at full speed."""
        self._rate = None

    def _pump(self, src: object, dst: object, throttled: bool) -> None:
        import socket

        assert isinstance(src, socket.socket) and isinstance(dst, socket.socket)
        try:
            while not self._stopped.is_set():
                rate = self._rate if throttled else None
                data = src.recv(min(256, max(1, rate // 4)) if rate else 65536)  # 4+ sends a second when slow
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Stop accepting and cut every connection."""
        self._stopped.set()
        self._listener.close()
        for s in self._sockets:
            s.close()
