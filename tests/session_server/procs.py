"""Real ``python -m session_server serve`` subprocesses on free ports, for stall and failover tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from tests.conftest import TIME_FACTOR

from .conftest import SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"


class ServerProcess:
    """One server subprocess; its stderr (warnings and errors) goes to a file read by ``log()``."""

    def __init__(self, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = env or {}
        self.log_file = tempfile.NamedTemporaryFile(prefix="session-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> ServerProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET, **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "session_server", "serve", "--port", str(self.port), "--quiet"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )
        self.health()
        return self

    def health(self) -> dict[str, Any]:
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=5).json()  # type: ignore[no-any-return]
            except httpx.TransportError:
                assert self.proc is not None and self.proc.poll() is None, f"server exited: {self.log()}"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

    def log(self) -> str:
        return Path(self.log_file.name).read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        self.kill()
        self.log_file.close()
        Path(self.log_file.name).unlink(missing_ok=True)


def redis_env(prefix: str, lease_ms: int | None = None) -> dict[str, str]:
    env = {"PHYGITAL_SESSION_REDIS_URL": REDIS_URL, "PHYGITAL_SESSION_REDIS_PREFIX": prefix}
    if lease_ms is not None:
        env["PHYGITAL_SESSION_LEASE_MS"] = str(lease_ms)
    return env


def clean_redis(prefix: str) -> None:
    r = Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{prefix}:*"))
    if keys:
        r.delete(*keys)
    r.close()
