"""The broker on synthetic 5-minute bars: rollovers, bid/ask from the bars, NAV reconciliation."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.financing import rollover_days
from sacfolio.broker.instruments import load_instruments
from sacfolio.broker.quotes import Quotes, bar_quotes, carry_forward
from sacfolio.broker.simulator import Broker
from sacfolio.data.intraday import IntradayConfig, synthetic_bars


def test_a_week_of_5_minute_bars_trades_finances_and_reconciles() -> None:
    bars = synthetic_bars(["AAPL", "MSFT", "JPM"], config=IntradayConfig(sessions=5), seed=1)
    broker = Broker(load_instruments().select(bars.symbols), AccountConfig(home_currency="USD", max_leverage=5))
    quotes, tradable = carry_forward(bar_quotes(bars, load_instruments()))
    days = rollover_days(bars.times, broker.instruments)
    # sessions Tue 3 Jan .. Mon 9 Jan 2023: rollovers Tue 1 + Wed 1 + Thu 1 + Fri 3 (CFD) + Sat 0 + Sun 0
    assert days.sum(axis=0).tolist() == [6.0, 6.0, 6.0]
    state = broker.open(2, 50_000.0)
    rng = np.random.default_rng(0)
    costs = np.zeros(3)
    for t in range(len(bars.times)):
        now = Quotes(quotes.bid[t], quotes.ask[t])
        weights = None if t % 12 else rng.uniform(-1.0, 1.0, (2, 3))  # rebalance hourly
        before = Quotes(quotes.bid[t - 1], quotes.ask[t - 1]) if t else now
        result = broker.step(state, now, weights=weights, days=days[t], previous=before, tradable=tradable[t])
        state = result.state
        costs += [result.costs.spread.sum(), result.costs.commission.sum(), result.costs.financing.sum()]
        np.testing.assert_allclose(result.snapshot.nav, state.balance + result.snapshot.unrealized, rtol=1e-12)
    assert costs[0] > 0 and costs[1] > 0 and costs[2] != 0
    assert state.spread_cost.sum() == pytest.approx(costs[0]) and state.financing.sum() == pytest.approx(costs[2])
