"""Schema migrations, applied in order; the applied version lives in `schema_version`.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from opsview.schema import COUNT_MEASURES, MEASURE_NAMES


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def _measure_columns() -> str:
    return ",\n    ".join(
        f"{name} {'INTEGER' if name in COUNT_MEASURES else 'REAL'}" for name in MEASURE_NAMES
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "functions, samples, collector health, meta",
        (
            """CREATE TABLE functions (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    runtime TEXT,
    memory_mb INTEGER,
    timeout_s REAL,
    resource_id TEXT,
    labels TEXT NOT NULL DEFAULT '{}',
    UNIQUE (provider, account, region, name)
)""",
            f"""CREATE TABLE samples (
    fid INTEGER NOT NULL,
    start INTEGER NOT NULL,
    period_s INTEGER NOT NULL,
    {_measure_columns()},
    PRIMARY KEY (fid, start, period_s)
) WITHOUT ROWID""",
            """CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    scope TEXT NOT NULL,
    at INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    error TEXT,
    functions INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    duration_s REAL NOT NULL
)""",
            "CREATE INDEX health_by_source ON health (source, scope, at)",
            "CREATE INDEX health_by_time ON health (at)",
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
