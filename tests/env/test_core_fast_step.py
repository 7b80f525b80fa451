"""PortfolioCore's step (row tables, no broadcast operands, the fast projection) equals the
plain step written out from the broker's and the env's public pieces, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.costs import asset_growth, rebalance
from sacfolio.broker.projection import _bounds_table, _project_box_simplex, feasible_rows, weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.actions import masked_softmax, residual_point
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.env.rewards import excess_log_return, log_return

RULES = PortfolioRules(cash_floor=0.02, max_weight=0.2)
CONFIGS = {"softmax": EnvConfig(rules=RULES),
           "residual": EnvConfig(rules=RULES, action_mode="residual", reward="excess_log_return")}


def _market(rng: np.random.Generator, *, delistings: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    T, N, F = 80, 12, 3
    returns = rng.normal(0.0, 0.03, (T, N))
    features = rng.normal(size=(T, N, F))
    available = np.ones((T, N), bool)
    if delistings:
        available[rng.integers(0, T, 40), rng.integers(0, N, 40)] = False
    return returns, features, available


class _PlainCore:
    """The step as the plain expressions: gathers of per-row tables, the plain projection."""

    def __init__(self, returns, features, available, config: EnvConfig, bench: np.ndarray) -> None:
        self.config, self.bench = config, bench
        self.growth = asset_growth(returns)
        self.open = np.concatenate((available.astype(float), np.ones((len(available), 1))), axis=1)
        self.lo, self.hi = weight_bounds(available, config.rules)
        self.feat = features.reshape(len(returns), -1).astype(np.float32)

    def reset(self, start: np.ndarray) -> None:
        self.t = start.copy()
        self.w = np.zeros((len(start), self.open.shape[1]))
        self.w[:, -1] = 1.0
        self.wb = self.w.copy()

    def _project(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        return _project_box_simplex(y, *_bounds_table(self.lo[t], self.hi[t]))

    def step(self, action: np.ndarray):
        t, cfg = self.t, self.config
        if cfg.action_mode == "residual":
            point = residual_point(action, self.bench[t], self.open[t, :-1], cfg.tilt)
            target = self._project(point, t)
            keep = feasible_rows(point, self.lo[t], self.hi[t])
            target[keep] = point[keep]
        else:
            target = self._project(masked_softmax(action, cfg.logit_scale, self.open[t]), t)
        fill = rebalance(target, self.w, self.growth[t + 1], cfg.rules.cost_rate)
        if cfg.reward == "excess_log_return":
            bench = rebalance(self.bench[t], self.wb, self.growth[t + 1], cfg.rules.cost_rate)
            reward, self.wb = excess_log_return(fill.growth, bench.growth), bench.drifted
        else:
            reward = log_return(fill.growth)
        self.w, self.t = fill.drifted, t + 1
        obs = np.concatenate((self.feat[self.t], self.w.astype(np.float32)), axis=1)
        return obs, reward, fill, target


@pytest.mark.parametrize("mode", sorted(CONFIGS))
@pytest.mark.parametrize("delistings", [False, True])
def test_steps_equal_the_plain_step_bit_for_bit(mode, delistings):
    rng = np.random.default_rng(7)
    returns, features, available = _market(rng, delistings=delistings)
    core = PortfolioCore(returns, features, available, CONFIGS[mode])
    plain = _PlainCore(returns, features, available, CONFIGS[mode], core.benchmark)
    for batch in (1, 5, 64):
        start = rng.integers(0, 50, batch)
        np.testing.assert_array_equal(core.reset(start, start + 25)[:, :36], plain.feat[start])
        plain.reset(start)
        for _ in range(25):
            action = rng.uniform(-1.0, 1.0, (batch, 13))
            obs, reward, done, info = core.step(action)
            want_obs, want_reward, fill, target = plain.step(action)
            np.testing.assert_array_equal(obs, want_obs)
            np.testing.assert_array_equal(reward, want_reward)
            np.testing.assert_array_equal(info["weights"], target)
            np.testing.assert_array_equal(info["turnover"], fill.turnover)
            np.testing.assert_array_equal(core.weights, plain.w)
        assert done.all()


def test_stepping_past_any_portfolios_stop_raises_until_it_is_reset():
    rng = np.random.default_rng(8)
    core = PortfolioCore(*_market(rng, delistings=False), CONFIGS["softmax"])
    with pytest.raises(RuntimeError, match="call reset"):
        core.step(np.zeros((1, 13)))
    core.reset(np.array([0, 10]), np.array([2, 20]))
    core.step(np.zeros((2, 13)))
    core.step(np.zeros((2, 13)))
    with pytest.raises(RuntimeError, match="call reset"):
        core.step(np.zeros((2, 13)))
    core.reset(np.array([30]), np.array([31]), which=np.array([True, False]))
    core.step(np.zeros((2, 13)))  # both portfolios have a step left: 30 -> 31 and 12 -> 13
    with pytest.raises(RuntimeError, match="call reset"):
        core.step(np.zeros((2, 13)))
    core.reset(np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    with pytest.raises(RuntimeError, match="call reset"):
        core.step(np.zeros((0, 13)))
