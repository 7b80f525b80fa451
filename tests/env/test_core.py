"""PortfolioCore: costs on drifted weights, rewards, action modes, execution, episodes, batching."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sacfolio.broker.execution import ExecutionRules
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import equal_weights
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.exceptions import DataError, EvaluationWindowError

LOOSE = EnvConfig(rules=PortfolioRules(cash_floor=0.02, max_weight=0.6, cost_bps=10.0))


def _two_stock_core(config: EnvConfig = LOOSE) -> PortfolioCore:
    # rows: 0 (start), 1: A +10%, B -5%, 2: A -20%, B 0%
    returns = np.array([[0.0, 0.0], [0.10, -0.05], [-0.20, 0.0]])
    features = np.arange(3 * 2 * 1, dtype=float).reshape(3, 2, 1)
    return PortfolioCore(returns, features, np.ones((3, 2), bool), config)


def test_costs_with_drift_hand_worked():
    core = _two_stock_core()
    core.reset(np.array([0]), np.array([2]))
    # Period 1 from 100% cash to (A 0.5, B 0.3, cash 0.2):
    #   turnover = |0.5 - 0| + |0.3 - 0| = 0.8, cost = 10 bps * 0.8 = 0.0008
    #   gross = 0.5 * 1.10 + 0.3 * 0.95 + 0.2 * 1 = 1.035, net growth = 0.9992 * 1.035 = 1.034172
    #   drifted = (0.55, 0.285, 0.2) / 1.035 = (0.5314010, 0.2753623, 0.1932367)
    _, reward, done, info = core.step_weights(np.array([[0.5, 0.3, 0.2]]))
    assert info["turnover"][0] == pytest.approx(0.8, abs=1e-15)
    assert info["cost"][0] == pytest.approx(0.0008, abs=1e-15)
    assert info["net_return"][0] == pytest.approx(0.034172, abs=1e-12)
    assert reward[0] == pytest.approx(math.log(1.034172), abs=1e-12)
    np.testing.assert_allclose(core.weights[0], [0.55 / 1.035, 0.285 / 1.035, 0.2 / 1.035], atol=1e-15)
    assert not done[0]
    # Period 2 to (A 0.2, B 0.5, cash 0.3), turnover on the drifted weights:
    #   |0.2 - 0.55/1.035| + |0.5 - 0.285/1.035| = (0.343 + 0.2325) / 1.035 = 0.5560386
    #   cost = 0.000556039, gross = 0.2 * 0.8 + 0.5 * 1.0 + 0.3 = 0.96
    #   net growth = (1 - 0.000556039) * 0.96 = 0.9594662029
    _, reward, done, info = core.step_weights(np.array([[0.2, 0.5, 0.3]]))
    assert info["turnover"][0] == pytest.approx(0.5755 / 1.035, abs=1e-14)
    assert info["cost"][0] == pytest.approx(0.0005755 / 1.035, abs=1e-15)
    assert info["net_return"][0] == pytest.approx(0.9594662028985507 - 1.0, abs=1e-12)
    assert reward[0] == pytest.approx(math.log(0.9594662028985507), abs=1e-12)
    np.testing.assert_allclose(core.weights[0], [0.16 / 0.96, 0.5 / 0.96, 0.3 / 0.96], atol=1e-15)
    assert done[0]


def test_cost_bps_is_charged():
    free = _two_stock_core(EnvConfig(rules=PortfolioRules(cost_bps=0.0, max_weight=0.6)))
    free.reset(np.array([0]), np.array([2]))
    _, reward, _, info = free.step_weights(np.array([[0.5, 0.3, 0.2]]))
    assert info["cost"][0] == 0.0 and reward[0] == pytest.approx(math.log(1.035), abs=1e-15)


def test_targets_are_projected_onto_the_constraints():
    core = _two_stock_core(EnvConfig(rules=PortfolioRules(max_weight=0.3, cash_floor=0.1)))
    core.reset(np.array([0]), np.array([2]))
    _, _, _, info = core.step_weights(np.array([[0.9, 0.1, 0.0]]))
    w = info["weights"][0]
    assert w[0] == pytest.approx(0.3) and w[2] >= 0.1 - 1e-12 and w.sum() == pytest.approx(1.0, abs=1e-12)


def _random_core(seed: int, T: int = 40, N: int = 5, F: int = 3, config: EnvConfig = EnvConfig()):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0, 0.04, (T, N)), axis=0))
    available = rng.random((T, N)) > 0.15
    returns = np.zeros((T, N))
    both = available[1:] & available[:-1]
    returns[1:] = np.where(both, close[1:] / close[:-1] - 1.0, 0.0)
    features = rng.normal(size=(T, N, F))
    return PortfolioCore(returns, features, available, config), close, available, features


def test_reward_is_log_of_net_growth_in_money_terms():
    core, close, available, _ = _random_core(1)
    available[:] = True  # price every stock on every row
    returns = np.zeros_like(close)
    returns[1:] = close[1:] / close[:-1] - 1.0
    core = PortfolioCore(returns, np.zeros(close.shape + (1,)), available, EnvConfig())
    rng = np.random.default_rng(7)
    core.reset(np.array([3]), np.array([20]))
    value, cash, shares, total_reward = 1.0, 1.0, np.zeros(close.shape[1]), 0.0
    for t in range(3, 20):
        _, reward, _, info = core.step(rng.uniform(-1, 1, (1, 6)))
        target = info["weights"][0]
        held = shares * close[t]
        traded = np.abs(target[:-1] * value - held).sum()
        value -= 1e-3 * traded  # 10 bps of the traded money, paid before investing
        shares = target[:-1] * value / close[t]
        cash = target[-1] * value
        new_value = shares @ close[t + 1] + cash
        assert reward[0] == pytest.approx(math.log(new_value / (value + 1e-3 * traded)), abs=1e-12)
        value = new_value
        total_reward += reward[0]
    assert total_reward == pytest.approx(math.log(value), abs=1e-12)


def test_episode_bookkeeping_and_observation_layout():
    core, _, available, features = _random_core(2)
    obs = core.reset(np.array([5]), np.array([8]))
    N, F = features.shape[1:]
    assert obs.dtype == np.float32 and obs.shape == (1, N * F + N + 1) == (1, core.obs_dim)
    np.testing.assert_array_equal(obs[0, : N * F], features[5].ravel().astype(np.float32))
    np.testing.assert_array_equal(obs[0, N * F:], [0.0] * N + [1.0])
    rng = np.random.default_rng(0)
    for t, last in ((5, False), (6, False), (7, True)):
        obs, _, done, info = core.step(rng.uniform(-1, 1, (1, N + 1)))
        assert info["t"][0] == t and done[0] == last
        assert (info["weights"][0, :-1][~available[t]] == 0.0).all()
        np.testing.assert_array_equal(obs[0, : N * F], features[t + 1].ravel().astype(np.float32))
        np.testing.assert_array_equal(obs[0, N * F:], core.weights[0].astype(np.float32))
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.zeros((1, N + 1)))


def test_batched_run_equals_separate_runs():
    core, *_ = _random_core(3)
    starts, stops = np.array([0, 4, 10, 4, 25]), np.array([12, 16, 22, 9, 39])
    rng = np.random.default_rng(11)
    actions = rng.uniform(-1, 1, (12, 5, 6))
    core.reset(starts, stops)
    batched = []
    for k in range(5):  # every episode runs at least 5 steps
        obs, reward, done, info = core.step(actions[k])
        batched.append((obs, reward, info["turnover"]))
    for b in range(5):
        single, *_ = _random_core(3)
        single.reset(starts[b:b + 1], stops[b:b + 1])
        for k in range(5):
            obs, reward, _, info = single.step(actions[k, b:b + 1])
            np.testing.assert_allclose(obs[0], batched[k][0][b], rtol=0, atol=1e-6)
            assert reward[0] == pytest.approx(batched[k][1][b], abs=1e-13)
            assert info["turnover"][0] == pytest.approx(batched[k][2][b], abs=1e-13)


def test_partial_reset_restarts_only_the_selected_portfolios():
    core, *_ = _random_core(4)
    core.reset(np.array([0, 5]), np.array([3, 20]))
    for _ in range(3):
        _, _, done, _ = core.step(np.zeros((2, 6)))
    assert done.tolist() == [True, False]
    kept = core.weights[1]
    core.reset(np.array([30]), np.array([35]), which=done)
    assert core.t.tolist() == [30, 8]
    np.testing.assert_array_equal(core.weights[0], [0, 0, 0, 0, 0, 1.0])
    np.testing.assert_array_equal(core.weights[1], kept)


@pytest.mark.parametrize(("start", "stop"), [(-1, 5), (5, 5), (0, 40)])
def test_reset_rejects_rows_outside_the_data(start, stop):
    core, *_ = _random_core(5)
    with pytest.raises(EvaluationWindowError, match=f"start={start}, stop={stop}"):
        core.reset(np.array([start]), np.array([stop]))


def test_non_finite_inputs_are_rejected():
    with pytest.raises(ValueError, match="finite"):
        PortfolioCore(np.zeros((3, 2)), np.full((3, 2, 1), np.nan), np.ones((3, 2), bool), EnvConfig())


# ------------------------------------------- action modes, execution, rewards, training costs
def test_a_zero_residual_action_holds_exactly_the_benchmark_every_row():
    config = EnvConfig(action_mode="residual", tilt=0.05)
    core, _, available, _ = _random_core(4, config=config)
    np.testing.assert_array_equal(core.benchmark, np.stack([equal_weights(a, config.rules) for a in available]))
    core.reset(np.array([0, 7]), np.array([30, 30]))
    for _ in range(20):
        _, _, _, info = core.step(np.zeros((2, 6)))
        np.testing.assert_array_equal(info["weights"], core.benchmark[info["t"]])


def test_the_residual_core_follows_a_given_benchmark():
    core, _, available, _ = _random_core(5)
    strategy = np.where(np.append(available, np.ones((len(available), 1), bool), axis=1), 1.0, 0.0)
    strategy[:, :-1] *= 0.1  # 10% per tradable stock, the rest in cash: feasible
    strategy[:, -1] = 1.0 - strategy[:, :-1].sum(axis=1)
    config = EnvConfig(action_mode="residual")
    core = PortfolioCore(core.returns, np.zeros(core.returns.shape + (0,)), available, config, benchmark=strategy)
    core.reset(np.array([2]), np.array([10]))
    _, _, _, info = core.step(np.zeros((1, 6)))
    np.testing.assert_array_equal(info["weights"][0], strategy[2])
    with pytest.raises(DataError, match="benchmark weights must be"):
        PortfolioCore(core.returns, np.zeros(core.returns.shape + (0,)), available, config, benchmark=strategy[1:])


def test_partial_rebalancing_in_the_core_by_hand():
    config = dataclasses.replace(LOOSE, execution=ExecutionRules(rebalance_rate=0.5))
    core = _two_stock_core(config)
    core.reset(np.array([0]), np.array([2]))
    # half way from 100% cash to (0.5, 0.3, 0.2): (0.25, 0.15, 0.6); turnover 0.4, cost 0.0004
    #   gross 0.25 * 1.10 + 0.15 * 0.95 + 0.6 = 1.0175, net growth 0.9996 * 1.0175
    _, reward, _, info = core.step_weights(np.array([[0.5, 0.3, 0.2]]))
    np.testing.assert_allclose(info["weights"][0], [0.25, 0.15, 0.6], atol=1e-15)
    assert info["turnover"][0] == pytest.approx(0.4, abs=1e-15)
    assert info["cost"][0] == pytest.approx(0.0004, abs=1e-16)
    assert reward[0] == pytest.approx(math.log(0.9996 * 1.0175), abs=1e-14)
    # what a step would trade from given weights, without stepping (serving asks this)
    drifted = core.weights
    traded = core.trade_weights(np.array([[0.5, 0.3, 0.2]]), np.array([1]), drifted)
    _, _, _, info = core.step_weights(np.array([[0.5, 0.3, 0.2]]))
    np.testing.assert_array_equal(traded, info["weights"])


def test_the_training_cost_multiplier_is_charged_in_training_cores_only():
    config = dataclasses.replace(LOOSE, train_cost_multiplier=2.5)
    costs = {}
    for training in (False, True):
        returns = np.array([[0.0, 0.0], [0.10, -0.05], [-0.20, 0.0]])
        core = PortfolioCore(returns, np.zeros((3, 2, 0)), np.ones((3, 2), bool), config, training=training)
        core.reset(np.array([0]), np.array([2]))
        _, reward, _, info = core.step_weights(np.array([[0.5, 0.3, 0.2]]))
        costs[training] = (core.cost_rate, info["cost"][0], reward[0])
    # turnover 0.8: 10 bps -> 0.0008 in a backtest, 25 bps -> 0.002 in training
    assert costs[False][:2] == pytest.approx((0.001, 0.0008), abs=1e-15)
    assert costs[True][:2] == pytest.approx((0.0025, 0.002), abs=1e-15)
    assert costs[True][2] == pytest.approx(math.log(0.998 * 1.035), abs=1e-14)


def test_excess_reward_is_the_log_return_less_the_benchmark_portfolios():
    execution = ExecutionRules(rebalance_rate=0.5, no_trade_band=0.01)
    excess = EnvConfig(reward="excess_log_return", execution=execution)
    plain = EnvConfig(execution=execution)
    core, *_ = _random_core(6, config=excess)
    agent, *_ = _random_core(6, config=plain)
    bench, *_ = _random_core(6, config=plain)
    rng = np.random.default_rng(1)
    for c in (core, agent, bench):
        c.reset(np.array([3, 9]), np.array([30, 30]))
    for _ in range(15):
        action = rng.uniform(-1, 1, (2, 6))
        t = core.t
        _, reward, _, _ = core.step(action)
        _, r_agent, _, _ = agent.step(action)
        _, r_bench, _, _ = bench.step_weights(bench.benchmark[t])  # equal weight, same execution and costs
        np.testing.assert_allclose(reward, r_agent - r_bench, rtol=0, atol=1e-15)


def test_a_zero_residual_action_earns_an_excess_reward_of_exactly_zero():
    config = EnvConfig(action_mode="residual", reward="excess_log_return", train_cost_multiplier=3.0,
                       execution=ExecutionRules(rebalance_rate=0.25, no_trade_band=0.005))
    core, *_ = _random_core(7, config=config)
    core = PortfolioCore(core.returns, np.zeros(core.returns.shape + (0,)), core.available, config, training=True)
    core.reset(np.array([0, 5, 12]), np.array([35, 35, 35]))
    paid = 0.0
    for _ in range(20):
        _, reward, _, info = core.step(np.zeros((3, 6)))
        np.testing.assert_array_equal(reward, 0.0)
        paid += info["cost"].sum()
    assert paid > 0.0  # both portfolios traded and paid (the same) costs
