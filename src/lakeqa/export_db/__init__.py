"""`lakeqa export-db`: the marts of a window copied into Postgres or SQLite, then verified row by row count.

- source.py: what is exported: the marts' columns in the published DuckDB file, and the grain each mart's
  yml declares (its primary key in the target).
- postgres.py, sqlite.py: one target each (create, replace the window's rows in one transaction, count).
- command.py: the command: the window, the tables, the verification table, the exit code.
"""
