"""Initial catalog: products, versions, assets, variants.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the products, versions, assets and variants tables."""
    op.create_table(
        "products",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.Enum("shoes", "apparel", "makeup", "furniture", "accessory", native_enum=False,
                                      length=16, name="category"), nullable=False),
        sa.Column("width_m", sa.Float),
        sa.Column("height_m", sa.Float),
        sa.Column("depth_m", sa.Float),
        sa.Column("current_version", sa.Integer),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_products_sku", "products", ["sku"], unique=True)
    op.create_table(
        "versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("product_id", sa.Integer, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_name", sa.String(255), nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("width_m", sa.Float, nullable=False),
        sa.Column("height_m", sa.Float, nullable=False),
        sa.Column("depth_m", sa.Float, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
        sa.UniqueConstraint("product_id", "number", name="uq_versions_product_number"),
    )
    op.create_index("ix_versions_product_id", "versions", ["product_id"])
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("format", sa.Enum("glb", "usdz", "png", native_enum=False, length=8, name="asset_format"),
                  nullable=False),
        sa.Column("lod", sa.Integer, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("triangles", sa.Integer),
    )
    op.create_index("ix_assets_version_id", "assets", ["version_id"])
    op.create_index("ix_assets_sha256", "assets", ["sha256"])
    op.create_table(
        "variants",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version_id", sa.Integer, sa.ForeignKey("versions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.String(200)),
        sa.Column("khr_index", sa.Integer),
    )
    op.create_index("ix_variants_version_id", "variants", ["version_id"])


def downgrade() -> None:
    """Drop the four tables."""
    for table in ("variants", "assets", "versions", "products"):
        op.drop_table(table)
