"""Synthetic markets with known structure, for learning tests and demos.

:func:`drift_market` is the smallest market an agent can be checked on: each asset's
weekly log return is a constant drift plus Gaussian noise, so the best allocation is
known in advance (hold the assets that drift up, avoid those that drift down).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError

__all__ = ["DEFAULT_DRIFTS", "drift_market"]

#: Weekly drifts of the default three-asset market: one up, one down, one flat.
DEFAULT_DRIFTS: tuple[float, ...] = (0.004, -0.004, 0.0)
_DEFAULT_SYMBOLS: tuple[str, ...] = ("UP", "DOWN", "FLAT")
_START_PRICE = 100.0


def drift_market(
    *,
    drifts: Sequence[float] = DEFAULT_DRIFTS,
    volatility: float = 0.01,
    n_weeks: int = 260,
    seed: int = 0,
    start: str = "2000-01-07",
    symbols: Sequence[str] | None = None,
) -> MarketPanel:
    """A market of assets whose weekly log returns are a constant drift plus noise.

    Parameters
    ----------
    drifts : sequence of float, length N >= 2
        Mean weekly log return of each asset.
    volatility : float
        Standard deviation of the weekly log-return noise (same for every asset), >= 0.
    n_weeks : int
        Number of weekly dates T >= 2.
    seed : int
        Seed of the noise; the same seed gives the same panel.
    start : str
        ISO date of the first close. Dates are Fridays: a start that is not a Friday
        moves forward to the next Friday.
    symbols : sequence of str, optional
        Names of the assets. Default: ``("UP", "DOWN", "FLAT")`` for the default
        drifts, ``("S0", ..., "S{N-1}")`` otherwise.

    Returns
    -------
    MarketPanel
        Close prices of shape (T, N), all available, starting at 100 on the first
        date; ``log(close[t] / close[t-1]) = drifts + volatility * z_t`` with
        ``z_t ~ N(0, I)``. ``source`` is ``"synthetic:drift"``.

    Raises
    ------
    ConfigError
        If fewer than 2 drifts are given, a drift or the volatility is not finite,
        the volatility is negative, ``n_weeks < 2``, ``symbols`` does not match
        ``drifts`` in length, or ``start`` is not a date.
    """
    mu = np.asarray(tuple(drifts), dtype=np.float64)
    if mu.ndim != 1 or mu.size < 2:
        raise ConfigError(f"drift_market needs at least 2 drifts, got {tuple(drifts)!r}; "
                          "pass one drift per asset, e.g. drifts=(0.004, -0.004, 0.0).")
    if not np.isfinite(mu).all():
        raise ConfigError(f"drifts must be finite numbers, got {tuple(drifts)!r}.")
    if not (np.isfinite(volatility) and volatility >= 0):
        raise ConfigError(f"volatility must be a finite number >= 0, got {volatility!r}.")
    if int(n_weeks) != n_weeks or n_weeks < 2:
        raise ConfigError(f"n_weeks must be an integer >= 2, got {n_weeks!r}.")
    if symbols is None:
        names = (_DEFAULT_SYMBOLS if tuple(mu) == DEFAULT_DRIFTS
                 else tuple(f"S{i}" for i in range(mu.size)))
    else:
        names = tuple(str(s) for s in symbols)
        if len(names) != mu.size:
            raise ConfigError(f"got {len(names)} symbols {names!r} for {mu.size} drifts; "
                              "pass one symbol per drift.")
    try:
        dates = pd.date_range(pd.Timestamp(start), periods=int(n_weeks), freq="W-FRI")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"start must be an ISO date such as '2000-01-07', got {start!r}.") from exc

    rng = np.random.default_rng(seed)
    log_returns = mu + volatility * rng.standard_normal((int(n_weeks) - 1, mu.size))
    log_prices = np.vstack([np.zeros((1, mu.size)), np.cumsum(log_returns, axis=0)])
    close = _START_PRICE * np.exp(log_prices)
    return MarketPanel(
        dates=dates.to_numpy().astype("datetime64[D]"),
        symbols=names,
        close=close,
        available=np.ones(close.shape, dtype=bool),
        source="synthetic:drift",
    )
