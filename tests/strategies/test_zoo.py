"""The advisor zoo: feasibility on any input, no look-ahead, shapes, and known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.zoo import ADVISORS, ZooConfig, advisor_weights, all_advisor_weights
from sacfolio.strategies.zoo_baselines import AdvisorStrategy, panel_history
from sacfolio.strategies.zoo_risk import min_variance_weights, quadratic_weights, risk_parity_weights

OPEN = PortfolioRules(cash_floor=0.02, max_weight=1.0)  # no binding cap: the advisors' own answers
SMALL = ZooConfig(momentum_window=6, reversion_window=3, fast_window=3, slow_window=8, breakout_window=6,
                  vol_window=4, vol_long_window=8, rsi_window=4, bollinger_window=6, risk_window=6)


def _market(rng: np.random.Generator, B: int, N: int, T: int) -> np.ndarray:
    return 50.0 * np.exp(np.cumsum(0.03 * rng.standard_normal((B, N, T)), axis=-1))[..., None]


def _assert_feasible(w: np.ndarray, live: np.ndarray, rules: PortfolioRules) -> None:
    assert np.isfinite(w).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=1e-12)
    assert (w >= 0.0).all()
    assert (w[..., :-1] <= rules.max_weight + 1e-12).all()
    assert (w[..., -1] >= rules.cash_floor - 1e-12).all()
    assert (w[..., :-1][~live] == 0.0).all()


@pytest.mark.parametrize("config", [SMALL, ZooConfig()], ids=["small", "default"])
@pytest.mark.parametrize("rules", [PortfolioRules(), PortfolioRules(cash_floor=0.1, max_weight=0.5)])
@pytest.mark.parametrize("T", [1, 7, 60])
def test_every_advisor_is_feasible_on_random_markets_with_dead_slots_and_gaps(rules, T, config) -> None:
    rng = np.random.default_rng(T)
    B, N = 24, 7
    history = _market(rng, B, N, T)
    history[rng.random((B, N, T)) < 0.05] = np.nan  # gaps anywhere, the last row included
    history[0, :, :T // 2] = np.nan  # symbols listed half-way
    history[1] = np.nan  # a sample with nothing live
    history[2, :, :, 0] = 7.0  # prices that never move
    mask = rng.random((B, N)) < 0.7
    mask[3] = True
    live = mask & np.isfinite(history[:, :, -1, 0])
    weights = all_advisor_weights(history, mask, rules=rules, config=config)
    assert weights.shape == (B, len(ADVISORS), N + 1)
    _assert_feasible(weights, np.broadcast_to(live[:, None], weights.shape[:2] + (N,)), rules)
    np.testing.assert_array_equal(weights[1, :, -1], 1.0)  # nothing live: all CASH


def test_all_advisor_weights_stacks_each_advisor_and_none_is_all_mask_live() -> None:
    history = _market(np.random.default_rng(1), 4, 5, 40)
    stacked = all_advisor_weights(history, config=SMALL)
    for k, name in enumerate(ADVISORS):
        one = advisor_weights(name, history, config=SMALL)
        np.testing.assert_array_equal(stacked[:, k], one)
        np.testing.assert_array_equal(one, advisor_weights(name, history, np.ones((4, 5), bool), config=SMALL))
    assert len(ADVISORS) >= 9 and len(set(ADVISORS)) == len(ADVISORS)


def test_a_single_bar_is_upcast_and_gets_equal_weight_over_live_slots() -> None:
    bar = np.random.default_rng(2).uniform(10, 20, (3, 6, 4))
    mask = np.array([[1, 1, 1, 0, 0, 0], [1] * 6, [0] * 6], dtype=bool)
    for name in ADVISORS:
        flat = advisor_weights(name, bar, mask)
        np.testing.assert_array_equal(flat, advisor_weights(name, bar[:, :, None, :], mask))
        np.testing.assert_allclose(flat[0], [0.2, 0.2, 0.2, 0, 0, 0, 0.4])  # 98% / 3 is over the cap
        np.testing.assert_allclose(flat[1], [0.98 / 6] * 6 + [0.02])
        np.testing.assert_array_equal(flat[2], [0] * 6 + [1])


def test_only_the_close_feature_and_the_last_history_window_matter() -> None:
    rng = np.random.default_rng(3)
    history = np.concatenate((_market(rng, 3, 5, 30), rng.standard_normal((3, 5, 30, 2))), axis=-1)
    older = np.concatenate((_market(rng, 3, 5, 20) * history[:, :, :1, :1], history[..., :1]), axis=2)
    base = all_advisor_weights(history[..., :1], config=SMALL)
    np.testing.assert_array_equal(all_advisor_weights(history, config=SMALL), base)
    # rows older than config.history never change a weight: the windows are in bars
    np.testing.assert_array_equal(all_advisor_weights(older[:, :, -SMALL.history:], config=SMALL),
                                  all_advisor_weights(older, config=SMALL))


def test_permuting_slots_permutes_the_weights() -> None:
    rng = np.random.default_rng(4)
    history, mask = _market(rng, 5, 6, 40), rng.random((5, 6)) < 0.8
    order = rng.permutation(6)
    base = all_advisor_weights(history, mask, config=SMALL)
    moved = all_advisor_weights(history[:, order], mask[:, order], config=SMALL)
    np.testing.assert_allclose(moved, np.concatenate((base[..., order], base[..., -1:]), axis=-1), atol=1e-9)


@pytest.mark.parametrize("name", ADVISORS)
def test_no_advisor_baseline_looks_ahead(name) -> None:
    """Changing prices after row t, or delisting a symbol after t, leaves every decision <= t unchanged."""
    rng = np.random.default_rng(5)
    T, N, t = 90, 5, 60
    close = 40.0 * np.exp(np.cumsum(0.03 * rng.standard_normal((T, N)), axis=0))
    available = np.ones((T, N), dtype=bool)
    changed, delisted = close.copy(), available.copy()
    changed[t + 1:] *= rng.uniform(0.5, 1.5, (T - t - 1, N))
    delisted[t + 1:, 2] = False
    runs = []
    for c, a in ((close, available), (changed, available), (close, delisted)):
        panel = MarketPanel(dates=np.datetime64("2015-01-02") + 7 * np.arange(T), symbols=tuple("ABCDE"),
                            close=c, available=a)
        strategy = AdvisorStrategy(panel, advisor=name, config=SMALL)
        runs.append(np.array([strategy.decide(s, None, np.eye(N + 1)[-1]) for s in range(t + 1)]))
    np.testing.assert_array_equal(runs[1], runs[0])
    np.testing.assert_array_equal(runs[2], runs[0])
    # ... and the decision at t is the pure function of the closes up to t (one sample instead of
    # a batch of 90 can change the matmul kernels' rounding)
    np.testing.assert_allclose(runs[0][t], advisor_weights(name, close[:t + 1].T[None, :, :, None],
                                                           config=SMALL)[0], rtol=0, atol=1e-12)


def _paths(*returns: list[float]) -> np.ndarray:
    """One sample of prices starting at 100 from each stock's simple returns, [1, N, T, 1]."""
    r = np.asarray(returns, dtype=np.float64)
    return (100.0 * np.cumprod(np.concatenate((np.ones((len(r), 1)), 1.0 + r), axis=1), axis=1))[None, ..., None]


