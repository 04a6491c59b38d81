"""Fitting-room flows over HTTP and WebSocket against a real server: reads, pairing, requests, wishlist."""

from __future__ import annotations

from typing import Any

import httpx

from tests.session_server.conftest import run

from .conftest import Shop
from .flows import (
    JEANS_EPC,
    LYON_TAG,
    SNEAKERS_EPC,
    TSHIRT_M_WHITE,
    UNKNOWN_EPC,
    Watcher,
    bearer,
    device,
    token,
)


def test_reads_become_items_once_with_recommendations(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                statuses: list[str] = []
                for _ in range(6):  # a reader reporting the same garments again and again
                    r = await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                        json={"reads": [{"tag": t, "rssi": -40} for t in
                                                        (JEANS_EPC, TSHIRT_M_WHITE, UNKNOWN_EPC, JEANS_EPC)]})
                    assert r.status_code == 200, r.text
                    assert r.json()["room"] == "fit.paris-01.3"
                    statuses += [x["status"] for x in r.json()["results"]]
                assert statuses.count("added") == 3 and statuses.count("debounced") == 15
                await m.wait(lambda op, d: op == "recs.set" and len(m.ops("recs.set")) >= 2)
                added = {d["sku"]: d for d in m.ops("item.added")}
                assert set(added) == {"JEA-300", "TSH-100", None}
                assert added[None]["known"] is False and added[None]["tag"] == UNKNOWN_EPC
                assert (added["TSH-100"]["size"], added["TSH-100"]["colour"], added["TSH-100"]["price"]) == (
                    "M", "white", 19.99)
                recs = {d["item"]: d["recs"] for d in m.ops("recs.set")}
                tshirt = recs[added["TSH-100"]["item"]]
                assert any(v["colour"] == "navy" for v in tshirt["variants"])  # other colours in stock here
                assert len(m.state()["items"]) == 3

    run(main())


def test_reader_refusals_change_nothing(shop: Shop) -> None:
    from session_server.retail.db import RetailDB
    from session_server.retail.devices import DeviceRegistry

    srv = shop.start(reads_burst=12, reads_per_second=0.1, max_reads_per_post=10)
    db = RetailDB(shop.db_url)
    revoked, revoked_key = DeviceRegistry(db).add("paris-01", "reader", "3")
    DeviceRegistry(db).revoke(revoked.id)
    db.close()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                reader = device(shop.keys["reader"])
                r = await http.post("/api/readers/reads", headers=reader, json={"reads": [{"tag": LYON_TAG}]})
                assert r.status_code == 200
                [res] = r.json()["results"]
                assert (res["status"], res["error"]) == ("refused", "wrong_store") and "lyon-02" in res["message"]
                cases: list[tuple[dict[str, str], Any, int, str, str | None]] = [
                    (device(revoked_key), {"reads": [{"tag": JEANS_EPC}]}, 401, "device_revoked", "authorization"),
                    (device(shop.keys["mirror"]), {"reads": [{"tag": JEANS_EPC}]}, 403, "forbidden", "authorization"),
                    (reader, {"store": "lyon-02", "reads": [{"tag": JEANS_EPC}]}, 403, "wrong_store", "store"),
                    (reader, {"store": "paris-01", "room": "4", "reads": [{"tag": JEANS_EPC}]}, 403, "wrong_room",
                     "room"),
                    (reader, {"reads": [{"tag": "has space"}]}, 400, "bad_request", "reads.0.tag"),
                    (reader, {"reads": [{"tag": ""}]}, 400, "bad_request", "reads.0.tag"),
                    (reader, {"tags": []}, 400, "bad_request", "reads"),
                    (reader, {"reads": [{"tag": f"X{i}"} for i in range(11)]}, 413, "too_many", "reads"),
                ]
                for headers, body, status, code, field in cases:
                    r = await http.post("/api/readers/reads", headers=headers, json=body)
                    assert (r.status_code, r.json()["error"], r.json()["field"]) == (status, code, field), r.text
                r = await http.post("/api/readers/reads", headers=reader, content=b"{not json")
                assert (r.status_code, r.json()["field"]) == (400, "body")
                # a flood: the bucket (12 reads) is spent, the rest is refused as a whole
                flood = [await http.post("/api/readers/reads", headers=reader,
                                         json={"reads": [{"tag": f"30342{i:019d}"} for i in range(10)]})
                         for _ in range(2)]
                assert [f.status_code for f in flood] == [200, 429]
                assert flood[1].json()["error"] == "rate_limited"
                await m.wait(lambda op, d: op == "item.added" and len(m.ops("item.added")) >= 10)
                assert len(m.state()["items"]) == 10  # only the accepted post's unknown tags; no lyon item
                assert not any(d.get("tag") == LYON_TAG for d in m.ops("item.added"))

    run(main())


