"""``/paper/*``: the paper-trading loop's ledger, read-only: status, positions, trades, allocations.

The ledger is the SQLite file ``sacfolio paper`` writes (``<home>/paper.sqlite3`` for a
local registry home, else ``./paper.sqlite3``); the loop may be running in another process.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sacfolio.exceptions import ServiceRequestError
from sacfolio.paper.errors import LedgerError
from sacfolio.paper.ledger import Ledger
from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import PaperHealth, Problem
from sacfolio.serve.settings import ServeSettings

__all__ = ["paper_db_path", "paper_health", "router"]

router = APIRouter(prefix="/paper", tags=["paper"])

_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": Problem, "description": "No paper ledger yet."},
                                           409: {"model": Problem, "description": "The ledger cannot be read."}}

RUNNING_SECONDS = 15.0
"""A loop whose last heartbeat (a bar, or a wait for one) is older than this is not running."""


def paper_db_path(settings: ServeSettings) -> Path:
    """Where the paper ledger is: ``paper_db`` when the settings have it, else beside the registry."""
    configured = getattr(settings, "paper_db", None)
    if configured is not None:
        return Path(configured)
    if "://" in settings.home and not settings.home.startswith("file://"):
        return Path("paper.sqlite3").resolve()
    return Path(settings.home.removeprefix("file://")).resolve() / "paper.sqlite3"


class PaperStatus(BaseModel):
    """The loop and its account: running, last bar, lag, allocation source, NAV and margin."""

    ledger: str
    exists: bool
    running: bool = False
    bars: int = 0
    last_bar: str | None = Field(default=None, description="End time of the last bar processed (UTC).")
    lag_seconds: float | None = Field(default=None, description="Seconds since the last bar was processed.")
    source: str | None = Field(default=None, description="'model' (the promoted meta-controller) or 'fallback'.")
    reason: str | None = Field(default=None, description="The model version, or why the fallback trades.")
    nav: float | None = None
    balance: float | None = None
    margin_used: float | None = None
    position_value: float | None = None
    costs: float | None = Field(default=None, description="Spread and commission paid so far.")
    events: list[dict[str, Any]] = Field(default_factory=list, description="The 20 newest events.")


class PaperTrade(BaseModel):
    client_order_id: str
    seq: int
    time: str
    instrument: str
    units: float
    price: float
    cost: float
    strategies: list[dict[str, Any]] = Field(description="The strategies behind the fill: strategy, units, share.")


class PaperPositions(BaseModel):
    positions: list[dict[str, Any]]
    by_strategy: dict[str, dict[str, float]] = Field(description="Units each strategy's sub-ledger holds.")


class PaperAllocations(BaseModel):
    strategies: list[str]
    rows: list[dict[str, Any]] = Field(description="Oldest first: seq, time, source, shares by strategy (CASH too).")


def _open(service) -> Ledger:
    path = paper_db_path(service.settings)
    if not path.is_file():
        raise ServiceRequestError(f"no paper ledger at {path}: run `sacfolio paper --home {service.settings.home}`",
                                  status_code=404)
    return Ledger.open(path, readonly=True)


def _lag(processed_at: str | None) -> float | None:
    if not processed_at:
        return None
    return max(0.0, (datetime.now(timezone.utc) - datetime.fromisoformat(processed_at)).total_seconds())


def _running(ledger: Ledger) -> bool:
    beat = ledger.meta("heartbeat_unix")
    if beat is None or ledger.meta("state") != "running":
        return False  # stopped, or killed: then the heartbeat goes stale
    return time.time() - float(beat) < RUNNING_SECONDS


def paper_health(settings: ServeSettings) -> PaperHealth | None:
    """The loop's line in ``/health``: running, last bar, lag (None when there is no ledger)."""
    path = paper_db_path(settings)
    if not path.is_file():
        return None
    try:
        ledger = Ledger.open(path, readonly=True)
    except LedgerError as exc:
        return PaperHealth(running=False, error=str(exc))
    try:
        last = ledger.last_bar()
        return PaperHealth(running=_running(ledger), last_bar=None if last is None else last["time"],
                           lag_seconds=_lag(None if last is None else last["processed_at"]),
                           source=ledger.meta("source"))
    finally:
        ledger.close()


