"""Alembic environment: migrations run on the connection handed over by `shared.db.migrate`."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `earlywarning migrate` (shared.db.migrate), which passes a connection"
    )

context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