def test_momentum_favours_the_riser_and_mean_reversion_the_faller() -> None:
    up, flat, down = [0.01] * 8, [0.0] * 8, [1 / 1.01 - 1] * 8  # log returns +a, 0, -a
    history = _paths(up, flat, down)
    np.testing.assert_allclose(advisor_weights("momentum", history, rules=OPEN, config=SMALL)[0], [0.98, 0, 0, 0.02])
    assert advisor_weights("mean_reversion", history, rules=OPEN, config=SMALL)[0, 2] > 0.9
    # the default 20% cap keeps the riser at 20% and leaves the losers at exactly 0
    np.testing.assert_allclose(advisor_weights("momentum", history, config=SMALL)[0], [0.2, 0, 0, 0.8])


def test_trend_advisors_hold_the_uptrend_and_leave_the_rest_in_cash() -> None:
    history = _paths([0.02] * 9, [-0.02] * 9)
    for name in ("ma_crossover", "breakout"):
        np.testing.assert_allclose(advisor_weights(name, history, rules=OPEN, config=SMALL)[0], [0.49, 0.0, 0.51])


def test_rsi_and_bollinger_buy_the_oversold_and_sell_the_overbought() -> None:
    history = _paths([0.02] * 9, [-0.02] * 9, [0.01, -0.01 / 1.01] * 4 + [0.01])
    rsi = advisor_weights("rsi", history, rules=OPEN, config=SMALL)[0]
    np.testing.assert_allclose(rsi[:2], [0.0, 0.98 / 3])  # RSI 100: out; RSI 0: fully in
    assert rsi[2] == pytest.approx(0.98 / 3 * 0.5, abs=0.03)  # ups and downs alike: RSI near 50
    bands = advisor_weights("bollinger", history, rules=OPEN, config=SMALL)[0]
    assert bands[0] < 0.98 / 3 * 0.25 < 0.98 / 3 * 0.75 < bands[1]


