"""Runs the JavaScript client's Node tests (tests/web/js/*.test.mjs) against real session servers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from redis import Redis

from tests.conftest import TIME_FACTOR

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = sorted((ROOT / "tests" / "web" / "js").glob("*.test.mjs"))
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("script", JS_TESTS, ids=[p.name for p in JS_TESTS])
def test_js(script: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed (scripts/setup.sh needs it for the node tools too)")
    prefix = f"phygital-jstest:{uuid.uuid4().hex}"
    env = {**os.environ, "PHYG_ROOT": str(ROOT), "PHYG_PYTHON": sys.executable, "PHYG_REDIS_PREFIX": prefix}
    try:
        proc = subprocess.run(
            [node, "--test", "--test-reporter=spec", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300 * TIME_FACTOR,
        )
    finally:
        r = Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()
    assert proc.returncode == 0, f"node tests failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-4000:]}"
