"""Properties of the exact projection onto the portfolio constraints, and of action_to_weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sacfolio.env.config import EnvConfig
from sacfolio.env.projection import action_to_weights, project_weights, weight_bounds
from sacfolio.exceptions import ConfigError

TOL = 1e-12


@st.composite
def problems(draw):
    """A point to project (possibly batched), an availability mask and the bounds."""
    n = draw(st.integers(1, 8))
    batch = draw(st.integers(1, 4))
    scale = draw(st.sampled_from([1e-3, 0.1, 1.0, 10.0]))
    y = np.array(draw(st.lists(st.floats(-1, 1), min_size=batch * (n + 1), max_size=batch * (n + 1))))
    y = y.reshape(batch, n + 1) * scale
    available = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    cash_floor = draw(st.sampled_from([0.0, 0.02, 0.3, 0.9]))
    max_weight = draw(st.sampled_from([0.05, 0.2, 0.5, 1.0]))
    return y, available, cash_floor, max_weight


def _project(y, available, cash_floor, max_weight):
    return project_weights(y, cash_floor=cash_floor, max_weight=max_weight, available=available)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_projection_is_feasible(problem):
    y, available, cash_floor, max_weight = problem
    w = _project(*problem)
    assert w.shape == y.shape
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, atol=TOL, rtol=0)
    assert (w >= -TOL).all()
    assert (w[:, -1] >= cash_floor - TOL).all()
    assert (w[:, :-1] <= max_weight + TOL).all()
    assert (w[:, :-1][:, ~available] == 0.0).all()


@settings(max_examples=300, deadline=None)
@given(problems())
def test_projection_is_idempotent(problem):
    w = _project(*problem)
    np.testing.assert_allclose(_project(w, *problem[1:]), w, atol=TOL, rtol=0)


@settings(max_examples=200, deadline=None)
@given(problems(), st.integers(0, 2**32 - 1))
def test_projection_is_the_nearest_feasible_point(problem, seed):
    y, available, cash_floor, max_weight = problem
    w = _project(*problem)
    rng = np.random.default_rng(seed)
    # random feasible points: projections of random points, and the set's corners
    others = _project(rng.normal(size=(64,) + y.shape) * 2.0, *problem[1:])
    lo, hi = weight_bounds(available, cash_floor=cash_floor, max_weight=max_weight)
    for z in others:
        assert (np.linalg.norm(z - y, axis=-1) >= np.linalg.norm(w - y, axis=-1) - 1e-10).all()
        # first-order optimality over a convex set: <y - w, z - w> <= 0 for every feasible z
        assert (np.einsum("bi,bi->b", y - w, z - w) <= 1e-10).all()
    assert (w >= lo - TOL).all() and (w <= hi + TOL).all()


@settings(max_examples=200, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_projection_is_permutation_equivariant_over_stocks(problem, rnd):
    y, available, cash_floor, max_weight = problem
    n = len(available)
    perm = list(range(n))
    rnd.shuffle(perm)
    perm = np.array(perm)
    w = _project(*problem)
    yp = np.concatenate((y[:, perm], y[:, -1:]), axis=1)
    wp = _project(yp, available[perm], cash_floor, max_weight)
    np.testing.assert_allclose(wp[:, :-1], w[:, perm], atol=TOL, rtol=0)
    np.testing.assert_allclose(wp[:, -1], w[:, -1], atol=TOL, rtol=0)


def test_projection_matches_a_hand_worked_case():
    # y = (0.5, 0.3, 0.1 | cash 0.1), caps 0.2, floor 0.02: stocks 1 and 2 are capped at 0.2,
    # w_i = clip(y_i - lam) with lam = -0.05 gives stock 3 0.15 and cash 0.15 + ... check sum:
    # 0.2 + 0.2 + (0.1 + 0.3) ... solve: 0.4 + 2 * (0.1 - lam) = 1 -> lam = -0.2 -> stock 3 = 0.3 > cap,
    # so all three stocks are capped: 0.6, cash = 0.4 (= 0.1 - lam with lam = -0.3).
    w = project_weights(np.array([0.5, 0.3, 0.1, 0.1]), cash_floor=0.02, max_weight=0.2)
    np.testing.assert_allclose(w, [0.2, 0.2, 0.2, 0.4], atol=TOL)
    # cash below its floor is lifted and the stocks pay for it equally while free:
    # (0.4, 0.35, 0.25 | 0.0), floor 0.1, cap 1: lam = 0.1/3 -> (0.3667, 0.3167, 0.2167, 0.1)
    w = project_weights(np.array([0.4, 0.35, 0.25, 0.0]), cash_floor=0.1, max_weight=1.0)
    np.testing.assert_allclose(w, [0.4 - 0.1 / 3, 0.35 - 0.1 / 3, 0.25 - 0.1 / 3, 0.1], atol=TOL)


def test_projection_broadcasts_a_per_row_mask_and_matches_row_by_row():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(6, 5))
    available = rng.random((6, 4)) < 0.6
    batched = project_weights(y, cash_floor=0.05, max_weight=0.3, available=available)
    for row in range(6):
        single = project_weights(y[row], cash_floor=0.05, max_weight=0.3, available=available[row])
        np.testing.assert_allclose(batched[row], single, atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", [dict(cash_floor=1.0, max_weight=0.2), dict(cash_floor=0.02, max_weight=0.0)])
def test_projection_rejects_bad_bounds(kwargs):
    with pytest.raises(ConfigError, match="must be in"):
        project_weights(np.ones(3) / 3, **kwargs)


def test_projection_rejects_non_finite_input():
    with pytest.raises(ValueError, match="finite"):
        project_weights(np.array([np.nan, 0.5, 0.5]), cash_floor=0.02, max_weight=0.5)


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
    unscaled = EnvConfig(logit_scale=1.0, max_weight=1.0, cash_floor=0.0)
    assert action_to_weights(all_cash, unscaled)[-1] < 0.28
    assert action_to_weights(one_stock, unscaled)[0] < 0.28
    assert action_to_weights(-one_stock, unscaled)[0] > 0.006


def test_actions_outside_the_box_are_clipped():
    config = EnvConfig()
    a = np.array([3.0, -7.0, 0.2, 0.5])
    np.testing.assert_array_equal(action_to_weights(a, config), action_to_weights(np.clip(a, -1, 1), config))
