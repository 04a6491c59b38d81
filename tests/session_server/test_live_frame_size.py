"""``python -m session_server`` as a real process: each WebSocket route has its own message size limit.

A phone's 720p JPEG (here ~590 KB) goes through ``/tryon/live`` (4 MB by default) and comes back rendered,
while ``/ws`` keeps its 32 KiB protocol limit (``too_big``, then 1009, however big the message).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import TIME_FACTOR, require_corpus

from .conftest import SECRET, free_port, make_token

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60 * TIME_FACTOR


def phone_jpeg() -> bytes:
    """A 1280x720 JPEG of a real face with sensor-like grain, 300-600 KB like a phone camera's frame."""
    img = cv2.imread(str(require_corpus() / "images" / "face_man_suit.jpg"))
    canvas = cv2.GaussianBlur(cv2.resize(img, (1280, 720)), (0, 0), 12)
    h, w = img.shape[:2]
    fw = round(w * 720 / h)
    x0 = (1280 - fw) // 2
    canvas[:, x0 : x0 + fw] = cv2.resize(img, (fw, 720), interpolation=cv2.INTER_CUBIC)
    grain = np.random.default_rng(7).normal(0, 8, canvas.shape).round().astype(np.int16)
    noisy = np.clip(canvas.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 97])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "PHYGITAL_SESSION_TOKEN_SECRET": SECRET, "PYTHONPATH": str(ROOT),
           "PHYGITAL_SESSION_PORT": str(port), "PHYGITAL_TRYON_CACHE_DIR": ""}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "session_server"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else "server exited"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(20 * TIME_FACTOR)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_live_route_takes_a_600kb_720p_frame(server_port: int) -> None:
    jpeg = phone_jpeg()
    assert 300_000 < len(jpeg) < 620_000 and len(jpeg) > 128 * 1024
    with connect(f"ws://127.0.0.1:{server_port}/tryon/live", max_size=16 * 2**20, open_timeout=TIMEOUT) as ws:
        ws.send(jpeg)
        meta = json.loads(ws.recv(timeout=TIMEOUT))
        assert meta["type"] == "frame" and meta["seq"] == 1, meta
        out = cv2.imdecode(np.frombuffer(ws.recv(timeout=TIMEOUT), np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == (720, 1280, 3)
    assert meta["faces"] == 0 or meta["faces"] >= 1  # a face is painted from its second frame (tracks confirm)


def test_live_route_answers_too_large_then_1009_far_over(server_port: int) -> None:
    url = f"ws://127.0.0.1:{server_port}/tryon/live"
    with connect(url, max_size=16 * 2**20, open_timeout=TIMEOUT) as ws:
        ws.send(b"\xff" * (4_000_000 + 1000))  # over the endpoint's limit, within the route's slack
        err = json.loads(ws.recv(timeout=TIMEOUT))
        assert err["type"] == "error" and err["code"] == "too_large"
        # far over: the WebSocket layer closes the connection (1009), possibly while the frame is still being sent
        with pytest.raises((ConnectionClosed, ConnectionResetError, BrokenPipeError)) as info:
            ws.send(b"\xff" * 5_000_000)
            ws.recv(timeout=TIMEOUT)
        if isinstance(info.value, ConnectionClosed) and info.value.rcvd is not None:
            assert info.value.rcvd.code == 1009


def test_ws_route_keeps_its_own_limits(server_port: int) -> None:
    url = f"ws://127.0.0.1:{server_port}/ws"
    join = {"v": 1, "type": "join", "id": "j", "room": "r", "token": make_token("r", "ana")}
    with connect(url, open_timeout=TIMEOUT) as ws:
        ws.send(json.dumps(join))
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
        ws.send(json.dumps({"v": 1, "type": "chat", "id": "c", "text": "x" * 40_000}))
        frames = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                frames.append(json.loads(ws.recv(timeout=TIMEOUT)))
        assert any(f["type"] == "error" and f["code"] == "too_big" for f in frames)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    with connect(url, open_timeout=TIMEOUT) as ws:
        ws.send(json.dumps(join))
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "welcome"
        ws.send(json.dumps({"v": 1, "type": "chat", "id": "c", "text": "x" * 600_000}))  # refused from its header
        frames = []
        with pytest.raises(ConnectionClosed) as info:
            while True:
                frames.append(json.loads(ws.recv(timeout=TIMEOUT)))
        assert [f["code"] for f in frames if f["type"] == "error"] == ["too_big"]
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
