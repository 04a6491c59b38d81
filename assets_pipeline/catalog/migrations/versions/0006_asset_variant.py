"""Assets record the variant a file shows alone (``assets.variant``: a KHR_materials_variants index; one USDZ per
variant for AR Quick Look, which shows no USD variant sets). NULL: the file of every variant.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the nullable ``variant`` column to assets."""
    with op.batch_alter_table("assets") as batch:
        batch.add_column(sa.Column("variant", sa.Integer, nullable=True))


def downgrade() -> None:
    """Drop the ``variant`` column of assets."""
    with op.batch_alter_table("assets") as batch:
        batch.drop_column("variant")
