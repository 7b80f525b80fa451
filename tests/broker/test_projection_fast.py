"""FeasibleSet's projection: bit for bit the plain water-filling of ``_project_box_simplex``."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.projection import FeasibleSet, _bounds_table, _project_box_simplex, feasible_rows
from sacfolio.broker.rules import PortfolioRules


def _plain(feasible: FeasibleSet, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The plain projection on the per-row bound tables (what ``FeasibleSet.project`` computed before)."""
    bounds, target = _bounds_table(feasible.lo[rows], feasible.hi[rows])
    return _project_box_simplex(y, bounds, target)


def _points(rng: np.random.Generator, kind: int, shape: tuple[int, int], open_stocks: np.ndarray) -> np.ndarray:
    if kind == 0:  # softmax outputs over the open assets: what the env projects
        y = np.exp(rng.uniform(-5.0, 5.0, shape))
        y[:, :-1] *= open_stocks
        return y / y.sum(axis=1, keepdims=True)
    if kind == 1:  # anything, at several scales
        return rng.normal(size=shape) * rng.choice([1e-3, 0.1, 1.0, 10.0])
    return np.round(rng.normal(size=shape), 1)  # many ties between breakpoints


@pytest.mark.parametrize("share_open", [1.0, 0.8, 0.3])
def test_project_is_bit_identical_to_the_plain_water_filling(share_open):
    rng = np.random.default_rng(int(share_open * 10))
    for trial in range(150):
        n, rows_in_market, batch = int(rng.integers(1, 22)), int(rng.integers(1, 30)), int(rng.integers(1, 70))
        available = rng.random((rows_in_market, n)) < share_open
        rules = PortfolioRules(cash_floor=float(rng.choice([0.0, 0.02, 0.3])),
                               max_weight=float(rng.choice([0.05, 0.2, 1.0])))
        feasible = FeasibleSet(available, rules)
        rows = rng.integers(0, rows_in_market, batch)
        y = _points(rng, trial % 3, (batch, n + 1), available[rows])
        want = _plain(feasible, y, rows)
        for _ in range(2):  # the second call reuses the cached full-shape bounds
            got = feasible.project(y, rows)
            np.testing.assert_array_equal(got.view(np.int64), want.view(np.int64))  # signed zeros too


def test_one_availability_pattern_needs_no_gather_and_many_are_tabulated_once():
    rules = PortfolioRules()
    one = FeasibleSet(np.ones((50, 4), bool), rules)
    assert one.one_pattern and one.patterns.shape == (1, 4)
    available = np.ones((50, 4), bool)
    available[20:, 0] = False  # a delisting: two patterns
    two = FeasibleSet(available, rules)
    assert not two.one_pattern and two.patterns.shape == (2, 4)
    np.testing.assert_array_equal(two.pattern_of_row[[0, 19, 20, 49]], two.pattern_of_row[[1, 1, 21, 30]])
    bounds, lo, hi, target = two.bounds_of(np.array([0, 25]))
    np.testing.assert_array_equal(lo, two.lo[[0, 25]])
    np.testing.assert_array_equal(hi, two.hi[[0, 25]])
    np.testing.assert_array_equal(target[:, 0], 1.0 - two.hi[[0, 25]].sum(axis=1))


def test_nearest_returns_feasible_rows_exactly_and_projects_the_others_like_project():
    rng = np.random.default_rng(4)
    available = rng.random((10, 5)) < 0.8
    feasible = FeasibleSet(available, PortfolioRules(cash_floor=0.05, max_weight=0.4))
    rows = rng.integers(0, 10, 12)
    y = rng.normal(size=(12, 6))
    y[::2] = feasible.project(y[::2] * 0.1 + 1 / 6, rows[::2])  # feasible up to rounding
    got = feasible.nearest(y, rows)
    keep = feasible_rows(y, feasible.lo[rows], feasible.hi[rows])
    assert keep[::2].all() and not keep[1::2].any()
    np.testing.assert_array_equal(got[keep], y[keep])
    np.testing.assert_array_equal(got[~keep], _plain(feasible, y, rows)[~keep])


def test_tradable_is_the_availability_with_cash_as_floats():
    rng = np.random.default_rng(9)
    for available in (np.ones((6, 3), bool), rng.random((6, 3)) < 0.5):
        feasible = FeasibleSet(available, PortfolioRules())
        rows = rng.integers(0, 6, 5)
        want = np.concatenate((available[rows], np.ones((5, 1), bool)), axis=1).astype(np.float64)
        np.testing.assert_array_equal(feasible.tradable(rows), want)
