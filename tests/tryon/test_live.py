"""The live WebSocket endpoint served by a real uvicorn on 127.0.0.1, driven by a websockets client."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.sync.client import ClientConnection, connect

from assets_pipeline.settings import AssetSettings
from tests.conftest import TIME_FACTOR
from tryon import media
from tryon.live import get_asset_settings, get_settings, router
from tryon.settings import TryOnSettings

TIMEOUT = 30 * TIME_FACTOR


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with live_server(TryOnSettings(live_max_frame_bytes=2_000_000)) as url:
        yield url


@contextlib.contextmanager
def live_server(settings: TryOnSettings, asset_settings: AssetSettings | None = None) -> Iterator[str]:
    """The live router alone on a free loopback port, in a thread; yields its WebSocket URL."""
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_settings] = lambda: settings
    if asset_settings is not None:
        app.dependency_overrides[get_asset_settings] = lambda: asset_settings
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"ws://127.0.0.1:{port}/tryon/live"
    srv.should_exit = True
    thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def astronaut_jpeg(astronaut: np.ndarray) -> bytes:
    return media.encode_jpeg(astronaut, 90)


def next_json(ws: ClientConnection) -> dict:  # type: ignore[type-arg]
    msg = ws.recv(timeout=TIMEOUT)
    assert isinstance(msg, str), "expected a JSON text message"
    return json.loads(msg)  # type: ignore[no-any-return]


def test_frame_in_rendered_frame_out_with_latency(server: str, astronaut_jpeg: bytes, astronaut: np.ndarray) -> None:
    with connect(server, max_size=None) as ws:
        ws.send(astronaut_jpeg)
        meta = next_json(ws)
        assert meta["type"] == "frame" and meta["seq"] == 1 and meta["faces"] == 0  # a face is confirmed ...
        ws.recv(timeout=TIMEOUT)
        ws.send(astronaut_jpeg)
        meta = next_json(ws)
        assert meta["type"] == "frame" and meta["seq"] == 2 and meta["faces"] == 1  # ... on its second frame
        assert 0 < meta["latency_ms"] < TIMEOUT * 1000
        assert set(meta["timings"]) == {"landmarks", "masks", "render", "pose", "shoes"}
        for seq in (3, 4):  # faded in over three frames
            ws.recv(timeout=TIMEOUT)
            ws.send(astronaut_jpeg)
            meta = next_json(ws)
            assert meta["seq"] == seq and meta["faces"] == 1
        jpeg = ws.recv(timeout=TIMEOUT)
        assert isinstance(jpeg, bytes)
        out = media.decode_image(jpeg)
        assert out.shape == astronaut.shape
        sent = media.decode_image(astronaut_jpeg)
        assert np.abs(out.astype(int) - sent).max() > 40  # lipstick applied


def test_bad_frames_never_close_the_connection(server: str, astronaut_jpeg: bytes) -> None:
    with connect(server, max_size=None) as ws:
        for bad in (b"garbage", b"\xff\xd8\xff" + b"\x00" * 100, b""):
            ws.send(bad)
            err = next_json(ws)
            assert err["type"] == "error" and err["code"] == "bad_frame", err
        ws.send(b"x" * 2_000_001)
        assert next_json(ws)["code"] == "too_large"
        ws.send("not json")
        assert next_json(ws)["code"] == "bad_message"
        ws.send(json.dumps({"type": "look", "products": [{"kind": "lipstick", "shade": "nope"}]}))
        err = next_json(ws)
        assert err["code"] == "bad_look" and "[0].shade" in err["message"]
        tiny = media.encode_jpeg(np.full((8, 8, 3), 50, np.uint8))
        ws.send(tiny)
        meta = next_json(ws)
        assert meta["type"] == "frame" and "smaller than" in meta["notes"][0]
        assert isinstance(ws.recv(timeout=TIMEOUT), bytes)
        gray = cv2.imencode(".jpg", np.full((120, 160), 128, np.uint8))[1].tobytes()
        ws.send(gray)
        meta = next_json(ws)
        assert meta["faces"] == 0 and "no face found: makeup not applied" in meta["notes"]
        ws.recv(timeout=TIMEOUT)
        ws.send(astronaut_jpeg)  # still alive and working
        next_json(ws)
        ws.recv(timeout=TIMEOUT)
        ws.send(astronaut_jpeg)
        assert next_json(ws)["faces"] == 1


def test_look_switch(server: str, astronaut_jpeg: bytes) -> None:
    with connect(server, max_size=None) as ws:
        for _ in range(4):  # confirmed, then faded in
            ws.send(astronaut_jpeg)
            next_json(ws)
            red = media.decode_image(ws.recv(timeout=TIMEOUT))
        ws.send(json.dumps({"type": "look", "products": [{"kind": "lipstick", "shade": "#1030C0", "intensity": 1}]}))
        assert next_json(ws) == {"type": "look", "products": 1}
        ws.send(astronaut_jpeg)
        next_json(ws)
        blue = media.decode_image(ws.recv(timeout=TIMEOUT))
        diff = blue.astype(int) - red
        assert diff[..., 2].max() > 60 and diff[..., 0].min() < -60


def test_newest_frame_wins_no_queue(server: str, astronaut_jpeg: bytes) -> None:
    """A client sending much faster than frames render gets its newest frame back and drops, not a queue."""
    n = 40
    with connect(server, max_size=None) as ws:
        for _ in range(n):
            ws.send(astronaut_jpeg)
        metas = []
        while True:
            meta = next_json(ws)
            ws.recv(timeout=TIMEOUT)
            metas.append(meta)
            if meta["seq"] == n:
                break
    assert len(metas) < n / 2  # most frames were replaced by newer ones
    assert metas[-1]["dropped"] == n - len(metas)
    assert [m["seq"] for m in metas] == sorted(m["seq"] for m in metas)
    # the last frame waited at most for the render in progress, not behind a queue of n frames
    render_ms = max(sum(m["timings"].values()) for m in metas[1:]) if len(metas) > 1 else 50.0
    assert metas[-1]["latency_ms"] < 3 * render_ms + 300 * TIME_FACTOR
