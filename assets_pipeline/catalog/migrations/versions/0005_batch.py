"""Batch publishing: versions get a content address (``publish_key``, one version per key and product), and
the catalog keeps the state of batches and their jobs (``batches``, ``batch_jobs``).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add versions.publish_key (unique per product) and the batches/batch_jobs tables."""
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("publish_key", sa.String(64), nullable=True))
        batch.create_unique_constraint("uq_versions_product_publish_key", ["product_id", "publish_key"])
    op.create_table(
        "batches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("manifest", sa.String(500), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("batch_id", sa.String(40), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("publish_key", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("pending_keys", sa.JSON, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("batch_id", "line", name="uq_batch_jobs_batch_line"),
    )


def downgrade() -> None:
    """Drop the batch tables and versions.publish_key."""
    op.drop_table("batch_jobs")
    op.drop_table("batches")
    with op.batch_alter_table("versions") as batch:
        batch.drop_constraint("uq_versions_product_publish_key", type_="unique")
        batch.drop_column("publish_key")
