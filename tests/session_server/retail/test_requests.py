"""Staff requests: checked against the room and the store's stock, stored first, shown live, survive a restart."""

from __future__ import annotations

from typing import Any

import httpx

from tests.session_server.conftest import run

from .conftest import Shop
from .flows import JEANS_EPC, TSHIRT_M_WHITE, Watcher, bearer, device, pair, token


async def _items(http: httpx.AsyncClient, shop: Shop, m: Watcher) -> dict[str, str]:
    await http.post("/api/readers/reads", headers=device(shop.keys["reader"]),
                    json={"reads": [{"tag": TSHIRT_M_WHITE}, {"tag": JEANS_EPC}]})
    await m.wait(lambda op, d: op == "item.added" and len(m.ops("item.added")) == 2)
    return {d["sku"]: d["item"] for d in m.ops("item.added")}


def test_request_lifecycle_seen_by_staff_mirror_and_phone(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror, staff = await token(http, shop.keys["mirror"]), await token(http, shop.keys["staff"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m, \
                    Watcher(srv.http, staff["room"], staff["token"]) as s:
                items = await _items(http, shop, m)
                phone = await pair(http, mirror["token"])
                async with Watcher(srv.http, phone["room"], phone["token"]) as p:
                    r = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(phone["token"]),
                                        json={"kind": "size", "item": items["TSH-100"], "size": "S"})
                    assert r.status_code == 201, r.text
                    req = r.json()
                    assert (req["sku"], req["size"], req["colour"], req["state"]) == ("TSH-100", "S", "white", "open")
                    seen = await s.wait(lambda op, d: op == "request.created")
                    assert seen["request"] == req["id"]
                    assert s.state()["requests"][req["id"]]["room"] == "3"
                    for action, state in (("accept", "accepted"), ("deliver", "delivered")):
                        a = await http.post(f"/api/requests/{req['id']}/{action}", headers=bearer(staff["token"]))
                        assert a.status_code == 200 and a.json()["state"] == state, a.text
                        for w in (m, p, s):
                            await w.wait(lambda op, d, state=state: op == "request.updated" and d["state"] == state)
                    again = await http.post(f"/api/requests/{req['id']}/deliver", headers=bearer(staff["token"]))
                    assert (again.status_code, again.json()["error"]) == (409, "conflict")
                    assert "already delivered" in again.json()["message"]
                    assistant = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(mirror["token"]),
                                                json={"kind": "assistant"})
                    assert assistant.status_code == 201
                    listed = (await http.get("/api/stores/paris-01/requests", params={"state": "open,accepted"},
                                             headers=device(shop.keys["staff"]))).json()["requests"]
                    assert [x["id"] for x in listed] == [assistant.json()["id"]]

    run(main())


def test_bad_requests_are_refused_and_store_nothing(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror, staff = await token(http, shop.keys["mirror"]), await token(http, shop.keys["staff"])
            async with Watcher(srv.http, mirror["room"], mirror["token"]) as m:
                items = await _items(http, shop, m)
                url, h = "/api/rooms/paris-01/3/requests", bearer(mirror["token"])
                cases: list[tuple[dict[str, Any], int, str, str]] = [
                    ({"kind": "size", "item": items["TSH-100"], "size": "XXS"}, 409, "unknown_size", "size"),
                    ({"kind": "size", "item": items["TSH-100"], "size": "L"}, 409, "out_of_stock", "size"),
                    ({"kind": "colour", "item": items["JEA-300"], "colour": "pink"}, 409, "unknown_size", "size"),
                    ({"kind": "size", "item": "i-000000000000", "size": "S"}, 404, "unknown_item", "item"),
                    ({"kind": "size", "item": items["TSH-100"]}, 400, "bad_request", "size"),
                    ({"kind": "size", "size": "S"}, 400, "bad_request", "item"),
                    ({"kind": "teleport"}, 400, "bad_request", "kind"),
                ]
                for body, status, code, field in cases:
                    r = await http.post(url, headers=h, json=body)
                    got = (r.status_code, r.json()["error"], r.json()["field"])
                    assert got == (status, code, field), (body, r.text)
                    assert r.json()["message"]
                r = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(staff["token"]),
                                    json={"kind": "assistant"})
                assert (r.status_code, r.json()["error"]) == (403, "forbidden")
                ok = await http.post(url, headers=h, json={"kind": "colour", "item": items["TSH-100"],
                                                          "colour": "navy"})
                assert ok.status_code == 201 and (ok.json()["size"], ok.json()["colour"]) == ("M", "navy")
                rid = ok.json()["id"]
                lyon = await http.post(f"/api/requests/{rid}/accept", headers=device(shop.keys["lyon_staff"]))
                assert (lyon.status_code, lyon.json()["error"]) == (403, "wrong_store")
                bad = await http.post(f"/api/requests/{rid}/explode", headers=bearer(staff["token"]))
                assert (bad.status_code, bad.json()["error"]) == (400, "bad_request")
                nope = await http.post("/api/requests/rq-000000000000/accept", headers=bearer(staff["token"]))
                assert (nope.status_code, nope.json()["error"]) == (404, "unknown_request")
                mirror_acts = await http.post(f"/api/requests/{rid}/accept", headers=bearer(mirror["token"]))
                assert (mirror_acts.status_code, mirror_acts.json()["error"]) == (403, "forbidden")
                listed = (await http.get("/api/stores/paris-01/requests",
                                         headers=bearer(staff["token"]))).json()["requests"]
                assert [(x["id"], x["state"]) for x in listed] == [(rid, "open")]  # the refusals stored nothing
                await m.wait(lambda op, d: op == "request.created")
                assert list(m.state()["requests"]) == [rid]

    run(main())


def test_requests_survive_a_restart(shop: Shop) -> None:
    first = shop.start()

    async def make() -> str:
        async with httpx.AsyncClient(base_url=first.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            r = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(mirror["token"]),
                                json={"kind": "assistant"})
            assert r.status_code == 201
            return str(r.json()["id"])

    rid = run(make())
    first.stop()
    second = shop.start()

    async def after() -> None:
        async with httpx.AsyncClient(base_url=second.http) as http:
            staff = await token(http, shop.keys["staff"])
            listed = (await http.get("/api/stores/paris-01/requests", params={"state": "open"},
                                     headers=bearer(staff["token"]))).json()["requests"]
            assert [x["id"] for x in listed] == [rid]
            async with Watcher(second.http, staff["room"], staff["token"]) as s:
                done = await http.post(f"/api/requests/{rid}/unavailable", headers=bearer(staff["token"]))
                assert done.status_code == 200 and done.json()["state"] == "unavailable"
                await s.wait(lambda op, d: op == "request.updated" and d["state"] == "unavailable")

    run(after())


def test_a_staff_action_over_the_websocket_is_stored_too(shop: Shop) -> None:
    import asyncio

    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror, staff = await token(http, shop.keys["mirror"]), await token(http, shop.keys["staff"])
            async with Watcher(srv.http, staff["room"], staff["token"]) as s:
                r = await http.post("/api/rooms/paris-01/3/requests", headers=bearer(mirror["token"]),
                                    json={"kind": "assistant"})
                rid = r.json()["id"]
                await s.wait(lambda op, d: op == "request.created")
                await s.client.request("request.accept", request=rid)
                for _ in range(100):  # the listener stores it right after the room ordered it
                    listed = (await http.get("/api/stores/paris-01/requests", headers=bearer(staff["token"]))).json()
                    if listed["requests"][0]["state"] == "accepted":
                        break
                    await asyncio.sleep(0.05)
                assert listed["requests"][0]["state"] == "accepted"
                assert listed["requests"][0]["by_staff"] == staff["participant"]
                again = await http.post(f"/api/requests/{rid}/accept", headers=bearer(staff["token"]))
                assert (again.status_code, again.json()["error"]) == (409, "conflict")

    run(main())
