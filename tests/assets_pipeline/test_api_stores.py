"""HTTP routes of the retail layer (stores, rooms, stock, tags, recommendations) on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assets_pipeline.api import create_app
from assets_pipeline.service import AssetService
from assets_pipeline.settings import AssetSettings
from assets_pipeline.tokens import TokenClaims, sign

from ..conftest import ROOT

SECRET = "retail-test-secret"
SAMPLES = ROOT / "samples" / "fitting"


def auth(role: str = "manager") -> dict[str, str]:
    return {"Authorization": "Bearer " + sign(TokenClaims("t", role, time.time() + 600), SECRET.encode())}


@pytest.fixture
def client(tmp_path: Path, catalog_url: str) -> Iterator[TestClient]:
    service = AssetService.open(AssetSettings(store="local", store_path=tmp_path / "objects", catalog_url=catalog_url,
                                              api_token_secret=SECRET))  # type: ignore[arg-type]
    yield TestClient(create_app(service=service))
    service.close()


def _seed(client: TestClient) -> None:
    for route, name in (("/stores/import", "stores.csv"), ("/stores/paris-01/stock/import", "stock.csv"),
                        ("/tags/import", "tags.csv")):
        r = client.post(route, content=(SAMPLES / name).read_bytes(), headers=auth())
        assert r.status_code == 200, r.text


def test_seed_read_and_recommend(client: TestClient) -> None:
    _seed(client)
    assert [(s["id"], s["rooms"]) for s in client.get("/stores").json()] == [("lyon-02", ["A", "B", "C"]),
                                                                             ("paris-01", ["1", "2", "3", "4"])]
    stock = client.get("/stores/paris-01/stock", params={"sku": "JEA-300"}).json()
    assert stock["total"] == 4 and stock["items"][0] == {
        "store": "paris-01", "sku": "JEA-300", "size": "32", "colour": "black", "quantity": 2, "price_cents": 6900,
        "currency": "EUR"}
    tag = client.get("/tags", params={"code": "3034257BF0000280000003E9"}).json()
    assert (tag["sku"], tag["size"], tag["colour"], tag["store"]) == ("JEA-300", "32", "denim", "paris-01")
    via = client.get("/tags", params={"code": "https://id.gs1.org/01/00614140000174"}).json()
    assert via["sku"] == "SNK-500" and via["via"] == "00614140000174"
    r = client.get("/tags", params={"code": "nothing"})
    assert r.status_code == 404 and r.json()["field"] == "code"
    recs = client.get("/stores/paris-01/recommendations/TSH-100", params={"size": "M", "colour": "white"}).json()
    assert [v["reason"] for v in recs["variants"]][:1] == ["size S in white: 4 in stock here"]
    assert [m["sku"] for m in recs["matches"]] == ["BAG-700", "JEA-300", "SNK-500"]


def test_changes_need_a_manager_token(client: TestClient) -> None:
    body = {"id": "paris-01", "name": "Paris", "rooms": ["1"]}
    assert client.post("/stores", json=body).status_code == 401
    r = client.post("/stores", json=body, headers=auth("artist"))
    assert r.status_code == 403 and "manager" in r.json()["message"]
    r = client.post("/stores", json=body, headers=auth())
    assert r.status_code == 201 and r.json()["rooms"] == ["1"]
    assert client.post("/stores", json=body, headers=auth()).status_code == 409
    assert client.put("/stores/paris-01/rooms/2", headers=auth()).json()["rooms"] == ["1", "2"]
    assert client.delete("/stores/paris-01/rooms/2", headers=auth()).status_code == 204
    r = client.delete("/stores/paris-01/rooms/2", headers=auth())
    assert r.status_code == 404 and r.json()["field"] == "room"
    r = client.post("/stores", json={"id": "bad.id"}, headers=auth())
    assert r.status_code == 422 and r.json()["field"] == "store"
    assert client.get("/stores/nope").status_code == 404


def test_stock_and_tags_one_by_one(client: TestClient) -> None:
    _seed(client)
    row = {"sku": "TSH-100", "size": "xl", "colour": "Navy", "quantity": 4, "price": "19,99", "currency": "eur"}
    assert client.put("/stores/paris-01/stock", json=row).status_code == 401
    r = client.put("/stores/paris-01/stock", json=row, headers=auth())
    assert r.status_code == 200 and r.json() == {"store": "paris-01", "sku": "TSH-100", "size": "XL",
                                                 "colour": "navy", "quantity": 4, "price_cents": 1999,
                                                 "currency": "EUR"}
    r = client.put("/stores/paris-01/stock", json={**row, "quantity": -3}, headers=auth())
    assert r.status_code == 422 and r.json()["field"] == "quantity"
    r = client.put("/stores/paris-01/stock", json={**row, "sku": "NOPE"}, headers=auth())
    assert r.status_code == 404 and r.json()["field"] == "sku"
    tag = {"code": "4006381333931", "sku": "TSH-100", "size": "XL", "colour": "navy"}
    assert client.put("/tags", json=tag, headers=auth()).json()["code"] == "04006381333931"
    r = client.put("/tags", json={**tag, "size": "S"}, headers=auth())
    assert r.status_code == 409 and r.json()["code"] == "conflict"
    assert client.delete("/tags", params={"code": "4006381333931"}, headers=auth()).status_code == 204
    assert client.get("/tags", params={"code": "4006381333931"}).status_code == 404


def test_a_bad_csv_lists_its_lines_and_changes_nothing(client: TestClient) -> None:
    _seed(client)
    before = client.get("/stores/paris-01").json()
    bad = "sku,size,colour,quantity\nTSH-100,M,white,lots\nNOPE,M,white,1\nTSH-100,S,white,9\n"
    r = client.post("/stores/paris-01/stock/import", params={"filename": "monday.csv"}, content=bad, headers=auth())
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid_csv" and body["message"].startswith("monday.csv: line 2: quantity:")
    assert body["lines"] == [
        {"line": 2, "field": "quantity", "message": "'lots' is not a whole number"},
        {"line": 3, "field": "sku",
         "message": "no product 'NOPE' in the catalog (add name and category columns to create it)"}]
    assert client.get("/stores/paris-01").json() == before
    r = client.post("/tags/import", content=b"sku,size\n", headers=auth())
    assert r.status_code == 422 and body["code"] == "invalid_csv" and "missing column" in r.json()["message"]
