"""Alembic environment of the retail tables, configured in code by ``retail.db`` (no alembic.ini).

The caller passes an open connection in ``config.attributes["connection"]``; the version is kept in
``retail_alembic_version`` so the tables can share the catalog's database and its ``alembic_version``.
"""

from __future__ import annotations

from alembic import context

from session_server.retail.db import VERSION_TABLE, metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                  version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
