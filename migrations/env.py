"""Alembic environment: the engine comes from edms (see edms/migrate.py), never from an ini file."""
from alembic import context

import edms.models  # noqa: F401  (registers every table)
from edms.db import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
