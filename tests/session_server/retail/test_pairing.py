"""Pairing codes: one-time, short-lived, single use, stored hashed, redacted from access logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from session_server.retail.db import RetailDB, pairings
from session_server.retail.devices import DeviceRegistry
from session_server.retail.errors import RetailError
from session_server.retail.pairing import PairingCodes
from session_server.retail.service import RedactPairingCodes
from tests.session_server.conftest import RunningServer


def test_code_is_single_use_and_short_lived(db: RetailDB) -> None:
    codes = PairingCodes(db, ttl_s=60)
    code, expires = codes.issue("paris-01", "3", now=1000.0)
    assert expires == 1060.0 and len(code) == 8
    with db.engine.connect() as conn:
        assert code not in str(conn.execute(select(pairings)).all())  # stored as a hash only
    found = codes.redeem(code.lower(), now=1001.0)  # people type lower case
    assert (found.store, found.room) == ("paris-01", "3")
    with pytest.raises(RetailError) as used:
        codes.redeem(code, now=1002.0)
    assert used.value.code == "pairing_used"
    late, _ = codes.issue("paris-01", "3", now=2000.0)
    with pytest.raises(RetailError) as expired:
        codes.redeem(late, now=2061.0)
    assert expired.value.code == "pairing_expired"
    with pytest.raises(RetailError) as unknown:
        codes.redeem("ABCDEFGH", now=2001.0)
    assert unknown.value.code == "unknown_pairing"


def test_new_code_replaces_the_unused_one(db: RetailDB) -> None:
    codes = PairingCodes(db, ttl_s=60)
    first, _ = codes.issue("paris-01", "3", now=1000.0)
    other_room, _ = codes.issue("paris-01", "4", now=1000.0)
    codes.issue("paris-01", "3", now=1010.0)
    with pytest.raises(RetailError) as gone:
        codes.redeem(first, now=1011.0)
    assert gone.value.code == "unknown_pairing"
    assert codes.redeem(other_room, now=1011.0).room == "4"


def test_release_makes_a_refused_pairing_change_nothing(db: RetailDB) -> None:
    codes = PairingCodes(db, ttl_s=60)
    code, _ = codes.issue("paris-01", "3", now=1000.0)
    codes.redeem(code, now=1001.0)
    codes.release(code)
    assert codes.redeem(code, now=1002.0).room == "3"


def test_mirror_gets_a_code_and_only_its_own_room(retail_server: Callable[..., RunningServer],
                                                  devices: DeviceRegistry) -> None:
    srv = retail_server()
    _, key = devices.add("paris-01", "mirror", "3")
    _, staff = devices.add("paris-01", "staff")
    auth = {"Authorization": f"Device {key}"}
    r = httpx.post(f"{srv.http}/api/rooms/paris-01/3/pairing", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["url"].endswith(f"/fit/phone#code={body['code']}") and body["expires"] > 0
    token = httpx.post(f"{srv.http}/api/devices/token", headers=auth).json()["token"]
    assert httpx.post(f"{srv.http}/api/rooms/paris-01/3/pairing",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    refusals = [
        ("/api/rooms/paris-01/4/pairing", auth, 403, "wrong_room"),
        ("/api/rooms/lyon-02/3/pairing", auth, 403, "wrong_store"),
        ("/api/rooms/paris-01/3/pairing", {"Authorization": f"Bearer {token}x"}, 401, "bad_token"),
        ("/api/rooms/paris-01/3/pairing", {"Authorization": f"Device {staff}"}, 403, "forbidden"),
        ("/api/rooms/paris-01/3%203/pairing", auth, 400, "bad_request"),
    ]
    for path, headers, status, code in refusals:
        r = httpx.post(srv.http + path, headers=headers)
        assert (r.status_code, r.json()["error"]) == (status, code), (path, r.text)


def test_bad_codes_are_refused_clearly(retail_server: Callable[..., RunningServer]) -> None:
    srv = retail_server()
    for body, status, code in [({"code": "ABCDEFGH"}, 404, "unknown_pairing"), ({"code": "x"}, 404, "unknown_pairing"),
                               ({}, 400, "bad_request"), ({"code": 5}, 400, "bad_request")]:
        r = httpx.post(f"{srv.http}/api/pairing", json=body)
        assert (r.status_code, r.json()["error"]) == (status, code), r.text
    r = httpx.post(f"{srv.http}/api/pairing", content=b"\xff not json")
    assert (r.status_code, r.json()["field"]) == (400, "body")


def test_access_log_never_shows_a_pairing_code() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "POST", "/api/pairing/ABCDEFGH?x=1", "1.1", 404), None)
    assert RedactPairingCodes().filter(record)
    assert "ABCDEFGH" not in record.getMessage() and "/api/pairing/***" in record.getMessage()
