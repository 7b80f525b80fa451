"""The known-model policy: the exact one-step optimum of expected return net of costs."""

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data import MarketPanel
from sacfolio.data.known_markets import known_market
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.evaluate.metrics import cagr
from sacfolio.exceptions import ConfigError
from sacfolio.strategies import make_strategies
from sacfolio.strategies.known import KnownModel


def _panel(n: int = 6, t: int = 4) -> MarketPanel:
    dates = np.arange(np.datetime64("2020-01-03"), np.datetime64("2020-01-03") + 7 * t, 7)
    return MarketPanel(dates=dates, symbols=tuple(f"S{i}" for i in range(n)), close=np.full((t, n), 10.0),
                       available=np.ones((t, n), dtype=bool), source="test")


def test_it_fills_the_best_stocks_to_the_cap_and_keeps_the_cash_floor() -> None:
    panel = _panel()
    mu = np.tile([0.03, 0.02, 0.01, 0.005, -0.01, -0.02], (4, 1))
    policy = KnownModel(panel, mu, PortfolioRules())
    cash = np.append(np.zeros(6), 1.0)
    w = policy.decide(0, None, cash)
    # the four stocks expected to gain go to the 20% cap; the fifth expects -1%, so the other
    # 20% stays in cash (above the 2% floor)
    np.testing.assert_allclose(w, [0.2, 0.2, 0.2, 0.2, 0.0, 0.0, 0.2], atol=1e-9)


def test_it_does_not_trade_when_the_edge_is_below_the_round_trip_cost() -> None:
    panel = _panel(n=2)
    rules = PortfolioRules(max_weight=1.0, cost_bps=10.0)
    held = np.array([0.49, 0.49, 0.02])
    tiny = np.tile([0.0010, 0.0005], (4, 1))  # moving 1% from S1 to S0 gains 0.5 bp, costs 2 x 10 bp
    np.testing.assert_allclose(KnownModel(panel, tiny, rules).decide(0, None, held), held, atol=1e-9)
    large = np.tile([0.0100, 0.0005], (4, 1))  # a 95 bp edge pays for the 20 bp round trip
    np.testing.assert_allclose(KnownModel(panel, large, rules).decide(0, None, held), [0.98, 0.0, 0.02], atol=1e-9)


def test_on_the_null_market_it_is_equal_weight_and_on_ar1_it_beats_it() -> None:
    for name, strength in (("null", None), ("ar1", 0.1)):
        market = known_market(name, strength=strength)
        panel = market.panel
        strategies = {"known": KnownModel(panel, market.expected_returns()),
                      **make_strategies(panel, ["equal_weight"])}
        folds = yearly_folds(panel.dates, (2011, 2012), min_train=104)
        growth = {n: cagr(np.concatenate([backtest_strategy(panel, s, f, PortfolioRules()).returns for f in folds]))
                  for n, s in strategies.items()}
        if name == "null":
            assert growth["known"] == pytest.approx(growth["equal_weight"], abs=1e-12)
        else:
            assert growth["known"] > growth["equal_weight"] + 0.10


def test_expected_returns_of_another_shape_are_refused() -> None:
    with pytest.raises(ConfigError, match="shape"):
        KnownModel(_panel(), np.zeros((3, 6)))
