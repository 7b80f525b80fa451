"""Market data: the validated, point-in-time :class:`MarketPanel` and its sources."""

from sacfolio.data.panel import FIELDS, MarketPanel
from sacfolio.data.sources import load_prices, load_sp500_sample, load_yfinance
from sacfolio.data.summary import DataSummary, describe
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
