"""Checks that a paper ledger is whole: every bar once, every order once, fills = positions,
cash + positions = NAV, and per-strategy P&L + costs = the book's P&L on every bar."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from sacfolio.paper.ledger import Ledger

__all__ = ["Reconciliation", "reconcile"]


@dataclass
class Reconciliation:
    """Result of :func:`reconcile`; ``problems`` is empty when the ledger is whole."""

    bars: int = 0
    orders: int = 0
    trades: int = 0
    nav: float | None = None
    cash: float | None = None
    max_attribution_error: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _sequence(ledger: Ledger, out: Reconciliation) -> None:
    bars = ledger.rows("SELECT seq, time FROM bars ORDER BY seq")
    out.bars = len(bars)
    if [b["seq"] for b in bars] != list(range(len(bars))):
        out.problems.append("bar numbers are not 0..n-1 without gaps")
    times = [b["time"] for b in bars]
    if any(a >= b for a, b in zip(times, times[1:])):
        out.problems.append("bar times are not strictly increasing")
    for table in ("account", "allocations", "strategy_pnl"):
        n = ledger.rows(f"SELECT COUNT(DISTINCT seq) AS n FROM {table}")[0]["n"]
        if n != out.bars:
            out.problems.append(f"{table} covers {n} bars, the ledger has {out.bars}")


def _orders(ledger: Ledger, out: Reconciliation) -> None:
    counts = ledger.rows("SELECT COUNT(*) AS n, COUNT(DISTINCT client_order_id) AS d FROM orders")[0]
    out.orders = counts["n"]
    if counts["n"] != counts["d"]:
        out.problems.append(f"{counts['n'] - counts['d']} duplicate client order ids")
    trades = ledger.rows("SELECT client_order_id, units, strategies FROM trades")
    out.trades = len(trades)
    for t in trades:
        owners = json.loads(t["strategies"])
        names = {o["strategy"] for o in owners}
        if not owners or "default" in names or abs(sum(o["share"] for o in owners) - 1.0) > 1e-9:
            out.problems.append(f"trade {t['client_order_id']} has strategies {owners}")


def _money(ledger: Ledger, out: Reconciliation, tol: float) -> None:
    deposit = json.loads(ledger.meta("settings") or "{}").get("config", {}).get("deposit", 0.0)
    fills = ledger.rows("SELECT instrument, SUM(units) AS units, SUM(units * price) AS value, "
                        "SUM(commission) AS commission FROM fills GROUP BY instrument")
    positions = {p["instrument"]: p["units"] for p in ledger.rows("SELECT instrument, units FROM positions")}
    for f in fills:
        held = positions.get(f["instrument"], 0.0)
        if abs(f["units"] - held) > 1e-6 * max(1.0, abs(held)):
            out.problems.append(f"{f['instrument']}: fills sum to {f['units']} units, the position is {held}")
    last = ledger.rows("SELECT a.nav, b.bid, b.ask FROM account a JOIN bars b USING (seq) ORDER BY seq DESC LIMIT 1")
    if not last:
        return
    cash = deposit - sum(f["value"] + f["commission"] for f in fills)
    symbols = json.loads(ledger.meta("settings"))["symbols"]
    units = np.array([positions.get(s, 0.0) for s in symbols])
    bid, ask = np.array(json.loads(last[0]["bid"])), np.array(json.loads(last[0]["ask"]))
    nav = cash + float(units @ np.where(units > 0.0, bid, ask))
    out.cash, out.nav = cash, last[0]["nav"]
    if abs(nav - out.nav) > tol * max(1.0, abs(out.nav)):
        out.problems.append(f"cash {cash:.6f} + positions gives NAV {nav:.6f}, the account says {out.nav:.6f}")


def _attribution(ledger: Ledger, out: Reconciliation, tol: float) -> None:
    rows = ledger.rows("SELECT a.seq, a.pnl, SUM(s.pnl - s.cost) AS parts FROM account a "
                       "JOIN strategy_pnl s USING (seq) GROUP BY a.seq")
    errors = [abs(r["pnl"] - r["parts"]) for r in rows]
    out.max_attribution_error = max(errors, default=0.0)
    if out.max_attribution_error > 1e-8:
        out.problems.append(f"per-strategy P&L and costs miss the book's P&L by up to "
                            f"{out.max_attribution_error:.3g}")


def reconcile(ledger: Ledger, *, tol: float = 1e-9) -> Reconciliation:
    """Every check of the module docstring; ``tol`` is relative to the NAV."""
    out = Reconciliation()
    _sequence(ledger, out)
    _orders(ledger, out)
    _money(ledger, out, tol)
    _attribution(ledger, out, tol)
    return out
