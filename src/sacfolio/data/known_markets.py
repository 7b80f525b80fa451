"""Known-answer markets: generated markets whose best causal policy is known.

Each is a :func:`~sacfolio.data.synthetic.factor_market` with the predictability
set by name, so a learner's result can be read against the truth:

- ``null``: no signal at all (every stock's next return has the same mean); the
  best a policy can do is hold the market, 1/N-like, and trade little.
- ``ar1``: idiosyncratic returns are AR(1) with coefficient ``strength`` (last
  week's move predicts this week's); a policy that knows the model earns well above 1/N.
- ``factor``: news sentiment and a quarterly fundamental predict next week's
  idiosyncratic return with information coefficient ``strength`` (sentiment) and
  half of it (fundamental), read through the real news and fundamentals loaders.

The market's :meth:`~sacfolio.data.synthetic.FactorMarket.expected_returns` is the
known model; :class:`~sacfolio.strategies.known.KnownModel` trades on it.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

from sacfolio.data.synthetic import FactorMarket, FactorMarketConfig, factor_market
from sacfolio.exceptions import ConfigError

__all__ = ["KNOWN_MARKETS", "known_market", "known_market_config"]

KNOWN_MARKETS = MappingProxyType({
    "null": "no predictability: every stock's next return has the same mean",
    "ar1": "AR(1) idiosyncratic returns: last week's move predicts this week's (coefficient = strength)",
    "factor": "news sentiment (IC = strength) and a fundamental (IC = strength / 2) predict next week",
})
"""Name -> what is planted in it."""

DEFAULT_STRENGTH = MappingProxyType({"null": 0.0, "ar1": 0.15, "factor": 0.10})
"""The strength each market gets unless one is given."""

_SHAPE = dict(n_stocks=20, n_weeks=676, factor_drift=0.0015, factor_vol=0.022, idio_vol=0.035, beta_spread=0.0)
"""20 stocks, 13 years of weeks from 2000 (test years 2009-2012 leave 9 years of training
for the first fold), a market with ~8% a year drift and large-cap volatilities, every
beta 1 (so the null market has no static signal either)."""


def known_market_config(name: str, *, strength: float | None = None, seed: int = 0,
                        **shape: object) -> FactorMarketConfig:
    """The generator settings of known-answer market ``name``.

    Parameters
    ----------
    name : {"null", "ar1", "factor"}
    strength : float, optional
        The planted coefficient (see :data:`KNOWN_MARKETS`); default
        :data:`DEFAULT_STRENGTH`. Must be 0 for ``null``.
    seed : int
    **shape
        Overrides of the market's size and volatilities (``n_stocks``, ``n_weeks``, ...).
    """
    if name not in KNOWN_MARKETS:
        raise ConfigError(f"unknown market {name!r}; choose from {', '.join(KNOWN_MARKETS)}")
    s = DEFAULT_STRENGTH[name] if strength is None else float(strength)
    if name == "null" and s != 0.0:
        raise ConfigError(f"the null market has no signal; strength must be 0, got {s}")
    planted = {"null": {}, "ar1": {"autocorr": s}, "factor": {"ic_sentiment": s, "ic_fundamental": s / 2}}[name]
    settings = {"ic_sentiment": 0.0, "ic_fundamental": 0.0, "autocorr": 0.0, **_SHAPE, **shape, **planted}
    return FactorMarketConfig(seed=seed, **settings)


def known_market(name: str, *, strength: float | None = None, seed: int = 0,
                 out_dir: str | Path | None = None, **shape: object) -> FactorMarket:
    """Generate known-answer market ``name`` (news and fundamentals written to ``out_dir``)."""
    return factor_market(known_market_config(name, strength=strength, seed=seed, **shape), out_dir=out_dir)
