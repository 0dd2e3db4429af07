"""Test infrastructure: a real PostgreSQL server, migrated template databases, a live server."""