def test_an_item_with_no_reads_leaves(shop: Shop) -> None:
    srv = shop.start(leave_after_s=0.5, sweep_interval_s=0.1)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                json={"reads": [{"tag": SNEAKERS_EPC}]})
                added = await m.wait(lambda op, d: op == "item.added")
                removed = await m.wait(lambda op, d: op == "item.removed")
                assert removed["item"] == added["item"] and removed["reason"] == "left"
                assert m.state()["items"] == {}

    run(main())


def test_pairing_one_phone_single_use_codes_and_visit_end(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                                json={"reads": [{"tag": JEANS_EPC}]})
                await m.wait(lambda op, d: op == "item.added")
                code = (await http.post("/api/rooms/paris-01/3/pairing", headers=bearer(mirror["token"]))).json()
                phone = (await http.post("/api/pairing", json={"code": code["code"]})).json()
                assert phone["role"] == "phone" and phone["room"] == "fit.paris-01.3"
                reused = await http.post("/api/pairing", json={"code": code["code"]})
                assert (reused.status_code, reused.json()["error"]) == (409, "pairing_used")
                async with Watcher(srv.http, phone["room"], phone["token"]) as p:
                    assert set(p.state()["items"]) == set(m.state()["items"])  # the same items
                    assert p.state()["phone"]["participant"] == phone["participant"]
                    other = (await http.post("/api/rooms/paris-01/3/pairing", headers=bearer(mirror["token"]))).json()
                    second = await http.post("/api/pairing", json={"code": other["code"]})
                    assert (second.status_code, second.json()["error"]) == (409, "already_paired")
                    assert "another phone" in second.json()["message"]
                    # the refused pairing changed nothing: the room still has the first phone
                    await m.wait(lambda op, d: op == "phone.paired")
                    assert m.state()["phone"]["participant"] == phone["participant"]
                    end = await http.post("/api/rooms/paris-01/3/visit/end", headers=bearer(mirror["token"]))
                    assert end.status_code == 200, end.text
                    await p.wait(lambda op, d: op == "visit.cleared")
                    assert p.state()["phone"] is None and p.state()["items"] == {}
                late = await http.post("/api/rooms/paris-01/3/consent", headers=bearer(phone["token"]),
                                       json={"wishlist": True})
                assert (late.status_code, late.json()["error"]) == (409, "no_visit")
                # the code refused while a phone was paired works now that the visit ended
                again = await http.post("/api/pairing", json={"code": other["code"]})
                assert again.status_code == 200, again.text

    run(main())


def test_expired_pairing_code(shop: Shop) -> None:
    import asyncio

    srv = shop.start(pairing_ttl_s=0.05)

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            code = (await http.post("/api/rooms/paris-01/3/pairing", headers=bearer(mirror["token"]))).json()
            await asyncio.sleep(0.2)
            r = await http.post("/api/pairing", json={"code": code["code"]})
            assert (r.status_code, r.json()["error"]) == (410, "pairing_expired")
            assert "scan the mirror's new code" in r.json()["message"]

    run(main())
