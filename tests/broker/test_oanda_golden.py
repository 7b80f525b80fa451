"""Golden examples worked by hand from OANDA's published v20 rules, kept as fixed numbers.

Rules used (OANDA help pages on margin, margin closeout and financing):
margin used = |units| x mid x marginRate, converted at the mid rate; closeout NAV = balance +
unrealized P&L at mid; marginCloseoutPercent = 0.5 x margin used / closeout NAV, closeout at
>= 100%; NAV values positions at the price they close at (bid for longs); gains convert to
the home currency at the conversion pair's less favourable side, losses at the other;
financing = units x price x rate / 365 x daysCharged at the 17:00 New York rollover.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.financing import rollover_days
from sacfolio.broker.instruments import load_instruments
from sacfolio.broker.orders import MARGIN_CLOSEOUT
from sacfolio.broker.quotes import Quotes
from sacfolio.broker.simulator import Broker

EXAMPLE = load_instruments()
FX = EXAMPLE.select(["EUR_USD", "USD_JPY"])


def _quotes(*pairs: tuple[float, float]) -> Quotes:
    return Quotes(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))


def test_eur_usd_margin_in_a_usd_account_at_50_to_1() -> None:
    """10,000 EUR_USD long, quotes 1.09990 / 1.10010 (mid 1.10000), marginRate 0.02 (50:1).

    margin used      = 10,000 x 1.10000 x 0.02           = 220.00 USD
    position value   = 10,000 x 1.10000                  = 11,000.00 USD
    unrealized (bid) = 10,000 x (1.09990 - 1.10010)      = -2.00 USD  -> NAV 9,998.00
    closeout NAV     = 10,000 + 10,000 x (1.1 - 1.1001)  = 9,999.00 USD
    margin available = 9,999.00 - 220.00                 = 9,779.00 USD
    closeout percent = 0.5 x 220 / 9,999                 = 0.0110011
    With the account capped at 20:1 the rate is max(0.02, 1/20) = 0.05: margin 550.00 USD.
    """
    broker = Broker(FX, AccountConfig(home_currency="USD", max_leverage=50))
    quotes = _quotes((1.09990, 1.10010), (149.990, 150.010))
    state, fills = broker.submit(broker.open(1, 10_000.0), np.array([[10_000.0, 0.0]]), quotes)
    assert fills.price[0, 0] == 1.10010
    snap = broker.snapshot(state, quotes)
    assert snap.margin_used[0] == pytest.approx(220.00, abs=1e-9)
    assert snap.position_value[0] == pytest.approx(11_000.00, abs=1e-9)
    assert snap.nav[0] == pytest.approx(9_998.00, abs=1e-9)
    assert snap.closeout_nav[0] == pytest.approx(9_999.00, abs=1e-9)
    assert snap.margin_available[0] == pytest.approx(9_779.00, abs=1e-9)
    assert snap.closeout_percent[0] == pytest.approx(0.5 * 220 / 9_999, rel=1e-12)
    capped = Broker(FX, AccountConfig(home_currency="USD", max_leverage=20))
    assert capped.snapshot(state, quotes).margin_used[0] == pytest.approx(550.00, abs=1e-9)
    np.testing.assert_allclose(capped.leverage, [20.0, 20.0])


def test_eur_usd_margin_in_a_eur_account() -> None:
    """The same position in a EUR account: USD amounts convert through EUR_USD itself.

    value factor USD->EUR = 1 / mid = 1 / 1.10000
    position value = 11,000 USD / 1.1 = 10,000.00 EUR (= the units: base = home)
    margin used    = 10,000 x 0.02    = 200.00 EUR
    unrealized     = -2.00 USD, a loss, at 1 / bid = 1 / 1.09990 -> -1.818347 EUR
    """
    broker = Broker(FX, AccountConfig(home_currency="EUR"))
    quotes = _quotes((1.09990, 1.10010), (149.990, 150.010))
    state, _ = broker.submit(broker.open(1, 10_000.0), np.array([[10_000.0, 0.0]]), quotes)
    snap = broker.snapshot(state, quotes)
    assert snap.position_value[0] == pytest.approx(10_000.00, abs=1e-9)
    assert snap.margin_used[0] == pytest.approx(200.00, abs=1e-9)
    assert snap.unrealized[0] == pytest.approx(-2.0 / 1.09990, abs=1e-9)
    assert snap.unrealized[0] == pytest.approx(-1.818347, abs=1e-6)


@pytest.mark.parametrize("exit_quote, pnl_jpy, pnl_usd", [
    ((151.000, 151.020), 9_900.0, 9_900.0 / 151.020),      # gain: at 1 / ask = 65.5542 USD
    ((149.000, 149.020), -10_100.0, -10_100.0 / 149.000),  # loss: at 1 / bid = -67.7852 USD
])
def test_usd_jpy_round_trip_converted_on_the_gain_and_the_loss_side(exit_quote, pnl_jpy, pnl_usd) -> None:
    """Buy 10,000 USD_JPY at the ask 150.010 (quotes 149.990 / 150.010), sell at the exit bid.

    gain: 10,000 x (151.000 - 150.010) =  9,900 JPY; a JPY gain buys USD at the ask of
          USD_JPY: 9,900 / 151.020 = 65.5542 USD (less than 9,900 / mid 151.010 = 65.5586)
    loss: 10,000 x (149.000 - 150.010) = -10,100 JPY; covering JPY sells USD at the bid:
          -10,100 / 149.000 = -67.7852 USD (more than -10,100 / mid 149.010 = -67.7807)
    """
    broker = Broker(FX, AccountConfig(home_currency="USD"))
    entry = _quotes((1.09990, 1.10010), (149.990, 150.010))
    state, _ = broker.submit(broker.open(1, 10_000.0), np.array([[0.0, 10_000.0]]), entry)
    state, fills = broker.submit(state, np.array([[0.0, -10_000.0]]), _quotes((1.09990, 1.10010), exit_quote))
    assert fills.price[0, 1] == exit_quote[0]
    assert fills.realized[0, 1] == pytest.approx(pnl_usd, rel=1e-12)
    assert pnl_jpy * 1.0 / ((exit_quote[0] + exit_quote[1]) / 2) != pytest.approx(pnl_usd, rel=1e-6)
    assert state.balance[0] == pytest.approx(10_000.0 + pnl_usd, rel=1e-12)
    assert round(pnl_usd, 4) in (65.5542, -67.7852)


def test_closeout_triggers_at_exactly_100_percent() -> None:
    """SPX500_USD (marginRate 0.05), USD account with 9,810 USD; buy 20 at the ask 4,000.5.

    At quotes 3,599.5 / 3,600.5 (mid 3,600.0):
      margin used = 20 x 3,600 x 0.05                 = 3,600
      closeout NAV = 9,810 + 20 x (3,600 - 4,000.5)   = 1,800
      closeout percent = 0.5 x 3,600 / 1,800          = 1.000 -> closeout
      the position closes at the bid: 20 x (3,599.5 - 4,000.5) = -8,020 -> balance 1,790,
      which is the NAV just before (positions at their closing price).
    One point higher (3,600.5 / 3,601.5): 0.5 x 3,601 / 1,820 = 0.98929 -> no closeout.
    """
    broker = Broker(EXAMPLE.select(["SPX500_USD"]), AccountConfig(home_currency="USD"))
    state, fills = broker.submit(broker.open(1, 9_810.0), np.array([[20.0]]), _quotes((3_999.5, 4_000.5)))
    assert fills.price[0, 0] == 4_000.5
    safe = broker.step(state, _quotes((3_600.5, 3_601.5)))
    assert not safe.closeout.triggered[0]
    assert safe.snapshot.closeout_percent[0] == pytest.approx(0.5 * 3_601 / 1_820, rel=1e-12)
    at = _quotes((3_599.5, 3_600.5))
    before = broker.snapshot(state, at)
    assert before.margin_used[0] == 3_600.0 and before.closeout_nav[0] == 1_800.0
    assert before.closeout_percent[0] == 1.0
    result = broker.step(state, at)
    assert result.closeout.triggered[0] and result.closeout.percent[0] == 1.0
    assert result.closeout.fills.reason[0, 0] == MARGIN_CLOSEOUT and result.closeout.order[0, 0] == 1
    assert result.closeout.fills.units[0, 0] == -20.0 and result.closeout.fills.price[0, 0] == 3_599.5
    assert result.state.units[0, 0] == 0.0
    assert result.state.balance[0] == pytest.approx(1_790.0, abs=1e-9) == before.nav[0]
    assert result.snapshot.nav[0] == result.state.balance[0]


def test_financing_across_a_weekend_with_the_triple_day() -> None:
    """10,000 EUR_USD at mid 1.10000, longRate -3.19%, shortRate +1.21% (annual).

    Held from Tuesday 2024-01-09 12:00 to Monday 2024-01-15 12:00 New York, the 17:00
    rollovers are Tue 1 + Wed 3 (value date jumps the weekend) + Thu 1 + Fri 1 + Sat 0 +
    Sun 0 = 6 days:
      long : 10,000 x 1.1 x -0.0319 / 365 x 6 = -5.768219 USD
      short: 10,000 x 1.1 x +0.0121 / 365 x 6 = +2.187945 USD
    Bars Friday noon -> Monday noon cross Fri, Sat, Sun: 1 day for EUR_USD, 3 for
    SPX500_USD (an index CFD charges its triple day on Friday).
    """
    instruments = EXAMPLE.select(["EUR_USD", "SPX500_USD"])
    noon = pd.date_range("2024-01-09 12:00", "2024-01-15 12:00", freq="D", tz="America/New_York")
    days = rollover_days(noon, instruments)
    np.testing.assert_array_equal(days[:, 0], [0, 1, 3, 1, 1, 0, 0])
    np.testing.assert_array_equal(rollover_days(noon[[3, 6]], instruments)[1], [1, 3])
    assert days[:, 0].sum() == 6
    broker = Broker(instruments, AccountConfig(home_currency="USD"))
    quotes = _quotes((1.09990, 1.10010), (4_799.5, 4_800.5))
    state, _ = broker.submit(broker.open(2, 10_000.0), np.array([[10_000.0, 0.0], [-10_000.0, 0.0]]), quotes)
    paid = np.zeros(2)
    for row in days:
        state, amount = broker.rollover(state, quotes, row)
        paid += amount
    assert paid[0] == pytest.approx(-5.768219178, abs=1e-8)
    assert paid[1] == pytest.approx(2.187945205, abs=1e-8)
    assert state.financing == pytest.approx(paid)
    assert state.balance[0] == pytest.approx(10_000.0 + paid[0])  # the spread is still unrealized:
    assert broker.snapshot(state, quotes).nav[0] == pytest.approx(state.balance[0] - 10_000 * 0.0002)
