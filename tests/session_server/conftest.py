"""Fixtures: real uvicorn servers on 127.0.0.1 with free ports, run in background threads."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from session_server.protocol import auth
from session_server.server.app import create_app
from session_server.server.runner import GracefulServer, make_server
from session_server.settings import SessionSettings
from tests.conftest import TIME_FACTOR

SECRET = "test-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    def __init__(self, settings: SessionSettings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.server: GracefulServer = make_server(self.app, settings, log_level="warning")
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"ws://127.0.0.1:{settings.port}/ws"
        self.http = f"http://127.0.0.1:{settings.port}"

    @property
    def node(self) -> Any:
        return self.app.state.session_node

    def start(self) -> RunningServer:
        self.thread.start()
        deadline = time.monotonic() + 60 * TIME_FACTOR
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15 * TIME_FACTOR)


def make_token(room: str, participant: str, role: str = "phone", ttl: float = 600.0, secret: str = SECRET) -> str:
    return auth.sign(auth.Claims(room, participant, role, time.time() + ttl), secret.encode())


@pytest.fixture
def ws_impl() -> str:
    """Which adapter serves /ws: the fast path by default; test_ws.py runs both."""
    return "fast"


@pytest.fixture
def start_server(ws_impl: str) -> Iterator[Callable[..., RunningServer]]:
    started: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        overrides.setdefault("ws_impl", ws_impl)
        settings = SessionSettings(
            _env_file=None,
            port=free_port(),
            token_secret=SECRET,
            **overrides,  # type: ignore[call-arg]
        )
        srv = RunningServer(settings).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def server(start_server: Callable[..., RunningServer]) -> RunningServer:
    return start_server()


def run(coro: Any, timeout: float = 60.0) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout * TIME_FACTOR))
