"""Requests, wishlists, analytics and retention in the database (no server needed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from session_server.retail.analytics import Analytics
from session_server.retail.db import RetailDB, events, pairings, requests, shoppers, wishlist
from session_server.retail.errors import RetailError
from session_server.retail.pairing import PairingCodes
from session_server.retail.requests import RequestBook
from session_server.retail.retention import run_retention
from session_server.retail.settings import RetailSettings
from session_server.retail.wishlist import Wishlists
from tests.assets_pipeline.catalog_fixtures import pg_available, pg_database  # noqa: F401 (fixtures)

DAY = 86400.0


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RetailDB]:
    """The retail tables on SQLite and on PostgreSQL."""
    url = (f"sqlite:///{tmp_path / 'retail.sqlite'}" if request.param == "sqlite"
           else str(request.getfixturevalue("pg_database")))
    d = RetailDB.open(url)
    yield d
    d.close()


def test_request_lifecycle_and_refusals(db: RetailDB) -> None:
    book = RequestBook(db)
    req = book.create("paris-01", "3", "size", "i-1", "TSH-100", "S", "white", now=100.0)
    assert book.get(req.id).state == "open"
    assert book.act(req.id, "accept", "paris-01", "staff-a", now=101.0).state == "accepted"
    with pytest.raises(RetailError) as other_store:
        book.act(req.id, "deliver", "lyon-02", "staff-b")
    assert other_store.value.code == "wrong_store"
    done = book.act(req.id, "deliver", "paris-01", "staff-a", now=102.0)
    assert (done.state, done.by_staff) == ("delivered", "staff-a")
    for action in ("deliver", "accept", "unavailable"):
        with pytest.raises(RetailError) as err:
            book.act(req.id, action, "paris-01", "staff-b")
        assert err.value.code == "conflict" and "already delivered" in err.value.message
    assert book.get(req.id).by_staff == "staff-a"  # nothing changed
    with pytest.raises(RetailError) as unknown:
        book.act("rq-000000000000", "accept", "paris-01", "x")
    assert unknown.value.code == "unknown_request"
    with pytest.raises(RetailError) as bad:
        book.act(req.id, "explode", "paris-01", "x")
    assert bad.value.code == "bad_request"


def test_cancel_open_requests_of_a_room(db: RetailDB) -> None:
    book = RequestBook(db)
    a = book.create("s", "3", "assistant", None, None, None, None)
    b = book.create("s", "3", "assistant", None, None, None, None)
    c = book.create("s", "4", "assistant", None, None, None, None)
    book.act(b.id, "deliver", "s", "staff")
    assert book.cancel_open("s", "3") == 1
    assert [book.get(x.id).state for x in (a, b, c)] == ["cancelled", "delivered", "open"]
    assert [r.id for r in book.list("s", states=("open", "accepted"))] == [c.id]


def test_wishlist_is_kept_only_with_consent_and_forgotten_in_one_call(db: RetailDB) -> None:
    lists = Wishlists(db, max_entries=2)
    shopper, key = lists.consent(now=1.0)
    assert lists.authenticate(key) == shopper
    with db.engine.connect() as conn:
        assert key.split(".")[1] not in str(conn.execute(select(shoppers)).all())
    lists.add(shopper, "JEA-300", "32", "denim", None)
    lists.add(shopper, "SNK-500", None, None, ["JEA-300", "SNK-500"])
    with pytest.raises(RetailError) as full:
        lists.add(shopper, "X", None, None, None)
    assert full.value.code == "too_many"
    shown = lists.show(shopper)
    assert [e["sku"] for e in shown["entries"]] == ["JEA-300", "SNK-500"]
    assert lists.forget(shopper) == {"entries": 2, "shopper": 1}
    with db.engine.connect() as conn:
        assert conn.execute(select(wishlist)).all() == [] and conn.execute(select(shoppers)).all() == []
    with pytest.raises(RetailError) as gone:
        lists.authenticate(key)
    assert gone.value.code == "unknown_shopper"


def test_analytics_hold_no_identifiers(db: RetailDB) -> None:
    a = Analytics(db)
    a.record("paris-01", "item_tried", "JEA-300", now=10 * DAY)
    a.record("paris-01", "item_tried", "JEA-300", now=10 * DAY + 5)
    a.record("paris-01", "item_tried", "SNK-500", now=10 * DAY + 6)
    a.record("paris-01", "visit", None, 300.0, now=10 * DAY + 7)
    a.record("lyon-02", "visit", None, 100.0, now=10 * DAY + 7)
    summary = a.summary("paris-01", days=7, now=10 * DAY + 10)
    assert summary["counts"]["item_tried"] == 3 and summary["visits"] == 1 and summary["mean_visit_s"] == 300.0
    assert summary["most_tried"] == [{"sku": "JEA-300", "count": 2}, {"sku": "SNK-500", "count": 1}]
    assert [c.name for c in events.columns] == ["id", "store", "day", "kind", "sku", "value"]
    with pytest.raises(ValueError):
        a.record("paris-01", "shopper_face", None)


def test_retention_deletes_what_is_too_old(db: RetailDB) -> None:
    settings = RetailSettings(retention_days=30, wishlist_retention_days=365)
    now = 1000 * DAY
    book, lists, a = RequestBook(db), Wishlists(db, 10), Analytics(db)
    old = book.create("s", "3", "assistant", None, None, None, None, now=now - 40 * DAY)
    new = book.create("s", "3", "assistant", None, None, None, None, now=now - 1 * DAY)
    a.record("s", "item_tried", "A", now=now - 40 * DAY)
    a.record("s", "item_tried", "A", now=now - 2 * DAY)
    stale, _ = lists.consent(now=now - 400 * DAY)
    lists.add(stale, "A", None, None, None, now=now - 400 * DAY)
    fresh, _ = lists.consent(now=now - 10 * DAY)
    PairingCodes(db, 60).issue("s", "3", now=now - 100)
    dry = run_retention(db, settings, now=now, dry_run=True)
    assert dry == {"requests": 1, "analytics_events": 1, "pairing_codes": 1, "wishlist_entries": 1, "shoppers": 1}
    with db.engine.connect() as conn:
        assert len(conn.execute(select(requests)).all()) == 2  # a dry run deletes nothing
    assert run_retention(db, settings, now=now) == dry
    with db.engine.connect() as conn:
        assert [r.id for r in conn.execute(select(requests))] == [new.id]
        assert [r.id for r in conn.execute(select(shoppers))] == [fresh]
        assert conn.execute(select(pairings)).all() == [] and len(conn.execute(select(events)).all()) == 1
    assert old.id != new.id
    assert run_retention(db, settings, now=now) == dict.fromkeys(dry, 0)


def test_migrations_build_exactly_the_tables_the_code_uses(db: RetailDB) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from session_server.retail.db import metadata, upgrade

    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": "retail_alembic_version"})
        assert ctx.get_current_revision() == "r0001"
        assert compare_metadata(ctx, metadata) == []
    upgrade(db.engine)  # idempotent


def test_a_database_made_before_the_migrations_is_adopted(tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    from session_server.retail.db import metadata

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    metadata.create_all(engine)  # how the first release made the tables
    engine.dispose()
    db = RetailDB.open(url)
    try:
        RequestBook(db).create("s", "3", "assistant", None, None, None, None)
        assert len(RequestBook(db).list("s")) == 1
    finally:
        db.close()
