"""Online portfolio selection: hand-worked updates, Cover's BCRP, no look-ahead, feasible trades."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.strategies import EqualWeight
from sacfolio.strategies.olps import OLPS, SIMPLEX, OlpsConfig, norm_projection, olps_portfolios
from sacfolio.strategies.olps_baselines import HindsightBCRP, OnlinePortfolio, bcrp_weights
from sacfolio.strategies.zoo_risk import quadratic_weights

TWO = np.ones((4, 2), dtype=bool)


def _relatives(*rows: tuple[float, float]) -> np.ndarray:
    return np.array([(1.0, 1.0), *rows])


def test_eg_matches_the_multiplicative_update_worked_by_hand() -> None:
    # b_1 = (e^{0.05 * 1.2}, e^{0.05 * 0.8}) / Z from (1/2, 1/2), b . x = 1: b_1[0] = 1 / (1 + e^{-0.02}), ...
    path = olps_portfolios("eg", _relatives((1.2, 0.8), (0.9, 1.1), (1.05, 0.95)), TWO)
    np.testing.assert_allclose(path[:, 0], [0.5, 0.5049998333399998, 0.5024974768103663, 0.5037471153216154],
                               rtol=1e-13)
    np.testing.assert_allclose(path.sum(axis=1), 1.0)


def test_pamr_moves_towards_the_loser_by_the_passive_aggressive_step() -> None:
    # eps = 1: loss 1.05 - 1 = 0.05, x - mean = (0.15, -0.15), tau = 0.05 / 0.045: b = (1/3, 2/3)
    path = olps_portfolios("pamr", _relatives((1.2, 0.9), (1.0, 1.0)), TWO[:3], OlpsConfig(pamr_epsilon=1.0))
    np.testing.assert_allclose(path[1], [1 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(path[2], path[1])  # no move: no loss
    # the default eps = 0.5 on (2, 0.5): tau = 0.75 / 1.125, b - tau (0.75, -0.75) = (0, 1) exactly
    np.testing.assert_allclose(olps_portfolios("pamr", _relatives((2.0, 0.5)), TWO[:2])[1], [0.0, 1.0], atol=1e-15)


def test_olmar_steps_to_the_moving_average_prediction() -> None:
    # w = 2: x~ = (1 + 1 / x) / 2 = (0.75, 1.5); lambda = (1.2 - 1.125) / 0.28125; b = (0.4, 0.6)
    path = olps_portfolios("olmar", _relatives((2.0, 0.5)), TWO[:2], OlpsConfig(olmar_window=2, olmar_epsilon=1.2))
    np.testing.assert_allclose(path[1], [0.4, 0.6], rtol=1e-12)


def test_ons_first_step_is_the_projection_in_the_norm_of_a() -> None:
    # g = (1.2, 0.8), A = I + g g', A^{-1} (2 g) = 2 g / (1 + |g|^2); on (s, 1 - s) the A-norm minimum
    # solves (A d)_1 = (A d)_2: s = (0.68 + 1.48 q_1 - 0.68 q_2) / 2.16 = 13 / 36
    path = olps_portfolios("ons", _relatives((1.2, 0.8)), TWO[:2])
    np.testing.assert_allclose(path[1], [13 / 36, 23 / 36], rtol=1e-12)


def test_the_active_set_projection_agrees_with_the_gradient_solver() -> None:
    rng = np.random.default_rng(0)
    for _ in range(4):
        g = rng.standard_normal((7, 20))
        a, q = np.eye(7) + 0.1 * g @ g.T, 1 / 7 + 0.3 * rng.standard_normal(7)
        live = rng.random(7) < 0.8
        live[0] = True
        exact = norm_projection(a, q, live, live / live.sum())
        solved = quadratic_weights(a[None], (a @ q)[None], live[None], SIMPLEX)[0]
        np.testing.assert_allclose(exact, solved, atol=1e-9)
        assert (exact[~live] == 0).all() and exact.sum() == pytest.approx(1.0)


def test_anticor_moves_weight_from_the_recent_winner_to_the_correlated_follower() -> None:
    # w = 2: A's first window (0.1, -0.1) correlates +1 with B's second (0, -0.1), A beat B recently
    logs = np.array([[0.1, 0.05], [-0.1, -0.05], [0.2, 0.0], [0.1, -0.1]])
    path = olps_portfolios("anticor", np.exp(np.vstack((np.zeros(2), logs))), np.ones((5, 2), bool),
                           OlpsConfig(anticor_window=2))
    np.testing.assert_allclose(path[:4], 0.5)  # fewer than 2w returns: kept
    np.testing.assert_allclose(path[4], [0.0, 1.0], atol=1e-15)


def test_bcrp_reproduces_covers_example_and_the_brute_force_optimum() -> None:
    # Cover (1991): cash and a stock that doubles and halves; BCRP (1/2, 1/2) grows 9/8 per two periods
    open_rules = PortfolioRules(cash_floor=0.0, max_weight=1.0)
    swing = np.array([[2.0], [0.5]] * 10)
    w = bcrp_weights(swing, np.ones(1, bool), open_rules)
    np.testing.assert_allclose(w, [0.5, 0.5], atol=1e-6)
    assert np.log(swing @ w[:1] + w[1]).sum() == pytest.approx(10 * np.log(9 / 8), rel=1e-9)
    # two stocks and CASH under a 60% cap and 5% floor against a grid of step 0.002
    x = np.exp(np.random.default_rng(1).normal([0.01, 0.004], [0.08, 0.03], (52, 2)))
    rules = PortfolioRules(cash_floor=0.05, max_weight=0.6)
    w = bcrp_weights(x, np.ones(2, bool), rules)
    a, b = np.meshgrid(np.arange(0, 0.6001, 0.002), np.arange(0, 0.6001, 0.002), indexing="ij")
    ok = a + b <= 0.95 + 1e-12
    growth = np.log(x[:, :1, None] * a + x[:, 1:, None] * b + (1 - a - b)).sum(axis=0)
    best = np.unravel_index(np.argmax(np.where(ok, growth, -np.inf)), a.shape)
    assert np.log(x @ w[:2] + w[2]).sum() >= growth[best] - 1e-12
    np.testing.assert_allclose(w[:2], [a[best], b[best]], atol=0.01)


def _panel(close: np.ndarray, available: np.ndarray | None = None) -> MarketPanel:
    available = np.ones(close.shape, bool) if available is None else available
    return MarketPanel(dates=np.datetime64("2019-01-04") + 7 * np.arange(len(close)),
                       symbols=tuple(f"S{i}" for i in range(close.shape[1])), close=close, available=available)


def _market(T: int = 70, N: int = 6, seed: int = 2) -> np.ndarray:
    return 30.0 * np.exp(np.cumsum(0.04 * np.random.default_rng(seed).standard_normal((T, N)), axis=0))


FAST = OlpsConfig(olmar_window=3, anticor_window=4)


@pytest.mark.parametrize("name", list(OLPS))
def test_online_portfolios_are_feasible_and_do_not_look_ahead(name) -> None:
    T, N, t = 70, 6, 50
    close = _market(T, N)
    available = np.ones((T, N), bool)
    available[:20, 1] = False  # listed at row 20
    available[40:, 4] = False  # delisted at row 40
    changed = close.copy()
    changed[t + 1:] *= np.random.default_rng(3).uniform(0.6, 1.4, (T - t - 1, N))
    runs = [OnlinePortfolio(_panel(c, available), algorithm=name, config=FAST) for c in (close, changed)]
    before, after = (np.array([s.decide(k, None, np.eye(N + 1)[-1]) for k in range(t + 1)]) for s in runs)
    np.testing.assert_array_equal(after, before)
    w = runs[0].weights()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    assert (w >= 0).all() and (w[:, :-1] <= 0.2 + 1e-12).all() and (w[:, -1] >= 0.02 - 1e-12).all()
    assert (w[:, :-1][~available] == 0).all()
    raw = olps_portfolios(name, 1.0 + _panel(close, available).simple_returns(), available, FAST)
    assert raw[20, 1] == pytest.approx(1 / 6) and (raw[:20, 1] == 0).all()  # a newcomer enters at 1 / n_live
    assert (raw[40:, 4] == 0).all()


def test_ucrp_trades_like_equal_weight_and_a_newcomer_enters_at_one_over_n() -> None:
    close, available = _market(), np.ones((70, 6), bool)
    available[:30, 2] = False
    panel = _panel(close, available)
    ucrp = OnlinePortfolio(panel, algorithm="ucrp")
    equal = EqualWeight(panel)
    for t in (0, 29, 30, 69):
        np.testing.assert_allclose(ucrp.decide(t, None, np.eye(7)[-1]), equal.decide(t, None, np.eye(7)[-1]),
                                   atol=1e-15)
    eg = olps_portfolios("eg", 1.0 + panel.simple_returns(), available)
    assert eg[30, 2] == pytest.approx(1 / 6) and eg[29, 2] == 0.0


def test_hindsight_bcrp_is_a_labelled_ceiling_constant_within_each_return_year() -> None:
    close = _market(120, 4)
    strategy = HindsightBCRP(_panel(close))
    assert strategy.uses_future and strategy.name.startswith("hindsight")
    w = np.array([strategy.decide(t, None, np.eye(5)[-1]) for t in range(119)])
    years = _panel(close).dates[1:].astype("datetime64[Y]")
    for y in np.unique(years):
        np.testing.assert_array_equal(w[years == y], np.broadcast_to(w[years == y][0], w[years == y].shape))
    assert (w[:, :-1] <= 0.2 + 1e-9).all() and (w[:, -1] >= 0.02 - 1e-9).all()
    with pytest.raises(EvaluationWindowError, match="next week"):
        strategy.decide(119, None, np.eye(5)[-1])


def test_unknown_algorithms_and_bad_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown online portfolio"):
        OnlinePortfolio(_panel(_market()), algorithm="astrology")
    with pytest.raises(ValueError, match="positive and finite"):
        olps_portfolios("eg", np.array([[1.0, np.nan]]), np.ones((1, 2), bool))
    with pytest.raises(ConfigError, match="anticor_window"):
        OlpsConfig(anticor_window=1)
    with pytest.raises(ConfigError, match="eg_eta"):
        OlpsConfig(eg_eta=-1.0)
