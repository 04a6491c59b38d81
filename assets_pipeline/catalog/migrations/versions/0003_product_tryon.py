"""Products get their try-on attributes (``python -m assets_pipeline tryon``): a nullable JSON object.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the JSON ``tryon`` column (try-on attributes) to products."""
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("tryon", sa.JSON, nullable=True))


def downgrade() -> None:
    """Drop the ``tryon`` column of products."""
    with op.batch_alter_table("products") as batch:
        batch.drop_column("tryon")
