"""Counterfactual periods: replaying a decision with another action gives what the env would have given."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.venue import BrokerVenue
from sacfolio.data.sources.sample import load_sp500_sample
from sacfolio.env.actions import action_to_weights
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.env.counterfactual import counterfactual_period
from sacfolio.exceptions import ConfigError

T, N, F = 40, 6, 2
SETTINGS = {
    "softmax, log return": {},
    "residual, excess, slow execution": {"action_mode": "residual", "tilt": 0.5, "reward": "excess_log_return",
                                         "execution": {"rebalance_rate": 0.5, "no_trade_band": 0.01}},
    "residual, excess, training costs x3": {"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return",
                                            "train_cost_multiplier": 3.0},
}


def _core(settings: dict, training: bool = True) -> PortfolioCore:
    rng = np.random.default_rng(0)
    returns = rng.normal(0.002, 0.04, (T, N))
    available = np.ones((T, N), bool)
    available[:12, 4] = False  # a stock that lists later: the masks must follow the row
    return PortfolioCore(returns, rng.normal(size=(T, N, F)), available, EnvConfig.from_dict(settings),
                         training=training)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_another_action_earns_what_the_env_gives_it(name):
    """Two batches in identical states, one stepping with a, the other with a': the reward
    difference is exactly log_growth(a') - log_growth(a), and a''s next weights are its drift."""
    rng = np.random.default_rng(1)
    core_a, core_b = _core(SETTINGS[name]), _core(SETTINGS[name])
    start, stop = np.array([3, 10, 20, 25]), np.array([30, 30, 38, 39])
    core_a.reset(start, stop)
    core_b.reset(start, stop)
    for _ in range(5):  # walk both along the same actions so the drifted weights are not cash
        shared = rng.uniform(-1, 1, (4, N + 1))
        core_a.step(shared)
        core_b.step(shared)
    rows, drifted = core_a.t, core_a.weights
    a, a_new = rng.uniform(-1, 1, (4, N + 1)), rng.uniform(-1, 1, (4, N + 1))
    _, reward_a, _, _ = core_a.step(a)
    obs_b, reward_b, _, _ = core_b.step(a_new)
    stored = counterfactual_period(core_a, rows, drifted, a)
    fresh = counterfactual_period(core_a, rows, drifted, a_new)
    np.testing.assert_allclose(reward_a + fresh.log_growth - stored.log_growth, reward_b, rtol=0, atol=1e-13)
    np.testing.assert_allclose(fresh.drifted, core_b.weights, rtol=0, atol=1e-15)
    np.testing.assert_allclose(obs_b[:, -(N + 1):], fresh.drifted.astype(np.float32), rtol=0, atol=0)
    assert (core_a.t == rows + 1).all()  # the replay left the episodes where the step put them


def test_the_training_multiplier_is_charged_and_a_backtest_core_pays_the_rules():
    settings = SETTINGS["residual, excess, training costs x3"]
    train, test = _core(settings, training=True), _core(settings, training=False)
    rows, cash = np.array([15]), np.eye(N + 1)[[N]]
    action = np.full((1, N + 1), 0.3)
    action[0, :3] = -0.7
    lost = counterfactual_period(test, rows, cash, action).log_growth - counterfactual_period(
        train, rows, cash, action).log_growth
    # from cash the turnover is the stocks' target weight; training pays 30 bps on it, a backtest 10
    target = action_to_weights(action, train.config, train.available[rows], train.benchmark[rows])
    bought = 1.0 - target[0, -1]
    assert 0.5 < bought <= 0.98
    assert np.exp(lost[0]) == pytest.approx((1 - 1e-3 * bought) / (1 - 3e-3 * bought), rel=1e-12)


def test_bad_rows_and_broker_cores_are_refused(tmp_path):
    core = _core({})
    with pytest.raises(ValueError, match="decision rows"):
        counterfactual_period(core, np.array([T - 1]), np.eye(N + 1)[[N]], np.zeros((1, N + 1)))
    panel = load_sp500_sample(start="2019-01-01", end="2019-12-31")
    days = [{"dayOfWeek": d, "daysCharged": 1} for d in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]
    row = {"type": "CFD", "pipLocation": -2, "displayPrecision": 10, "tradeUnitsPrecision": 8,
           "minimumTradeSize": 0, "marginRate": 1.0, "quoteCurrency": "USD", "typicalSpreadPips": 0,
           "financing": {"longRate": 0.0, "shortRate": 0.0, "financingDaysOfWeek": days}}
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps({"instruments": [dict(row, name=s) for s in panel.symbols]}))
    rules = PortfolioRules(broker=BrokerVenue(instruments=str(path)))
    broker = PortfolioCore(panel.simple_returns(), np.zeros((panel.n_dates, panel.n_symbols, 0)), panel.available,
                           EnvConfig(rules=rules), panel=panel)
    with pytest.raises(ConfigError, match="broker"):
        counterfactual_period(broker, np.array([0]), np.eye(panel.n_symbols + 1)[[panel.n_symbols]],
                              np.zeros((1, panel.n_symbols + 1)))
