"""Feasible targets from stock weights: proportional capping, allocation, equal weight."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.projection import project_weights
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.targets import allocate, cap_weights, equal_weights


def test_cap_weights_redistributes_proportionally() -> None:
    np.testing.assert_allclose(cap_weights(np.array([0.5, 0.3, 0.2]), 0.4), [0.4, 0.36, 0.24])
    np.testing.assert_allclose(cap_weights(np.array([0.7, 0.2, 0.1]), 0.4), [0.4, 0.4, 0.2])
    np.testing.assert_allclose(cap_weights(np.array([0.5, 0.5, 0.0]), 0.3), [0.3, 0.3, 0.0])


def test_proportional_cap_differs_from_the_euclidean_projection() -> None:
    rules = PortfolioRules(cash_floor=0.0, max_weight=0.4)
    projected = project_weights(np.array([0.5, 0.3, 0.2, 0.0]), rules)
    np.testing.assert_allclose(projected, [0.4, 1 / 3, 7 / 30, 1 / 30], atol=1e-12)
    np.testing.assert_allclose(allocate(np.array([0.5, 0.3, 0.2]), rules), [0.4, 0.36, 0.24, 0.0])


def test_allocate_keeps_the_cash_floor_and_sends_the_excess_over_the_cap_to_cash() -> None:
    rules = PortfolioRules(cash_floor=0.1, max_weight=0.25)
    w = allocate(np.array([0.5, 0.3, 0.2, 0.0]), rules)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert (w[:-1] <= 0.25 + 1e-15).all() and w[-1] >= 0.1
    assert w[3] == 0.0
    np.testing.assert_allclose(allocate(np.full(2, 0.5), rules), [0.25, 0.25, 0.5])


def test_equal_weights_on_a_fully_available_universe() -> None:
    w = equal_weights(np.ones(8, dtype=bool), PortfolioRules())
    np.testing.assert_allclose(w, [0.98 / 8] * 8 + [0.02])


def test_equal_weights_on_a_partially_unavailable_universe() -> None:
    available = np.array([True, False, True, True, False, True, True, True, False, True])
    w = equal_weights(available, PortfolioRules())
    assert (w[:-1][~available] == 0.0).all()
    np.testing.assert_allclose(w[:-1][available], 0.98 / 7)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    few = equal_weights(np.array([True, False, True, False]), PortfolioRules())  # 49% each would pass 20%
    np.testing.assert_allclose(few, [0.2, 0.0, 0.2, 0.0, 0.6])


def test_equal_weights_with_nothing_available_is_all_cash() -> None:
    np.testing.assert_array_equal(equal_weights(np.zeros(3, dtype=bool), PortfolioRules()), [0, 0, 0, 1])
