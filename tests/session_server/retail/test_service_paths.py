"""The read path's use of the database: checked device keys kept until a revocation is seen, catalog
answers served from memory while they are refreshed, the sweeper removing many items at once, and the
SQLite file in WAL mode without the deleted shopper left in its write-ahead log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from assets_pipeline.catalog import Retail, open_catalog
from assets_pipeline.settings import AssetSettings
from session_server.backplane.memory import MemoryBackplane
from session_server.retail import service as service_mod
from session_server.retail.catalog import StoreCatalog
from session_server.retail.db import RetailDB
from session_server.retail.devices import DeviceRegistry
from session_server.retail.errors import RetailError
from session_server.retail.service import RetailService
from session_server.retail.wishlist import Wishlists
from session_server.server.node import SessionNode
from session_server.settings import SessionSettings
from tests.session_server.conftest import SECRET, run

from .flows import JEANS_EPC

ROOT = Path(__file__).resolve().parents[3]


def seeded_catalog(tmp_path: Path) -> str:
    """samples/fitting in a fresh SQLite catalog (its retail tables too); its URL."""
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = open_catalog(AssetSettings(catalog_url=url, _env_file=None))  # type: ignore[call-arg]
    r = Retail(catalog)
    r.import_stores_csv(ROOT / "samples/fitting/stores.csv")
    r.import_stock_csv(ROOT / "samples/fitting/stock.csv")
    r.import_tags_csv(ROOT / "samples/fitting/tags.csv")
    catalog.close()
    return url


def make_service(url: str, **retail: Any) -> tuple[RetailService, SessionNode]:
    settings = SessionSettings(_env_file=None, token_secret=SECRET, retail={"database_url": url, **retail})  # type: ignore[call-arg]
    node = SessionNode(settings, MemoryBackplane())
    catalog = StoreCatalog(AssetSettings(catalog_url=url, _env_file=None))  # type: ignore[call-arg]
    return RetailService(settings, RetailDB(url), node, catalog), node


def test_a_revoked_key_stops_working_at_the_next_check_though_it_was_checked_before(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'retail.sqlite'}"

    async def body() -> None:
        svc, _ = make_service(url)
        other = RetailDB(url)  # the CLI revokes from another process
        try:
            device, key = DeviceRegistry(other).add("paris-01", "reader", "3")
            await svc.check_revocations()
            assert (await svc.authenticate(key)).id == device.id
            looked_up: list[str] = []
            real = svc.devices.authenticate
            svc.devices.authenticate = lambda k: looked_up.append(k) or real(k)  # type: ignore[method-assign]
            for _ in range(5):
                assert (await svc.authenticate(key)).id == device.id
            assert looked_up == []  # answered from memory: no database round trip per read
            DeviceRegistry(other).revoke(device.id)
            await svc.check_revocations()
            with pytest.raises(RetailError) as err:
                await svc.authenticate(key)
            assert err.value.code == "device_revoked"
        finally:
            other.close()
            await svc.close()

    run(body())


def test_without_a_recent_revocation_check_every_call_looks_the_key_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'retail.sqlite'}"

    async def body() -> None:
        svc, _ = make_service(url)
        try:
            device, key = DeviceRegistry(svc.db).add("paris-01", "reader", "3")
            await svc.check_revocations()
            assert (await svc.authenticate(key)).id == device.id
            svc._auth_checked -= service_mod.AUTH_CACHE_S  # the check has not run for too long (failing)
            DeviceRegistry(svc.db).revoke(device.id)
            with pytest.raises(RetailError) as err:
                await svc.authenticate(key)
            assert err.value.code == "device_revoked"
        finally:
            await svc.close()

    run(body())


def test_a_stale_catalog_answer_is_used_once_and_refreshed_in_the_background(tmp_path: Path) -> None:
    url = seeded_catalog(tmp_path)

    async def body() -> None:
        svc, _ = make_service(url)
        try:
            first = await svc.resolve("paris-01", JEANS_EPC)
            assert first is not None and first["sku"] == "JEA-300"
            retail = svc.catalog.retail
            await asyncio.to_thread(retail.set_stock, "paris-01", first["sku"], first["size"], first["colour"],
                                    first["in_stock"] + 7)
            assert await svc.resolve("paris-01", JEANS_EPC) == first  # fresh: from memory
            key = ("tag", "paris-01", JEANS_EPC)
            svc._tag_cache.put(key, first, svc._tag_cache._data[key][0] - service_mod.TAG_CACHE_S)
            assert await svc.resolve("paris-01", JEANS_EPC) == first  # stale: used while it is refreshed
            for _ in range(200):
                if key not in svc._refreshing:
                    break
                await asyncio.sleep(0.01)
            fresh = await svc.resolve("paris-01", JEANS_EPC)
            assert fresh is not None and fresh["in_stock"] == first["in_stock"] + 7
            svc._tag_cache.put(key, fresh, svc._tag_cache._data[key][0] - service_mod.STALE_S)
            await asyncio.to_thread(retail.set_stock, "paris-01", first["sku"], first["size"], first["colour"], 1)
            again = await svc.resolve("paris-01", JEANS_EPC)  # too old to be used at all: awaited
            assert again is not None and again["in_stock"] == 1
        finally:
            await svc.close()

    run(body())


def test_a_failed_refresh_drops_the_answer_so_the_next_read_gets_the_error(tmp_path: Path) -> None:
    url = seeded_catalog(tmp_path)

    async def body() -> None:
        svc, _ = make_service(url)
        try:
            first = await svc.resolve("paris-01", JEANS_EPC)
            key = ("tag", "paris-01", JEANS_EPC)
            svc._tag_cache.put(key, first, svc._tag_cache._data[key][0] - service_mod.TAG_CACHE_S)

            def moved(store: str, code: str) -> None:
                raise RetailError("wrong_store", f"tag {code} belongs to store lyon-02", field="tag")

            svc.catalog.resolve = moved  # type: ignore[method-assign]
            assert await svc.resolve("paris-01", JEANS_EPC) == first
            for _ in range(200):
                if key not in svc._refreshing:
                    break
                await asyncio.sleep(0.01)
            with pytest.raises(RetailError) as err:
                await svc.resolve("paris-01", JEANS_EPC)
            assert err.value.code == "wrong_store"
        finally:
            await svc.close()

    run(body())


def test_the_sweeper_removes_more_items_than_one_batch_from_every_room(tmp_path: Path) -> None:
    url = seeded_catalog(tmp_path)
    rooms, per_room = 5, 30  # 150 items: more than one batch

    async def body() -> None:
        svc, node = make_service(url, leave_after_s=5.0)
        await node.start()
        try:
            for r in range(1, rooms + 1):
                device = service_mod.Device(f"dev-{r}", "paris-01", str(r), "reader", None, 0.0, None)
                results = await svc.reads(device, [f"UNKNOWN-{r}-{n}" for n in range(per_room)])
                assert [x["status"] for x in results] == ["added"] * per_room
            assert per_room * rooms > service_mod.SWEEP_BATCH
            assert await svc.sweep(time.monotonic()) == 0  # nothing is old yet
            assert await svc.sweep(time.monotonic() + 5.0) == rooms * per_room
            for r in range(1, rooms + 1):
                state = await svc.room_state(f"fit.paris-01.{r}")
                assert state["items"] == {}, f"room {r} still has {len(state['items'])} items"
        finally:
            await svc.close()
            await node.drain()

    run(body())


def test_the_sqlite_file_is_in_wal_mode_and_a_forgotten_shopper_is_not_left_in_its_log(tmp_path: Path) -> None:
    path = tmp_path / "retail.sqlite"
    db = RetailDB.open(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a commit is on disk
        lists = Wishlists(db, 50)
        shopper, key = lists.consent()
        lists.add(shopper, "JNS-100", "M", "blue", None)
        wal = path.with_name(path.name + "-wal")
        assert shopper.encode() in wal.read_bytes() + path.read_bytes()  # it was written somewhere
        lists.forget(shopper)
        for file in (path, wal):
            data = file.read_bytes() if file.exists() else b""
            assert shopper.encode() not in data, f"{file.name} still holds the forgotten shopper"
            assert key.split(".")[1].encode() not in data
    finally:
        db.close()
