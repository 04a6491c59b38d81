"""Retail tables: devices, pairing codes, staff requests, shoppers and their wishlists, anonymous events.

Revision ID: r0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "r0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the retail_* tables."""
    op.create_table(
        "retail_devices",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64)),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("revoked", sa.Float),
    )
    op.create_table(
        "retail_pairings",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
        sa.Column("used", sa.Float),
    )
    op.create_table(
        "retail_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("item", sa.String(64)),
        sa.Column("sku", sa.String(64)),
        sa.Column("size", sa.String(32)),
        sa.Column("colour", sa.String(64)),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("by_staff", sa.String(64)),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("retail_requests_store_state", "retail_requests", ["store", "state"])
    op.create_table(
        "retail_shoppers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("touched", sa.Float, nullable=False),
    )
    op.create_table(
        "retail_wishlist",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("shopper", sa.String(40), sa.ForeignKey("retail_shoppers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("size", sa.String(32)),
        sa.Column("colour", sa.String(64)),
        sa.Column("look", sa.JSON),
        sa.Column("saved", sa.Float, nullable=False),
    )
    op.create_index("ix_retail_wishlist_shopper", "retail_wishlist", ["shopper"])
    op.create_table(
        "retail_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("store", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("sku", sa.String(64)),
        sa.Column("value", sa.Float),
    )
    op.create_index("retail_events_store_day", "retail_events", ["store", "day"])


def downgrade() -> None:
    """Drop the retail_* tables."""
    for table in ("retail_events", "retail_wishlist", "retail_shoppers", "retail_requests", "retail_pairings",
                  "retail_devices"):
        op.drop_table(table)