def test_vol_target_is_inverse_vol_scaled_by_long_over_short_volatility() -> None:
    calm, wild = [0.01, -0.01] * 4, [0.02, -0.02] * 4
    w = advisor_weights("vol_target", _paths(calm, wild), rules=OPEN, config=SMALL)[0]
    # alternating +-a: sample std a sqrt(n / (n - 1)), so long (8) over short (4) is sqrt((8/7) / (4/3))
    exposure = np.sqrt((8 / 7) / (4 / 3))
    np.testing.assert_allclose(w[:2], 0.98 * np.array([2 / 3, 1 / 3]) * exposure, rtol=1e-9)
    storm = advisor_weights("vol_target", _paths(calm[:4] + [0.04, -0.04] * 2, wild[:4] + [0.08, -0.08] * 2),
                            rules=OPEN, config=SMALL)[0]
    assert storm[:2].sum() < 0.8 * w[:2].sum()  # volatility rose: exposure cut


_H = np.array([[1, -1, 1, -1, 1, -1], [1, 1, -1, -1, 1, 1], [1, -1, -1, 1, 0, 0]], dtype=np.float64)
_H -= _H.mean(axis=1, keepdims=True)  # zero-mean rows, pairwise orthogonal: a diagonal sample covariance


def test_risk_advisors_on_an_orthogonal_market_are_inverse_variance_and_inverse_vol() -> None:
    scale = np.array([0.01, 0.02, 0.04])
    returns = scale[:, None] * _H / _H.std(axis=1, ddof=1, keepdims=True)
    history = _paths(*returns)
    var = scale ** 2
    w = advisor_weights("min_variance", history, rules=OPEN, config=SMALL)[0]
    np.testing.assert_allclose(w[:3], 0.98 * (1 / var) / (1 / var).sum(), atol=1e-8)
    w = advisor_weights("risk_parity", history, rules=OPEN, config=SMALL)[0]
    np.testing.assert_allclose(w[:3], 0.98 * (1 / scale) / (1 / scale).sum(), atol=1e-10)


def test_min_variance_solver_matches_the_closed_form_with_and_without_the_cap() -> None:
    cov = np.diag([1.0, 4.0, 16.0])[None] * 1e-4
    scored = np.ones((1, 3), dtype=bool)
    inverse = np.array([1.0, 0.25, 0.0625])
    np.testing.assert_allclose(min_variance_weights(cov, scored, OPEN)[0], 0.98 * inverse / inverse.sum(), atol=1e-14)
    # cap 0.5 binds on the first stock; the other two split 48% in inverse variance (KKT)
    capped = min_variance_weights(cov, scored, PortfolioRules(max_weight=0.5))[0]
    np.testing.assert_allclose(capped, [0.5, 0.48 * 0.8, 0.48 * 0.2], atol=1e-14)


