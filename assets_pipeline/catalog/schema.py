"""Open a catalog database and bring its schema to the newest Alembic revision.

Alembic is configured in code (script location = ``migrations/`` beside this file), so a catalog made
by an older release is upgraded in place when a newer one opens it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
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
    engine = create_engine(parsed, pool_pre_ping=True)
    if parsed.get_backend_name() == "sqlite":

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


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` (default: the newest)."""
    from alembic import command

    cfg = alembic_config(engine)
    try:
        for attempt in range(3):
            try:
                with engine.begin() as conn:
                    cfg.attributes["connection"] = conn  # type: ignore[attr-defined]
                    command.upgrade(cfg, revision)  # type: ignore[arg-type]
                break
            except SQLAlchemyError:
                # another process (a second worker starting at the same time) may have run the same migration
                # first: its committed revision makes the next attempt a no-op
                if attempt == 2:
                    raise
                time.sleep(0.5 * (attempt + 1))
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
