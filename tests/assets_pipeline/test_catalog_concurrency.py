"""Concurrent first use of a fresh catalog: four processes that open a new catalog at the same moment all
succeed (SQLite failed with "table products already exists", PostgreSQL with an IntegrityError) and the
schema ends at the newest revision once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_pipeline.catalog.repository import Catalog
from assets_pipeline.catalog.schema import current_revision, head_revision, make_engine

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"

# Each process imports everything, says it is ready, then waits for the go file to open the catalog.
OPEN_ON_GO = """
import os, sys, time
from assets_pipeline.catalog.repository import Catalog
folder = sys.argv[2]
open(os.path.join(folder, f"ready-{os.getpid()}"), "w").close()
while not os.path.exists(os.path.join(folder, "go")):
    time.sleep(0.0005)
Catalog.open(sys.argv[1]).close()
print("opened")
"""


def open_together(url: str, folder: Path, n: int = 4) -> list[subprocess.CompletedProcess[str]]:
    """Start ``n`` processes that open ``url`` at the same instant (once all of them have imported the code)."""
    folder.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_ON_GO, url, str(folder)], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(n)]
    deadline = time.monotonic() + 300
    while len(list(folder.glob("ready-*"))) < n and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.01)
    (folder / "go").touch()
    done = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(p.args, p.returncode, out, err))
    return done


def assert_all_opened(results: list[subprocess.CompletedProcess[str]], url: str) -> None:
    failures = [r.stderr.strip().splitlines()[-1:] for r in results if r.returncode != 0]
    assert not failures, failures
    assert all(r.stdout.strip() == "opened" for r in results)
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()
    Catalog.open(url).close()  # and it opens again


def test_sqlite_fresh_catalog_opened_by_four_processes(tmp_path: Path) -> None:
    for round_ in range(3):
        url = f"sqlite:///{tmp_path / f'round{round_}' / 'catalog.sqlite'}"
        assert_all_opened(open_together(url, tmp_path / f"sync{round_}"), url)


def test_cli_commands_started_together_on_a_fresh_catalog(tmp_path: Path) -> None:
    """The issue's reproduction: four ``list`` commands on a new SQLite catalog."""
    env = {**os.environ, "PHYGITAL_ASSETS_CATALOG_PATH": str(tmp_path / "new" / "catalog.sqlite"),
           "PHYGITAL_ASSETS_STORE_PATH": str(tmp_path / "objects")}
    procs = [subprocess.Popen([sys.executable, "-m", "assets_pipeline", "list"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert all(code == 0 for code, _ in results), results


@pytest.fixture
def pg_schema(pg_available: None) -> Iterator[str]:
    """A fresh schema in the ``test`` database (dropped afterwards); yields a URL whose search_path is it."""
    import psycopg

    name = f"catalog_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_postgresql_fresh_catalog_opened_by_four_processes(pg_schema: str, tmp_path: Path) -> None:
    for round_ in range(2):
        if round_:
            import psycopg

            schema = pg_schema.rsplit("%3D", 1)[1]
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute(f'CREATE SCHEMA "{schema}"')
        assert_all_opened(open_together(pg_schema, tmp_path / f"sync{round_}"), pg_schema)


def test_postgresql_fresh_database_opened_by_four_processes(pg_database: str, tmp_path: Path) -> None:
    assert_all_opened(open_together(pg_database, tmp_path), pg_database)
