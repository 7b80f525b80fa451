"""Metrics against a hand-computed series and against empyrical-reloaded."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sacfolio.evaluate.metrics import (
    annual_volatility, cagr, calmar, max_drawdown, metrics_table, sharpe, sortino, summarize,
)
from sacfolio.evaluate.results import BacktestResult

# +10%, -5%, +2%, -10%, +5%: mean 0.004, squared deviations sum to 0.02532
R = np.array([0.10, -0.05, 0.02, -0.10, 0.05])
FINAL = 1.1 * 0.95 * 1.02 * 0.9 * 1.05  # 1.0072755
SAMPLE_VAR = 0.02532 / 4  # ddof = 1


def test_hand_computed_series() -> None:
    assert cagr(R) == pytest.approx(1.0072755 ** (52 / 5) - 1, rel=1e-12)
    assert annual_volatility(R) == pytest.approx(math.sqrt(SAMPLE_VAR * 52), rel=1e-12)
    assert sharpe(R) == pytest.approx(0.004 / math.sqrt(SAMPLE_VAR) * math.sqrt(52), rel=1e-12)
    # downside deviation: sqrt((0.05^2 + 0.10^2) / 5) = 0.05 per week
    assert sortino(R) == pytest.approx(0.004 * 52 / (0.05 * math.sqrt(52)), rel=1e-12)
    # peak 1.10 after week 1, trough after week 4: 0.95 * 1.02 * 0.90 - 1
    assert max_drawdown(R) == pytest.approx(-0.1279, rel=1e-12)
    assert calmar(R) == pytest.approx((FINAL ** (52 / 5) - 1) / 0.1279, rel=1e-12)


def test_drawdown_counts_a_first_period_loss_and_is_compounded() -> None:
    assert max_drawdown(np.array([-0.10, 0.20])) == pytest.approx(-0.10)
    # two -50% weeks compound to -75%, not -100%
    assert max_drawdown(np.array([0.0, -0.5, -0.5, 0.1])) == pytest.approx(-0.75)
    assert max_drawdown(np.array([0.01, 0.02])) == 0.0


def test_undefined_ratios_are_nan() -> None:
    flat = np.full(10, 0.01)
    assert math.isnan(sharpe(flat))
    assert math.isnan(sortino(flat))  # no losing week
    assert math.isnan(calmar(flat))  # no drawdown
    assert cagr(flat) == pytest.approx(1.01 ** 52 - 1)
    assert math.isnan(sharpe(np.array([0.01])))
    assert cagr(np.array([0.5, -1.0])) == -1.0  # total loss


def test_batch_axis_matches_single_series() -> None:
    rng = np.random.default_rng(3)
    batch = rng.normal(0.002, 0.02, size=(4, 60))
    for fn in (cagr, annual_volatility, sharpe, sortino, max_drawdown, calmar):
        got = fn(batch)
        assert got.shape == (4,)
        np.testing.assert_allclose(got, [fn(row) for row in batch], rtol=1e-12)


def test_agrees_with_empyrical() -> None:
    empyrical = pytest.importorskip("empyrical")
    rng = np.random.default_rng(11)
    r = rng.normal(0.002, 0.025, size=300)
    kw = {"period": "weekly"}
    assert cagr(r) == pytest.approx(empyrical.annual_return(r, **kw), rel=1e-10)
    assert annual_volatility(r) == pytest.approx(empyrical.annual_volatility(r, **kw), rel=1e-10)
    assert sharpe(r) == pytest.approx(empyrical.sharpe_ratio(r, **kw), rel=1e-10)
    assert sortino(r) == pytest.approx(empyrical.sortino_ratio(r, **kw), rel=1e-10)
    assert max_drawdown(r) == pytest.approx(empyrical.max_drawdown(r), rel=1e-10)
    assert calmar(r) == pytest.approx(empyrical.calmar_ratio(r, **kw), rel=1e-10)


def _result(name: str, returns: np.ndarray) -> BacktestResult:
    S = len(returns)
    dates = np.datetime64("2020-01-03") + 7 * np.arange(S + 1)
    w = np.tile([0.49, 0.49, 0.02], (S, 1))
    return BacktestResult(name=name, symbols=("A", "B"), dates=dates, weights=w, returns=returns,
                          turnover=np.linspace(0.1, 0.5, S), costs=np.full(S, 0.0002))


def test_summarize_and_table() -> None:
    m = summarize(_result("x", R))
    assert m.n_periods == 5
    assert m.final_value == pytest.approx(FINAL)
    assert m.avg_turnover == pytest.approx(0.3)
    assert m.total_costs == pytest.approx(0.001)
    assert m.max_drawdown == pytest.approx(-0.1279)
    assert m.as_dict()["n_periods"] == 5

    table = metrics_table({"a": _result("a", R), "b": _result("b", -R)})
    assert list(table.index) == ["a", "b"]
    assert table.loc["a", "sharpe"] == pytest.approx(sharpe(R))
    assert table.loc["b", "cagr"] == pytest.approx(cagr(-R))
    assert "calmar" in table.columns and "n_periods" in table.columns


def test_as_dict_maps_nan_to_none() -> None:
    m = summarize(_result("flat", np.full(4, 0.01)))
    d = m.as_dict()
    assert d["sharpe"] is None and d["cagr"] == pytest.approx(1.01 ** 52 - 1)
