"""Analytics without personal data: counts per store, day, kind and SKU; visit lengths as numbers.

Nothing here names a shopper, a phone, a device or a visit; a day is the finest time unit kept.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import func, insert, select

from .db import RetailDB, events

EventKind = Literal["item_tried", "request_made", "look_saved", "tryon", "visit"]
EVENT_KINDS: tuple[str, ...] = get_args(EventKind)


def day_of(t: float) -> str:
    """UTC day of a timestamp, ``YYYY-MM-DD``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d")


class Analytics:
    """Record and summarise anonymous events."""

    def __init__(self, db: RetailDB) -> None:
        self.db = db

    def record(self, store: str, kind: str, sku: str | None = None, value: float | None = None,
               now: float | None = None) -> None:
        """One event (no identifiers of people or devices)."""
        if kind not in EVENT_KINDS:
            raise ValueError(f"unknown analytics event {kind!r}")
        now = time.time() if now is None else now
        with self.db.engine.begin() as conn:
            conn.execute(insert(events).values(store=store, day=day_of(now), kind=kind, sku=sku, value=value))

    def record_many(self, rows: list[tuple[str, str, str | None, float | None, float]]) -> None:
        """Several events ``(store, kind, sku, value, time)`` in one transaction."""
        if not rows:
            return
        for _, kind, *_ in rows:
            if kind not in EVENT_KINDS:
                raise ValueError(f"unknown analytics event {kind!r}")
        with self.db.engine.begin() as conn:
            conn.execute(insert(events), [{"store": store, "day": day_of(t), "kind": kind, "sku": sku, "value": value}
                                          for store, kind, sku, value, t in rows])

    def summary(self, store: str, days: int = 7, now: float | None = None) -> dict[str, Any]:
        """Counts per kind, the most tried SKUs, visits and their mean length over the last ``days``."""
        now = time.time() if now is None else now
        since = (datetime.fromtimestamp(now, UTC) - timedelta(days=days - 1)).strftime("%Y-%m-%d")
        where = (events.c.store == store) & (events.c.day >= since)
        with self.db.engine.connect() as conn:
            counts = dict(conn.execute(select(events.c.kind, func.count()).where(where).group_by(events.c.kind)).all())
            tried = conn.execute(select(events.c.sku, func.count().label("n"))
                                 .where(where & (events.c.kind == "item_tried") & events.c.sku.is_not(None))
                                 .group_by(events.c.sku).order_by(func.count().desc(), events.c.sku).limit(10)).all()
            visits = conn.execute(select(func.count(), func.avg(events.c.value))
                                  .where(where & (events.c.kind == "visit"))).one()
        return {"store": store, "since": since, "days": days,
                "counts": {k: int(counts.get(k, 0)) for k in EVENT_KINDS},
                "most_tried": [{"sku": s, "count": int(n)} for s, n in tried],
                "visits": int(visits[0]), "mean_visit_s": None if visits[1] is None else round(float(visits[1]), 1)}
