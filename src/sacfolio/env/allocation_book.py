"""One account trading the allocation-weighted sum of K strategies' targets, netted, with a
sub-ledger per strategy so that each trade and each unit of P&L has an owner.

The broker holds one net position per instrument; the book keeps, beside it, each
strategy's units and cash (``cash[K]`` is the CASH ledger that holds the deposit). A bar:

1. each strategy's target units ``u*_k = share_k * w_k * NAV / mid``; its wanted change
   ``d_k = u*_k - u_k``; the **net order** ``D = sum_k d_k`` (zero where its value is inside
   the no-trade band) goes to the broker once, so spread and commission are paid once;
2. the broker fills ``f`` (rounded, or refused: 0). Every strategy gets ``d_k``, except that
   the shortfall ``f - D`` is shared by the strategies on the side of the order in
   proportion to their wanted change: ``f_k = d_k + (f - D) * same_k / sum(same)``, so
   ``sum_k f_k = f`` and each strategy moves from ``u_k`` towards ``u*_k``, never past it;
3. strategies exchange units at mid among themselves; the market fill's spread and
   commission are charged to the strategies on its side by the same shares.

Each strategy's NAV is ``cash_k + u_k . closing price`` at the book's closing prices (bid
for a long book position, ask for a short one), so the strategies' NAVs sum to the
broker's NAV and their P&L plus costs to the book's P&L. Instruments must be quoted in the
home currency (conversion factors of 1): the equity configuration of intraday bars.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.account import AccountState, snapshot
from sacfolio.broker.fx import Conversion
from sacfolio.broker.orders import Fills, execute_orders
from sacfolio.broker.quotes import Quotes
from sacfolio.broker.simulator import Broker
from sacfolio.exceptions import ConfigError

__all__ = ["BookState", "BookStep", "book_step", "open_book", "strategy_navs"]


class BookState(NamedTuple):
    """The broker account (B = 1) and the strategies' sub-ledgers.

    Fields
    ------
    account : AccountState with leading dimension 1
    cash : ndarray (K + 1,)
        Cash of each strategy's sub-ledger (negative once it bought), CASH ledger last.
    units : ndarray (K, N)
        Units each strategy holds; they sum to the account's units.
    """

    account: AccountState
    cash: np.ndarray
    units: np.ndarray


class BookStep(NamedTuple):
    """What one bar of the book did (money in home currency)."""

    state: BookState
    nav_before: float
    nav: float
    order: np.ndarray
    """(N,) net units sent (0: nothing sent)."""
    fills: Fills
    """The broker's fills, fields (1, N)."""
    strategy_fills: np.ndarray
    """(K, N) units each strategy received, market and internal crossing together."""
    strategy_costs: np.ndarray
    """(K,) spread + commission charged to each strategy this bar."""
    strategy_navs: np.ndarray
    """(K + 1,) NAV of each sub-ledger after the bar, CASH last."""
    fill_shares: np.ndarray
    """(K, N) each strategy's share of the market fill (and of its costs); columns sum to 1 where filled."""


def open_book(broker: Broker, n_strategies: int, deposit: float) -> BookState:
    """A flat account of ``deposit`` and empty strategy sub-ledgers."""
    account = broker.open(1, deposit)
    cash = np.zeros(n_strategies + 1)
    cash[-1] = float(deposit)
    return BookState(account, cash, np.zeros((n_strategies, len(broker.instruments))))


def strategy_navs(state: BookState, quotes: Quotes) -> np.ndarray:
    """(K + 1,) sub-ledger NAVs at the book's closing prices, CASH last."""
    close = np.where(state.account.units[0] > 0.0, quotes.bid, quotes.ask)
    navs = state.cash.copy()
    navs[:-1] += state.units @ close
    return navs


def _check_home(broker: Broker, quotes: Quotes) -> Conversion:
    conv = broker.factors(quotes)
    if not all(np.all(f == 1.0) for f in conv):
        raise ConfigError("the strategy book needs instruments quoted in the home currency "
                          f"({broker.config.home_currency}); use the equity configuration")
    return conv


def _nav(broker: Broker, account: AccountState, quotes: Quotes, conv: Conversion) -> float:
    return float(snapshot(account, quotes, conv, broker.margin_rate, broker.config.closeout_fraction).nav[0])


def _allocate(d: np.ndarray, net: np.ndarray, filled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fills per strategy (K, N) and each strategy's share of the market fill's costs (K, N)."""
    side = np.sign(np.where(filled != 0.0, filled, net))
    same = np.maximum(d * side, 0.0)
    total = same.sum(axis=0)
    share = np.divide(same, total, out=np.zeros_like(same), where=total > 0.0)
    return d + (filled - net) * share, share


def book_step(broker: Broker, state: BookState, quotes: Quotes, shares: np.ndarray, targets: np.ndarray, *,
              band: float = 0.0, tradable: np.ndarray | None = None) -> BookStep:
    """Trade the book to ``sum_k shares_k * targets_k`` at ``quotes`` (module docstring).

    Parameters
    ----------
    broker : Broker
    state : BookState
    quotes : Quotes, (N,), finite
    shares : ndarray (K,)
        Capital share of each strategy (>= 0, sum <= 1; the rest stays in CASH).
    targets : ndarray (K, N + 1)
        Each strategy's feasible target weights, CASH last.
    band : float
        No net order whose value is below ``band * NAV``.
    tradable : ndarray bool (N,), optional
        False refuses the instrument's order (``MARKET_HALTED``).
    """
    conv = _check_home(broker, quotes)
    value, mid = conv.value, quotes.mid
    nav_before = _nav(broker, state.account, quotes, conv)
    wanted = np.asarray(shares, dtype=np.float64)[:, None] * targets[:, :-1] * nav_before / (mid * value)
    d = wanted - state.units
    net = d.sum(axis=0)
    order = np.where(np.abs(net) * mid * value >= band * nav_before, net, 0.0)
    account, fills = execute_orders(state.account, order[None, :], quotes, conv, broker.instruments,
                                    broker.margin_rate, tradable)
    filled = fills.units[0]
    per_strategy, cost_share = _allocate(d, net, filled)
    costs = cost_share * (fills.spread_cost[0] + fills.commission[0])
    cash = state.cash.copy()
    cash[:-1] -= per_strategy @ mid + costs.sum(axis=1)
    new = BookState(account, cash, state.units + per_strategy)
    nav = _nav(broker, account, quotes, conv)
    return BookStep(new, nav_before, nav, order, fills, per_strategy, costs.sum(axis=1), strategy_navs(new, quotes),
                    cost_share)
