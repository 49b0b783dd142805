"""Alembic migrations of the evidence database: every schema change after the baseline is one revision here."""
