"""The fitting-room tables (devices, pairing codes, requests, shoppers' wishlists, aggregate analytics).

They live in the catalog database by default (one database for a retailer), under names prefixed
``retail_``; opening the database runs their Alembic migrations (``retail/migrations/``, version table
``retail_alembic_version``) up to the newest. Nothing here holds an image, a frame or a
device identifier in analytics; shoppers are known only by a random id and a hashed key they hold.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .errors import RetailError

T = TypeVar("T")
metadata = MetaData()
MIGRATIONS = Path(__file__).with_name("migrations")
VERSION_TABLE = "retail_alembic_version"

devices = Table(
    "retail_devices",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("store", String(64), nullable=False),
    Column("room", String(64)),
    Column("kind", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("label", String(200)),
    Column("created", Float, nullable=False),
    Column("revoked", Float),
)

pairings = Table(
    "retail_pairings",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("store", String(64), nullable=False),
    Column("room", String(64), nullable=False),
    Column("expires", Float, nullable=False),
    Column("used", Float),
)

requests = Table(
    "retail_requests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("store", String(64), nullable=False),
    Column("room", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("item", String(64)),
    Column("sku", String(64)),
    Column("size", String(32)),
    Column("colour", String(64)),
    Column("state", String(16), nullable=False),
    Column("by_staff", String(64)),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Index("retail_requests_store_state", "store", "state"),
)

shoppers = Table(
    "retail_shoppers",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("touched", Float, nullable=False),
)

wishlist = Table(
    "retail_wishlist",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("shopper", String(40), ForeignKey("retail_shoppers.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("sku", String(64), nullable=False),
    Column("size", String(32)),
    Column("colour", String(64)),
    Column("look", JSON),
    Column("saved", Float, nullable=False),
)

events = Table(
    "retail_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("store", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("sku", String(64)),
    Column("value", Float),
    Index("retail_events_store_day", "store", "day"),
)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (SQLite folders are created; foreign keys on)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RetailError("bad_request", f"{url!r} is not a database URL", field="database_url") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
            cur.close()

    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the retail tables' migrations up to ``revision`` (default: the newest)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("version_table", VERSION_TABLE)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "retail_devices" in tables and VERSION_TABLE not in tables:
            command.stamp(cfg, "r0001")  # made before the migrations existed: it is r0001's schema
        command.upgrade(cfg, revision)


class RetailDB:
    """The retail tables' database, opened (and its missing tables created) on first use; every call
    is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> RetailDB:
        """Connect now (errors surface here rather than on the first call)."""
        db = cls(url)
        db.engine  # noqa: B018 - opens it
        return db

    @property
    def engine(self) -> Engine:
        """The engine, created with the tables on first use."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        engine = make_engine(self.url)
        for attempt in range(3):  # two servers starting together may race to create a table
            try:
                upgrade(engine)
                return engine
            except SQLAlchemyError as exc:
                if attempt == 2:
                    engine.dispose()
                    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                    raise RetailError(
                        "unavailable", f"cannot open the retail database: {first}", field="database_url"
                    ) from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Release the connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database function in a worker thread."""
        return await asyncio.to_thread(fn, *args)
