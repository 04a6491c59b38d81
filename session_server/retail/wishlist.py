"""Wishlists kept only with the shopper's consent, given on the phone.

Consent creates a shopper record known by a random id and a key the phone keeps (stored hashed); it is
the only way back to the list. Without consent nothing is stored. ``forget`` deletes everything about
the shopper in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from .db import RetailDB, shoppers, wishlist
from .errors import RetailError

KEY = re.compile(r"^(sh_[0-9a-f]{16})\.([A-Za-z0-9_\-]{20,80})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Wishlists:
    """Shoppers who agreed, and what they saved."""

    def __init__(self, db: RetailDB, max_entries: int) -> None:
        self.db = db
        self.max_entries = max_entries

    def consent(self, now: float | None = None) -> tuple[str, str]:
        """Record consent: a new shopper; returns (shopper id, key shown to the phone once)."""
        now = time.time() if now is None else now
        shopper, secret = "sh_" + secrets.token_hex(8), secrets.token_urlsafe(32)
        with self.db.engine.begin() as conn:
            conn.execute(insert(shoppers).values(id=shopper, key_hash=_hash(secret), created=now, touched=now))
        return shopper, f"{shopper}.{secret}"

    def authenticate(self, key: str) -> str:
        """The shopper id of a key; RetailError ``unknown_shopper``."""
        match = KEY.match(key or "")
        if match is None:
            raise RetailError("unknown_shopper", "the wishlist key is malformed", field="authorization")
        shopper, secret = match.groups()
        with self.db.engine.connect() as conn:
            row = conn.execute(select(shoppers.c.key_hash).where(shoppers.c.id == shopper)).first()
        if row is None or not hmac.compare_digest(row[0], _hash(secret)):
            raise RetailError("unknown_shopper", "the wishlist key is not known (deleted or expired)",
                              field="authorization")
        return shopper

    def add(self, shopper: str, sku: str, size: str | None, colour: str | None, look: list[str] | None,
            now: float | None = None) -> dict[str, Any]:
        """Save an item or a look."""
        now = time.time() if now is None else now
        with self.db.engine.begin() as conn:
            n = conn.execute(select(func.count()).select_from(wishlist).where(wishlist.c.shopper == shopper)).scalar()
            if int(n or 0) >= self.max_entries:
                raise RetailError("too_many", f"the wishlist holds {self.max_entries} entries at most", field="sku")
            new_id = conn.execute(insert(wishlist).values(shopper=shopper, sku=sku, size=size, colour=colour,
                                                          look=look, saved=now)).inserted_primary_key[0]
            conn.execute(update(shoppers).where(shoppers.c.id == shopper).values(touched=now))
        return {"id": int(new_id), "sku": sku, "size": size, "colour": colour, "look": look, "saved": now}

    def show(self, shopper: str) -> dict[str, Any]:
        """Everything kept about the shopper."""
        with self.db.engine.connect() as conn:
            who = conn.execute(select(shoppers.c.created, shoppers.c.touched).where(shoppers.c.id == shopper)).one()
            rows = conn.execute(select(wishlist).where(wishlist.c.shopper == shopper).order_by(wishlist.c.id)).all()
        entries = [{k: r._mapping[k] for k in ("id", "sku", "size", "colour", "look", "saved")} for r in rows]
        return {"shopper": shopper, "consented": who[0], "last_used": who[1], "entries": entries}

    def remove(self, shopper: str, entry: int) -> None:
        """Delete one entry; RetailError when it is not the shopper's."""
        with self.db.engine.begin() as conn:
            done = conn.execute(delete(wishlist).where(wishlist.c.shopper == shopper, wishlist.c.id == entry))
        if done.rowcount != 1:
            raise RetailError("bad_request", f"no wishlist entry {entry}", field="entry")
        self.db.purge_log()

    def forget(self, shopper: str) -> dict[str, int]:
        """Delete everything about the shopper (entries, consent, key) in one transaction."""
        with self.db.engine.begin() as conn:
            entries = conn.execute(delete(wishlist).where(wishlist.c.shopper == shopper)).rowcount or 0
            who = conn.execute(delete(shoppers).where(shoppers.c.id == shopper)).rowcount or 0
        self.db.purge_log()  # and not in the write-ahead log either
        return {"entries": entries, "shopper": who}
