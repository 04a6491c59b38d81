"""Open a catalog database and bring its schema to the newest Alembic revision.

Alembic is configured in code (script location = ``migrations/`` beside this file), so a catalog made
by an older release is upgraded in place when a newer one opens it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from ..errors import StorageError

logger = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """Return an SQLAlchemy engine for a database URL (creating a SQLite file's folder); StorageError when it is not
    one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StorageError(f"{url!r} is not a database URL", field="PHYGITAL_ASSETS_CATALOG_URL") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the catalog folder {str(folder)!r}: {exc.strerror or exc}",
                field="PHYGITAL_ASSETS_CATALOG_URL",
            ) from None
    sqlite = parsed.get_backend_name() == "sqlite"
    engine = create_engine(parsed, pool_pre_ping=not sqlite)  # a file has no connection to go stale
    if sqlite:

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: object, _record: object) -> None:
            cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

    return engine


def alembic_config(engine: Engine) -> object:
    """Return the Alembic configuration of the catalog's migrations for an engine."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


MIGRATION_LOCK_KEY = 0x7068796769746C  # PostgreSQL advisory lock taken while migrating ("phygitl")
MIGRATION_LOCK_WAIT_S = 300.0


@contextmanager
def _sqlite_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>-migrate.lock`` beside a SQLite file (nothing for in-memory ones):
    SQLite runs DDL outside the migration's transaction, so two processes would both create the tables."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    import fcntl

    lock_path = Path(f"{database}-migrate.lock")
    try:
        fh = open(lock_path, "a+b")  # noqa: SIM115 (closed below, after the lock is released)
    except OSError as exc:
        if Path(database).exists():  # a catalog in a folder this user may only read: nothing to migrate here
            yield
            return
        raise StorageError(f"cannot create the catalog's lock file {str(lock_path)!r}: {exc.strerror or exc}",
                           field="PHYGITAL_ASSETS_CATALOG_URL") from None
    with fh:
        deadline = time.monotonic() + MIGRATION_LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StorageError(f"another process has held {lock_path.name} for {MIGRATION_LOCK_WAIT_S:.0f} s",
                                       field="PHYGITAL_ASSETS_CATALOG_URL") from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (default: the newest), one process at a time: a file lock beside
    a SQLite catalog, a transaction-scoped advisory lock on PostgreSQL; whoever comes second finds the schema
    migrated and does nothing."""
    from alembic import command

    cfg = alembic_config(engine)
    postgres = engine.dialect.name == "postgresql"
    try:
        with _sqlite_lock(engine) if engine.dialect.name == "sqlite" else nullcontext(), engine.begin() as conn:
            if postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
            command.upgrade(cfg, revision)  # type: ignore[arg-type]
    except OperationalError as exc:
        raise StorageError(f"cannot open the catalog database: {str(exc.orig).strip().splitlines()[0]}",
                           field="PHYGITAL_ASSETS_CATALOG_URL") from None
    except SQLAlchemyError as exc:
        raise StorageError(f"catalog migration failed: {type(exc).__name__}",
                           field="PHYGITAL_ASSETS_CATALOG_URL") from None


def head_revision() -> str:
    """The newest revision of the migrations shipped with this code (there is exactly one head)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) != 1:
        raise StorageError(f"the catalog migrations have {len(heads)} heads: {', '.join(sorted(heads))}",
                           field="migrations")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """Return the migration revision the database is at (None when it has none)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
