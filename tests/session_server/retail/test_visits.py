"""Visits end (on the mirror or after visit_timeout with nobody there): open requests are cancelled in the
database, visit lengths and co-tried pairs are counted without identities and feed recommendations."""

from __future__ import annotations

import asyncio
import time

import httpx

from session_server.retail.catalog import StoreCatalog
from tests.session_server.conftest import run

from .conftest import Shop
from .flows import JEANS_EPC, TIME_FACTOR, TSHIRT_M_WHITE, Watcher, bearer, device, token


def test_an_empty_room_is_cleared_after_the_visit_timeout(shop: Shop) -> None:
    srv = shop.start_with(visit_timeout_s=0.5)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror, staff = await token(http, shop.keys["mirror"]), await token(http, shop.keys["staff"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                json={"reads": [{"tag": JEANS_EPC}]})
                await m.wait(lambda op, d: op == "item.added")
                r = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(mirror["token"]),
                                    json={"kind": "assistant"})
                assert r.status_code == 201
            async with Watcher(srv.http, staff["room"], staff["token"]) as s:  # the mirror has gone
                await s.wait(lambda op, d: op == "request.updated" and d["state"] == "cancelled", timeout=30)
                for _ in range(100):
                    listed = (await http.get("/api/stores/paris-01/requests", headers=bearer(staff["token"]))).json()
                    if listed["requests"][0]["state"] == "cancelled":
                        break
                    await asyncio.sleep(0.05)
                assert listed["requests"][0]["state"] == "cancelled"
            state = (await http.get("/api/rooms/paris-01/3", headers=bearer(mirror["token"]))).json()["state"]
            assert state["items"] == {} and state["visit"] is None

    run(main())


def test_visits_feed_cotried_history_and_anonymous_analytics(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                for visit in range(2):
                    await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                    json={"reads": [{"tag": JEANS_EPC}, {"tag": TSHIRT_M_WHITE}]})
                    await m.wait(lambda op, d, n=2 * (visit + 1): op == "item.added" and len(m.ops("item.added")) >= n)
                    await asyncio.sleep(0.3)
                    end = await http.post("/api/rooms/paris-01/3/visit/end", headers=bearer(mirror["token"]))
                    assert end.status_code == 200
                    await m.wait(lambda op, d, n=visit + 1: op == "visit.cleared" and len(m.ops("visit.cleared")) >= n)
            summary = (await http.get("/api/stores/paris-01/analytics",
                                      headers=device(shop.keys["staff"]))).json()
            assert summary["visits"] == 2 and summary["mean_visit_s"] > 0
            assert summary["counts"]["item_tried"] == 4
            assert {x["sku"] for x in summary["most_tried"]} == {"JEA-300", "TSH-100"}

    run(main())
    from assets_pipeline.settings import AssetSettings

    catalog = StoreCatalog(AssetSettings(catalog_url=shop.catalog_url, _env_file=None))  # type: ignore[call-arg]
    try:  # the pairs are written after the visit ends, in the background: wait for them, within a bound
        deadline = time.monotonic() + 10 * TIME_FACTOR
        recs = catalog.recommend("paris-01", "TSH-100", "M", "white")
        while not recs["cotried"] and time.monotonic() < deadline:
            time.sleep(0.1)
            recs = catalog.recommend("paris-01", "TSH-100", "M", "white")
    finally:
        catalog.close()
    assert [c["sku"] for c in recs["cotried"]] == ["JEA-300"]  # tried together in two visits
    assert "tried together with this 2 times" in recs["cotried"][0]["reason"]


def test_items_of_a_room_taken_over_still_leave_without_reads(shop: Shop) -> None:
    import uuid

    from redis import Redis

    prefix = f"phygtest:fitadopt:{uuid.uuid4().hex[:8]}"
    redis_url = "redis://127.0.0.1:6379/0"
    first = shop._start(retail={"database_url": shop.db_url}, redis_url=redis_url, redis_prefix=prefix)

    async def before() -> None:
        async with httpx.AsyncClient(base_url=first.http) as http:
            r = await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                json={"reads": [{"tag": JEANS_EPC}]})
            assert r.json()["results"][0]["status"] == "added"

    try:
        run(before())
        first.stop()  # a new process takes the room over from Redis; it never saw the jeans being read
        second = shop._start(retail={"database_url": shop.db_url, "leave_after_s": 0.5, "sweep_interval_s": 0.1},
                             redis_url=redis_url, redis_prefix=prefix)

        async def after() -> None:
            async with httpx.AsyncClient(base_url=second.http) as http:
                mirror = await token(http, shop.keys["mirror"])
                async with Watcher(second.http, mirror["room"], mirror["token"]) as m:
                    [(jeans, item)] = m.state()["items"].items()
                    assert item["tag"] == JEANS_EPC
                    await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                    json={"reads": [{"tag": TSHIRT_M_WHITE}]})
                    left = await m.wait(lambda op, d: op == "item.removed" and d["item"] == jeans, timeout=30)
                    assert left["reason"] == "left"

        run(after())
    finally:
        client = Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)
        client.close()
