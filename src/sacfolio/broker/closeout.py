"""Margin closeout: an account whose ``marginCloseoutPercent`` reaches 1 is closed out.

As in v20, a closeout closes **all** open positions of the account at market (longs at
the bid, shorts at the ask); the run goes on with what is left of the balance. The trades
are recorded as fills with reason ``MARGIN_CLOSEOUT`` and a closing order: the position
holding the most margin first, ties in instrument order (the order matters only for the
record, since all positions close at the same quotes).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from sacfolio.broker.account import AccountState, margin_used, snapshot
from sacfolio.broker.fx import Conversion
from sacfolio.broker.instruments import InstrumentSet
from sacfolio.broker.orders import MARGIN_CLOSEOUT, NO_ORDER, Fills, apply_fills
from sacfolio.broker.quotes import Quotes

__all__ = ["Closeout", "margin_closeout"]


class Closeout(NamedTuple):
    """Result of a closeout check on B accounts.

    Fields
    ------
    triggered : (B,) bool, True where the account was closed out
    percent : (B,) marginCloseoutPercent before the closeout
    fills : Fills (B, N), reason ``MARGIN_CLOSEOUT`` on the closing trades
    order : (B, N) int, 1-based rank of each closing trade in the record, 0 where none
    """

    triggered: np.ndarray
    percent: np.ndarray
    fills: Fills
    order: np.ndarray


def margin_closeout(state: AccountState, quotes: Quotes, conv: Conversion, instruments: InstrumentSet,
                    margin_rate: np.ndarray, closeout_fraction: float,
                    percent: np.ndarray | None = None) -> tuple[AccountState, Closeout]:
    """Close out every account whose closeout percent (given, or computed at ``quotes``) is >= 1."""
    if percent is None:
        percent = snapshot(state, quotes, conv, margin_rate, closeout_fraction).closeout_percent
    triggered = percent >= 1.0
    if not triggered.any():
        zeros = np.zeros_like(state.units)
        none = Fills(zeros, np.full(zeros.shape, np.nan), np.zeros(zeros.shape, np.int8), zeros, zeros, zeros)
        return state, Closeout(triggered, percent, none, np.zeros(zeros.shape, np.int64))
    units = np.where(triggered[:, None], -state.units, 0.0)
    after, fills = apply_fills(state, units, quotes, conv, instruments)
    fills = fills._replace(reason=np.where(units != 0.0, MARGIN_CLOSEOUT, NO_ORDER).astype(np.int8))
    margin = np.broadcast_to(margin_used(state.units, quotes, margin_rate, conv), units.shape)
    rank = np.argsort(np.argsort(-np.where(units != 0.0, margin, -1.0), axis=-1, kind="stable"), axis=-1) + 1
    order = np.where(units != 0.0, rank, 0)
    return after, Closeout(triggered, percent, fills, order)
