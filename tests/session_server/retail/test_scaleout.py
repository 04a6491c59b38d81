"""Two server processes on one Redis (and one database); the one ordering the fitting room is killed
during a visit: the items and the staff request survive, and the visit goes on through the other."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from redis import Redis

from tests.conftest import TIME_FACTOR

from ..conftest import SECRET, free_port
from .conftest import Shop
from .flows import JEANS_EPC, SNEAKERS_EPC, TSHIRT_M_WHITE, Watcher, bearer, device, token

ROOT = Path(__file__).resolve().parents[3]
REDIS_URL = "redis://127.0.0.1:6379/0"


def spawn(port: int, prefix: str, shop: Shop, cwd: Path) -> subprocess.Popen[bytes]:
    """A server process on the shared Redis, catalog and retail database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_TOKEN_SECRET": SECRET,
           "PHYGITAL_SESSION_REDIS_URL": REDIS_URL, "PHYGITAL_SESSION_REDIS_PREFIX": prefix,
           "PHYGITAL_SESSION_LEASE_MS": "800", "PHYGITAL_ASSETS_CATALOG_URL": shop.catalog_url,
           "PHYGITAL_SESSION_RETAIL__DATABASE_URL": shop.db_url}
    return subprocess.Popen([sys.executable, "-m", "session_server", "serve", "--port", str(port), "--quiet"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the server answers /health."""
    deadline = time.monotonic() + 60 * TIME_FACTOR
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health").raise_for_status()
            return
        except httpx.TransportError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)


def test_items_and_requests_survive_a_killed_node(shop: Shop, tmp_path: Path) -> None:
    prefix = f"phygtest:fitscale:{uuid.uuid4().hex[:8]}"
    port_a, port_b = free_port(), free_port()
    proc_a, proc_b = spawn(port_a, prefix, shop, tmp_path), spawn(port_b, prefix, shop, tmp_path)
    try:
        wait_healthy(port_a, proc_a)
        wait_healthy(port_b, proc_b)
        asyncio.run(asyncio.wait_for(visit(shop, port_a, port_b, proc_a), 120 * TIME_FACTOR))
    finally:
        for p in (proc_a, proc_b):
            p.kill()
            p.wait()
        r = Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{prefix}:*"))
        if keys:
            r.delete(*keys)
        r.close()


async def visit(shop: Shop, port_a: int, port_b: int, proc_a: subprocess.Popen[bytes]) -> None:
    a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    async with httpx.AsyncClient(base_url=a, timeout=30) as http_a, httpx.AsyncClient(base_url=b, timeout=30) as http_b:
        mirror = await token(http_a, shop.keys["mirror"])
        staff = await token(http_b, shop.keys["staff"])
        m = Watcher(a, mirror["room"], mirror["token"])
        m.client.urls.append(b.replace("http", "ws", 1) + "/ws")  # fails over to B
        async with m, Watcher(b, staff["room"], staff["token"]) as s:
            r = await http_a.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                  json={"reads": [{"tag": JEANS_EPC}, {"tag": TSHIRT_M_WHITE}]})
            assert [x["status"] for x in r.json()["results"]] == ["added", "added"]
            await m.wait(lambda op, d: op == "item.added" and len(m.ops("item.added")) == 2)
            shirt = next(d["item"] for d in m.ops("item.added") if d["sku"] == "TSH-100")
            req = await http_a.post("/api/rooms/paris-01/3/requests", headers=bearer(mirror["token"]),
                                    json={"kind": "size", "item": shirt, "size": "S"})
            assert req.status_code == 201, req.text
            rid = req.json()["id"]
            await s.wait(lambda op, d: op == "request.created")
            assert httpx.get(f"{a}/health").json()["leading"] >= 1  # A orders the fitting room

            proc_a.kill()  # the node ordering the room dies mid-visit
            proc_a.wait()

            # B takes over: the same tags are the same items, a new tag is a new one
            async def read_on_b() -> list[str]:
                deadline = time.monotonic() + 30 * TIME_FACTOR
                while True:
                    r = await http_b.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                          json={"reads": [{"tag": SNEAKERS_EPC}]})
                    if r.status_code == 200:
                        return [x["status"] for x in r.json()["results"]]
                    assert r.status_code == 503 and time.monotonic() < deadline, r.text  # lease not yet moved
                    await asyncio.sleep(0.3)

            assert await read_on_b() == ["added"]
            state = (await http_b.get("/api/rooms/paris-01/3", headers=bearer(mirror["token"]))).json()["state"]
            assert {i["sku"] for i in state["items"].values()} == {"JEA-300", "TSH-100", "SNK-500"}
            assert state["requests"][rid]["state"] == "open"
            listed = (await http_b.get("/api/stores/paris-01/requests", params={"state": "open"},
                                       headers=bearer(staff["token"]))).json()["requests"]
            assert [x["id"] for x in listed] == [rid]
            done = await http_b.post(f"/api/requests/{rid}/accept", headers=bearer(staff["token"]))
            assert done.status_code == 200, done.text
            await m.wait(lambda op, d: op == "request.updated" and d["state"] == "accepted", timeout=30)
            assert m.client.resumes >= 1  # the mirror moved to B and resumed
            assert set(m.state()["items"]) == set(state["items"])
