"""The alerting-state store in SQL both SQLite and PostgreSQL speak: alert records, history, ledger,
outbox, silences and the check lock.

One of the two faces of the store (`AlertStore`; `samples_sql` is the other). Backends combine both
mixins and provide the connections (`SqlBackend`) and the check lock (`acquire_lock`, `lock_owner`,
`release_lock`: a lock that dies with its holder, which portable SQL cannot give).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState, LedgerEntry, OutboxItem, Silence
from opsview.schema import FunctionKey, from_epoch, to_epoch
from opsview.store.sql import SqlBackend


class AlertSql(SqlBackend):
    """`AlertStore` in portable SQL; see SQLiteStore and PostgresStore for the connections."""

    # --- alert state ---------------------------------------------------------------------------

    _ALERT_COLS = (
        "rule, fkey, state, severity, since, active_since, value, threshold, op, summary, description, silenced, "
        "labels, evaluated_at"
    )

    def alert_records(self, states: set[AlertState] | None = None) -> list[AlertRecord]:
        params: list[Any] = []
        where = "1=1"
        if states is not None:
            if not states:
                return []
            where = f"state IN ({', '.join('?' for _ in states)})"
            params = [str(s) for s in sorted(states)]
        rows = self._conn().execute(
            f"SELECT {self._ALERT_COLS} FROM alert_state WHERE {where} ORDER BY rule, fkey", params
        )
        # Thousands of records name the same few thousand functions and label sets: parse each once.
        keys: dict[str, FunctionKey] = {}
        labels: dict[str, Mapping[str, str]] = {}
        return [
            _alert_record(
                r,
                keys.get(r[1]) or keys.setdefault(r[1], FunctionKey.parse(r[1])),
                labels[r[12]] if r[12] in labels else labels.setdefault(r[12], json.loads(r[12]) if r[12] else {}),
            )
            for r in rows
        ]

    def alert_events(
        self, key: FunctionKey | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEvent]:
        rows = self._newest(
            "SELECT at, rule, fkey, from_state, to_state, value, severity FROM alert_history",
            {"fkey": None if key is None else str(key)}, since, limit,
        )
        return [
            AlertEvent(from_epoch(r[0]), r[1], FunctionKey.parse(r[2]), AlertState(r[3]), AlertState(r[4]), r[5], r[6])
            for r in rows
        ]

    def apply_alert_changes(self, changes: AlertChanges) -> None:
        """Write one evaluation's state, history, ledger and queued notifications atomically."""
        with self._write() as conn:
            if changes.drop_rules_except is not None:
                keep = sorted(changes.drop_rules_except)
                # `NOT IN ()` is not SQL; with no rules left every state goes.
                where = f"rule NOT IN ({', '.join('?' for _ in keep)})" if keep else "1=1"
                conn.execute(f"DELETE FROM alert_state WHERE {where}", keep)
                conn.execute(f"DELETE FROM alert_ledger WHERE {where}", keep)
            labels_json: dict[int, str] = {}  # records of one rule share its labels mapping: serialise it once
            # Thousands of rows share a few timestamps and name each function several times: convert each once.
            epochs: dict[datetime, int] = {}
            names: dict[FunctionKey, str] = {}

            def epoch(at: datetime) -> int:
                value = epochs.get(at)
                return value if value is not None else epochs.setdefault(at, to_epoch(at))

            def name(key: FunctionKey) -> str:
                return names.get(key) or names.setdefault(key, str(key))

            conn.executemany(
                f"INSERT INTO alert_state ({self._ALERT_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, fkey) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in self._ALERT_COLS.replace(" ", "").split(",")[2:]),
                [
                    (
                        r.rule, name(r.key), r.state.value, r.severity, epoch(r.since),
                        None if r.active_since is None else epoch(r.active_since), r.value, r.threshold, r.op,
                        r.summary, r.description, int(r.silenced),
                        labels_json.get(id(r.labels)) or labels_json.setdefault(
                            id(r.labels), json.dumps(dict(r.labels), sort_keys=True)),
                        None if r.evaluated_at is None else epoch(r.evaluated_at),
                    )
                    for r in changes.upsert
                ],
            )
            conn.executemany("DELETE FROM alert_state WHERE rule = ? AND fkey = ?",
                             [(rule, str(key)) for rule, key in changes.delete])
            conn.executemany("DELETE FROM alert_ledger WHERE rule = ? AND fkey = ?",
                             [(rule, str(key)) for rule, key in changes.delete])
            conn.executemany(
                "INSERT INTO alert_history (at, rule, fkey, from_state, to_state, value, severity) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (epoch(e.at), e.rule, name(e.key), e.from_state.value, e.to_state.value, e.value, e.severity)
                    for e in changes.events
                ],
            )
            conn.executemany(
                "INSERT INTO alert_ledger (notifier, rule, fkey, status, active_since, at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (notifier, rule, fkey) DO UPDATE SET status = excluded.status, "
                "active_since = excluded.active_since, at = excluded.at",
                [
                    (
                        e.notifier, e.rule, str(e.key), e.status,
                        None if e.active_since is None else to_epoch(e.active_since), to_epoch(e.at),
                    )
                    for e in changes.ledger
                ],
            )
            conn.executemany(
                "INSERT INTO alert_outbox (notifier, status, grp, payload, created) VALUES (?, ?, ?, ?, ?)",
                [
                    (o.notifier, o.status, o.group, json.dumps(dict(o.payload), sort_keys=True), to_epoch(o.created))
                    for o in changes.outbox
                ],
            )

    def alert_ledger(self) -> list[LedgerEntry]:
        rows = self._conn().execute("SELECT notifier, rule, fkey, status, active_since, at FROM alert_ledger")
        return [
            LedgerEntry(r[0], r[1], FunctionKey.parse(r[2]), r[3], None if r[4] is None else from_epoch(r[4]),
                        from_epoch(r[5]))
            for r in rows
        ]

    def outbox(self, *, undelivered: bool = True, limit: int = 1000) -> list[OutboxItem]:
        where = "delivered_at IS NULL" if undelivered else "1=1"
        rows = self._conn().execute(
            "SELECT id, notifier, status, grp, payload, created, attempts, last_error, delivered_at FROM alert_outbox "
            f"WHERE {where} ORDER BY id LIMIT ?",
            (limit,),
        )
        return [
            OutboxItem(r[0], r[1], r[2], r[3], json.loads(r[4]), from_epoch(r[5]), r[6], r[7],
                       None if r[8] is None else from_epoch(r[8]))
            for r in rows
        ]

    def mark_outbox(self, item_id: int, now: datetime, error: str | None = None) -> None:
        """Record one delivery attempt: delivered when `error` is None, else kept for the next check."""
        with self._write() as conn:
            if error is None:
                conn.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
                    (to_epoch(now), item_id),
                )
            else:
                conn.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, item_id)
                )

    def add_silence(
        self, rule: str, function: str, starts: datetime, ends: datetime, comment: str = "", created_by: str = ""
    ) -> Silence:
        with self._write() as conn:
            silence_id = self._insert_id(
                conn,
                "INSERT INTO alert_silences (rule, function, starts, ends, comment, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (rule, function, to_epoch(starts), to_epoch(ends), comment, created_by),
            )
        return Silence(silence_id, rule, function, from_epoch(to_epoch(starts)), from_epoch(to_epoch(ends)), comment,
                       created_by)

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        where, params = "1=1", []
        if active_at is not None:
            where, params = "starts <= ? AND ends > ?", [to_epoch(active_at)] * 2
        rows = self._conn().execute(
            f"SELECT id, rule, function, starts, ends, comment, created_by FROM alert_silences WHERE {where} "
            "ORDER BY id",
            params,
        )
        return [Silence(r[0], r[1], r[2], from_epoch(r[3]), from_epoch(r[4]), r[5], r[6]) for r in rows]

    def remove_silence(self, silence_id: int) -> bool:
        with self._write() as conn:
            return self._changes(conn, "DELETE FROM alert_silences WHERE id = ?", (silence_id,)) > 0

    # --- locks: the row names the holder for messages; the lock itself is the backend's (an OS file
    # lock on SQLite, an advisory lock on PostgreSQL), so that it dies with its holder -------------------

    def _note_lock_owner(self, name: str, owner: str, expires: datetime) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO locks (name, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires",
                (name, owner, to_epoch(expires)),
            )

    def _noted_lock_owner(self, name: str) -> str | None:
        row = self._conn().execute("SELECT owner FROM locks WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def _forget_lock_owner(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))

    # --- retention (run inside the sample store's maintenance transaction) -----------------------

    def _prune_alerts(self, conn: Any, cutoff: int) -> int:
        """Alert bookkeeping follows the samples' retention, or a store watched for a year keeps every
        transition, delivered notification and long-expired silence forever. Returns history rows deleted."""
        deleted = self._changes(conn, "DELETE FROM alert_history WHERE at < ?", (cutoff,))
        conn.execute("DELETE FROM alert_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (cutoff,))
        conn.execute("DELETE FROM alert_silences WHERE ends < ?", (cutoff,))
        return deleted


def _alert_record(r: Sequence[Any], key: FunctionKey, labels: Mapping[str, str]) -> AlertRecord:
    return AlertRecord(
        rule=r[0], key=key, state=AlertState(r[2]), severity=r[3], since=from_epoch(r[4]),
        active_since=None if r[5] is None else from_epoch(r[5]), value=r[6], threshold=r[7], op=r[8], summary=r[9],
        description=r[10], silenced=bool(r[11]), labels=labels,
        evaluated_at=None if r[13] is None else from_epoch(r[13]),
    )

