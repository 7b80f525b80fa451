"""Strategies: feasibility, no look-ahead, refit schedule, hand-checked rules, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.data.panel import MarketPanel
from sacfolio.broker.rules import PortfolioRules
from sacfolio.strategies import (
    STRATEGIES, BuyAndHold, EqualWeight, HindsightTop5, InverseVolatility, MaximumSharpe,
    MinimumVariance, RefitSchedule, make_strategies,
)
from sacfolio.exceptions import ConfigError, EvaluationWindowError

N, T = 8, 240
FAST = RefitSchedule(refit_every=4, lookback=104, vol_window=26, min_history=52)


def _panel(close: np.ndarray | None = None, available: np.ndarray | None = None) -> MarketPanel:
    if close is None:
        rng = np.random.default_rng(0)
        drift = np.linspace(-0.001, 0.004, N)
        vol = np.linspace(0.015, 0.05, N)
        close = 50 * np.exp(np.cumsum(drift + vol * rng.standard_normal((T, N)), axis=0))
    if available is None:
        available = np.ones(close.shape, dtype=bool)
    dates = np.datetime64("2015-01-02") + 7 * np.arange(len(close))
    return MarketPanel(dates=dates, symbols=tuple(f"S{i}" for i in range(close.shape[1])),
                       close=close, available=available)


def _cash() -> np.ndarray:
    return np.append(np.zeros(N), 1.0)


def _run(strategy, ts: range) -> list[np.ndarray]:
    """Call decide on consecutive rows, feeding back the last target as 'drifted'."""
    out, drifted = [], _cash()
    for t in ts:
        drifted = strategy.decide(t, None, drifted)
        out.append(drifted)
    return out


def _assert_feasible(w: np.ndarray, c: PortfolioRules = PortfolioRules()) -> None:
    assert w.shape == (N + 1,)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert (w >= -1e-12).all()
    assert (w[:-1] <= c.max_weight + 1e-12).all()
    assert w[-1] >= c.cash_floor - 1e-12


def test_equal_weight_within_constraints() -> None:
    w = EqualWeight(_panel()).decide(150, None, _cash())
    np.testing.assert_allclose(w, [0.98 / 8] * 8 + [0.02])
    avail = np.ones((T, N), dtype=bool)
    avail[:, 3:] = False  # 3 symbols trade: 98% / 3 would exceed the 20% cap
    close = np.where(avail, 10.0, np.nan)
    w = EqualWeight(_panel(close, avail)).decide(5, None, _cash())
    np.testing.assert_allclose(w, [0.2, 0.2, 0.2, 0, 0, 0, 0, 0, 0.4])


def test_unavailable_symbols_get_nothing() -> None:
    panel = _panel()
    avail = panel.available.copy()
    avail[150:, 2] = False
    panel = _panel(np.where(avail, panel.close, np.nan), avail)
    for strategy in make_strategies(panel, schedule=FAST).values():
        for w in _run(strategy, range(140, 160))[10:]:
            assert w[2] == 0.0, strategy.name


@pytest.mark.parametrize("name", [n for n in STRATEGIES if n != "hindsight_top5"])
def test_no_look_ahead(name: str) -> None:
    panel = _panel()
    t0 = 168  # a refit week of the fitted baselines (160, 164, 168): the last decision refits
    bumped = panel.close.copy()
    bumped[t0 + 1:] *= np.random.default_rng(1).uniform(0.5, 2.0, size=bumped[t0 + 1:].shape)
    ts = range(160, t0 + 1)
    original = _run(STRATEGIES[name](panel, PortfolioRules(), FAST), ts)
    perturbed = _run(STRATEGIES[name](_panel(bumped), PortfolioRules(), FAST), ts)
    for a, b in zip(original, perturbed):
        np.testing.assert_array_equal(a, b)
        _assert_feasible(a)


def test_hindsight_reads_the_next_week_and_says_so() -> None:
    panel = _panel()
    strategy = HindsightTop5(panel)
    assert strategy.uses_future and not EqualWeight(panel).uses_future
    t = 100
    w = strategy.decide(t, None, _cash())
    ahead = panel.close[t + 1] / panel.close[t] - 1
    assert set(np.flatnonzero(w[:-1])) == set(np.argsort(ahead)[-5:])
    np.testing.assert_allclose(w[:-1][w[:-1] > 0], 0.98 / 5)
    _assert_feasible(w)
    flipped = panel.close.copy()
    worst = int(np.argmin(ahead))
    flipped[t + 1:, worst] *= 3.0  # only the future changes
    assert HindsightTop5(_panel(flipped)).decide(t, None, _cash())[worst] > 0
    with pytest.raises(EvaluationWindowError, match="next week"):
        strategy.decide(T - 1, None, _cash())
    top3 = HindsightTop5(panel, k=3)
    assert top3.name == "hindsight_top3"
    np.testing.assert_allclose(np.sort(top3.decide(t, None, _cash())[:-1])[-3:], 0.2)  # capped, 40% cash


def test_buy_and_hold_never_trades_after_buying() -> None:
    strategy = BuyAndHold(_panel())
    first = strategy.decide(100, None, _cash())
    np.testing.assert_allclose(first, [0.98 / 8] * 8 + [0.02])
    drifted = np.append(np.full(N, 0.1), 0.2)
    np.testing.assert_array_equal(strategy.decide(101, None, drifted), drifted)
    # a new run (not the next week) buys again
    np.testing.assert_allclose(strategy.decide(50, None, drifted), first)


def test_fitted_baselines_refit_every_four_weeks_and_hold_in_between() -> None:
    strategy = InverseVolatility(_panel(), schedule=FAST)
    drifted = _cash()
    for t in range(100, 112):
        target = strategy.decide(t, None, drifted)
        if (t - 100) % 4:
            np.testing.assert_array_equal(target, drifted)  # no trade between refits
        drifted = target * np.append(np.full(N, 1.01), 1.0)
        drifted /= drifted.sum()
    assert strategy.n_fits == 3 and strategy.fallbacks == 0


def test_inverse_volatility_by_hand() -> None:
    panel = _panel()
    t = 120
    wide = PortfolioRules(cash_floor=0.02, max_weight=1.0)
    w = InverseVolatility(panel, wide, schedule=FAST).decide(t, None, _cash())
    r = panel.close[t - 25:t + 1] / panel.close[t - 26:t] - 1  # the 26 returns up to t
    inv = 1.0 / r.std(axis=0, ddof=1)
    np.testing.assert_allclose(w[:-1], 0.98 * inv / inv.sum(), rtol=1e-12)
    assert w[:4].sum() > 2 * w[4:8].sum()  # calm symbols (vol 1.5-3%) outweigh wild ones (3.5-5%)


def _in_sample(panel: MarketPanel, t: int, w: np.ndarray) -> np.ndarray:
    r = panel.simple_returns()[t - 103:t + 1]
    return r @ (w[:-1] / w[:-1].sum())


def test_skfolio_baselines_beat_equal_weight_on_their_own_objective() -> None:
    panel = _panel()
    t = 150
    ew = EqualWeight(panel).decide(t, None, _cash())
    mv = MinimumVariance(panel, schedule=FAST).decide(t, None, _cash())
    ms = MaximumSharpe(panel, schedule=FAST).decide(t, None, _cash())
    for w in (mv, ms):
        _assert_feasible(w)
    assert _in_sample(panel, t, mv).var() < _in_sample(panel, t, ew).var()
    sr = lambda x: x.mean() / x.std()  # noqa: E731
    assert sr(_in_sample(panel, t, ms)) > sr(_in_sample(panel, t, ew))
    hrp = STRATEGIES["hrp"](panel, PortfolioRules(), FAST).decide(t, None, _cash())
    _assert_feasible(hrp)
    assert hrp[:-1].min() > 0  # HRP spreads over every symbol


def test_solver_failure_falls_back_to_equal_weight_and_is_counted() -> None:
    rng = np.random.default_rng(5)
    falling = 100 * np.exp(np.cumsum(-0.01 + 0.001 * rng.standard_normal((T, N)), axis=0))
    panel = _panel(falling)
    strategy = MaximumSharpe(panel, schedule=FAST)  # no asset has a positive mean: no max-Sharpe
    w = strategy.decide(150, None, _cash())
    np.testing.assert_allclose(w, EqualWeight(panel).decide(150, None, _cash()))
    assert strategy.fallbacks == 1 and strategy.n_fits == 0
    assert "risk-free" in strategy.fallback_log[0][1] and strategy.fallback_log[0][0] == str(panel.dates[150])


def test_too_little_history_falls_back() -> None:
    strategy = MinimumVariance(_panel(), schedule=FAST)
    w = strategy.decide(20, None, _cash())
    np.testing.assert_allclose(w, [0.98 / 8] * 8 + [0.02])
    assert strategy.fallbacks == 1 and "20 trailing weeks" in strategy.fallback_log[0][1]


def test_registry_and_config_errors() -> None:
    panel = _panel()
    assert list(make_strategies(panel)) == list(STRATEGIES)
    chosen = make_strategies(panel, ["hrp", "equal_weight"])
    assert [s.name for s in chosen.values()] == ["hrp", "equal_weight"]
    with pytest.raises(ConfigError, match="unknown baseline"):
        make_strategies(panel, ["magic"])
    with pytest.raises(ConfigError):
        PortfolioRules(max_weight=0.0)
    with pytest.raises(ConfigError):
        PortfolioRules(cash_floor=1.0)
    with pytest.raises(ConfigError):
        RefitSchedule(refit_every=0)
    with pytest.raises(ConfigError):
        RefitSchedule(lookback=20, min_history=52)
    with pytest.raises(ValueError, match="shape"):
        EqualWeight(panel).decide(3, None, np.ones(3))


@pytest.mark.parametrize("name", ["buy_and_hold", "inverse_volatility", "min_variance"])
def test_one_object_serves_consecutive_folds(name: str) -> None:
    """Folds touch (fold 2 starts the week after fold 1 ends) and each backtest starts in cash."""
    strategy = make_strategies(_panel(), [name], schedule=FAST)[name]
    _run(strategy, range(150, 160))
    fold2 = strategy.decide(160, None, _cash())  # t follows, but the new backtest holds only cash
    fresh = make_strategies(_panel(), [name], schedule=FAST)[name].decide(160, None, _cash())
    np.testing.assert_array_equal(fold2, fresh)
    assert fold2[:-1].sum() == pytest.approx(0.98)


def test_reset_starts_a_new_run() -> None:
    strategy = BuyAndHold(_panel())
    strategy.decide(100, None, _cash())
    drifted = np.append(np.full(N, 0.1), 0.2)
    strategy.reset()
    np.testing.assert_allclose(strategy.decide(101, None, drifted), [0.98 / 8] * 8 + [0.02])
    fitted = InverseVolatility(_panel(), schedule=FAST)
    fitted.decide(100, None, _cash())
    fitted.reset()
    assert not np.array_equal(fitted.decide(101, None, drifted), drifted)
    assert fitted.n_fits == 2


def test_strategy_names_are_the_ones_reports_show() -> None:
    assert list(STRATEGIES) == ["equal_weight", "buy_and_hold", "inverse_volatility", "min_variance",
                                "max_sharpe", "hrp", "hindsight_top5"]
    panel = _panel()
    assert all(s.name == n for n, s in make_strategies(panel).items())


def test_strategies_trade_under_the_rules_they_are_given() -> None:
    tight = PortfolioRules(cash_floor=0.3, max_weight=0.1)
    for strategy in make_strategies(_panel(), rules=tight, schedule=FAST).values():
        for w in _run(strategy, range(150, 153))[:1]:
            _assert_feasible(w, tight)
