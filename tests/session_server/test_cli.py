"""python -m session_server: help, token minting, bad settings, serve + graceful SIGTERM."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from session_server.protocol import auth
from tests.conftest import TIME_FACTOR

from .conftest import SECRET, free_port, make_token

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PHYGITAL_SESSION_TOKEN_SECRET": SECRET, "PYTHONPATH": str(ROOT)}


def cli(*args: str, env: dict[str, str] = ENV) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "session_server", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_help_explains_commands() -> None:
    out = cli("--help")
    assert out.returncode == 0 and "serve" in out.stdout and "token" in out.stdout
    assert "--port" in cli("serve", "--help").stdout


def test_token_is_valid_for_the_server_secret() -> None:
    out = cli("token", "store-1", "ana", "--role", "staff", "--ttl", "60")
    assert out.returncode == 0
    claims = auth.verify(out.stdout.strip(), SECRET.encode(), time.time(), room="store-1")
    assert claims.participant == "ana" and claims.role == "staff"


def test_bad_role_and_bad_setting_exit_2_with_one_line() -> None:
    out = cli("token", "store-1", "ana", "--role", "king")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "role" in out.stderr
    out = cli("serve", env={**ENV, "PHYGITAL_SESSION_TICK_HZ": "fast"})
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "PHYGITAL_SESSION_TICK_HZ" in out.stderr and "Traceback" not in out.stderr


def test_default_command_serves_and_drains_on_sigterm() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "session_server"],
        env={**ENV, "PHYGITAL_SESSION_PORT": str(port)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/health").json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
                time.sleep(0.1)

        async def main() -> dict[str, object]:
            ws = await connect(f"ws://127.0.0.1:{port}/ws")
            await ws.send(json.dumps({"v": 1, "type": "join", "id": "j", "room": "r", "token": make_token("r", "ana")}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            proc.send_signal(signal.SIGTERM)
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            return frame

        frame = asyncio.run(main())
        assert frame["type"] == "shutdown" and frame["reconnect"] is True
        # uvicorn re-raises the caught SIGTERM after its shutdown completes
        assert proc.wait(20 * TIME_FACTOR) in (0, -signal.SIGTERM)
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()


def test_served_app_mounts_the_live_tryon_endpoint() -> None:
    from fastapi.testclient import TestClient

    from session_server.__main__ import default_routers
    from session_server.server.app import create_app
    from session_server.settings import SessionSettings

    app = create_app(SessionSettings(), routers=default_routers())
    with TestClient(app) as client, client.websocket_connect("/tryon/live") as ws:
        ws.send_text('{"type": "nope"}')
        reply = ws.receive_json()
    assert reply["type"] == "error" and reply["code"] == "bad_message"


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in out.stderr, out.stderr
    return lines[0]


def test_serve_with_a_dead_redis_says_so_in_one_line() -> None:
    dead = free_port()  # nothing listens there
    line = one_line_error(cli("serve", "--port", str(free_port()), "--redis-url", f"redis://u:pw@127.0.0.1:{dead}/0"))
    assert f"127.0.0.1:{dead}" in line and "unreachable" in line and "refused" in line.lower()
    assert "pw" not in line  # the password is not printed
    line = one_line_error(cli("serve", env={**ENV, "PHYGITAL_SESSION_REDIS_URL": "localhost:6379"}))
    assert "unreachable" in line and "scheme" in line


def test_open_rooms_take_a_star_a_comma_list_or_a_json_list() -> None:
    code = "from session_server.settings import SessionSettings; print(SessionSettings().open_rooms)"
    for value, expected in [("*", "['*']"), ("store-1, store-2", "['store-1', 'store-2']"), ('["lobby"]', "['lobby']")]:
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**ENV, "PHYGITAL_SESSION_OPEN_ROOMS": value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.stdout.strip() == expected, out.stderr
    for bad in ("bad room!", '["lobby"'):
        line = one_line_error(cli("token", "r", "p", env={**ENV, "PHYGITAL_SESSION_OPEN_ROOMS": bad}))
        assert "PHYGITAL_SESSION_OPEN_ROOMS" in line


def test_token_refuses_ids_the_server_would_refuse() -> None:
    line = one_line_error(cli("token", "bad room!", "ana"))
    assert "'bad room!'" in line and "room" in line and "no spaces" in line
    assert "participant" in one_line_error(cli("token", "store-1", "ana maria"))


def test_serve_on_a_port_in_use_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_error(cli("serve", "--port", str(port)))
    assert f"127.0.0.1:{port}" in line and "in use" in line
