"""Alembic migrations for every backend (SQLite in batch mode, PostgreSQL)."""
