"""The samples run against a real server and see each other's changes."""

import os
import subprocess
import sys
from pathlib import Path

from .conftest import SECRET, RunningServer

ROOT = Path(__file__).resolve().parents[2]


def test_phone_and_headset_samples(server: RunningServer) -> None:
    env = {**os.environ, "PHYGITAL_SESSION_TOKEN_SECRET": SECRET, "PYTHONPATH": str(ROOT)}
    headset = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "samples/headset_watch.py"),
            "--url",
            server.url,
            "--seconds",
            "60",
            "--until",
            "lock.release",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert headset.stdout is not None
        first = headset.stdout.readline()  # joined before the phone starts
        assert first.startswith("watching store-1"), first
        phone = subprocess.run(
            [sys.executable, str(ROOT / "samples/phone_place_product.py"), "--url", server.url, "--steps", "10"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert phone.returncode == 0, phone.stderr
        assert "move 10/10" in phone.stdout and "variant=velvet-green" in phone.stdout
        out, err = headset.communicate(timeout=60)
        out = first + out
    finally:
        headset.kill()
    assert headset.returncode == 0, err
    assert "object.place" in out and out.count("object.move") == 10 and "object.variant" in out
    assert "object sofa-1: sku=SOFA-3 variant=velvet-green" in out
    assert "saw presence from: phone-1" in out


def test_sample_with_a_bad_token_exits_2(server: RunningServer) -> None:
    phone = subprocess.run(
        [sys.executable, str(ROOT / "samples/phone_place_product.py"), "--url", server.url, "--token", "x.y"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert phone.returncode == 2 and phone.stderr.startswith("error: bad_token")
