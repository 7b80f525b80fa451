"""The rows one bar writes to the ledger, from what the book did on it."""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from sacfolio.broker.account import AccountSnapshot
from sacfolio.broker.orders import FILLED, REASONS
from sacfolio.env.allocation_book import BookStep
from sacfolio.env.allocation_run import BarInputs
from sacfolio.paper.ledger import utc_now
from sacfolio.paper.sources import Bar

__all__ = ["bar_records", "client_order_id", "iso", "memory_of"]


def iso(t: np.datetime64) -> str:
    """A bar time as ISO 8601 UTC with a Z."""
    return str(np.datetime_as_string(np.datetime64(t, "ns"), unit="s")) + "Z"


def client_order_id(run_id: str, seq: int, instrument: str) -> str:
    """Idempotent id of the order of bar ``seq`` on ``instrument``: the same on a rerun of the bar."""
    return f"{run_id}-{seq:08d}-{instrument}"


def _trades(run_id: str, seq: int, when: str, step: BookStep, symbols: Sequence[str],
            strategies: Sequence[str]) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple]]:
    """orders, fills, trades, trade_strategies rows."""
    fills = step.fills
    orders, fill_rows, trades, parts = [], [], [], []
    for n in np.flatnonzero(step.order != 0.0):
        name, cid = symbols[n], client_order_id(run_id, seq, symbols[n])
        code = int(fills.reason[0, n])
        orders.append((cid, seq, name, float(step.order[n]), "filled" if code == FILLED else "refused", REASONS[code]))
        if code != FILLED:
            continue
        units, price = float(fills.units[0, n]), float(fills.price[0, n])
        cost = float(fills.commission[0, n] + fills.spread_cost[0, n])
        fill_rows.append((cid, seq, name, units, price, float(fills.commission[0, n]), float(fills.spread_cost[0, n])))
        owners = [(strategies[k], units * float(step.fill_shares[k, n]), float(step.fill_shares[k, n]))
                  for k in np.flatnonzero(step.fill_shares[:, n] > 0.0)]
        trades.append((cid, seq, when, name, units, price, cost,
                       json.dumps([{"strategy": s, "units": u, "share": w} for s, u, w in owners])))
        parts += [(cid, s, u, w) for s, u, w in owners]
    return orders, fill_rows, trades, parts


def bar_records(*, run_id: str, seq: int, bar: Bar, inputs: BarInputs, shares: np.ndarray, step: BookStep,
                snap: AccountSnapshot, prev_navs: np.ndarray, prev_nav: float, symbols: Sequence[str],
                strategies: Sequence[str], source: str, reason: str, events: list[tuple[str, str]]
                ) -> dict[str, list[tuple]]:
    """Every row of bar ``seq`` by table (see :mod:`sacfolio.paper.ledger`)."""
    when, now = iso(bar.time), utc_now()
    orders, fills, trades, parts = _trades(run_id, seq, when, step, symbols, strategies)
    costs = np.append(step.strategy_costs, 0.0)
    names = [*strategies, "CASH"]
    pnl = step.strategy_navs - prev_navs + costs
    account = step.state.account
    return {
        "bars": [(seq, when, json.dumps(bar.close.tolist()), json.dumps(bar.bid.tolist()),
                  json.dumps(bar.ask.tolist()), now)],
        "allocations": [(seq, s, float(shares[k]), int(inputs.bad[k])) for k, s in enumerate(strategies)]
        + [(seq, "CASH", float(1.0 - shares.sum()), 0)],
        "orders": orders, "fills": fills, "trades": trades, "trade_strategies": parts,
        "positions": [(s, float(account.units[0, n]), float(account.entry[0, n]), seq) for n, s in enumerate(symbols)],
        "strategy_pnl": [(seq, s, float(pnl[k]), float(costs[k]), float(step.strategy_navs[k]))
                         for k, s in enumerate(names)],
        "account": [(seq, when, step.nav, float(snap.balance[0]), float(snap.margin_used[0]),
                     float(snap.position_value[0]), step.nav - prev_nav, float(costs.sum()), source, reason)],
        "events": [(seq, now, kind, detail) for kind, detail in events],
    }


def memory_of(step_state: Any, tracker: dict[str, Any], navs: np.ndarray, nav: float, seq: int,
              when: str) -> dict[str, Any]:
    """What a restart needs to continue exactly: the account, the sub-ledgers, the tracker."""
    account = {name: value.tolist() for name, value in step_state.account._asdict().items()}
    return {"account": account, "cash": step_state.cash.tolist(), "units": step_state.units.tolist(),
            "navs": navs.tolist(), "nav": nav, "tracker": tracker, "seq": seq, "time": when}
