"""Execution that trades slowly: partial rebalancing and the no-trade band, by hand and by property."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sacfolio.broker.costs import rebalance
from sacfolio.broker.execution import ExecutionRules, execute
from sacfolio.broker.projection import project_weights, weight_bounds
from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError

TOL = 1e-12
RULES = PortfolioRules(cash_floor=0.02, max_weight=0.5, cost_bps=10.0)
CAP = np.array([0.5, 0.5])


def _trade(target, drifted, *, rate=1.0, band=0.0, cap=CAP, rules=RULES):
    """Executed weights and the broker's turnover and cost of the trade (no price move)."""
    target, drifted = np.array([target], dtype=float), np.array([drifted], dtype=float)
    traded = execute(target, drifted, cap, rules.cash_floor, ExecutionRules(rebalance_rate=rate, no_trade_band=band))
    fill = rebalance(traded, drifted, np.ones_like(traded), rules.cost_rate)
    return traded[0], float(fill.turnover[0]), float(fill.cost[0])


def test_partial_rebalancing_moves_a_quarter_of_the_way():
    # drifted (A 0.50, B 0.10, cash 0.40), target (0.30, 0.50, 0.20), rate 0.25:
    #   A 0.50 + 0.25 * (0.30 - 0.50) = 0.45, B 0.10 + 0.25 * 0.40 = 0.20, cash 1 - 0.65 = 0.35
    #   turnover |0.45 - 0.50| + |0.20 - 0.10| = 0.15 (the full trade: 0.20 + 0.40 = 0.60)
    #   cost 10 bps * 0.15 = 0.00015 of value
    traded, turnover, cost = _trade([0.30, 0.50, 0.20], [0.50, 0.10, 0.40], rate=0.25)
    np.testing.assert_allclose(traded, [0.45, 0.20, 0.35], atol=1e-15)
    assert turnover == pytest.approx(0.15, abs=1e-15)
    assert cost == pytest.approx(0.00015, abs=1e-18)
    assert _trade([0.30, 0.50, 0.20], [0.50, 0.10, 0.40])[1] == pytest.approx(0.60, abs=1e-15)


def test_the_band_trades_only_the_stocks_outside_it_and_only_to_its_edge():
    # band 0.05 around target (0.30, 0.50): A at 0.36 is 0.06 over -> sells to 0.35;
    #   B at 0.46 is 0.04 under -> inside, does not trade; cash 1 - 0.81 = 0.19
    #   turnover 0.01, cost 10 bps * 0.01 = 0.00001
    traded, turnover, cost = _trade([0.30, 0.50, 0.20], [0.36, 0.46, 0.18], band=0.05)
    np.testing.assert_allclose(traded, [0.35, 0.46, 0.19], atol=1e-15)
    assert turnover == pytest.approx(0.01, abs=1e-15)
    assert cost == pytest.approx(0.00001, abs=1e-18)


def test_band_and_partial_rebalancing_compose():
    # A's band edge is 0.35; half way there from 0.36 is 0.355; B stays; cash 0.185; turnover 0.005
    traded, turnover, cost = _trade([0.30, 0.50, 0.20], [0.36, 0.46, 0.18], band=0.05, rate=0.5)
    np.testing.assert_allclose(traded, [0.355, 0.46, 0.185], atol=1e-15)
    assert turnover == pytest.approx(0.005, abs=1e-15)
    assert cost == pytest.approx(0.000005, abs=1e-18)


def test_a_band_that_leaves_too_little_cash_sells_the_overweights_pro_rata():
    # drifted (0.50, 0.49, cash 0.01), target (0.40, 0.40, 0.20), band 0.12: both stocks are
    # inside their bands, but holding them leaves 1% cash below the 2% floor. The deficit 0.01
    # is sold from the stocks above target in proportion to their excess 0.10 : 0.09:
    #   A 0.50 - 0.01 * 10/19, B 0.49 - 0.01 * 9/19, cash exactly 0.02; turnover 0.01
    traded, turnover, cost = _trade([0.40, 0.40, 0.20], [0.50, 0.49, 0.01], band=0.12)
    np.testing.assert_allclose(traded, [0.50 - 0.1 / 19, 0.49 - 0.09 / 19, 0.02], atol=1e-15)
    assert turnover == pytest.approx(0.01, abs=1e-15)
    assert cost == pytest.approx(0.00001, abs=1e-18)


