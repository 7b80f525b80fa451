"""Actions to weights: the masked, scaled softmax and the broker's projection after it."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.env.actions import action_to_weights
from sacfolio.env.config import EnvConfig

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