def test_polished_quadratic_solver_beats_slsqp_and_matches_plain_gradient_steps() -> None:
    rng = np.random.default_rng(7)
    factors = rng.standard_normal((6, 8, 30)) * rng.uniform(0.5, 2.0, (6, 8, 1))
    cov = factors @ np.swapaxes(factors, 1, 2) / 30 * 1e-3
    scored = rng.random((6, 8)) < 0.9
    rules = PortfolioRules(max_weight=0.25)
    fast = min_variance_weights(cov, scored, rules)
    plain = quadratic_weights(cov, None, scored, rules, polish_every=10**9, max_iter=20_000)
    np.testing.assert_allclose(fast, plain, atol=1e-9)
    for b in range(6):
        keep = np.flatnonzero(scored[b])
        sub = cov[b][np.ix_(keep, keep)]
        ref = minimize(lambda w: (w @ sub @ w, 2 * sub @ w), np.full(len(keep), 0.98 / len(keep)), jac=True,
                       method="SLSQP", bounds=[(0.0, 0.25)] * len(keep),
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 0.98}], options={"ftol": 1e-16}).x
        assert fast[b] @ cov[b] @ fast[b] <= ref @ sub @ ref * (1 + 1e-12)
        np.testing.assert_allclose(fast[b].sum(), 0.98, atol=1e-14)
        assert (fast[b] <= 0.25).all() and (fast[b] >= 0).all() and (fast[b][~scored[b]] == 0).all()


def test_risk_parity_solver_equalizes_risk_contributions() -> None:
    rng = np.random.default_rng(6)
    factors = rng.standard_normal((3, 6, 40))
    cov = factors @ np.swapaxes(factors, 1, 2) / 40 * 1e-3
    scored = np.ones((3, 6), dtype=bool)
    scored[1, 4:] = False
    w = risk_parity_weights(cov, scored, 0.98)
    np.testing.assert_allclose(w.sum(axis=1), 0.98)
    contribution = w * np.einsum("bij,bj->bi", cov, w)
    for b in range(3):
        live = contribution[b][scored[b]]
        np.testing.assert_allclose(live, live.mean(), rtol=1e-8)
    assert (w[1, 4:] == 0).all()


def test_panel_history_rows_hold_only_past_closes() -> None:
    close = np.arange(1.0, 13.0).reshape(6, 2)
    available = np.ones((6, 2), dtype=bool)
    available[:2, 1] = False
    panel = MarketPanel(dates=np.datetime64("2020-01-03") + 7 * np.arange(6), symbols=("A", "B"), close=close,
                        available=available)
    history = panel_history(panel, 3)
    assert history.shape == (6, 2, 3, 1)
    np.testing.assert_array_equal(history[3, :, :, 0], [[3.0, 5.0, 7.0], [np.nan, 6.0, 8.0]])
    np.testing.assert_array_equal(history[0, 0, :, 0], [np.nan, np.nan, 1.0])


def test_bad_names_shapes_and_windows_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown advisor"):
        advisor_weights("astrology", np.ones((1, 2, 3, 1)))
    with pytest.raises(ValueError, match="history must have shape"):
        advisor_weights("momentum", np.ones((2, 3)))
    with pytest.raises(ValueError, match="mask must have shape"):
        advisor_weights("momentum", np.ones((1, 2, 3, 1)), np.ones((2, 2), dtype=bool))
    with pytest.raises(ConfigError, match="fast_window"):
        ZooConfig(fast_window=40, slow_window=10)
    with pytest.raises(ConfigError, match="risk_window"):
        ZooConfig(risk_window=1)
