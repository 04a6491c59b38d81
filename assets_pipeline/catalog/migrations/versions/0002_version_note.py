"""Versions get a free-text note from the artist (``upload --note``).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the ``note`` column to versions."""
    with op.batch_alter_table("versions") as batch:
        batch.add_column(sa.Column("note", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop the ``note`` column of versions."""
    with op.batch_alter_table("versions") as batch:
        batch.drop_column("note")
