"""The env's B portfolios as accounts at the simulated broker (``rules.broker`` set).

A step of the core at decision row t, for each portfolio:

1. orders move the account to the exposure ``leverage * w`` of its NAV at this row's
   quotes (bid/ask around the close with the instrument's spread), filled by
   :meth:`Broker.submit` (commission, netting, margin refusals), then the margin closeout
   check at these quotes;
2. financing for the rollovers up to row t + 1 (:func:`~sacfolio.broker.financing.rollover_days`,
   triple days included), charged at row t's quotes;
3. the closeout check at row t + 1's quotes and the mark to market there.

The period's growth is ``NAV(t + 1) / NAV(t)``, so the reward is the same log NAV ratio
as without the broker; spread, commission and financing are reported apart, as fractions
of NAV before the decision. The weights the agent sees drift with the positions:
``position value / (leverage * NAV)`` per stock, CASH the rest.

Against the equity rule of :func:`~sacfolio.broker.costs.rebalance` (costs shrink every
holding in proportion) an account pays its costs from cash, so with the equity instruments
the two agree to within ``cost * |period return|`` per step (tested).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.account import open_accounts, snapshot
from sacfolio.broker.closeout import margin_closeout
from sacfolio.broker.financing import apply_financing, rollover_days
from sacfolio.broker.fx import Conversion
from sacfolio.broker.orders import INSUFFICIENT_MARGIN, MARKET_HALTED, UNITS_MINIMUM_NOT_MET, execute_orders
from sacfolio.broker.quotes import Quotes, carry_forward, quotes_from_mid
from sacfolio.broker.venue import BrokerVenue
from sacfolio.exceptions import DataError

__all__ = ["BookStep", "BrokerBook"]

_REFUSED = (INSUFFICIENT_MARGIN, MARKET_HALTED, UNITS_MINIMUM_NOT_MET)


class BookStep(NamedTuple):
    """One period of B accounts (arrays with leading dimension B)."""

    growth: np.ndarray
    """NAV after the period over NAV before the decision."""
    drifted: np.ndarray
    """(B, N + 1) weights at the end of the period, CASH last."""
    spread: np.ndarray
    """Half-spread paid on the fills, fraction of NAV before the decision (>= 0)."""
    commission: np.ndarray
    """Commission paid, fraction of NAV before the decision (>= 0)."""
    financing: np.ndarray
    """Financing received (< 0: paid), fraction of NAV before the decision."""
    refused: np.ndarray
    """Orders refused (margin, market halted, below minimum size), count per account."""
    closed_out: np.ndarray
    """True where a margin closeout happened in the period."""


class BrokerBook:
    """B broker accounts over one panel's rows.

    Parameters
    ----------
    venue : BrokerVenue
    symbols : sequence of str, length N
        Instruments of the venue's file, in the core's column order.
    prices : ndarray float, shape (T, N)
        Close (mid) prices; rows where a symbol is unavailable are not traded.
    dates : ndarray datetime64, shape (T,)
        Decision closes, for the financing calendar.
    available : ndarray bool, shape (T, N)
    """

    def __init__(self, venue: BrokerVenue, symbols: tuple[str, ...], prices: np.ndarray, dates: np.ndarray,
                 available: np.ndarray) -> None:
        prices = np.asarray(prices, dtype=np.float64)
        available = np.asarray(available, dtype=bool)
        if prices.shape != available.shape or len(dates) != prices.shape[0] or len(symbols) != prices.shape[1]:
            raise DataError(f"broker prices {prices.shape}, dates ({len(dates)},), symbols ({len(symbols)},) and "
                            f"availability {available.shape} must agree")
        self.venue = venue
        self.broker = venue.broker_for(symbols)
        instruments = self.broker.instruments
        mid = np.where(available & np.isfinite(prices) & (prices > 0), prices, np.nan)
        quotes, self.tradable = carry_forward(quotes_from_mid(mid, instruments, venue.hour))
        never = ~np.isfinite(quotes.bid)  # a symbol without any price: never tradable, never held
        self.quotes = Quotes(np.where(never, 1.0, quotes.bid), np.where(never, 1.0, quotes.ask))
        self.conversion = self.broker.factors(self.quotes)  # (T, N) tables: the quotes are fixed
        self.days = rollover_days(np.asarray(dates).astype("datetime64[ns]"), instruments)
        self.leverage = venue.leverage
        self.state = open_accounts(0, len(symbols), venue.balance)

    def reset(self, n: int, which: np.ndarray | None = None) -> None:
        """Open ``n`` fresh accounts (``which``: replace those rows of the current batch)."""
        fresh = open_accounts(n, self.state.units.shape[1], self.venue.balance)
        if which is None:
            self.state = fresh
            return
        fields = [np.array(old, copy=True) for old in self.state]
        for old, new in zip(fields, fresh):
            old[which] = new
        self.state = type(self.state)(*fields)

    def _quotes(self, rows: np.ndarray) -> Quotes:
        return Quotes(self.quotes.bid[rows], self.quotes.ask[rows])

    def _conversion(self, rows: np.ndarray) -> Conversion:
        return Conversion(*(table[rows] for table in self.conversion))

    def trade(self, target: np.ndarray, rows: np.ndarray) -> BookStep:
        """Trade every account to ``target`` (B, N + 1) at ``rows`` and hold to ``rows + 1``.

        The steps of :meth:`Broker.step` (orders, closeout, financing, closeout), called on
        conversion factors looked up per row instead of computed per call.
        """
        broker, instruments = self.broker, self.broker.instruments
        rate, fraction = broker.margin_rate, broker.config.closeout_fraction
        here, there = self._quotes(rows), self._quotes(rows + 1)
        conv_here, conv_there = self._conversion(rows), self._conversion(rows + 1)
        nav0 = snapshot(self.state, here, conv_here, rate, fraction).nav
        units = target[:, :-1] * (self.leverage * nav0[:, None]) / (here.mid * conv_here.value) - self.state.units
        state, fills = execute_orders(self.state, units, here, conv_here, instruments, rate, self.tradable[rows])
        state, closed_here = margin_closeout(state, here, conv_here, instruments, rate, fraction)
        state, financed = apply_financing(state, here, conv_here, instruments, self.days[rows + 1])
        after = snapshot(state, there, conv_there, rate, fraction)
        state, closed_there = margin_closeout(state, there, conv_there, instruments, rate, fraction,
                                              after.closeout_percent)
        nav1 = snapshot(state, there, conv_there, rate, fraction).nav if closed_there.triggered.any() else after.nav
        self.state = state
        drifted = np.empty_like(target)
        drifted[:, :-1] = state.units * there.mid * conv_there.value / (self.leverage * nav1[:, None])
        drifted[:, -1] = 1.0 - drifted[:, :-1].sum(axis=1)
        spread = (fills.spread_cost.sum(axis=1) + closed_here.fills.spread_cost.sum(axis=1)
                  + closed_there.fills.spread_cost.sum(axis=1))
        commission = (fills.commission.sum(axis=1) + closed_here.fills.commission.sum(axis=1)
                      + closed_there.fills.commission.sum(axis=1))
        refused = np.isin(fills.reason, _REFUSED).sum(axis=1)
        growth = np.maximum(nav1, 1e-12 * nav0) / nav0  # a wiped-out account keeps a finite log
        return BookStep(growth, drifted, spread / nav0, commission / nav0, financed / nav0, refused,
                        closed_here.triggered | closed_there.triggered)
