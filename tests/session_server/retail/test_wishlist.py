"""Consent-gated wishlists: nothing kept without consent; with it, see and delete everything in one call."""

from __future__ import annotations

import httpx

from tests.session_server.conftest import run

from .conftest import Shop
from .flows import bearer, pair, token


def test_wishlist_only_with_consent_and_one_call_deletes_everything(shop: Shop) -> None:
    srv = shop.start()

    async def main() -> None:
        async with httpx.AsyncClient(base_url=srv.http) as http:
            mirror = await token(http, shop.keys["mirror"])
            phone = await pair(http, mirror["token"])
            as_phone = bearer(phone["token"])
            r = await http.post("/api/wishlist", headers=as_phone, json={"sku": "JEA-300"})
            assert (r.status_code, r.json()["error"]) == (403, "consent_required")
            no = await http.post("/api/rooms/paris-01/3/consent", headers=as_phone, json={"wishlist": False})
            assert no.json() == {"wishlist": False, "kept": "nothing of the visit is kept after it ends"}
            mirror_consents = await http.post("/api/rooms/paris-01/3/consent", headers=bearer(mirror["token"]),
                                              json={"wishlist": True})
            assert (mirror_consents.status_code, mirror_consents.json()["error"]) == (403, "forbidden")
            yes = (await http.post("/api/rooms/paris-01/3/consent", headers=as_phone, json={"wishlist": True})).json()
            as_shopper = {"Authorization": f"Shopper {yes['key']}"}
            saved = await http.post("/api/wishlist", headers=as_shopper,
                                    json={"sku": "JEA-300", "size": "32", "colour": "denim", "store": "paris-01"})
            assert saved.status_code == 201, saved.text
            look = await http.post("/api/wishlist", headers=as_shopper, json={"sku": "DRS-400", "look": ["PMP-600"]})
            assert look.status_code == 201
            bad = await http.post("/api/wishlist", headers=as_shopper, json={"sku": "NOPE-1"})
            assert (bad.status_code, bad.json()["error"]) == (404, "unknown_sku")
            bad_look = await http.post("/api/wishlist", headers=as_shopper, json={"sku": "DRS-400", "look": ["X-1"]})
            assert (bad_look.status_code, bad_look.json()["error"]) == (404, "unknown_sku")
            shown = (await http.get("/api/wishlist", headers=as_shopper)).json()
            assert shown["shopper"] == yes["shopper"]
            assert [(e["sku"], e["look"]) for e in shown["entries"]] == [("JEA-300", None), ("DRS-400", ["PMP-600"])]
            one = await http.delete(f"/api/wishlist/{shown['entries'][1]['id']}", headers=as_shopper)
            assert one.status_code == 200
            gone = (await http.delete("/api/wishlist", headers=as_shopper)).json()
            assert gone == {"deleted": {"entries": 1, "shopper": 1}}
            after = await http.get("/api/wishlist", headers=as_shopper)
            assert (after.status_code, after.json()["error"]) == (401, "unknown_shopper")
            forged = await http.get("/api/wishlist", headers={"Authorization": "Shopper sh_0000000000000000.xxxxxxxx"
                                                                                "xxxxxxxxxxxxxxxxxxxx"})
            assert forged.status_code == 401
            analytics = (await http.get("/api/stores/paris-01/analytics",
                                        headers={"Authorization": f"Device {shop.keys['staff']}"})).json()
            assert analytics["counts"]["look_saved"] == 1

    run(main())
