"""Device keys: CLI add/list/revoke (stored hashed), exchange for room tokens, every refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from session_server.protocol import auth
from session_server.retail.db import RetailDB
from session_server.retail.db import devices as devices_table
from session_server.retail.devices import DeviceRegistry
from session_server.retail.errors import RetailError
from tests.session_server.conftest import SECRET, RunningServer

from .conftest import Shop

ROOT = Path(__file__).resolve().parents[3]


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHYGITAL_SESSION_RETAIL__DATABASE_URL": db_url}
    return subprocess.run([sys.executable, "-m", "session_server", *args], env=env, capture_output=True,
                          text=True, timeout=60)


def test_cli_add_list_revoke_and_key_is_stored_hashed(shop: Shop) -> None:
    db_url = shop.db_url
    out = cli(db_url, "devices", "add", "--store", "paris-01", "--kind", "mirror", "--room", "3", "--label", "m3")
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip()
    device_id = key.split(".")[0]
    assert "shown once" in out.stderr
    listed = cli(db_url, "devices", "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 6  # the shop's five and this one
    assert [(r["kind"], r["room"], r["revoked"], r["label"]) for r in rows if r["id"] == device_id] == [
        ("mirror", "3", None, "m3")]
    assert key.split(".")[1] not in listed.stdout
    plain = cli(db_url, "devices", "list").stdout.splitlines()
    assert len(plain) == 6 and any(line.startswith(f"{device_id}  mirror  paris-01  3 ") for line in plain), plain
    assert cli(db_url, "devices", "list", "--store", "nowhere").stdout == ""
    db = RetailDB.open(db_url)
    try:
        with db.engine.connect() as conn:
            stored = conn.execute(select(devices_table).where(devices_table.c.id == device_id)).one()._mapping
        assert key.split(".")[1] not in json.dumps(dict(stored))  # only the hash is kept
        assert DeviceRegistry(db).authenticate(key).id == device_id
        assert cli(db_url, "devices", "revoke", device_id).returncode == 0
        with pytest.raises(RetailError) as err:
            DeviceRegistry(db).authenticate(key)
        assert err.value.code == "device_revoked"
    finally:
        db.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--store", "paris-01", "--kind", "mirror"), "room: a mirror belongs to a fitting room"),
        (("--store", "paris-01", "--kind", "toaster"), "kind: kind must be one of mirror, reader, staff"),
        (("--store", "paris 01", "--kind", "staff"), "store: 'paris 01' must be"),
        (("--store", "paris-01", "--kind", "staff", "--room", "3"), "room: a staff device serves the whole store"),
        (("--store", "nowhere", "--kind", "staff"), "store: no store 'nowhere'"),
        (("--store", "paris-01", "--kind", "reader", "--room", "99"), "room: store 'paris-01' has no fitting room"),
    ],
)
def test_cli_bad_input_is_one_line_and_changes_nothing(shop: Shop, args: tuple[str, ...], message: str) -> None:
    db_url = shop.db_url
    out = cli(db_url, "devices", "add", *args)
    assert out.returncode == 2
    assert out.stderr.startswith(f"error: {message}") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr
    db = RetailDB.open(db_url)
    try:  # nothing was added: the shop's own devices only (the CLI's list is checked above)
        assert len(DeviceRegistry(db).list()) == 5 and DeviceRegistry(db).list("nowhere") == []
    finally:
        db.close()


def test_cli_revoke_unknown_device(db_url: str) -> None:
    out = cli(db_url, "devices", "revoke", "dev_000000000000")
    assert out.returncode == 2 and out.stderr == "error: id: no device 'dev_000000000000'\n"


def test_device_key_exchanged_for_room_tokens(retail_server: Callable[..., RunningServer],
                                              devices: DeviceRegistry) -> None:
    srv = retail_server()
    _, mirror_key = devices.add("paris-01", "mirror", "3")
    _, staff_key = devices.add("paris-01", "staff")
    r = httpx.post(f"{srv.http}/api/devices/token", headers={"Authorization": f"Device {mirror_key}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["room"] == "fit.paris-01.3" and body["role"] == "mirror" and body["ws"] == "/ws"
    claims = auth.verify(body["token"], SECRET.encode(), time.time(), room="fit.paris-01.3")
    assert claims.role == "mirror" and claims.participant == body["participant"]
    assert claims.exp <= time.time() + srv.settings.retail.device_token_ttl_s + 1
    s = httpx.post(f"{srv.http}/api/devices/token", headers={"Authorization": f"Device {staff_key}"}).json()
    assert s["room"] == "staff.paris-01" and s["role"] == "staff"


def test_device_token_refusals(retail_server: Callable[..., RunningServer], devices: DeviceRegistry) -> None:
    srv = retail_server()
    reader, reader_key = devices.add("paris-01", "reader", "3")
    revoked, revoked_key = devices.add("paris-01", "mirror", "4")
    devices.revoke(revoked.id)
    cases = [
        ({}, 401, "auth_required"),
        ({"Authorization": "Device nonsense"}, 401, "unknown_device"),
        ({"Authorization": f"Device {reader.id}.{'x' * 43}"}, 401, "unknown_device"),
        ({"Authorization": f"Device {revoked_key}"}, 401, "device_revoked"),
        ({"Authorization": f"Device {reader_key}"}, 403, "forbidden"),
        ({"Authorization": f"Bearer {reader_key}"}, 401, "auth_required"),
    ]
    for headers, status, code in cases:
        r = httpx.post(f"{srv.http}/api/devices/token", headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, code), (headers, r.text)
        assert r.json()["message"] and r.json()["field"] == "authorization"


def test_retention_command_reports_and_deletes(db_url: str) -> None:
    import json as _json

    from session_server.retail.db import RetailDB
    from session_server.retail.requests import RequestBook

    db = RetailDB.open(db_url)
    RequestBook(db).create("paris-01", "3", "assistant", None, None, None, None, now=1000.0)  # 1970: too old
    db.close()
    dry = cli(db_url, "retention", "--dry-run")
    assert dry.returncode == 0 and _json.loads(dry.stdout)["requests"] == 1
    done = cli(db_url, "retention")
    assert done.returncode == 0 and _json.loads(done.stdout)["requests"] == 1
    assert _json.loads(cli(db_url, "retention").stdout)["requests"] == 0
