"""Market data: the validated, point-in-time :class:`MarketPanel` and its loaders."""

from sacfolio.data.loaders import DataSummary, describe, load_prices, load_sp500_sample, load_yfinance
from sacfolio.data.panel import FIELDS, MarketPanel
from sacfolio.data.synthetic import drift_market

__all__ = [
    "FIELDS",
    "DataSummary",
    "MarketPanel",
    "describe",
    "drift_market",
    "load_prices",
    "load_sp500_sample",
    "load_yfinance",
]
