"""Schema migrations, applied in order; the applied version lives in `schema_version`.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from opsview.schema import COUNT_MEASURES, MEASURE_NAMES


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]
    postgres_only: tuple[str, ...] = ()  # what only PostgreSQL needs (its planner, its index types)


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
    Migration(
        2,
        "alert state, history, silences, notification ledger and outbox, check lock",
        (
            """CREATE TABLE alert_state (
    rule TEXT NOT NULL,
    fkey TEXT NOT NULL,
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    since INTEGER NOT NULL,
    active_since INTEGER,
    value REAL,
    threshold REAL NOT NULL,
    op TEXT NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    silenced INTEGER NOT NULL DEFAULT 0,
    labels TEXT NOT NULL DEFAULT '{}',
    evaluated_at INTEGER,
    PRIMARY KEY (rule, fkey)
)""",
            """CREATE TABLE alert_history (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    rule TEXT NOT NULL,
    fkey TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state TEXT NOT NULL,
    value REAL,
    severity TEXT NOT NULL
)""",
            "CREATE INDEX alert_history_by_time ON alert_history (at)",
            "CREATE INDEX alert_history_by_key ON alert_history (fkey, at)",
            """CREATE TABLE alert_silences (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    function TEXT NOT NULL,
    starts INTEGER NOT NULL,
    ends INTEGER NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT ''
)""",
            """CREATE TABLE alert_ledger (
    notifier TEXT NOT NULL,
    rule TEXT NOT NULL,
    fkey TEXT NOT NULL,
    status TEXT NOT NULL,
    active_since INTEGER,
    at INTEGER NOT NULL,
    PRIMARY KEY (notifier, rule, fkey)
)""",
            """CREATE TABLE alert_outbox (
    id INTEGER PRIMARY KEY,
    notifier TEXT NOT NULL,
    status TEXT NOT NULL,
    grp TEXT NOT NULL,
    payload TEXT NOT NULL,
    created INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    delivered_at INTEGER
)""",
            "CREATE INDEX alert_outbox_undelivered ON alert_outbox (delivered_at, id)",
            "CREATE TABLE locks (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires INTEGER NOT NULL)",
        ),
    ),
    Migration(
        3,
        "time index on samples for PostgreSQL's fleet reads",
        (),
        # SQLite seeks (fid, start) per function through the join; PostgreSQL's planner prefers a
        # scan, so give it a BRIN index on time: tiny, and nearly free for time-ordered appends.
        postgres_only=("CREATE INDEX IF NOT EXISTS samples_by_start ON samples USING brin (start)",),
    ),
    Migration(
        4,
        "PostgreSQL summarises the time index as data arrives",
        (),
        # A BRIN range nobody summarised matches every query, and without autosummarize only VACUUM
        # summarises: time-range reads (totals, provider series) scanned every sample written since.
        # A TimescaleDB hypertable may refuse the option on its parent index; it then keeps its own.
        postgres_only=(
            """DO $$ BEGIN
    ALTER INDEX samples_by_start SET (autosummarize = on);
    PERFORM brin_summarize_new_values('samples_by_start');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'opsview: samples_by_start left as it was: %', SQLERRM;
END $$""",
        ),
    ),
    Migration(
        5,
        "coverage: the spans collections read completely, per scope",
        (
            # Merged intervals [start, stop) per (provider, account, region); region '*' = every region of the
            # account. `stop`, not `end`: END is a keyword in both dialects.
            """CREATE TABLE coverage (
    provider TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    start INTEGER NOT NULL,
    stop INTEGER NOT NULL,
    PRIMARY KEY (provider, account, region, start)
)""",
            # A store collected before coverage was recorded keeps the reading it had: each scope counts as
            # collected from its first to its last sample. Without this its rates would be unknown until new
            # collections accrue, and then divide a day of samples by minutes of coverage.
            """INSERT INTO coverage (provider, account, region, start, stop)
SELECT f.provider, f.account, f.region, MIN(s.start), MAX(s.start + s.period_s)
FROM samples s JOIN functions f ON f.id = s.fid
GROUP BY f.provider, f.account, f.region""",
        ),
    ),
    Migration(
        6,
        "error signatures with per-minute counts, where errors were searched, function events (issue 17)",
        (
            # Signature text is the key (at most MAX_SIGNATURE_CHARS); the sample is the latest occurrence.
            """CREATE TABLE error_signatures (
    id INTEGER PRIMARY KEY,
    fid INTEGER NOT NULL,
    signature TEXT NOT NULL,
    error_type TEXT,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    sample TEXT,
    sample_id TEXT,
    sample_at INTEGER,
    UNIQUE (fid, signature)
)""",
            "CREATE INDEX error_signatures_by_last_seen ON error_signatures (last_seen)",
            """CREATE TABLE error_counts (
    sid INTEGER NOT NULL,
    start INTEGER NOT NULL,
    period_s INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (sid, start, period_s)
) WITHOUT ROWID""",
            "CREATE INDEX error_counts_by_start ON error_counts (start)",
            # One span per function: from the first to the last time its errors were searched.
            "CREATE TABLE error_watch (fid INTEGER NOT NULL PRIMARY KEY, watched_since INTEGER NOT NULL, "
            "watched_until INTEGER NOT NULL)",
            # Details are '' when unknown, so the UNIQUE key dedupes re-collected events (NULLs never match).
            """CREATE TABLE function_events (
    id INTEGER PRIMARY KEY,
    fid INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    version TEXT NOT NULL DEFAULT '',
    code_sha TEXT NOT NULL DEFAULT '',
    revision TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    instance TEXT NOT NULL DEFAULT '',
    UNIQUE (fid, at, kind, version, code_sha, revision, reason, instance)
)""",
            "CREATE INDEX function_events_by_time ON function_events (at)",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


def postgres_statements(statement: str) -> str:
    """The PostgreSQL spelling of a migration statement written for SQLite.

    Migrations are written once, in the common subset; only these spellings differ. Epoch
    seconds and counts become BIGINT (INTEGER is 32-bit in PostgreSQL and ends in 2038).
    """
    out = statement.replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    out = re.sub(r"\bINTEGER\b", "BIGINT", out)
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", out)
    return out.replace(") WITHOUT ROWID", ")")
