"""The paper-trading ledger: one SQLite file (WAL) holding everything a session did.

Tables: ``meta`` (settings, the resume memory, heartbeat), ``bars`` (each bar processed,
once: ``time`` is unique), ``allocations``, ``orders`` (the client order id is the primary
key: an order can be recorded once only), ``fills``, ``trades`` + ``trade_strategies`` (the
strategies behind each fill, with their shares), ``positions``, ``strategy_pnl``,
``account`` (a snapshot per bar) and ``events`` (what went wrong, bar by bar).

Each bar is written in one transaction together with the resume memory, so after a kill
at any point the file holds every bar before it and nothing of it. A file that is not a
readable SQLite database is moved aside (``<name>.corrupt-<time>``), never overwritten.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from sacfolio.paper.errors import LedgerError

__all__ = ["SCHEMA_VERSION", "Ledger", "utc_now"]

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS bars (seq INTEGER PRIMARY KEY, time TEXT NOT NULL UNIQUE, close TEXT NOT NULL,
  bid TEXT NOT NULL, ask TEXT NOT NULL, processed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS allocations (seq INTEGER NOT NULL, strategy TEXT NOT NULL, share REAL NOT NULL,
  zeroed INTEGER NOT NULL, PRIMARY KEY (seq, strategy));
CREATE TABLE IF NOT EXISTS orders (client_order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, instrument TEXT NOT NULL,
  units REAL NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (client_order_id TEXT PRIMARY KEY REFERENCES orders, seq INTEGER NOT NULL,
  instrument TEXT NOT NULL, units REAL NOT NULL, price REAL NOT NULL, commission REAL NOT NULL,
  spread_cost REAL NOT NULL);
CREATE TABLE IF NOT EXISTS trades (client_order_id TEXT PRIMARY KEY REFERENCES orders, seq INTEGER NOT NULL,
  time TEXT NOT NULL, instrument TEXT NOT NULL, units REAL NOT NULL, price REAL NOT NULL, cost REAL NOT NULL,
  strategies TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trade_strategies (client_order_id TEXT NOT NULL REFERENCES trades,
  strategy TEXT NOT NULL, units REAL NOT NULL, share REAL NOT NULL, PRIMARY KEY (client_order_id, strategy));
CREATE TABLE IF NOT EXISTS positions (instrument TEXT PRIMARY KEY, units REAL NOT NULL, entry REAL NOT NULL,
  seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS strategy_pnl (seq INTEGER NOT NULL, strategy TEXT NOT NULL, pnl REAL NOT NULL,
  cost REAL NOT NULL, nav REAL NOT NULL, PRIMARY KEY (seq, strategy));
CREATE TABLE IF NOT EXISTS account (seq INTEGER PRIMARY KEY, time TEXT NOT NULL, nav REAL NOT NULL,
  balance REAL NOT NULL, margin_used REAL NOT NULL, position_value REAL NOT NULL, pnl REAL NOT NULL,
  cost REAL NOT NULL, source TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, at TEXT NOT NULL,
  kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS trade_strategies_by_name ON trade_strategies (strategy);
"""
_TABLES = ("meta", "bars", "allocations", "orders", "fills", "trades", "trade_strategies", "positions",
           "strategy_pnl", "account", "events")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _move_aside(path: Path, why: str) -> LedgerError:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    kept = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(kept)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(kept.with_name(kept.name + suffix))
    return LedgerError(f"the paper ledger {path} is not a readable SQLite database ({why}); it was kept as "
                       f"{kept} and nothing was written. Start again to begin a new ledger at {path}, or "
                       f"give another --db.")


class Ledger:
    """An open ledger file; :meth:`open` creates, checks or refuses it."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> "Ledger":
        """Open (or create) the ledger at ``path``.

        Raises
        ------
        LedgerError
            The file is corrupt (moved aside first, unless ``readonly``), or is a SQLite
            file of something else, or (``readonly``) does not exist.
        """
        path = Path(path)
        if readonly:
            if not path.is_file():
                raise LedgerError(f"no paper ledger at {path}: start `sacfolio paper` first")
            try:  # read-write mode reads a WAL file whose writer is gone; query_only forbids writes
                conn = sqlite3.connect(path, timeout=5.0, check_same_thread=False)
                conn.execute("PRAGMA query_only=ON")
                conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"the paper ledger {path} cannot be read: {exc}") from exc
            conn.row_factory = sqlite3.Row
            return cls(conn, path)
        existed = path.is_file() and path.stat().st_size > 0
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise _move_aside(path, str(exc)) from exc
        if check != "ok":
            conn.close()
            raise _move_aside(path, f"integrity check: {check}")
        conn.row_factory = sqlite3.Row
        ledger = cls(conn, path)
        ledger._prepare(existed)
        return ledger

    def _prepare(self, existed: bool) -> None:
        conn = self.conn
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if existed and tables and "meta" not in tables:  # no tables at all: a creation cut short
            conn.close()
            raise LedgerError(f"{self.path} is a SQLite file but not a paper ledger (tables: "
                              f"{sorted(tables) or 'none'}); give another --db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        version = self.meta("schema_version") if "meta" in tables else None
        if version is None:  # one transaction: a kill leaves the whole schema or none of it
            conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} INSERT OR REPLACE INTO meta VALUES ('schema_version', "
                               f"'{SCHEMA_VERSION}'), ('created_at', '{utc_now()}'); COMMIT;")
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise LedgerError(f"{self.path} has ledger schema {version}, this sacfolio writes {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ meta
    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def meta_json(self, key: str) -> Any:
        value = self.meta(key)
        return None if value is None else json.loads(value)

    def set_meta(self, values: dict[str, Any], *, cursor: sqlite3.Cursor | None = None) -> None:
        """Write ``values`` (JSON unless str) atomically, or inside the caller's transaction ``cursor``."""
        rows = [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in values.items()]
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if cursor is not None:
            cursor.executemany(sql, rows)
            return
        with closing(self.conn.cursor()) as cur:
            cur.execute("BEGIN IMMEDIATE")
            try:
                cur.executemany(sql, rows)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise

    def heartbeat(self) -> None:
        """Say the loop is alive (its own small transaction)."""
        self.set_meta({"heartbeat": utc_now(), "heartbeat_unix": str(time.time())})

    # ------------------------------------------------------------------ writes
    def write_bar(self, record: dict[str, Iterable[tuple]], meta: dict[str, Any]) -> None:
        """Insert one bar's rows (``record``: table -> rows) and ``meta`` in ONE transaction."""
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in record.items():
                rows = list(rows)
                if table not in _TABLES or not rows:
                    continue
                marks = ", ".join("?" * len(rows[0]))
                verb = "INSERT OR REPLACE" if table == "positions" else "INSERT"
                columns = "(seq, at, kind, detail) " if table == "events" else ""
                cur.executemany(f"{verb} INTO {table} {columns}VALUES ({marks})", rows)
            self.set_meta(meta, cursor=cur)
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()

    def event(self, seq: int | None, kind: str, detail: str) -> None:
        """Record an event outside a bar's transaction (a stall, a skipped bar, a resume)."""
        self.conn.execute("INSERT INTO events (seq, at, kind, detail) VALUES (?, ?, ?, ?)",
                          (seq, utc_now(), kind, detail))

    # ------------------------------------------------------------------ reads
    def rows(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with closing(self.conn.execute(sql, params)) as cur:
            return [dict(r) for r in cur.fetchall()]

    def last_bar(self) -> dict[str, Any] | None:
        found = self.rows("SELECT seq, time, processed_at FROM bars ORDER BY seq DESC LIMIT 1")
        return found[0] if found else None