def test_the_rules_force_trades_inside_the_band():
    # A became untradable (cap 0) and B grew past the 0.5 cap: both trade although inside the band
    traded, turnover, _ = _trade([0.0, 0.5, 0.5], [0.1, 0.55, 0.35], band=0.2, rate=0.5, cap=np.array([0.0, 0.5]))
    np.testing.assert_allclose(traded, [0.0, 0.5, 0.5], atol=1e-15)
    assert turnover == pytest.approx(0.15, abs=1e-15)


def test_immediate_execution_is_the_target_itself():
    target = np.array([[0.3, 0.5, 0.2]])
    assert execute(target, np.array([[0.0, 0.0, 1.0]]), CAP, 0.02, ExecutionRules()) is target
    assert ExecutionRules().immediate and not ExecutionRules(no_trade_band=0.01).immediate


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rebalance_rate": 0.0}, "ExecutionRules.rebalance_rate=0.0 must be in (0, 1]"),
    ({"rebalance_rate": 1.5}, "ExecutionRules.rebalance_rate=1.5 must be in (0, 1]"),
    ({"no_trade_band": -0.01}, "ExecutionRules.no_trade_band=-0.01 must be in [0, 1)"),
    ({"no_trade_band": float("nan")}, "ExecutionRules.no_trade_band=nan must be a finite number"),
    ({"rebalance_rate": True}, "ExecutionRules.rebalance_rate=True must be a finite number"),
])
def test_settings_are_validated(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        ExecutionRules(**kwargs)


def test_settings_round_trip_and_refuse_unknown_keys():
    rules = ExecutionRules(rebalance_rate=0.25, no_trade_band=0.01)
    assert ExecutionRules.from_dict(rules.to_dict()) == rules
    assert ExecutionRules.from_dict({}) == ExecutionRules()
    with pytest.raises(ConfigError, match="unknown execution setting"):
        ExecutionRules.from_dict({"band": 0.1})


@st.composite
def trades(draw):
    """Feasible targets, arbitrary (possibly infeasible) drifted weights, rules and settings."""
    n, batch = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    rules = PortfolioRules(cash_floor=draw(st.sampled_from([0.0, 0.02, 0.3])),
                           max_weight=draw(st.sampled_from([0.1, 0.2, 0.5, 1.0])))
    available = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    raw = np.array(draw(st.lists(st.floats(-1, 1), min_size=batch * (n + 1), max_size=batch * (n + 1))))
    target = project_weights(raw.reshape(batch, n + 1) * 5, rules, available)
    held = np.array(draw(st.lists(st.floats(0, 1), min_size=batch * (n + 1), max_size=batch * (n + 1))))
    held = held.reshape(batch, n + 1) + 1e-9
    drifted = held / held.sum(axis=1, keepdims=True)
    execution = ExecutionRules(rebalance_rate=draw(st.sampled_from([0.05, 0.25, 0.5, 1.0])),
                               no_trade_band=draw(st.sampled_from([0.0, 0.005, 0.02, 0.1, 0.5])))
    return target, drifted, available, rules, execution


@settings(max_examples=400, deadline=None)
@given(trades())
def test_executed_weights_are_feasible(case):
    target, drifted, available, rules, execution = case
    lo, hi = weight_bounds(available, rules)
    w = execute(target, drifted, hi[:-1], rules.cash_floor, execution)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=TOL, rtol=0)
    assert (w >= lo - TOL).all() and (w <= hi + TOL).all()
    assert (w[:, :-1][:, ~available] == 0.0).all()


@settings(max_examples=400, deadline=None)
@given(trades())
def test_execution_never_trades_past_the_target_or_more_than_the_full_rebalance(case):
    target, drifted, available, rules, execution = case
    w = execute(target, drifted, weight_bounds(available, rules)[1][:-1], rules.cash_floor, execution)
    low, high = np.minimum(target, drifted)[:, :-1], np.maximum(target, drifted)[:, :-1]
    assert (w[:, :-1] >= low - TOL).all() and (w[:, :-1] <= high + TOL).all()
    full = np.abs(target - drifted)[:, :-1].sum(axis=1)
    assert (np.abs(w - drifted)[:, :-1].sum(axis=1) <= full + TOL).all()


@settings(max_examples=200, deadline=None)
@given(trades())
def test_a_feasible_portfolio_inside_its_band_does_not_trade(case):
    target, _, available, rules, execution = case
    hi = weight_bounds(available, rules)[1][:-1]
    drifted = project_weights(target + 0.01, rules, available)  # feasible, near the target
    band = float(np.abs(drifted - target)[:, :-1].max()) + 1e-9
    w = execute(target, drifted, hi, rules.cash_floor, ExecutionRules(no_trade_band=band))
    np.testing.assert_allclose(w, drifted, atol=TOL, rtol=0)  # up to the floor's rounding
