"""The README's run, end to end: ``python -m session_server`` in a folder (on Redis), then
``samples/fitting_room_visit.py --frames DIR`` with frames holding a face and QR codes; every step is
seen. Then privacy: the databases, the object store, Redis and the server's logs hold no JPEG/PNG,
no piece of any frame, no pairing code, and nothing of the shopper (phone participant, shopper id,
wishlist key) once the visit is over and the wishlist deleted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import redis

from tests.conftest import TIME_FACTOR, require_corpus

from ..conftest import SECRET, free_port
from .test_frames import qr_frame

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = "redis://127.0.0.1:6379/0"
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def frames(folder: Path) -> list[bytes]:
    """Camera frames: a face with a QR code in the corner (first: the try-on frame), the face alone, a QR PNG."""
    face = cv2.imread(str(require_corpus() / "images" / "face_man_suit.jpg"))
    assert face is not None
    qr = cv2.imdecode(np.frombuffer(qr_frame("0614140000235"), np.uint8), cv2.IMREAD_COLOR)[40:420, 130:510]
    with_code = face.copy()
    side = min(with_code.shape[0], with_code.shape[1]) // 2
    with_code[:side, :side] = cv2.resize(qr, (side, side))
    folder.mkdir()
    cv2.imwrite(str(folder / "1-face-and-qr.jpg"), with_code)
    cv2.imwrite(str(folder / "2-face.jpg"), face)
    (folder / "3-qr.png").write_bytes(qr_frame("https://shop.example/p/DRS-400?size=S&colour=red", ".png"))
    return [p.read_bytes() for p in sorted(folder.iterdir())]


def pieces(data: bytes, n: int = 6, size: int = 48) -> list[bytes]:
    """``n`` slices of ``size`` bytes spread over the middle of ``data`` (past any header)."""
    step = max(1, (len(data) - 2 * size) // (n + 1))
    return [data[size + i * step: size + i * step + size] for i in range(1, n + 1)]


def redis_dump(client: redis.Redis, prefix: str) -> bytes:
    """Every key and value under ``prefix`` as bytes."""
    out = bytearray()
    for key in client.scan_iter(f"{prefix}:*"):
        out += key
        kind = client.type(key)
        if kind == b"string":
            out += client.get(key) or b""
        elif kind == b"hash":
            for k, v in client.hgetall(key).items():
                out += k + v
        elif kind == b"stream":
            for _, fields in client.xrange(key):
                for k, v in fields.items():
                    out += k + v
        elif kind == b"list":
            out += b"".join(client.lrange(key, 0, -1))
        elif kind in (b"set", b"zset"):
            out += b"".join(client.smembers(key) if kind == b"set" else client.zrange(key, 0, -1))
    return bytes(out)


def test_the_readme_visit_runs_and_leaves_no_frames_or_shopper_data(tmp_path: Path) -> None:
    sent = frames(tmp_path / "frames")
    work = tmp_path / "shop"
    work.mkdir()
    prefix = f"phygtest:fit:{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
           "PHYGITAL_SESSION_REDIS_URL": REDIS_URL, "PHYGITAL_SESSION_REDIS_PREFIX": prefix,
           "PHYGITAL_SESSION_RESUME_WINDOW_S": "1", "PHYGITAL_SESSION_QUIET_TIMEOUT_S": "2"}
    env.pop("PHYGITAL_ASSETS_CATALOG_URL", None)
    env.pop("PHYGITAL_ASSETS_CATALOG_PATH", None)
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "session_server", "serve", "--port", str(port)], cwd=work,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60 * TIME_FACTOR
        while True:
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        visit = subprocess.run([sys.executable, str(ROOT / "samples/fitting_room_visit.py"), "--url", url,
                                "--frames", str(tmp_path / "frames")], cwd=work, env=env, capture_output=True,
                               text=True, timeout=600)
        assert visit.returncode == 0, visit.stdout + visit.stderr
        assert "23/23 steps seen" in visit.stdout or re.search(r"(\d+)/\1 steps seen", visit.stdout), visit.stdout
        phone = re.search(r"-> (phone-[0-9a-f]+)", visit.stdout)
        shopper = re.search(r"shopper (sh_[0-9a-f]+)", visit.stdout)
        codes = re.findall(r"code ([A-Z0-9]{8})\b", visit.stdout) + re.findall(r"pairing code: ([A-Z0-9]{8})",
                                                                                visit.stdout)
        assert phone and shopper and len(codes) == 2, visit.stdout
        secrets_ = [phone.group(1).encode(), shopper.group(1).encode(), *(c.encode() for c in codes)]
        assert redis_dump(client, prefix), "the visit's rooms were in Redis (the search below looks there)"
        # the room is forgotten once everyone has left (resume window 1 s): wait for its keys to go
        deadline = time.monotonic() + 60 * TIME_FACTOR
        while any(s in redis_dump(client, prefix) for s in secrets_) and time.monotonic() < deadline:
            time.sleep(0.5)
        stores = {"redis": redis_dump(client, prefix)}
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
    files = [p for p in work.rglob("*") if p.is_file()]
    assert any(p.name == "catalog.sqlite" for p in files)  # the catalog + retail tables of the run
    stores.update({str(p.relative_to(work)): p.read_bytes() for p in files})
    stores["server log"] = (tmp_path / "server.log").read_bytes()
    assert b"POST /api/pairing" in stores["server log"]  # the access log is there, and is searched
    for where, data in stores.items():
        for sig in SIGNATURES:
            assert sig not in data, f"{where} holds an image signature {sig!r}"
        for frame in sent:
            for piece in pieces(frame):
                assert piece not in data, f"{where} holds bytes of a camera frame"
        for secret in secrets_:
            assert secret not in data, f"{where} holds {secret.decode()!r}"


@pytest.mark.parametrize("path", ["/api/pairing/ABCDEFGH"])
def test_the_access_log_redacts_codes_in_paths(tmp_path: Path, path: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
           "PHYGITAL_SESSION_RETAIL__DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite'}"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "session_server", "serve", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60 * TIME_FACTOR
        while True:
            try:
                r = httpx.post(f"http://127.0.0.1:{port}{path}", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.status_code == 404 and r.json()["error"] == "unknown_pairing"
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    text = (tmp_path / "server.log").read_text()
    assert "/api/pairing/***" in text and "ABCDEFGH" not in text
