"""Retention: delete what the settings no longer allow to keep.  Run daily by a scheduler
(``python -m session_server retention``); every deletion runs in one transaction."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import and_, delete, func, or_, select

from .db import RetailDB, events, pairings, requests, shoppers, wishlist
from .settings import RetailSettings

DAY_S = 86400.0


def run_retention(
    db: RetailDB, settings: RetailSettings, now: float | None = None, dry_run: bool = False
) -> dict[str, int]:
    """Delete requests and analytics older than ``retention_days``, expired or used pairing codes and
    wishlists untouched for ``wishlist_retention_days``; returns the counts (what would go, when dry)."""
    now = time.time() if now is None else now
    cutoff = now - settings.retention_days * DAY_S
    cutoff_day = datetime.fromtimestamp(cutoff, UTC).strftime("%Y-%m-%d")
    wish_cutoff = now - settings.wishlist_retention_days * DAY_S
    old_shoppers = select(shoppers.c.id).where(shoppers.c.touched < wish_cutoff)
    targets = {
        "requests": (requests, requests.c.updated < cutoff),
        "analytics_events": (events, events.c.day < cutoff_day),
        "pairing_codes": (pairings, or_(pairings.c.expires < now, and_(pairings.c.used.is_not(None),
                                                                        pairings.c.used < now))),
        "wishlist_entries": (wishlist, wishlist.c.shopper.in_(old_shoppers)),
        "shoppers": (shoppers, shoppers.c.touched < wish_cutoff),
    }
    report: dict[str, int] = {}
    with db.engine.begin() as conn:
        for name, (table, where) in targets.items():
            if dry_run:
                report[name] = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())
            else:
                report[name] = conn.execute(delete(table).where(where)).rowcount or 0
    if not dry_run:
        db.purge_log()
    return report
