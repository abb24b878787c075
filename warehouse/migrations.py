"""Additive, declarative migrations from ``schema.yaml``.

The contract only ever grows: new tables and new nullable columns. ``migrate`` compares the file with the database,
creates what is missing, and records the reached version in ``schema_migrations``. Running it twice is a no-op, so
every writer calls it on open and a warehouse built by an older release is brought up to date in place.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from warehouse.schema import Schema, load_schema


class SchemaDowngradeError(RuntimeError):
    """The database was written by a newer schema than this code knows."""


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """Schema version recorded in the database (0 for an empty file)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(con: duckdb.DuckDBPyConnection, schema: Schema | None = None) -> int:
    """Bring the database up to ``schema``; return the version reached."""
    schema = schema or load_schema()
    version = current_version(con)
    if version > schema.version:
        raise SchemaDowngradeError(
            f"warehouse schema version {version} is newer than this code's version {schema.version}"
        )
    existing: dict[str, set[str]] = {}
    for table_name, column_name in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
    ).fetchall():
        existing.setdefault(table_name, set()).add(column_name)
    for table in schema.tables.values():
        if table.is_view:
            continue
        if table.name not in existing:
            con.execute(table.ddl())
            continue
        for col in table.columns:
            if col.name not in existing[table.name]:
                con.execute(f"ALTER TABLE {table.name} ADD COLUMN {col.name} {col.type}")
    for view in (t for t in schema.tables.values() if t.is_view):
        con.execute(view.ddl())
    if version < schema.version:
        con.execute(
            "INSERT INTO schema_migrations (version, applied_at, checksum) VALUES (?, ?, ?)",
            [schema.version, dt.datetime.now(dt.UTC).replace(tzinfo=None), schema.checksum],
        )
    return schema.version
