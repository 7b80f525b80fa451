"""Costs on drifted weights and the growth of portfolio value, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.broker.costs import asset_growth, drift, rebalance, turnover


def test_asset_growth_adds_a_cash_column_of_one() -> None:
    np.testing.assert_array_equal(asset_growth(np.array([[0.1, -0.5], [0.0, 0.2]])),
                                  [[1.1, 0.5, 1.0], [1.0, 1.2, 1.0]])


def test_turnover_counts_stocks_only() -> None:
    target = np.array([[0.5, 0.3, 0.2], [0.0, 0.0, 1.0]])
    drifted = np.array([[0.2, 0.3, 0.5], [0.4, 0.4, 0.2]])
    np.testing.assert_allclose(turnover(target, drifted), [0.3, 0.8])


def test_drift_and_rebalance_by_hand() -> None:
    target = np.array([[0.6, 0.2, 0.2]])
    growth = np.array([[1.1, 0.9, 1.0]])
    gross, after = drift(target, growth)
    assert gross[0] == pytest.approx(0.66 + 0.18 + 0.2)
    np.testing.assert_allclose(after, [[0.66, 0.18, 0.2]] / gross[0])
    drifted = np.array([[0.0, 0.0, 1.0]])
    fill = rebalance(target, drifted, growth, cost_rate=0.001)
    assert fill.turnover[0] == pytest.approx(0.8)
    assert fill.cost[0] == pytest.approx(0.0008)
    assert fill.growth[0] == pytest.approx((1 - 0.0008) * 1.04)
    np.testing.assert_allclose(fill.drifted, after)
    assert fill.drifted.sum() == pytest.approx(1.0)


def test_rebalance_leaves_its_inputs_alone() -> None:
    target, drifted = np.array([[0.5, 0.5]]), np.array([[0.0, 1.0]])
    growth = np.array([[1.2, 1.0]])
    copies = target.copy(), drifted.copy(), growth.copy()
    rebalance(target, drifted, growth, 0.001)
    for a, b in zip((target, drifted, growth), copies):
        np.testing.assert_array_equal(a, b)
