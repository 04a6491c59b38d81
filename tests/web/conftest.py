"""Fixtures of the web tests: a published catalog, session server processes, Chromium through Playwright."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from tests.conftest import ROOT, TIME_FACTOR, corpus_dir
from tests.session_server.conftest import SECRET, free_port, make_token

CHROMIUM = Path(os.environ.get("PHYGITAL_CHROMIUM", "/usr/bin/chromium"))
OUT = ROOT / "out" / "web"
REDIS_URL = "redis://127.0.0.1:6379/0"
CHROMIUM_ARGS = [
    "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--ignore-gpu-blocklist",  # WebGL without a GPU
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",  # a test pattern as the camera
]

__all__ = ["SECRET", "make_token"]


@pytest.fixture(scope="session")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A catalog with two published products: BOX-01 (WebP texture) and KNIGHT-01 (meshopt geometry)."""
    base = tmp_path_factory.mktemp("web-catalog")
    env = {
        "PHYGITAL_ASSETS_CATALOG_PATH": str(base / "catalog.sqlite"),
        "PHYGITAL_ASSETS_STORE_PATH": str(base / "objects"),
    }
    models = corpus_dir() / "models"
    for model, sku, name in (
        (models / "BoxTextured" / "BoxTextured.gltf", "BOX-01", "Textured box"),
        (models / "chr_knight.glb", "KNIGHT-01", "Knight figurine"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "assets_pipeline", "upload", str(model), "--sku", sku, "--category", "accessory",
             "--name", name, "--lods", "0.5", "--quiet"],
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, cwd=base,
            timeout=300 * TIME_FACTOR,
        )
        assert proc.returncode == 0, proc.stderr
    return env


class ServerProcess:
    """``python -m session_server serve`` on a free port (or a given one), stopped by ``stop``/``kill``."""

    def __init__(self, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = env
        self.http = f"http://127.0.0.1:{self.port}"
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "session_server", "serve", "--port", str(self.port), "--quiet"],
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.DEVNULL,
            stderr=None if os.environ.get("WEB_DEBUG") else subprocess.DEVNULL,
            cwd=tempfile.mkdtemp(prefix="phygital-web-"),  # default catalog/retail files land there
        )
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                httpx.get(self.http + "/health")
                break
            except httpx.TransportError:
                assert self.proc.poll() is None, "the server exited at start"
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15 * TIME_FACTOR)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_web() -> Iterator[Callable[..., ServerProcess]]:
    """Start session server processes (token secret set; extra PHYGITAL_* settings as keyword env)."""
    started: list[ServerProcess] = []
    prefixes: list[str] = []

    def start(env: dict[str, str] | None = None, port: int | None = None, redis: str | None = None) -> ServerProcess:
        full = {"PHYGITAL_SESSION_TOKEN_SECRET": SECRET, **(env or {})}
        if redis is not None:
            full |= {"PHYGITAL_SESSION_REDIS_URL": REDIS_URL, "PHYGITAL_SESSION_REDIS_PREFIX": redis,
                     "PHYGITAL_SESSION_LEASE_MS": "800"}
            prefixes.append(redis)
        srv = ServerProcess(full, port)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.kill()
    if prefixes:
        r = Redis.from_url(REDIS_URL)
        for prefix in prefixes:
            keys = list(r.scan_iter(match=f"{prefix}:*"))
            if keys:
                r.delete(*keys)
        r.close()


def redis_prefix() -> str:
    """A Redis key prefix of its own for one test."""
    return f"phygital-webtest:{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium; the browser tests skip with this reason where it is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (scripts/setup.sh installs Debian's chromium as root)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed (it is a dev dependency: pip install -e '.[dev]')")
    return CHROMIUM


async def launch(pw: Any, chromium: Path) -> Any:
    """Launch Chromium headless with software WebGL."""
    return await pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)


def save_timing(name: str, values: dict[str, Any]) -> None:
    """Record page timings (out/web/timings.json) for the README; never asserted."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "timings.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[name] = {**values, "loadavg": [round(x, 2) for x in os.getloadavg()]}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)


async def wait_js(page: Any, expression: str, timeout_s: float = 15.0) -> Any:
    """Wait until ``expression`` is truthy in the page; returns its value."""
    handle = await page.wait_for_function(expression, timeout=timeout_s * 1000 * TIME_FACTOR)
    return await handle.json_value()
