"""Retail layer of the fitting rooms: stores, fitting_rooms, stock, tags, cotried; products.attributes.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the retail tables and products.attributes."""
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("attributes", sa.JSON, nullable=True))
    op.create_table(
        "stores",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "fitting_rooms",
        sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("room", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(100)),
    )
    op.create_table(
        "stock",
        sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sku", sa.String(64), sa.ForeignKey("products.sku", ondelete="CASCADE"), primary_key=True),
        sa.Column("size", sa.String(16), primary_key=True),
        sa.Column("colour", sa.String(32), primary_key=True),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("price_cents", sa.Integer),
        sa.Column("currency", sa.String(3)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stock_sku", "stock", ["sku"])
    op.create_table(
        "tags",
        sa.Column("code", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("sku", sa.String(64), sa.ForeignKey("products.sku", ondelete="CASCADE"), nullable=False),
        sa.Column("size", sa.String(16), nullable=False),
        sa.Column("colour", sa.String(32), nullable=False),
        sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE")),
    )
    op.create_index("ix_tags_sku", "tags", ["sku"])
    op.create_table(
        "cotried",
        sa.Column("store_id", sa.String(32), sa.ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("sku_a", sa.String(64), primary_key=True),
        sa.Column("sku_b", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the retail tables and products.attributes."""
    for table in ("cotried", "tags", "stock", "fitting_rooms", "stores"):
        op.drop_table(table)
    with op.batch_alter_table("products") as batch:
        batch.drop_column("attributes")
