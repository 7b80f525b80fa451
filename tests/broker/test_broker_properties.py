"""Properties of the simulated broker: round-trip cost, margin formula, refusals, NAV reconciliation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.instruments import load_instruments
from sacfolio.broker.orders import (FILLED, INSUFFICIENT_MARGIN, MARKET_HALTED, NO_ORDER, UNITS_MINIMUM_NOT_MET,
                                    round_units)
from sacfolio.broker.quotes import Quotes, quotes_from_mid
from sacfolio.broker.simulator import Broker
from sacfolio.exceptions import ConfigError

EXAMPLE = load_instruments()
MIDS = {"EUR_USD": 1.1, "USD_JPY": 150.0, "GBP_USD": 1.27, "EUR_GBP": 0.866, "USD_CHF": 0.88, "AUD_USD": 0.66,
        "SPX500_USD": 4800.0, "AAPL": 190.0, "MSFT": 370.0, "JPM": 170.0}
MID = np.array([MIDS[n] for n in EXAMPLE.names])
FAST = settings(max_examples=40, deadline=None)


def _moved(rng: np.random.Generator, scale: float = 0.01) -> Quotes:
    return quotes_from_mid(MID * np.exp(rng.normal(0.0, scale, MID.shape)), EXAMPLE, int(rng.integers(24)))


@FAST
@given(st.sampled_from(EXAMPLE.names), st.integers(1, 200_000), st.sampled_from(["USD", "EUR", "JPY"]),
       st.booleans())
def test_a_round_trip_at_constant_mid_costs_the_spread_plus_commission(name, size, home, short) -> None:
    k = EXAMPLE.index(name)
    broker = Broker(EXAMPLE, AccountConfig(home_currency=home, max_leverage=1_000))
    quotes = quotes_from_mid(MID, EXAMPLE, 12)
    conv = broker.factors(quotes)
    units = np.zeros((1, len(EXAMPLE)))
    units[0, k] = -size if short else size
    start = broker.open(1, 2e11 if home == "JPY" else 1e9)
    state, opened = broker.submit(start, units, quotes)
    state, closed = broker.submit(state, -units, quotes)
    assert opened.reason[0, k] == closed.reason[0, k] == FILLED and state.units[0, k] == 0.0
    spread = (quotes.ask[k] - quotes.bid[k]) * size
    commission = size * quotes.mid[k] * 2 * EXAMPLE.commission_bps[k] * 1e-4  # bid + ask = 2 mid
    expected = -(spread + commission) * conv.loss[k]
    assert state.realized[0] - state.commission[0] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert state.balance[0] - start.balance[0] == pytest.approx(expected, abs=1e-15 * start.balance[0] * 100)
    assert state.spread_cost[0] == pytest.approx(spread * conv.loss[k], rel=1e-9)
    assert state.commission[0] == pytest.approx(commission * conv.loss[k], rel=1e-9, abs=1e-12)


@FAST
@given(st.lists(st.integers(-50_000, 50_000), min_size=len(EXAMPLE), max_size=len(EXAMPLE)),
       st.sampled_from(["USD", "EUR", "GBP", "JPY"]), st.sampled_from([1.0, 10.0, 50.0]), st.integers(0, 99))
def test_margin_used_is_the_sum_of_units_price_rate_and_conversion(units, home, leverage, seed) -> None:
    broker = Broker(EXAMPLE, AccountConfig(home_currency=home, max_leverage=leverage))
    quotes = _moved(np.random.default_rng(seed))
    state = broker.open(1, 1e12)
    state, _ = broker.submit(state, np.array([units], dtype=float), quotes)
    expected = 0.0
    for k, inst in enumerate(EXAMPLE.instruments):  # conversion written out per currency
        value = abs(state.units[0, k]) * quotes.mid[k] * _mid_rate(inst.quote_currency, home, quotes)
        expected += value * max(inst.margin_rate, 1.0 / leverage)
    assert broker.snapshot(state, quotes).margin_used[0] == pytest.approx(expected, rel=1e-12)


def _mid_rate(src: str, dst: str, quotes: Quotes) -> float:
    """Home value of one ``src`` at mid rates, through USD when there is no direct pair."""
    if src == dst:
        return 1.0
    mids = {n: m for n, m in zip(EXAMPLE.names, quotes.mid)}
    if f"{src}_{dst}" in mids:
        return mids[f"{src}_{dst}"]
    if f"{dst}_{src}" in mids:
        return 1.0 / mids[f"{dst}_{src}"]
    return _mid_rate(src, "USD", quotes) * _mid_rate("USD", dst, quotes)


@FAST
@given(st.integers(0, 10_000), st.floats(100.0, 5_000.0))
def test_a_refused_order_leaves_the_account_unchanged(seed, balance) -> None:
    rng = np.random.default_rng(seed)
    broker = Broker(EXAMPLE, AccountConfig(home_currency="USD"))
    quotes = _moved(rng)
    state, _ = broker.submit(broker.open(4, balance), rng.integers(-2_000, 2_000, (4, len(EXAMPLE))) * 1.0, quotes)
    orders = rng.integers(-500_000, 500_000, (4, len(EXAMPLE))) * (rng.random((4, len(EXAMPLE))) < 0.5)
    orders = orders + rng.choice([0.0, 0.4], orders.shape)  # some below minimum size
    after, fills = broker.submit(state, orders.astype(float), quotes)
    refused = np.isin(fills.reason, [INSUFFICIENT_MARGIN, UNITS_MINIMUM_NOT_MET])
    assert np.all(fills.units[refused] == 0.0)
    only_accepted, _ = broker.submit(state, np.where(refused, 0.0, round_units(orders, EXAMPLE)), quotes)
    for got, want in zip(after, only_accepted):
        np.testing.assert_array_equal(got, want)
    untouched = ~(fills.units != 0.0).any(axis=1)
    for got, was in zip(after, state):
        np.testing.assert_array_equal(got[untouched], was[untouched])


@FAST
@given(st.integers(0, 10_000), st.sampled_from(["USD", "EUR", "JPY"]), st.sampled_from([1.0, 5.0, 50.0]))
def test_cash_and_positions_reconcile_to_nav_at_every_step(seed, home, leverage) -> None:
    rng = np.random.default_rng(seed)
    broker = Broker(EXAMPLE, AccountConfig(home_currency=home, max_leverage=leverage))
    state = broker.open(3, 100_000.0)
    previous = _moved(rng)
    for _ in range(12):
        quotes = _moved(rng, 0.02)
        weights = rng.normal(0.0, 0.5, (3, len(EXAMPLE))) * (rng.random((3, len(EXAMPLE))) < 0.6)
        days = rng.choice([0.0, 1.0, 3.0], len(EXAMPLE))
        result = broker.step(state, quotes, weights=weights, days=days, previous=previous)
        state, snap = result.state, result.snapshot
        ledger = state.deposit + state.realized - state.commission + state.financing
        np.testing.assert_allclose(state.balance, ledger, rtol=1e-12, atol=1e-6)
        np.testing.assert_allclose(snap.nav, state.balance + snap.unrealized, rtol=1e-12)
        flat, exit = broker.submit(state, -state.units, quotes)  # closing never needs margin
        assert np.all(flat.units == 0.0)
        np.testing.assert_allclose(flat.balance, snap.nav - exit.commission.sum(axis=1), rtol=1e-12, atol=1e-6)
        previous = quotes


def test_netting_closes_before_it_opens_and_realizes_at_the_entry() -> None:
    broker = Broker(EXAMPLE.select(["AAPL"]), AccountConfig(home_currency="USD", max_leverage=1))
    q1, q2 = Quotes(np.array([99.99]), np.array([100.01])), Quotes(np.array([109.99]), np.array([110.01]))
    state, _ = broker.submit(broker.open(1, 100_000.0), np.array([[100.0]]), q1)
    state, _ = broker.submit(state, np.array([[100.0]]), q2)
    assert state.units[0, 0] == 200.0 and state.entry[0, 0] == pytest.approx(105.01)
    state, fills = broker.submit(state, np.array([[-300.0]]), q2)  # close 200, open 100 short
    assert state.units[0, 0] == -100.0 and state.entry[0, 0] == 109.99
    assert fills.realized[0, 0] == pytest.approx(200 * (109.99 - 105.01))


def test_small_halted_and_unknown_orders_are_refused_with_a_reason() -> None:
    broker = Broker(EXAMPLE, AccountConfig(home_currency="USD"))
    quotes = quotes_from_mid(MID, EXAMPLE)
    orders = EXAMPLE.units_vector({"SPX500_USD": 0.05, "AAPL": 10.7, "EUR_USD": 1_000.0})[None, :]
    tradable = np.array([n != "EUR_USD" for n in EXAMPLE.names])
    state, fills = broker.submit(broker.open(1, 10_000.0), orders, quotes, tradable=tradable)
    assert fills.reason[0, EXAMPLE.index("SPX500_USD")] == UNITS_MINIMUM_NOT_MET
    assert fills.reason[0, EXAMPLE.index("EUR_USD")] == MARKET_HALTED
    assert fills.units[0, EXAMPLE.index("AAPL")] == 10.0  # rounded towards zero to whole shares
    assert fills.reasons(0)[EXAMPLE.index("MSFT")] == "NO_ORDER" and fills.reason[0, 1] == NO_ORDER
    state, fills = broker.submit(state, EXAMPLE.units_vector({"AAPL": 1e6})[None, :], quotes)
    assert fills.reasons(0)[EXAMPLE.index("AAPL")] == "INSUFFICIENT_MARGIN" and state.units[0, 7] == 10.0
    with pytest.raises(ConfigError, match="unknown instrument 'EURUSD'.*EUR_USD"):
        EXAMPLE.units_vector({"EURUSD": 1.0})


def test_orders_that_do_not_all_fit_are_taken_in_instrument_order() -> None:
    broker = Broker(EXAMPLE.select(["AAPL", "MSFT", "JPM"]), AccountConfig(home_currency="USD", max_leverage=1))
    quotes = Quotes(np.array([100.0, 100.0, 100.0]), np.array([100.0, 100.0, 100.0]))
    state, fills = broker.submit(broker.open(1, 10_000.0), np.array([[60.0, 60.0, 30.0]]), quotes)
    assert fills.reasons(0) == ["FILLED", "INSUFFICIENT_MARGIN", "FILLED"]
    np.testing.assert_array_equal(state.units, [[60.0, 0.0, 30.0]])


@FAST
@given(st.integers(0, 10_000))
def test_the_batched_margin_pass_equals_orders_sent_one_at_a_time(seed) -> None:
    """Reference: the reducing orders first, then each other order alone, in instrument order."""
    rng = np.random.default_rng(seed)
    broker = Broker(EXAMPLE, AccountConfig(home_currency="USD", max_leverage=20))
    quotes = _moved(rng)
    state, _ = broker.submit(broker.open(3, 20_000.0), rng.integers(-3_000, 3_000, (3, len(EXAMPLE))) * 1.0, quotes)
    orders = (rng.integers(-40_000, 40_000, (3, len(EXAMPLE))) * (rng.random((3, len(EXAMPLE))) < 0.6)) * 1.0
    batched, _ = broker.submit(state, orders, quotes)
    reducing = np.abs(state.units + orders) <= np.abs(state.units)
    one_by_one, _ = broker.submit(state, np.where(reducing, orders, 0.0), quotes)
    for k in range(len(EXAMPLE)):
        single = np.zeros_like(orders)
        single[:, k] = np.where(reducing[:, k], 0.0, orders[:, k])
        one_by_one, _ = broker.submit(one_by_one, single, quotes)
    np.testing.assert_array_equal(batched.units, one_by_one.units)
    np.testing.assert_allclose(batched.balance, one_by_one.balance, rtol=1e-12)


def test_a_closeout_closes_every_position_largest_margin_first() -> None:
    broker = Broker(EXAMPLE.select(["EUR_USD", "USD_JPY", "SPX500_USD"]), AccountConfig(home_currency="USD"))
    entry = Quotes(np.array([1.0999, 149.99, 4_799.5]), np.array([1.1001, 150.01, 4_800.5]))
    state, _ = broker.submit(broker.open(2, 5_000.0), np.array([[50_000.0, -20_000.0, 10.0], [1_000.0, 0.0, 0.0]]),
                             entry)
    crash = Quotes(np.array([1.0199, 160.99, 4_399.5]), np.array([1.0201, 161.01, 4_400.5]))
    result = broker.step(state, crash)
    np.testing.assert_array_equal(result.closeout.triggered, [True, False])
    np.testing.assert_array_equal(result.state.units[0], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(result.closeout.order[0], [2, 3, 1])  # SPX 2,200 > EUR 1,020 > JPY 800 USD
    assert result.closeout.fills.reasons(0) == ["MARGIN_CLOSEOUT"] * 3
    assert result.state.units[1, 0] == 1_000.0 and result.closeout.order[1].sum() == 0
    assert result.snapshot.nav[0] == pytest.approx(broker.snapshot(state, crash).nav[0])


def test_the_equity_configuration_charges_cost_bps_on_drifted_turnover() -> None:
    """No spread, no leverage, 10 bps: the commission of a rebalance is ``costs.rebalance``'s cost."""
    from sacfolio.broker.costs import turnover
    from sacfolio.broker.instruments import equity_instruments

    rng = np.random.default_rng(5)
    symbols = [f"S{k}" for k in range(20)]
    broker = Broker(equity_instruments(symbols, cost_bps=10.0), AccountConfig(home_currency="USD", max_leverage=1))
    mid = rng.uniform(10, 500, 20)
    price = Quotes(mid, mid)
    start = rng.dirichlet(np.ones(21), 4)
    state, _ = broker.submit(broker.open(4, 1e6), start[:, :-1] * 1e6 / price.mid, price)
    nav = broker.snapshot(state, price).nav
    drifted = np.column_stack([state.units * price.mid / nav[:, None], 1 - (state.units * price.mid).sum(1) / nav])
    target = rng.dirichlet(np.ones(21), 4)
    result = broker.step(state, price, weights=target[:, :-1])
    assert np.all(result.fills.reason[:, :] == 1) and np.all(result.costs.spread == 0.0)
    np.testing.assert_allclose(result.costs.commission, 1e-3 * turnover(target, drifted) * nav, rtol=1e-6)
    np.testing.assert_allclose(result.snapshot.margin_used, result.snapshot.position_value)
