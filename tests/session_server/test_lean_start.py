"""The server starts without the heavy stacks its routes use only on demand (memory at rest): numpy and
OpenCV load with the first try-on connection or asset operation, not with ``python -m session_server``."""

from __future__ import annotations

import json
import subprocess
import sys

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
