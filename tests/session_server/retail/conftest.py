"""Fixtures of the fitting-room tests: a retail database per test, servers using it, device keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from session_server.retail.db import RetailDB
from session_server.retail.devices import DeviceRegistry
from tests.session_server.conftest import RunningServer


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh SQLite retail database."""
    return f"sqlite:///{tmp_path / 'retail.sqlite'}"


@pytest.fixture
def db(db_url: str) -> RetailDB:
    d = RetailDB.open(db_url)
    yield d
    d.close()


@pytest.fixture
def devices(db: RetailDB) -> DeviceRegistry:
    return DeviceRegistry(db)


@pytest.fixture
def retail_server(start_server: Callable[..., RunningServer], db_url: str) -> Callable[..., RunningServer]:
    """Start a session server whose retail tables are in this test's database."""

    def start(**retail: Any) -> RunningServer:
        return start_server(retail={"database_url": db_url, **retail})

    return start



class Shop:
    """A seeded store (samples/fitting), its device keys, and servers over its databases."""

    def __init__(self, catalog_url: str, db_url: str, start_server: Callable[..., RunningServer]) -> None:
        self.catalog_url = catalog_url
        self.db_url = db_url
        self._start = start_server
        db = RetailDB(db_url)
        reg = DeviceRegistry(db)
        self.keys = {
            "mirror": reg.add("paris-01", "mirror", "3")[1],
            "reader": reg.add("paris-01", "reader", "3")[1],
            "staff": reg.add("paris-01", "staff")[1],
            "mirror4": reg.add("paris-01", "mirror", "4")[1],
            "lyon_staff": reg.add("lyon-02", "staff")[1],
        }
        db.close()

    def start(self, **retail: Any) -> RunningServer:
        """A server on this shop's catalog and retail tables (``retail``: RetailSettings fields)."""
        return self._start(retail={"database_url": self.db_url, **retail})

    def start_with(self, **session: Any) -> RunningServer:
        """A server on this shop's databases with other session settings."""
        return self._start(retail={"database_url": self.db_url}, **session)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start_server: Callable[..., RunningServer]) -> Shop:
    """samples/fitting seeded into a fresh catalog (+ a try-on shade for the lipstick); servers read it."""
    from assets_pipeline.catalog import Retail, open_catalog
    from assets_pipeline.settings import AssetSettings

    root = Path(__file__).resolve().parents[3]
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = open_catalog(AssetSettings(catalog_url=url, _env_file=None))  # type: ignore[call-arg]
    r = Retail(catalog)
    r.import_stores_csv(root / "samples/fitting/stores.csv")
    r.import_stock_csv(root / "samples/fitting/stock.csv")
    r.import_tags_csv(root / "samples/fitting/tags.csv")
    catalog.set_tryon("LIP-800", {"kind": "lipstick", "shade": "#A3162B", "finish": "matte"})
    catalog.close()
    monkeypatch.setenv("PHYGITAL_ASSETS_CATALOG_URL", url)
    return Shop(url, url, start_server)
