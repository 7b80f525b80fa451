"""Slot inputs of the universal agent: per-row market features, liveness, listing age and
the zoo's advisor portfolios, all point in time.

A :class:`SlotData` holds, for one market of n symbols, everything a slot observation
reads at a row (:func:`sacfolio.env.slots.slot_observation`): row t uses prices at rows
<= t only. The advisors read the raw close windows ``[n, T, 1]`` that end at the row
(T = :attr:`ZooConfig.history` bars); their portfolios are computed once per market
and cached, since they do not depend on the policy.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sacfolio.broker.rules import PortfolioRules
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import DataError
from sacfolio.features.blocks import FeatureSet

__all__ = ["SlotData", "advisor_table", "listing_age", "raw_history", "slot_data"]

AGE_SCALE = 260
"""Bars after which a listing counts as fully seasoned (5 years of weeks)."""

_CHUNK = 256  # rows per zoo call (bounds the [rows, n, T] window copy)
_ADVISOR_CACHE: "weakref.WeakKeyDictionary[MarketPanel, dict]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True, kw_only=True, eq=False)
class SlotData:
    """Point-in-time slot inputs of one market of n symbols over T rows.

    Attributes
    ----------
    symbols : tuple of str, length n
    market : ndarray float32, shape (T, n, F)
        Scaled features (0 where a symbol is not live).
    available : ndarray bool, shape (T, n)
        Live symbols per row (the panel's availability: a price at the row).
    age : ndarray float32, shape (T, n)
        :func:`listing_age`.
    advisors : ndarray float64, shape (T, K, n + 1), or None
        The zoo's portfolios per row (CASH last), exactly 0 on dead symbols.
    """

    symbols: tuple[str, ...]
    market: np.ndarray
    available: np.ndarray
    age: np.ndarray
    advisors: np.ndarray | None

    @property
    def n_advisors(self) -> int:
        return 0 if self.advisors is None else self.advisors.shape[1]


def listing_age(available: np.ndarray, scale: int = AGE_SCALE) -> np.ndarray:
    """``min(live rows up to and including t, scale) / scale`` per symbol, (T, n) float32 (0 when not live)."""
    available = np.asarray(available, dtype=bool)
    count = np.cumsum(available, axis=0)
    return (np.minimum(count, scale) / scale * available).astype(np.float32)


def raw_history(panel: MarketPanel, window: int, rows: np.ndarray | None = None) -> np.ndarray:
    """Close windows ending at each row: shape (R, n, window, 1), oldest first, NaN before
    the first row and where a symbol is not live (the zoo's ``[B, N, T, F]`` input)."""
    close = np.where(panel.available, panel.close, np.nan)
    padded = np.concatenate((np.full((window - 1, panel.n_symbols), np.nan), close))
    view = sliding_window_view(padded, window, axis=0)  # (T, n, window)
    picked = view if rows is None else view[np.asarray(rows)]
    return np.ascontiguousarray(picked)[..., None]


def advisor_table(panel: MarketPanel, advisors: tuple[str, ...], rules: PortfolioRules,
                  rows: np.ndarray | None = None) -> np.ndarray:
    """The advisors' portfolios at every row of ``panel``, shape (T, K, n + 1), CASH last.

    Row t uses the closes of rows ``t - H + 1 .. t`` (H = the zoo's longest window)
    and the live mask of row t only. Cached per panel, advisors and rules. With
    ``rows`` only those rows are computed (serving one decision; the others are NaN,
    never cached).
    """
    from sacfolio.strategies.zoo import ADVISORS, ZooConfig, all_advisor_weights

    unknown = [a for a in advisors if a not in ADVISORS]
    if unknown:
        raise DataError(f"unknown advisors {unknown}; the zoo has {list(ADVISORS)}")
    key = (tuple(advisors), repr(rules.to_dict()))
    cached = _ADVISOR_CACHE.setdefault(panel, {})
    if rows is None and key in cached:
        return cached[key]
    window = ZooConfig().history
    pick = [ADVISORS.index(a) for a in advisors]
    out = np.full((panel.n_dates, len(advisors), panel.n_symbols + 1), np.nan)
    todo = np.arange(panel.n_dates) if rows is None else np.unique(np.asarray(rows, dtype=np.int64))
    for lo in range(0, len(todo), _CHUNK):
        chunk = todo[lo:lo + _CHUNK]
        weights = all_advisor_weights(raw_history(panel, window, chunk), panel.available[chunk], rules=rules)
        out[chunk] = weights[:, pick]
    out.flags.writeable = False
    if rows is None:
        cached[key] = out
    return out


def slot_data(panel: MarketPanel, features: FeatureSet, *, advisors: tuple[str, ...] = (),
              rules: PortfolioRules = PortfolioRules(), rows: np.ndarray | None = None) -> SlotData:
    """The slot inputs of ``panel`` with its scaled ``features`` (same dates and symbols);
    with ``rows``, advisor portfolios of those rows only (:func:`advisor_table`).

    Raises
    ------
    DataError
        Features on other dates or symbols than the panel.
    """
    if features.symbols != panel.symbols or len(features.dates) != panel.n_dates \
            or (features.dates != panel.dates).any():
        raise DataError("slot features must be on the panel's dates and symbols")
    live = np.asarray(panel.available, dtype=bool)
    market = (features.values * live[..., None]).astype(np.float32)
    table = advisor_table(panel, advisors, rules, rows) if advisors else None
    return SlotData(symbols=panel.symbols, market=market, available=live, age=listing_age(live),
                    advisors=table)
