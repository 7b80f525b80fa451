"""Actions to weights: the masked, scaled softmax or the residual tilt, and the broker's projection after it."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import equal_weights
from sacfolio.env.actions import action_to_weights, benchmark_weights, residual_point
from sacfolio.env.config import EnvConfig
from sacfolio.exceptions import DataError

TOL = 1e-12


def test_action_to_weights_masks_unavailable_symbols_and_is_feasible():
    rng = np.random.default_rng(0)
    action = rng.uniform(-1, 1, size=(32, 6))
    available = rng.random((32, 5)) < 0.5
    w = action_to_weights(action, EnvConfig(), available)
    assert (w[:, :-1][~available] == 0.0).all()
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=TOL)
    assert (w[:, :-1] <= 0.2 + TOL).all() and (w[:, -1] >= 0.02 - TOL).all()


def test_logit_scale_makes_cash_and_concentration_reachable():
    n = 20
    all_cash = -np.ones(n + 1)
    all_cash[-1] = 1.0
    one_stock = -np.ones(n + 1)
    one_stock[0] = 1.0
    scaled = EnvConfig()  # logit_scale 5
    assert action_to_weights(all_cash, scaled)[-1] > 0.98
    assert action_to_weights(one_stock, scaled)[0] == pytest.approx(0.2, abs=TOL)
    # with scale 1 a softmax over 21 assets stays within ~0.7% .. ~27% per asset
    unscaled = EnvConfig(logit_scale=1.0, rules=PortfolioRules(max_weight=1.0, cash_floor=0.0))
    assert action_to_weights(all_cash, unscaled)[-1] < 0.28
    assert action_to_weights(one_stock, unscaled)[0] < 0.28
    assert action_to_weights(-one_stock, unscaled)[0] > 0.006


def test_actions_outside_the_box_are_clipped():
    config = EnvConfig()
    a = np.array([3.0, -7.0, 0.2, 0.5])
    np.testing.assert_array_equal(action_to_weights(a, config), action_to_weights(np.clip(a, -1, 1), config))


# ------------------------------------------------------------------ residual mode
LOOSE = PortfolioRules(cash_floor=0.02, max_weight=0.5)
RESIDUAL = EnvConfig(rules=LOOSE, action_mode="residual", tilt=0.02)


@pytest.mark.parametrize("n", [1, 4, 11, 20, 23])
def test_a_zero_residual_action_is_exactly_constrained_equal_weight(n):
    rng = np.random.default_rng(n)
    for rules in (PortfolioRules(), LOOSE, PortfolioRules(cash_floor=0.0, max_weight=1.0)):
        config = EnvConfig(rules=rules, action_mode="residual")
        for available in (np.ones(n, bool), rng.random(n) < 0.6):
            w = action_to_weights(np.zeros(n + 1), config, available)
            np.testing.assert_array_equal(w, equal_weights(available, rules))


def test_residual_tilts_by_hand():
    bench = equal_weights(np.ones(4, bool), LOOSE)  # 0.245 each, 2% cash
    # +1 on A, -1 on B: the stock part has mean 0, so A +0.02, B -0.02
    w = action_to_weights(np.array([1.0, -1.0, 0.0, 0.0, 0.0]), RESIDUAL)
    np.testing.assert_allclose(w, [0.265, 0.225, 0.245, 0.245, 0.02], atol=1e-15)
    # +1 on CASH: cash +0.02, funded equally by the four stocks (-0.005 each)
    w = action_to_weights(np.array([0.0, 0.0, 0.0, 0.0, 1.0]), RESIDUAL)
    np.testing.assert_allclose(w, [0.24, 0.24, 0.24, 0.24, 0.04], atol=1e-15)
    # +1 on every stock is no tilt at all (demeaned)
    np.testing.assert_array_equal(action_to_weights(np.array([1.0, 1.0, 1.0, 1.0, 0.0]), RESIDUAL), bench)


def test_residual_tilt_is_zero_sum_bounded_and_skips_closed_stocks():
    rng = np.random.default_rng(3)
    action = rng.uniform(-1, 1, (64, 7))
    available = rng.random((64, 6)) < 0.7
    bench = np.stack([equal_weights(a, LOOSE) for a in available])
    y = residual_point(action, bench, available.astype(float), 0.02)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, atol=TOL)
    n = available.sum(axis=1, keepdims=True)
    bound = 0.02 * (2 + 1 / np.maximum(n, 1)) + 1e-15
    assert (np.abs(y - bench)[:, :-1] <= bound).all() and (np.abs(y - bench)[:, -1] <= 0.02 + 1e-15).all()
    assert (y[:, :-1][~available] == 0.0).all()


def test_residual_weights_are_feasible_and_follow_a_given_benchmark():
    rng = np.random.default_rng(4)
    action = rng.uniform(-3, 3, (64, 6))  # outside the box: clipped
    available = rng.random((64, 5)) < 0.7
    config = EnvConfig(action_mode="residual", tilt=0.3)  # large enough to hit the rules
    w = action_to_weights(action, config, available)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=TOL)
    assert (w >= -TOL).all() and (w[:, :-1] <= 0.2 + TOL).all() and (w[:, -1] >= 0.02 - TOL).all()
    assert (w[:, :-1][~available] == 0.0).all()
    tilted = np.array([0.1, 0.2, 0.2, 0.2, 0.2, 0.1])  # e.g. a strategy's weights
    np.testing.assert_array_equal(action_to_weights(np.zeros(6), config, benchmark=tilted), tilted)


def test_benchmark_weights_defaults_to_equal_weight_and_projects_infeasible_rows():
    available = np.array([[True, True, False], [True, True, True]])
    table = benchmark_weights(available, LOOSE)
    np.testing.assert_array_equal(table, np.stack([equal_weights(a, LOOSE) for a in available]))
    given = np.array([[0.7, 0.3, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])  # row 0 breaks the cap and floor
    out = benchmark_weights(available, LOOSE, given)
    np.testing.assert_array_equal(out[1], given[1])
    # nearest feasible: A at its 0.5 cap, the other 0.2 shared by B and CASH (+0.1 each)
    np.testing.assert_allclose(out[0], [0.5, 0.4, 0.0, 0.1], atol=1e-15)
    with pytest.raises(DataError, match=r"must be \(T, N \+ 1\) = \(2, 4\)"):
        benchmark_weights(available, LOOSE, given[:, :3])
    with pytest.raises(DataError, match="finite"):
        benchmark_weights(available, LOOSE, np.full((2, 4), np.nan))
