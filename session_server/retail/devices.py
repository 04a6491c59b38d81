"""Device keys of mirrors, readers and staff tablets: created and revoked by the CLI, stored hashed.

A key reads ``<device id>.<secret>``; only ``sha256(secret)`` is stored, so the database never holds a
usable key. A key is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

from sqlalchemy import func, insert, select, update

from .db import RetailDB, devices
from .errors import RetailError
from .identity import DEVICE_KINDS, Device, check_name

KEY = re.compile(r"^(dev_[0-9a-f]{12})\.([A-Za-z0-9_\-]{20,80})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _row(row: object) -> Device:
    r = row._mapping  # type: ignore[attr-defined]
    return Device(r["id"], r["store"], r["room"], r["kind"], r["label"], r["created"], r["revoked"])


class DeviceRegistry:
    """Create, list, revoke and authenticate device keys."""

    def __init__(self, db: RetailDB) -> None:
        self.db = db

    def add(self, store: str, kind: str, room: str | None = None, label: str | None = None) -> tuple[Device, str]:
        """Register a device; returns it and its key (shown once)."""
        check_name(store, "store")
        if kind not in DEVICE_KINDS:
            raise RetailError("bad_request", f"kind must be one of {', '.join(DEVICE_KINDS)}", field="kind")
        if kind in ("mirror", "reader"):
            if room is None:
                raise RetailError("bad_request", f"a {kind} belongs to a fitting room; give --room", field="room")
            check_name(room, "room")
        elif room is not None:
            raise RetailError("bad_request", "a staff device serves the whole store; leave out --room", field="room")
        if label is not None and len(label) > 200:
            raise RetailError("bad_request", "label is longer than 200 characters", field="label")
        device_id = "dev_" + secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = time.time()
        with self.db.engine.begin() as conn:
            conn.execute(insert(devices).values(id=device_id, store=store, room=room, kind=kind,
                                                key_hash=_hash(secret), label=label, created=now, revoked=None))
        return Device(device_id, store, room, kind, label, now, None), f"{device_id}.{secret}"

    def list(self, store: str | None = None) -> list[Device]:
        """Every device (of one store when given), oldest first."""
        query = select(devices).order_by(devices.c.created, devices.c.id)
        if store is not None:
            query = query.where(devices.c.store == store)
        with self.db.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def revoke(self, device_id: str) -> Device:
        """Revoke a device; its key stops working at once (tokens it got expire on their own)."""
        with self.db.engine.begin() as conn:
            row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
            if row is None:
                raise RetailError("unknown_device", f"no device {device_id!r}", field="id")
            if row._mapping["revoked"] is None:
                conn.execute(update(devices).where(devices.c.id == device_id).values(revoked=time.time()))
            row = conn.execute(select(devices).where(devices.c.id == device_id)).one()
        return _row(row)

    def revocations(self) -> tuple[int, int, float | None]:
        """(devices, revoked devices, latest revocation): changes whenever a key is revoked (one cheap query,
        so that a server may keep checked keys in memory and drop them when this changes)."""
        with self.db.engine.connect() as conn:
            row = conn.execute(select(func.count(), func.count(devices.c.revoked), func.max(devices.c.revoked))
                               .select_from(devices)).one()
        return int(row[0]), int(row[1]), None if row[2] is None else float(row[2])

    def authenticate(self, key: str) -> Device:
        """The device a key belongs to, or RetailError (unknown, malformed or revoked)."""
        match = KEY.match(key or "")
        if match is None:
            raise RetailError("unknown_device", "the device key is malformed", field="authorization")
        device_id, secret = match.groups()
        with self.db.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.id == device_id)).first()
        if row is None or not hmac.compare_digest(row._mapping["key_hash"], _hash(secret)):
            raise RetailError("unknown_device", "the device key is not known", field="authorization")
        device = _row(row)
        if device.revoked is not None:
            raise RetailError("device_revoked", f"device {device.id} was revoked", field="authorization")
        return device
