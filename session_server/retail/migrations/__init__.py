"""Alembic migrations of the retail tables (own version table ``retail_alembic_version``)."""
