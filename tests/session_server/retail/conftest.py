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

