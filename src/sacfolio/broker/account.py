"""A margin account under OANDA v20 rules: balance, unrealized P&L, NAV, margin and closeout.

State of B accounts trading N instruments (one net position per instrument):

* **unrealized P&L** of a position: ``units * (close - entry)`` in the quote currency, where
  ``close`` is the price the position would close at (bid for a long, ask for a short),
  converted at the gain or the loss factor by its sign (:mod:`sacfolio.broker.fx`);
* **NAV** = balance + unrealized P&L: exactly what the balance would be after closing
  everything now, so cash and positions reconcile to NAV at every step;
* **position value** = sum ``|units| * mid * value factor`` (home currency);
* **margin used** = sum ``|units| * mid * margin rate * value factor`` with the margin rate
  ``max(marginRate, 1 / max_leverage)`` (leverage = 1 / marginRate, capped by the account);
* **margin closeout NAV** = balance + unrealized P&L at mid prices; **margin available** =
  ``max(0, closeout NAV - margin used)``; **marginCloseoutPercent** =
  ``closeout_fraction * margin used / closeout NAV`` (v20: half the margin used against the
  NAV at mid). At 1 or above the account is closed out (:mod:`sacfolio.broker.closeout`).

These follow OANDA's published v20 margin examples (margin and closeout NAV at mid rates).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sacfolio.broker.fx import Conversion
from sacfolio.broker.quotes import Quotes
from sacfolio.exceptions import ConfigError

__all__ = ["AccountConfig", "AccountSnapshot", "AccountState", "open_accounts", "snapshot"]


@dataclass(frozen=True, kw_only=True)
class AccountConfig:
    """Account-level settings.

    Attributes
    ----------
    home_currency : str, default "USD"
        Currency of balance, NAV and margin.
    max_leverage : float, default 50.0
        Leverage cap of the account, >= 1: each instrument's margin rate is at least
        ``1 / max_leverage`` (v20's account ``marginRate``). 1 means no leverage.
    closeout_fraction : float, default 0.5
        Share of the margin used that the NAV at mid must cover, in (0, 1]: the account is
        closed out when ``NAV_mid <= closeout_fraction * margin used``.
    """

    home_currency: str = "USD"
    max_leverage: float = 50.0
    closeout_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in ("max_leverage", "closeout_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"AccountConfig.{name}={value!r} must be a finite number.")
        if self.max_leverage < 1.0:
            raise ConfigError(f"AccountConfig.max_leverage={self.max_leverage} must be >= 1 (1: no leverage, "
                              "50: 50:1).")
        if not 0.0 < self.closeout_fraction <= 1.0:
            raise ConfigError(f"AccountConfig.closeout_fraction={self.closeout_fraction} must be in (0, 1] "
                              "(OANDA: 0.5).")
        if not isinstance(self.home_currency, str) or len(self.home_currency) != 3:
            raise ConfigError(f"AccountConfig.home_currency={self.home_currency!r} must be a code such as USD.")
        object.__setattr__(self, "home_currency", self.home_currency.upper())


class AccountState(NamedTuple):
    """B accounts (arrays with leading dimension B), home currency unless stated.

    Fields
    ------
    balance : (B,)
        Deposit + realized P&L - commission + financing.
    units : (B, N)
        Net signed units per instrument.
    entry : (B, N)
        Average entry price of the net position, quote currency (0 when flat).
    deposit, realized, commission, financing, spread_cost : (B,)
        Ledger totals; ``spread_cost`` (half the spread per unit filled) is the part of the
        realized and unrealized P&L paid to the spread, reported, not booked again.
    """

    balance: np.ndarray
    units: np.ndarray
    entry: np.ndarray
    deposit: np.ndarray
    realized: np.ndarray
    commission: np.ndarray
    financing: np.ndarray
    spread_cost: np.ndarray


def open_accounts(n_accounts: int, n_instruments: int, balance: float | np.ndarray) -> AccountState:
    """``n_accounts`` flat accounts holding ``balance`` each (scalar or (B,))."""
    deposit = np.broadcast_to(np.asarray(balance, dtype=np.float64), (n_accounts,)).copy()
    if not np.all(np.isfinite(deposit)) or np.any(deposit <= 0.0):
        raise ConfigError(f"an account opens with a positive finite balance, got {balance!r}")
    zeros = np.zeros(n_accounts)
    flat = np.zeros((n_accounts, n_instruments))
    return AccountState(deposit.copy(), flat, flat.copy(), deposit, zeros, zeros.copy(), zeros.copy(), zeros.copy())


class AccountSnapshot(NamedTuple):
    """Price-dependent state of B accounts, home currency, each field shape (B,)."""

    balance: np.ndarray
    unrealized: np.ndarray
    nav: np.ndarray
    position_value: np.ndarray
    margin_used: np.ndarray
    margin_available: np.ndarray
    closeout_nav: np.ndarray
    closeout_percent: np.ndarray


def unrealized(units: np.ndarray, entry: np.ndarray, price: np.ndarray, conv: Conversion) -> np.ndarray:
    """Unrealized P&L (B, N) in home currency of positions valued at ``price``."""
    return conv.signed(units * (price - entry))


def closing_price(units: np.ndarray, quotes: Quotes) -> np.ndarray:
    """The price each position closes at: bid for longs, ask for shorts."""
    return np.where(units > 0.0, quotes.bid, quotes.ask)


def margin_used(units: np.ndarray, quotes: Quotes, margin_rate: np.ndarray, conv: Conversion) -> np.ndarray:
    """``|units| * mid * margin rate * value factor`` per position, shape (B, N)."""
    return np.abs(units) * quotes.mid * margin_rate * conv.value


def snapshot(state: AccountState, quotes: Quotes, conv: Conversion, margin_rate: np.ndarray,
             closeout_fraction: float) -> AccountSnapshot:
    """NAV, margin and closeout percent of every account at ``quotes`` (module docstring).

    Parameters
    ----------
    state : AccountState
    quotes : Quotes, shape (N,) or (B, N), finite
    conv : Conversion at the same quotes
    margin_rate : ndarray, shape (N,)
        Effective margin rates (``max(marginRate, 1 / max_leverage)``).
    closeout_fraction : float
    """
    units, entry = state.units, state.entry
    mid = quotes.mid
    upl = unrealized(units, entry, closing_price(units, quotes), conv).sum(axis=-1)
    upl_mid = unrealized(units, entry, mid, conv).sum(axis=-1)
    value = np.abs(units) * mid * conv.value
    used = (value * margin_rate).sum(axis=-1)
    nav, nav_mid = state.balance + upl, state.balance + upl_mid
    percent = np.divide(closeout_fraction * used, nav_mid, out=np.full(used.shape, np.inf), where=nav_mid > 0.0)
    percent[used == 0.0] = 0.0
    return AccountSnapshot(state.balance, upl, nav, value.sum(axis=-1), used, np.maximum(nav_mid - used, 0.0),
                           nav_mid, percent)
