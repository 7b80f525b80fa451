"""The state variants: which per-stock feature block a model sees, defined once.

A variant is a name (also the model's name in the registry) and the function that
builds its unscaled :class:`~sacfolio.features.blocks.FeatureSet` from a panel and,
for the signal variants, news and fundamentals.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.features.blocks import FeatureSet

__all__ = ["VARIANTS", "DEFAULT_MAX_SYMBOLS", "DEFAULT_VARIANT", "FORECAST_VARIANTS", "UNIVERSAL_VARIANT",
           "FeatureSources", "build_features", "check_variant", "default_cache_dir", "max_symbols_of",
           "variant_of_model"]

VARIANTS = MappingProxyType({
    "sac_lstm": "news sentiment, fundamentals and a walk-forward LSTM forecast per stock",
    "sac_patchtst": "news sentiment, fundamentals and a walk-forward PatchTST forecast per stock",
    "sac_price": "trailing returns and volatility per stock (prices only)",
    "sac_factor": "sac_price's features plus risk-scaled 12-1 momentum, 52-week volatility and 52-week "
                  "beta and correlation to the equal-weight market per stock (prices only)",
    "universal": "sac_price's features in MAX_SYMBOLS symbol slots (padded, masked), a symbol embedding and "
                 "the advisor zoo's portfolios, read by a transformer across symbols; trades any universe of "
                 "up to MAX_SYMBOLS stocks without retraining (prices only)",
})
"""Variant name -> what its state holds per stock (besides the current weights)."""

DEFAULT_VARIANT = "sac_lstm"

UNIVERSAL_VARIANT = "universal"
"""The slot-transformer variant (:mod:`sacfolio.env.slots`); its models are named
``universal_s<MAX_SYMBOLS>`` (:data:`DEFAULT_MAX_SYMBOLS` unless the name says otherwise)."""

DEFAULT_MAX_SYMBOLS = 32

FORECAST_VARIANTS = ("sac_lstm", "sac_patchtst")
"""The variants whose state holds news, fundamentals and a walk-forward forecast; the
others read prices only."""


def check_variant(variant: str) -> str:
    """``variant`` if known, else a ConfigError that lists the known ones."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return variant


def variant_of_model(name: str) -> str | None:
    """The variant a registry model name trains: the name itself or ``<variant>_<tag>``
    (e.g. ``sac_lstm_synthetic``); None for a name that names no variant."""
    if name in VARIANTS:
        return name
    matches = [v for v in VARIANTS if name.startswith(v + "_") and len(name) > len(v) + 1]
    return max(matches, key=len) if matches else None


def max_symbols_of(name: str) -> int:
    """MAX_SYMBOLS of a universal model name: ``universal_s16`` -> 16, ``universal`` -> 32."""
    match = re.fullmatch(rf"{UNIVERSAL_VARIANT}_s(\d+)(_.*)?", name)
    return int(match.group(1)) if match else DEFAULT_MAX_SYMBOLS


def default_cache_dir() -> Path:
    """Forecast cache: ``$SACFOLIO_CACHE`` or ``./.sacfolio-cache``."""
    return Path(os.environ.get("SACFOLIO_CACHE", ".sacfolio-cache"))


@dataclass(frozen=True, kw_only=True)
class FeatureSources:
    """Where a variant's non-price inputs come from; recorded in the model's config.json.

    Attributes
    ----------
    news : str, optional
        News items (JSONL/JSON/Parquet) or a ``daily_sentiment.parquet``; None: no news.
    fundamentals : str, optional
        Folder of cached Alpha Vantage responses; None: no fundamentals.
    """

    news: str | None = None
    fundamentals: str | None = None

    @classmethod
    def of(cls, news: str | Path | None = None, fundamentals: str | Path | None = None) -> "FeatureSources":
        """Sources from optional paths (as the CLI and the API receive them)."""
        return cls(news=None if news is None else str(news),
                   fundamentals=None if fundamentals is None else str(fundamentals))

    @property
    def empty(self) -> bool:
        return self.news is None and self.fundamentals is None

    def to_dict(self) -> dict:
        return {"news": self.news, "fundamentals": self.fundamentals}


def build_features(panel: MarketPanel, variant: str = "sac_price", *,
                   sources: FeatureSources = FeatureSources(), cache_dir: str | Path | None = None,
                   progress: bool = False) -> FeatureSet:
    """The unscaled per-stock feature block of ``variant``; row t uses data up to t only.

    ``sac_lstm`` / ``sac_patchtst`` run (or read from ``cache_dir``) the walk-forward
    forecasts: the forecast for year Y comes from a model trained before Y.
    """
    check_variant(variant)
    if variant in ("sac_price", "universal"):
        from sacfolio.features.price import price_features

        return price_features(panel)
    if variant == "sac_factor":
        from sacfolio.features.factors import factor_features
        from sacfolio.features.price import price_features

        # vol_13w is in both blocks and reversal_1w is -logret_1w: each enters the state once
        return FeatureSet.concat(price_features(panel), factor_features(
            panel, names=("mom_12_1", "vol_52w", "beta_52w", "corr_52w")))
    from sacfolio.features.signals import signal_forecast_features

    return signal_forecast_features(panel, forecaster=variant.removeprefix("sac_"), news=sources.news,
                                    fundamentals=sources.fundamentals,
                                    cache_dir=default_cache_dir() if cache_dir is None else cache_dir,
                                    progress=progress)
