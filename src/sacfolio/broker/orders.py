"""Market orders on B accounts at once: fills at bid/ask, commission, netting, refusals.

An order is a signed number of units per instrument (buy > 0, sell < 0):

1. units are rounded towards zero to ``tradeUnitsPrecision``;
2. an order below ``minimumTradeSize`` is refused ``UNITS_MINIMUM_NOT_MET``, one on an
   instrument without a price ``MARKET_HALTED``;
3. buys fill at the ask, sells at the bid (quotes are already at ``displayPrecision``);
   commission = ``|units| * (perUnit + price * bps / 1e4)`` in the quote currency,
   converted at the loss factor;
4. **netting**: an order against the position first closes it (realizing
   ``closed * (price - entry)``, converted at the gain or loss factor) and opens the rest
   at the fill price; an order with the position raises it at the average entry price;
5. **margin**: orders that reduce a position always execute; the others execute
   in instrument order, each only if afterwards the margin used is still covered by the
   NAV at mid (margin available >= 0); one that is not is refused
   ``INSUFFICIENT_MARGIN`` and leaves the account as it was. The run goes on.

Everything is (B, N) numpy; the instrument-by-instrument margin pass runs only for the
accounts whose orders do not all fit at once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.account import AccountState, margin_used, unrealized
from sacfolio.broker.fx import Conversion
from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.quotes import Quotes

__all__ = ["FILLED", "INSUFFICIENT_MARGIN", "MARKET_HALTED", "NO_ORDER", "REASONS", "UNITS_MINIMUM_NOT_MET",
           "Fills", "apply_fills", "execute_orders", "round_units"]

NO_ORDER, FILLED, UNITS_MINIMUM_NOT_MET, INSUFFICIENT_MARGIN, MARKET_HALTED, MARGIN_CLOSEOUT = range(6)
REASONS = ("NO_ORDER", "FILLED", "UNITS_MINIMUM_NOT_MET", "INSUFFICIENT_MARGIN", "MARKET_HALTED",
           "MARGIN_CLOSEOUT")
"""Names of the codes in :attr:`Fills.reason` (v20 reject reasons where v20 has one)."""


class Fills(NamedTuple):
    """What happened to the orders of B accounts, each field (B, N), money in home currency.

    Fields
    ------
    units : filled signed units (0 where refused or no order)
    price : fill price (NaN where nothing filled)
    reason : int8 code, see :data:`REASONS`
    realized : P&L realized by the part that closed a position
    commission : commission paid (>= 0)
    spread_cost : ``|units| * |price - mid|``, half the spread per unit filled (>= 0)
    """

    units: np.ndarray
    price: np.ndarray
    reason: np.ndarray
    realized: np.ndarray
    commission: np.ndarray
    spread_cost: np.ndarray

    def reasons(self, account: int = 0) -> list[str]:
        """Reason names of one account's orders, in instrument order."""
        return [REASONS[int(r)] for r in self.reason[account]]


def round_units(units: np.ndarray, instruments: InstrumentSet) -> np.ndarray:
    """Units rounded towards zero to ``tradeUnitsPrecision`` (never more than asked)."""
    scale = instruments.units_scale
    return np.trunc(np.round(units * scale, 6)) / scale


def apply_fills(state: AccountState, units: np.ndarray, quotes: Quotes, conv: Conversion,
                instruments: InstrumentSet) -> tuple[AccountState, Fills]:
    """Book fills of ``units`` (B, N) at bid/ask without any check (netting, commission)."""
    held, entry = state.units, state.entry
    buy = units > 0.0
    price = np.where(buy, quotes.ask, quotes.bid)
    size = np.abs(units)
    closed = np.minimum(size, np.abs(held))
    closed *= np.sign(units)
    closed *= (units * held) < 0.0  # only the part against the position closes
    opened = units - closed
    scale = instruments.units_scale
    after = np.round((held + units) * scale) / scale  # positions stay on the units grid
    new_entry = np.divide((held + closed) * entry + opened * price, after, out=np.zeros_like(after),
                          where=after != 0.0)
    new_entry = np.where((opened == 0.0) & (after != 0.0), entry, new_entry)
    realized = unrealized(-closed, entry, price, conv)
    commission = size * (instruments.commission_per_unit + price * instruments.commission_rate) * conv.loss
    spread = size * np.abs(price - quotes.mid) * conv.loss
    filled = units != 0.0
    fills = Fills(units, np.where(filled, price, np.nan), filled.astype(np.int8) * np.int8(FILLED),
                  realized, commission, spread)
    r, c = realized.sum(axis=-1), commission.sum(axis=-1)
    new = state._replace(balance=state.balance + r - c, units=after, entry=new_entry,
                         realized=state.realized + r, commission=state.commission + c,
                         spread_cost=state.spread_cost + spread.sum(axis=-1))
    return new, fills


