"""Fixtures for the store/catalog/publish/API tests: a moto S3 server over HTTP, PostgreSQL databases.

Imported by ``conftest.py``. moto runs as a real HTTP server (``python -m moto.server``) on loopback, so
boto3 goes through its whole HTTP stack; PostgreSQL is the machine's server at 127.0.0.1:5432.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from assets_pipeline.settings import AssetSettings

from ..conftest import TIME_FACTOR

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
S3_KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing", "s3_region": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    import os

    port = free_port()
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120 * TIME_FACTOR  # a start under heavy load takes tens of seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    proc, url = start_moto()
    yield url
    stop(proc)


def s3_settings(moto_url: str, root: Path, bucket: str | None = None, **extra: object) -> AssetSettings:
    """Settings for an S3 store in a fresh bucket on the moto server (the bucket is created)."""
    from assets_pipeline.store.s3 import S3Store

    settings = AssetSettings(store="s3", s3_bucket=bucket or f"b-{uuid.uuid4().hex[:12]}", s3_prefix="assets/",
                             s3_endpoint_url=moto_url, catalog_path=root / "catalog.sqlite",
                             s3_max_attempts=2, s3_connect_timeout_s=2, **S3_KEYS, **extra)  # type: ignore[arg-type]
    S3Store.from_settings(settings).create_bucket()
    return settings


def local_settings(root: Path, **extra: object) -> AssetSettings:
    return AssetSettings(store="local", store_path=root / "objects", catalog_path=root / "catalog.sqlite",
                         **extra)  # type: ignore[arg-type]


def _pg_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


@pytest.fixture(scope="session")
def pg_available() -> None:
    why = _pg_reachable()
    if why is not None:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {why}")


@pytest.fixture
def pg_database(pg_available: None) -> Iterator[str]:
    """A fresh, uniquely named database for one test, dropped afterwards; yields its SQLAlchemy URL."""
    import psycopg

    name = f"phygital_catalog_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.format(db=name)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    return str(request.getfixturevalue("pg_database"))
