"""The simulated broker: one object that trades, finances and closes out B accounts per bar.

:class:`Broker` binds an :class:`InstrumentSet` and an :class:`AccountConfig`; its state is
an :class:`AccountState` of plain arrays passed in and returned, so B portfolios (a batch
of envs, seeds or folds) step together in numpy. A bar step, in order:

1. **financing** for the rollovers since the previous bar, at the previous bar's quotes;
2. **orders** towards the target exposure (:meth:`Broker.orders_for_weights`), filled at
   this bar's bid/ask; refused orders leave the account as it was and are reported;
3. **margin closeout** at this bar's quotes if ``marginCloseoutPercent >= 1``;
4. a **snapshot** (NAV, margin, closeout percent) and the costs of the step split into
   spread, commission and financing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from sacfolio.broker.account import AccountConfig, AccountSnapshot, AccountState, open_accounts, snapshot
from sacfolio.broker.closeout import Closeout, margin_closeout
from sacfolio.broker.financing import apply_financing
from sacfolio.broker.fx import Conversion, HomeConversion
from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.orders import Fills, execute_orders
from sacfolio.broker.quotes import Quotes

__all__ = ["Broker", "StepCosts", "StepResult"]


class StepCosts(NamedTuple):
    """Costs of one step per account (B,), home currency: spread and commission paid (>= 0),
    financing received (< 0 when paid)."""

    spread: np.ndarray
    commission: np.ndarray
    financing: np.ndarray


class StepResult(NamedTuple):
    """Everything a bar step produced (see :meth:`Broker.step`)."""

    state: AccountState
    fills: Fills
    closeout: Closeout
    snapshot: AccountSnapshot
    costs: StepCosts


@dataclass(frozen=True)
class Broker:
    """OANDA v20-style broker over ``instruments`` for accounts configured by ``config``.

    Attributes
    ----------
    instruments : InstrumentSet
    config : AccountConfig
    margin_rate : ndarray (N,)
        Effective margin rate ``max(marginRate, 1 / max_leverage)`` per instrument.
    """

    instruments: InstrumentSet
    config: AccountConfig = field(default_factory=AccountConfig)
    conversion: HomeConversion = field(init=False, repr=False, compare=False)
    margin_rate: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "conversion", HomeConversion(self.instruments, self.config.home_currency))
        rate = np.maximum(self.instruments.margin_rate, 1.0 / self.config.max_leverage)
        rate.setflags(write=False)
        object.__setattr__(self, "margin_rate", rate)

    @property
    def leverage(self) -> np.ndarray:
        """Maximum leverage per instrument, ``1 / margin_rate``."""
        return 1.0 / self.margin_rate

    def open(self, n_accounts: int, balance: float | np.ndarray) -> AccountState:
        """``n_accounts`` flat accounts with ``balance`` home currency each."""
        return open_accounts(n_accounts, len(self.instruments), balance)

    def factors(self, quotes: Quotes) -> Conversion:
        """Home-currency conversion factors at ``quotes``."""
        return self.conversion.factors(quotes)

    def snapshot(self, state: AccountState, quotes: Quotes) -> AccountSnapshot:
        return snapshot(state, quotes, self.factors(quotes), self.margin_rate, self.config.closeout_fraction)

    def submit(self, state: AccountState, units: np.ndarray, quotes: Quotes,
               tradable: np.ndarray | None = None) -> tuple[AccountState, Fills]:
        """Execute market orders of ``units`` (B, N); see :func:`~sacfolio.broker.orders.execute_orders`."""
        return execute_orders(state, units, quotes, self.factors(quotes), self.instruments, self.margin_rate,
                              tradable)

    def orders_for_weights(self, state: AccountState, weights: np.ndarray, quotes: Quotes,
                           conv: Conversion | None = None) -> np.ndarray:
        """Units (B, N) that move each account to the target exposure ``weights``.

        ``weights[b, n]`` is the signed position value of instrument n as a fraction of the
        account's NAV (``sum |w|`` up to the leverage the margin allows; the rest is cash).
        Target units are ``w * NAV / (mid * value factor)``; orders are target - held.
        """
        conv = self.factors(quotes) if conv is None else conv
        nav = snapshot(state, quotes, conv, self.margin_rate, self.config.closeout_fraction).nav
        target = weights * nav[:, None] / (quotes.mid * conv.value)
        return target - state.units

    def rollover(self, state: AccountState, quotes: Quotes, days: np.ndarray) -> tuple[AccountState, np.ndarray]:
        """Book financing for ``days`` (N,) days charged at ``quotes``; returns (state, (B,) amounts)."""
        return apply_financing(state, quotes, self.factors(quotes), self.instruments, days)

    def closeout(self, state: AccountState, quotes: Quotes) -> tuple[AccountState, Closeout]:
        """Close out the accounts whose ``marginCloseoutPercent`` is >= 1 at ``quotes``."""
        return margin_closeout(state, quotes, self.factors(quotes), self.instruments, self.margin_rate,
                               self.config.closeout_fraction)

    def step(self, state: AccountState, quotes: Quotes, *, units: np.ndarray | None = None,
             weights: np.ndarray | None = None, days: np.ndarray | None = None,
             previous: Quotes | None = None, tradable: np.ndarray | None = None) -> StepResult:
        """One bar: financing, orders (``units`` or target ``weights``), closeout, snapshot.

        Parameters
        ----------
        state : AccountState
        quotes : Quotes, (N,) or (B, N), this bar's finite bid/ask
        units, weights : ndarray (B, N), optional
            Orders in units, or target exposures as fractions of NAV (not both).
        days : ndarray (N,), optional
            Days of financing since the previous bar (:func:`rollover_days` row).
        previous : Quotes, optional
            Quotes at the rollover (the previous bar); default ``quotes``.
        tradable : ndarray bool, optional
            False where an instrument cannot trade this bar.
        """
        if units is not None and weights is not None:
            raise ValueError("give orders as units or as target weights, not both")
        conv = self.factors(quotes)
        financed = np.zeros(state.balance.shape)
        if days is not None and np.any(days):
            at = conv if previous is None else self.factors(previous)
            state, financed = apply_financing(state, quotes if previous is None else previous, at,
                                              self.instruments, days)
        if weights is not None:
            units = self.orders_for_weights(state, weights, quotes, conv)
        if units is None:
            units = np.zeros_like(state.units)
        state, fills = execute_orders(state, units, quotes, conv, self.instruments, self.margin_rate, tradable)
        snap = snapshot(state, quotes, conv, self.margin_rate, self.config.closeout_fraction)
        state, closed = margin_closeout(state, quotes, conv, self.instruments, self.margin_rate,
                                        self.config.closeout_fraction, snap.closeout_percent)
        if closed.triggered.any():
            snap = snapshot(state, quotes, conv, self.margin_rate, self.config.closeout_fraction)
        spread = fills.spread_cost.sum(axis=-1) + closed.fills.spread_cost.sum(axis=-1)
        commission = fills.commission.sum(axis=-1) + closed.fills.commission.sum(axis=-1)
        return StepResult(state, fills, closed, snap, StepCosts(spread, commission, financed))