def _covered(state: AccountState, quotes: Quotes, conv: Conversion, margin_rate: np.ndarray) -> np.ndarray:
    """(B,) True where the margin used is covered by the NAV at mid."""
    nav_mid = state.balance + unrealized(state.units, state.entry, quotes.mid, conv).sum(axis=-1)
    return margin_used(state.units, quotes, margin_rate, conv).sum(axis=-1) <= nav_mid


def _rows(quotes: Quotes, conv: Conversion, rows: np.ndarray) -> tuple[Quotes, Conversion]:
    if quotes.bid.ndim == 1:
        return quotes, conv
    return Quotes(quotes.bid[rows], quotes.ask[rows]), Conversion(*(f[rows] for f in conv))


def _shortfall(state: AccountState, units: np.ndarray, quotes: Quotes, conv: Conversion,
               instruments: InstrumentSet, margin_rate: np.ndarray) -> np.ndarray:
    """Per position (B, N): margin used minus its part of the NAV at mid after ``units`` fill.

    An account is covered when its balance before the fills is at least the row sum.
    """
    after, fills = apply_fills(state, units, quotes, conv, instruments)
    nav_part = fills.realized - fills.commission + unrealized(after.units, after.entry, quotes.mid, conv)
    return margin_used(after.units, quotes, margin_rate, conv) - nav_part


def _sequential(state: AccountState, units: np.ndarray, increasing: np.ndarray, quotes: Quotes,
                conv: Conversion, instruments: InstrumentSet, margin_rate: np.ndarray) -> np.ndarray:
    """Accept mask (b, N) for accounts whose orders do not all fit: reducers, then one by one.

    Fills of different instruments add up, so each order's effect on the coverage is its
    column's change between the shortfall without it and with it.
    """
    accept = (units != 0.0) & ~increasing
    without = _shortfall(state, np.where(accept, units, 0.0), quotes, conv, instruments, margin_rate)
    with_all = _shortfall(state, units, quotes, conv, instruments, margin_rate)
    total = without.sum(axis=-1)
    for k in np.flatnonzero(increasing.any(axis=0)):
        trial = total - without[:, k] + with_all[:, k]
        ok = increasing[:, k] & (trial <= state.balance)
        total = np.where(ok, trial, total)
        accept[:, k] |= ok
    return accept


def execute_orders(state: AccountState, units: np.ndarray, quotes: Quotes, conv: Conversion,
                   instruments: InstrumentSet, margin_rate: np.ndarray,
                   tradable: np.ndarray | None = None) -> tuple[AccountState, Fills]:
    """Execute market orders of B accounts under the rules of the module docstring.

    Parameters
    ----------
    state : AccountState of B accounts
    units : ndarray float64, shape (B, N)
        Signed order sizes; 0 means no order.
    quotes : Quotes, shape (N,) or (B, N)
        Finite bid/ask (use ``tradable`` for instruments without a price).
    conv : Conversion at ``quotes``
    instruments : InstrumentSet
    margin_rate : ndarray, shape (N,)
        Effective margin rates.
    tradable : ndarray bool, shape (N,) or (B, N), optional
        False refuses the instrument's orders with ``MARKET_HALTED``.

    Returns
    -------
    (AccountState, Fills)
        A refused order leaves no trace in the state (balance, units, entry, ledger).
    """
    raw = np.asarray(units, dtype=np.float64)
    asked = round_units(raw, instruments)
    reason = np.zeros(asked.shape, dtype=np.int8)
    reason[(raw != 0.0) & ((asked == 0.0) | (np.abs(asked) < instruments.min_size))] = UNITS_MINIMUM_NOT_MET
    if tradable is not None:
        reason[(raw != 0.0) & ~np.broadcast_to(tradable, asked.shape)] = MARKET_HALTED
    valid = np.where(reason == 0, asked, 0.0)
    increasing = np.abs(state.units + valid) > np.abs(state.units)
    after, fills = apply_fills(state, valid, quotes, conv, instruments)
    bad = ~_covered(after, quotes, conv, margin_rate) & increasing.any(axis=-1)
    if bad.any():
        rows = np.flatnonzero(bad)
        sub_state = AccountState(*(f[rows] for f in state))
        sub_quotes, sub_conv = _rows(quotes, conv, rows)
        accept = np.ones_like(valid, dtype=bool)
        accept[rows] = _sequential(sub_state, valid[rows], increasing[rows], sub_quotes, sub_conv,
                                   instruments, margin_rate)
        reason[(valid != 0.0) & ~accept] = INSUFFICIENT_MARGIN
        valid = np.where(accept, valid, 0.0)
        after, fills = apply_fills(state, valid, quotes, conv, instruments)
    reason = np.where(reason == 0, fills.reason, reason).astype(np.int8)
    return after, fills._replace(reason=reason)
