"""Properties of the exact projection onto the portfolio rules' feasible set."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sacfolio.broker.projection import FeasibleSet, project_weights, weight_bounds
from sacfolio.broker.rules import PortfolioRules
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
    return project_weights(y, PortfolioRules(cash_floor=cash_floor, max_weight=max_weight), available)


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
    lo, hi = weight_bounds(available, PortfolioRules(cash_floor=cash_floor, max_weight=max_weight))
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
    w = project_weights(np.array([0.5, 0.3, 0.1, 0.1]), PortfolioRules(cash_floor=0.02, max_weight=0.2))
    np.testing.assert_allclose(w, [0.2, 0.2, 0.2, 0.4], atol=TOL)
    # cash below its floor is lifted and the stocks pay for it equally while free:
    # (0.4, 0.35, 0.25 | 0.0), floor 0.1, cap 1: lam = 0.1/3 -> (0.3667, 0.3167, 0.2167, 0.1)
    w = project_weights(np.array([0.4, 0.35, 0.25, 0.0]), PortfolioRules(cash_floor=0.1, max_weight=1.0))
    np.testing.assert_allclose(w, [0.4 - 0.1 / 3, 0.35 - 0.1 / 3, 0.25 - 0.1 / 3, 0.1], atol=TOL)


def test_projection_broadcasts_a_per_row_mask_and_matches_row_by_row():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(6, 5))
    available = rng.random((6, 4)) < 0.6
    rules = PortfolioRules(cash_floor=0.05, max_weight=0.3)
    batched = project_weights(y, rules, available)
    for row in range(6):
        single = project_weights(y[row], rules, available[row])
        np.testing.assert_allclose(batched[row], single, atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", [dict(cash_floor=1.0, max_weight=0.2), dict(cash_floor=0.02, max_weight=0.0)])
def test_projection_rejects_bad_bounds(kwargs):
    with pytest.raises(ConfigError, match="must be in"):
        project_weights(np.ones(3) / 3, PortfolioRules(**kwargs))


def test_projection_rejects_non_finite_input():
    with pytest.raises(ValueError, match="finite"):
        project_weights(np.array([np.nan, 0.5, 0.5]), PortfolioRules(cash_floor=0.02, max_weight=0.5))


def test_feasible_set_projects_rows_like_project_weights():
    rng = np.random.default_rng(5)
    available = rng.random((12, 4)) < 0.7
    rules = PortfolioRules(cash_floor=0.05, max_weight=0.3)
    feasible = FeasibleSet(available, rules)
    rows = rng.integers(0, 12, size=8)
    y = rng.normal(size=(8, 5))
    np.testing.assert_allclose(feasible.project(y, rows), project_weights(y, rules, available[rows]),
                               atol=1e-14, rtol=0)
    lo, hi = weight_bounds(available, rules)
    np.testing.assert_array_equal(feasible.lo, lo)
    np.testing.assert_array_equal(feasible.hi, hi)