@router.get("/status", response_model=PaperStatus, summary="Paper loop and account")
def status(service: ServiceDep) -> PaperStatus:
    path = paper_db_path(service.settings)
    if not path.is_file():
        return PaperStatus(ledger=str(path), exists=False)
    ledger = _open(service)
    try:
        last = ledger.last_bar()
        account = ledger.rows("SELECT * FROM account ORDER BY seq DESC LIMIT 1")
        a = account[0] if account else {}
        costs = ledger.rows("SELECT COALESCE(SUM(cost), 0) AS c FROM account")[0]["c"]
        events = ledger.rows("SELECT seq, at, kind, detail FROM events ORDER BY id DESC LIMIT 20")
        return PaperStatus(ledger=str(path), exists=True, running=_running(ledger), bars=0 if last is None else
                           last["seq"] + 1, last_bar=None if last is None else last["time"],
                           lag_seconds=_lag(None if last is None else last["processed_at"]),
                           source=a.get("source", ledger.meta("source")), reason=a.get("reason", ledger.meta("reason")),
                           nav=a.get("nav"), balance=a.get("balance"), margin_used=a.get("margin_used"),
                           position_value=a.get("position_value"), costs=costs, events=events)
    finally:
        ledger.close()


@router.get("/positions", response_model=PaperPositions, responses=_ERRORS,
            summary="Net positions and each strategy's share of them")
def positions(service: ServiceDep) -> PaperPositions:
    ledger = _open(service)
    try:
        rows = ledger.rows("SELECT instrument, units, entry, seq FROM positions ORDER BY instrument")
        memory = ledger.meta_json("memory") or {}
        settings = ledger.meta_json("settings") or {}
        names, symbols = settings.get("strategies", []), settings.get("symbols", [])
        by_strategy = {name: dict(zip(symbols, units)) for name, units in zip(names, memory.get("units", []))}
        return PaperPositions(positions=rows, by_strategy=by_strategy)
    finally:
        ledger.close()


@router.get("/trades", response_model=list[PaperTrade], responses=_ERRORS,
            summary="Recent trades with the strategies behind them")
def trades(service: ServiceDep,
           strategy: Annotated[str | None, Query(max_length=100, description="Only trades of this strategy.")] = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[PaperTrade]:
    """Newest first; ``strategy`` keeps the trades that strategy had a share of."""
    ledger = _open(service)
    try:
        if strategy is None:
            rows = ledger.rows("SELECT * FROM trades ORDER BY seq DESC, instrument LIMIT ?", (limit,))
        else:
            rows = ledger.rows("SELECT t.* FROM trades t JOIN trade_strategies s USING (client_order_id) "
                               "WHERE s.strategy = ? ORDER BY t.seq DESC, t.instrument LIMIT ?", (strategy, limit))
        return [PaperTrade(**{**r, "strategies": json.loads(r["strategies"])}) for r in rows]
    finally:
        ledger.close()


@router.get("/allocations", response_model=PaperAllocations, responses=_ERRORS,
            summary="Allocation across the strategies, bar by bar")
def allocations(service: ServiceDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> PaperAllocations:
    ledger = _open(service)
    try:
        names = (ledger.meta_json("settings") or {}).get("strategies", [])
        rows = ledger.rows("SELECT a.seq, b.time, c.source, a.strategy, a.share FROM allocations a "
                           "JOIN bars b USING (seq) JOIN account c USING (seq) WHERE a.seq > "
                           "(SELECT COALESCE(MAX(seq), 0) FROM bars) - ? ORDER BY a.seq", (limit,))
        out: dict[int, dict[str, Any]] = {}
        for r in rows:
            row = out.setdefault(r["seq"], {"seq": r["seq"], "time": r["time"], "source": r["source"], "shares": {}})
            row["shares"][r["strategy"]] = r["share"]
        return PaperAllocations(strategies=[*names, "CASH"], rows=list(out.values()))
    finally:
        ledger.close()
