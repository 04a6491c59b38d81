"""The server starts without the heavy stacks its routes use only on demand (memory at rest): numpy and
OpenCV load with the first try-on connection or asset operation, SQLAlchemy and Alembic with the first call
that needs the catalog or the fitting rooms' database, not with ``python -m session_server``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import SECRET, free_port, make_token

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("numpy", "cv2", "tryon.pipeline", "tryon.look", "assets_pipeline.document")

PROBE = """
import json, sys
from session_server.__main__ import default_routers, default_ws_limits
from session_server.server.app import create_app
from session_server.server.runner import make_server
from session_server.settings import SessionSettings
settings = SessionSettings()
make_server(create_app(settings, routers=default_routers()), settings, ws_limits=default_ws_limits())
print(json.dumps({name: name in sys.modules for name in %r}))
"""


def test_building_the_server_loads_no_numpy_opencv_or_tryon_pipeline() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == dict.fromkeys(HEAVY, False)


def test_the_lazy_names_still_resolve() -> None:
    code = (
        "import sys, assets_pipeline, tryon.live as live; "
        "assert 'numpy' not in sys.modules; "
        "from assets_pipeline import AssetDocument, Accessor, Image; "
        "from tryon.color import u8_to_linear; import numpy as np; "
        "assert u8_to_linear(np.zeros((2, 2, 3), np.uint8)).shape == (2, 2, 3); "
        "assert live.default_look(live.get_settings(), live.get_asset_settings()) is not None; "
        "print(AssetDocument.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "assets_pipeline.document"


DATABASE = ("sqlalchemy", "alembic", "assets_pipeline.catalog", "session_server.retail.db")

SERVE_AND_JOIN = """
import json, os, sys, threading
from websockets.sync.client import connect
from session_server.__main__ import main

def client():
    with connect("ws://127.0.0.1:%(port)d/ws", open_timeout=60) as ws:
        ws.send(json.dumps({"v": 1, "type": "join", "id": "j1", "room": "lobby", "token": %(token)r}))
        while json.loads(ws.recv(timeout=60))["type"] != "welcome":
            pass
        ws.send(json.dumps({"v": 1, "type": "presence", "pose": {"p": [0, 0, 0], "q": [0, 0, 0, 1]}}))
        ws.send(json.dumps({"v": 1, "type": "ping"}))
        while json.loads(ws.recv(timeout=60))["type"] != "pong":
            pass
    print(json.dumps({name: name in sys.modules for name in %(names)r}), flush=True)

def started():  # the client connects once the server listens
    import time, traceback
    for _ in range(600):
        try:
            client()
            os._exit(0)
        except ConnectionRefusedError:
            time.sleep(0.1)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    os._exit(2)

threading.Thread(target=started, daemon=True).start()
sys.argv = ["session_server", "serve", "--port", "%(port)d", "--quiet"]
main()
"""


def test_serving_a_shared_space_join_loads_no_database_stack() -> None:
    """Start the real server, join a shared-space room, send a pose and a ping: no SQLAlchemy, no Alembic,
    no catalog models (they load with the first fitting-room or catalog call), and no numpy either."""
    names = (*DATABASE, *HEAVY)
    port = free_port()
    code = SERVE_AND_JOIN % {"port": port, "token": make_token("lobby", "alice"), "names": names}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == dict.fromkeys(names, False)


def test_the_database_stack_still_loads_when_a_route_needs_it(tmp_path: Path) -> None:
    """The lazy imports resolve: a catalog read and a device-key check load SQLAlchemy and answer as before."""
    code = (
        "import sys; from fastapi.testclient import TestClient; "
        "from session_server.__main__ import default_routers; from session_server.server.app import create_app; "
        "from session_server.settings import SessionSettings; "
        "app = create_app(SessionSettings(), routers=default_routers()); "
        "assert 'sqlalchemy' not in sys.modules\n"
        "with TestClient(app) as c:\n"
        "    assert c.get('/products').json()['total'] == 0\n"
        "    r = c.post('/api/devices/token', headers={'Authorization': 'Device dev_000000000000.'"
        " + 'a' * 32})\n"
        "    assert r.status_code == 401 and r.json()['code'] == 'unknown_device', r.text\n"
        "print('sqlalchemy' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
           "PHYGITAL_ASSETS_CATALOG_URL": f"sqlite:///{tmp_path / 'catalog.sqlite'}"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "True"
