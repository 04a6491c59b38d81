"""The fitting-room tables (devices, pairing codes, requests, shoppers' wishlists, aggregate analytics).

They live in the catalog database by default (one database for a retailer), under names prefixed
``retail_``; opening the database runs their Alembic migrations (``retail/migrations/``, version table
``retail_alembic_version``) up to the newest. Nothing here holds an image, a frame or a
device identifier in analytics; shoppers are known only by a random id and a hashed key they hold.
"""

from __future__ import annotations

import asyncio
import threading
import time
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
MIGRATING = threading.Lock()
"""Alembic keeps the running migration in module globals: two migrations at once in one process collide."""

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
    """An engine for ``url`` (SQLite: folder created, foreign keys on, WAL journal so that readers never
    wait for a writer's commit; commits still sync to disk before they return)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RetailError("bad_request", f"{url!r} is not a database URL", field="database_url") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    sqlite = parsed.get_backend_name() == "sqlite"
    # a pre-ping is one more statement per checkout: worth it for a server across a network, not for a file
    engine = create_engine(parsed, pool_pre_ping=not sqlite)
    if sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: object) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA secure_delete=ON")  # deleted rows are overwritten, not left in free pages
            cur.execute("PRAGMA journal_mode=WAL")  # persistent in the file; no-op for :memory:
            cur.execute("PRAGMA synchronous=FULL")  # WAL's default is FULL too: say it, durability is a promise
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
                with MIGRATING:
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

    def purge_log(self) -> bool:
        """After deleting personal data: copy SQLite's write-ahead log into the database file and empty it,
        so the deleted rows' old page images do not stay in the ``-wal`` file; False when readers kept it
        busy three times (the next checkpoint does it). No-op (True) on other databases."""
        if self.engine.dialect.name != "sqlite":
            return True
        for attempt in range(3):
            with self.engine.connect() as conn:  # waits for readers up to the busy timeout
                busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
            if busy is None or not busy[0]:
                return True
            time.sleep(0.05 * (attempt + 1))
        return False

    def close(self) -> None:
        """Release the connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking database function in a worker thread."""
        return await asyncio.to_thread(fn, *args)
