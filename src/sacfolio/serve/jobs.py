"""Training job records in SQLite: queued, running, succeeded or failed, with progress.

The API process inserts and claims jobs; the worker process of a job writes its
progress, log tail and outcome into the same file. Records survive restarts; a job
that was running when the service stopped is marked failed with the reason
(:meth:`JobStore.fail_interrupted`).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sacfolio.exceptions import ServiceRequestError

__all__ = ["JobRecord", "JobStore", "JobState", "ACTIVE_STATES", "jsonable"]

logger = logging.getLogger(__name__)

JobState = Literal["queued", "running", "succeeded", "failed"]
ACTIVE_STATES = ("queued", "running")
_LOG_TAIL_CHARS = 4000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    mode        TEXT NOT NULL,
    state       TEXT NOT NULL,
    progress    REAL NOT NULL DEFAULT 0,
    params      TEXT NOT NULL,
    trigger     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT,
    pid         INTEGER,
    log_tail    TEXT NOT NULL DEFAULT '',
    version     TEXT,
    promoted    INTEGER,
    decision    TEXT,
    error       TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` with non-finite floats as None and unknown objects as str (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return str(value)


@dataclass(frozen=True, kw_only=True)
class JobRecord:
    """One training job as stored.

    Attributes
    ----------
    id, model, mode : str
    state : {"queued", "running", "succeeded", "failed"}
    progress : float
        0..1, written by the worker while it trains.
    params : dict
        Everything the worker needs (registry root, data, steps, seed, windows).
    trigger : str
        ``"api"``, ``"schedule"`` or ``"retrain"``.
    created_at, started_at, finished_at : str or None
        ISO times (UTC).
    pid : int or None
        Worker process id while it runs.
    log_tail : str
        The last lines the worker logged.
    version : str or None
        Registry version the job saved.
    promoted : bool or None
        The gate's verdict.
    decision : dict or None
        The gate decision (``PromotionDecision.as_dict()``).
    error : str or None
        Why it failed.
    """

    id: str
    model: str
    mode: str
    state: str
    progress: float
    params: dict[str, Any]
    trigger: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None
    log_tail: str
    version: str | None
    promoted: bool | None
    decision: dict[str, Any] | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "JobRecord":
        d = dict(row)
        d["params"] = json.loads(d["params"])
        d["decision"] = json.loads(d["decision"]) if d["decision"] else None
        d["promoted"] = None if d["promoted"] is None else bool(d["promoted"])
        return cls(**d)


class JobStore:
    """Job records in one SQLite file (WAL mode; safe across threads and processes).

    Parameters
    ----------
    path : Path
        Created with its parent directory if missing.
    """

    def __init__(self, path: str | Path, *, recover_corrupt: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        #: Where a corrupt job store found at start was moved (None when it was sound).
        self.moved_aside: Path | None = None
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            if not recover_corrupt:
                raise
            self.moved_aside = self._move_aside(exc)
            self._open()

    def _open(self) -> None:
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("PRAGMA quick_check failed")

    def _move_aside(self, exc: Exception) -> Path:
        """Rename a corrupt store (and its WAL files) to ``<name>.corrupt-<time>``; never delete it."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{uuid.uuid4().hex[:6]}")
        for suffix in ("", "-wal", "-shm"):
            part = self.path.with_name(self.path.name + suffix)
            if part.exists():
                part.rename(target.with_name(target.name + suffix))
        logger.error("job store %s is not a readable SQLite database (%s); moved it aside to %s and "
                     "started an empty one (the old job records are kept there)", self.path, exc, target)
        return target

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # ------------------------------------------------------------------ API side
    def submit(self, model: str, mode: str, params: dict[str, Any], *, trigger: str = "api"
               ) -> tuple[JobRecord, bool]:
        """Queue a job unless one for the same model and mode is queued or running.

        Returns
        -------
        (JobRecord, bool)
            The new job and True, or the existing active job and False.
        """
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM jobs WHERE model = ? AND mode = ? AND state IN ('queued', 'running') "
                "ORDER BY created_at LIMIT 1", (model, mode)).fetchone()
            if row is not None:
                return JobRecord.from_row(row), False
            job_id = uuid.uuid4().hex
            db.execute(
                "INSERT INTO jobs (id, model, mode, state, params, trigger, created_at) "
                "VALUES (?, ?, ?, 'queued', ?, ?, ?)",
                (job_id, model, mode, json.dumps(jsonable(params)), trigger, _now()))
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord.from_row(row), True

    def get(self, job_id: str) -> JobRecord:
        """One job by id.

        Raises
        ------
        ServiceRequestError
            404 when there is no such job.
        """
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise ServiceRequestError(f"no job with id {job_id!r}; list jobs with GET /jobs",
                                      status_code=404)
        return JobRecord.from_row(row)

    def list(self, *, limit: int = 50, state: str | None = None, model: str | None = None
             ) -> list[JobRecord]:
        """Newest first, optionally filtered by state and model."""
        where, args = [], []
        if state is not None:
            where.append("state = ?")
            args.append(state)
        if model is not None:
            where.append("model = ?")
            args.append(model)
        sql = "SELECT * FROM jobs" + (f" WHERE {' AND '.join(where)}" if where else "")
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(sql, (*args, int(limit))).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def claim_next(self) -> JobRecord | None:
        """Mark the oldest queued job running and return it (None when none is queued)."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE state = 'queued' "
                             "ORDER BY created_at, rowid LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', started_at = ? WHERE id = ?",
                       (_now(), row["id"]))
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return JobRecord.from_row(row)

    def set_pid(self, job_id: str, pid: int) -> None:
        """Record the worker's process id."""
        with self._connect() as db:
            db.execute("UPDATE jobs SET pid = ? WHERE id = ?", (pid, job_id))

    def fail(self, job_id: str, error: str, *, log_tail: str | None = None) -> bool:
        """Mark a running or queued job failed; False when it had already finished."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, "
                "log_tail = COALESCE(?, log_tail) WHERE id = ? AND state IN ('queued', 'running')",
                (error, _now(), None if log_tail is None else log_tail[-_LOG_TAIL_CHARS:], job_id))
            return cur.rowcount == 1

    def fail_interrupted(self) -> list[str]:
        """At start-up: mark jobs left ``running`` by a previous service process failed."""
        with self._transaction() as db:
            rows = db.execute("SELECT id, pid FROM jobs WHERE state = 'running'").fetchall()
            for row in rows:
                db.execute(
                    "UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?",
                    (_now(), f"interrupted: the service stopped or restarted while this job was running "
                             f"(worker pid {row['pid']}); submit it again", row["id"]))
        return [r["id"] for r in rows]

    # ------------------------------------------------------------------ worker side
    def progress(self, job_id: str, fraction: float, log_tail: str) -> None:
        """Write progress (clipped to 0..1) and the log tail of a running job."""
        with self._connect() as db:
            db.execute("UPDATE jobs SET progress = ?, log_tail = ? WHERE id = ? AND state = 'running'",
                       (min(max(float(fraction), 0.0), 1.0), log_tail[-_LOG_TAIL_CHARS:], job_id))

    def succeed(self, job_id: str, *, version: str, promoted: bool, decision: dict[str, Any],
                log_tail: str) -> bool:
        """Record a finished job's version and gate decision; False if it was no longer running."""
        with self._connect() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'succeeded', progress = 1, finished_at = ?, version = ?, "
                "promoted = ?, decision = ?, log_tail = ? WHERE id = ? AND state = 'running'",
                (_now(), version, int(promoted), json.dumps(jsonable(decision)),
                 log_tail[-_LOG_TAIL_CHARS:], job_id))
            return cur.rowcount == 1
