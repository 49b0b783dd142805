"""One file per revision; `0001` is the schema of cchc-watch 0.1 (the last one made without Alembic)."""
