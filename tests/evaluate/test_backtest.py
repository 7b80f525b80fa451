"""run_backtest and backtest_strategy: the env with a fixed rule, checked against a hand computation."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.env.actions import action_to_weights
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.evaluate.backtest import backtest_strategy, market_core, policy_decider, run_backtest
from sacfolio.evaluate.results import Fold
from sacfolio.exceptions import EvaluationWindowError
from sacfolio.features.price import price_features


@pytest.fixture
def panel() -> MarketPanel:
    # returns by row: 1: A +10%, B 0, C -10%; 2: A -10%, B +10%, C 0; 3: A 0, B 0, C +10%
    close = np.array([[100.0, 50.0, 20.0], [110.0, 50.0, 18.0], [99.0, 55.0, 18.0], [99.0, 55.0, 19.8]])
    dates = np.datetime64("2021-01-01") + 7 * np.arange(4)
    return MarketPanel(dates=dates, symbols=("A", "B", "C"), close=close, available=np.ones((4, 3), bool))


def _core(panel: MarketPanel, available=None) -> PortfolioCore:
    feats = price_features(panel)
    return PortfolioCore(panel.simple_returns(), feats.values,
                         panel.available if available is None else available, EnvConfig())


def test_fixed_weights_match_the_hand_computation(panel):
    seen = []

    def decide(t, obs, drifted):
        seen.append((t, drifted.copy()))
        return np.array([0.2, 0.2, 0.2, 0.4])

    result = run_backtest(_core(panel), decide, start=0, stop=3, dates=panel.dates, symbols=panel.symbols,
                          name="fixed")
    # period 0: from cash, turnover 0.6, cost 0.0006; gross 0.22 + 0.2 + 0.18 + 0.4 = 1.0
    # period 1: drifted (0.22, 0.2, 0.18, 0.4) -> turnover 0.04, cost 0.00004;
    #           gross 0.18 + 0.22 + 0.2 + 0.4 = 1.0
    # period 2: drifted (0.18, 0.22, 0.2, 0.4) -> turnover 0.04, cost 0.00004;
    #           gross 0.2 + 0.2 + 0.22 + 0.4 = 1.02, net = 0.99996 * 1.02 - 1 = 0.0199592
    np.testing.assert_allclose(result.turnover, [0.6, 0.04, 0.04], atol=1e-14)
    np.testing.assert_allclose(result.costs, [0.0006, 0.00004, 0.00004], atol=1e-16)
    np.testing.assert_allclose(result.returns, [-0.0006, -0.00004, 0.0199592], atol=1e-14)
    np.testing.assert_allclose(result.equity[-1], 0.9994 * 0.99996 * 1.0199592, rtol=1e-14)
    assert [t for t, _ in seen] == [0, 1, 2]
    np.testing.assert_allclose(seen[0][1], [0, 0, 0, 1.0])
    np.testing.assert_allclose(seen[1][1], [0.22, 0.2, 0.18, 0.4], atol=1e-15)
    np.testing.assert_allclose(seen[2][1], [0.18, 0.22, 0.2, 0.4], atol=1e-15)
    assert result.name == "fixed" and result.symbols == ("A", "B", "C")
    np.testing.assert_allclose(result.weights, np.tile([0.2, 0.2, 0.2, 0.4], (3, 1)), atol=1e-15)


def test_targets_are_projected_and_unavailable_symbols_dropped(panel):
    available = np.ones((4, 3), bool)
    available[1, 0] = False  # A cannot be traded at row 1
    result = run_backtest(_core(panel, available), lambda t, obs, d: np.array([0.5, 0.0, 0.0, 0.5]),
                          start=0, stop=3, dates=panel.dates, symbols=panel.symbols, name="half-A")
    # nearest feasible point: A capped at 0.2, the other 0.3 spread equally: B, C, cash + 0.1
    np.testing.assert_allclose(result.weights[0], [0.2, 0.1, 0.1, 0.6], atol=1e-12)
    # A masked at row 1: its 0.5 spread over B, C and cash (+1/6 each)
    np.testing.assert_allclose(result.weights[1], [0.0, 1 / 6, 1 / 6, 2 / 3], atol=1e-12)
    # drifted after period 0: (0.22, 0.1, 0.09, 0.6) / 1.01; A is sold entirely
    expected = 0.22 / 1.01 + abs(1 / 6 - 0.1 / 1.01) + abs(1 / 6 - 0.09 / 1.01)
    assert result.turnover[1] == pytest.approx(expected, abs=1e-12)


def test_policy_decider_runs_the_policy_through_action_to_weights(panel):
    action = np.array([[1.0, -1.0, 0.2, -0.5]])
    calls = []

    def act_fn(obs):
        calls.append(obs.shape)
        return action

    config = EnvConfig()
    decide = policy_decider(act_fn, config, panel.available)
    result = run_backtest(_core(panel), decide, start=1, stop=3, dates=panel.dates[1:4],
                          symbols=panel.symbols, name="policy")
    expected = action_to_weights(action, config, panel.available[1])[0]
    np.testing.assert_allclose(result.weights, np.tile(expected, (2, 1)), atol=1e-12)
    assert calls == [(1, 6 * 3 + 3 + 1)] * 2


def test_window_errors(panel):
    core = _core(panel)
    keep = lambda t, obs, d: d  # noqa: E731
    with pytest.raises(EvaluationWindowError, match="start=0, stop=4"):
        run_backtest(core, keep, start=0, stop=4, dates=panel.dates, symbols=panel.symbols, name="x")
    with pytest.raises(EvaluationWindowError, match="dates has 4 entries"):
        run_backtest(core, keep, start=0, stop=2, dates=panel.dates, symbols=panel.symbols, name="x")


class _Fixed:
    name, uses_future = "fixed", False

    def decide(self, t, obs, drifted):
        return np.array([0.2, 0.2, 0.2, 0.4])


def test_backtest_strategy_needs_no_model_and_matches_the_agent_core(panel):
    fold = Fold(label="x", train_start=0, train_stop=1, test_start=1, test_stop=3)
    alone = backtest_strategy(panel, _Fixed(), fold, PortfolioRules())
    through_agent = run_backtest(_core(panel), _Fixed().decide, start=1, stop=3, dates=panel.dates[1:4],
                                 symbols=panel.symbols, name="fixed")
    for field in ("weights", "returns", "turnover", "costs"):
        np.testing.assert_array_equal(getattr(alone, field), getattr(through_agent, field))
    assert alone.name == "fixed" and backtest_strategy(panel, _Fixed(), fold, PortfolioRules(), name="y").name == "y"
    np.testing.assert_array_equal(alone.dates, panel.dates[1:4])


def test_backtest_strategy_trades_under_the_rules_given(panel):
    fold = Fold(label="x", train_start=0, train_stop=1, test_start=1, test_stop=3)
    free = backtest_strategy(panel, _Fixed(), fold, PortfolioRules(cost_bps=0.0))
    assert (free.costs == 0).all()
    tight = backtest_strategy(panel, _Fixed(), fold, PortfolioRules(max_weight=0.1))
    np.testing.assert_allclose(tight.weights[0], [0.1, 0.1, 0.1, 0.7], atol=1e-12)


def test_market_core_observes_only_the_weights(panel):
    core = market_core(panel, PortfolioRules())
    assert core.n_features == 0 and core.obs_dim == core.act_dim == 4
    np.testing.assert_array_equal(core.reset(np.array([0]), np.array([2]))[0], [0, 0, 0, 1])
