"""The strategy-allocation env and book: no look-ahead, one-hot = the strategy alone, netting
saves costs, attribution sums, Gymnasium's checker passes."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from sacfolio.broker.quotes import Quotes
from sacfolio.data.bars import Bars
from sacfolio.env.allocation import AllocationEnv
from sacfolio.env.allocation_book import book_step, open_book
from sacfolio.env.allocation_run import (AllocationConfig, allocation_inputs, book_broker, run_book,
                                         shares_from_weights)
from sacfolio.env.allocation_state import StateConfig, zoo_strategies
from sacfolio.strategies.zoo import ZooConfig

ZOO = ZooConfig(momentum_window=5, reversion_window=2, fast_window=3, slow_window=6, breakout_window=5,
                vol_window=3, vol_long_window=6, rsi_window=4, bollinger_window=5, risk_window=6)
CONFIG = AllocationConfig(band=0.0, state=StateConfig(history=8, windows=(4, 8)))
STRATEGIES = zoo_strategies(CONFIG.rules, config=ZOO)


@pytest.fixture(scope="module")
def bars() -> Bars:
    from sacfolio.data.intraday import IntradayConfig, synthetic_bars

    full = synthetic_bars(["AAPL", "AMD", "BAC", "BBY", "CVX"], config=IntradayConfig(sessions=1), seed=5)
    return _cut(full, 70)


def _cut(b: Bars, n: int, *, future: float = 1.0) -> Bars:
    """The first ``n`` bars; ``future`` scales the prices after bar 40 (a changed future)."""
    scale = np.ones((len(b.times), 1))
    scale[41:] = future
    return Bars(times=b.times[:n], symbols=b.symbols, open=(b.open * scale)[:n], high=(b.high * scale)[:n],
                low=(b.low * scale)[:n], close=(b.close * scale)[:n], bid=(b.bid * scale)[:n],
                ask=(b.ask * scale)[:n], source="test")


@pytest.fixture(scope="module")
def inputs(bars):
    return allocation_inputs(bars, STRATEGIES, CONFIG, exact=True)


def test_each_strategy_and_the_state_use_past_bars_only(bars, inputs):
    changed = allocation_inputs(_cut(bars, 50, future=1.3), STRATEGIES, CONFIG, exact=True)
    truncated = allocation_inputs(_cut(bars, 41), STRATEGIES, CONFIG, exact=True)
    for other in (changed, truncated):
        assert np.array_equal(other.targets[:41], inputs.targets[:41])  # every strategy, bit for bit
        assert np.array_equal(other.states[:41], inputs.states[:41])
    assert not np.array_equal(changed.targets[42:], inputs.targets[42:50])


def test_batched_targets_match_the_bar_by_bar_ones(bars, inputs):
    fast = allocation_inputs(bars, STRATEGIES, CONFIG, exact=False)
    assert np.allclose(fast.targets, inputs.targets, atol=1e-9) and np.allclose(fast.states, inputs.states,
                                                                                 atol=1e-6)


def test_a_one_hot_allocation_trades_that_strategy_alone(inputs):
    k = 2
    one_hot = np.eye(len(inputs.strategies))[k]
    run = run_book(inputs, lambda state, r: one_hot, CONFIG)
    broker = book_broker(inputs.symbols, CONFIG)
    account, navs = broker.open(1, CONFIG.deposit), []
    for t in range(inputs.first, len(inputs.times)):
        quotes = Quotes(inputs.quotes.bid[t], inputs.quotes.ask[t])
        weights = (1.0 - CONFIG.cash_floor) * inputs.targets[t, k, :-1]
        step = broker.step(account, quotes, weights=weights[None])
        account, navs = step.state, navs + [float(step.snapshot.nav[0])]
    assert np.allclose(run.nav, navs, rtol=1e-12)
    assert np.allclose(run.strategy_pnl[:, [j for j in range(len(one_hot)) if j != k]], 0.0)


def test_netting_costs_no_more_than_each_strategy_trading_alone(inputs):
    broker = book_broker(inputs.symbols, CONFIG)
    state, k = open_book(broker, len(inputs.strategies), CONFIG.deposit), len(inputs.strategies)
    shares = shares_from_weights(np.full(k, 1.0 / k), inputs.bad[0], CONFIG.cash_floor)
    netted, separate, crossed = 0.0, 0.0, 0
    for t in range(inputs.first, len(inputs.times)):
        quotes = Quotes(inputs.quotes.bid[t], inputs.quotes.ask[t])
        step = book_step(broker, state, quotes, shares, inputs.targets[t])
        netted += step.strategy_costs.sum()
        for order in step.strategy_fills:  # each strategy's own order, in an account of its own
            fills = broker.submit(broker.open(1, 1e9), order[None], quotes)[1]
            separate += float((fills.spread_cost + fills.commission).sum())
        crossed += int(((step.strategy_fills > 0).any(0) & (step.strategy_fills < 0).any(0)).sum())
        state = step.state
    assert crossed > 0 and netted < separate


def test_per_strategy_pnl_and_costs_sum_to_the_book_on_every_bar(inputs):
    run = run_book(inputs, lambda state, r: np.full(len(inputs.strategies), 1.0 / len(inputs.strategies)),
                   CONFIG)
    parts = (run.strategy_pnl - run.strategy_cost).sum(axis=1)
    assert np.max(np.abs(parts - run.pnl)) < 1e-8
    assert run.cost.sum() > 0 and np.allclose(run.strategy_cost.sum(axis=1), run.cost)
    units = run.final.units.sum(axis=0)
    assert np.allclose(units, run.final.account.units[0], rtol=1e-12, atol=1e-9)


def test_the_env_passes_gymnasiums_checker_and_rewards_net_log_returns(inputs):
    env = AllocationEnv(inputs, CONFIG, episode_length=20)
    print(f"state_dim={env.state_dim}, action_dim={env.action_dim}")
    assert (env.state_dim, env.action_dim) == (78, 9)
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    assert np.array_equal(obs, again)
    total, nav = 0.0, CONFIG.deposit
    for _ in range(20):
        obs, reward, terminated, truncated, info = env.step(np.zeros(env.action_dim, dtype=np.float32))
        total += reward
        nav = info["nav"]
    assert truncated and not terminated and total == pytest.approx(np.log(nav / CONFIG.deposit), abs=1e-12)
