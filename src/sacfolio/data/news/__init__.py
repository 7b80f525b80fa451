"""News items -> per-item sentiment -> ``daily_sentiment.parquet`` (date, symbol, score, count).

:mod:`~sacfolio.data.news.items` reads news files, :mod:`~sacfolio.data.news.scorers`
scores texts (VADER or a local FinBERT), :mod:`~sacfolio.data.news.daily` averages the
scores per session day, point in time, and validates, writes and reads the table.
"""

from sacfolio.data.news.daily import (
    DAILY_COLUMNS,
    daily_sentiment,
    load_daily_sentiment,
    read_daily_sentiment,
    validate_daily,
    write_daily_sentiment,
)
from sacfolio.data.news.items import NewsBatch, load_news
from sacfolio.data.news.scorers import FinBertScorer, SentimentScorer, VaderScorer

__all__ = [
    "DAILY_COLUMNS",
    "FinBertScorer",
    "NewsBatch",
    "SentimentScorer",
    "VaderScorer",
    "daily_sentiment",
    "load_daily_sentiment",
    "load_news",
    "read_daily_sentiment",
    "validate_daily",
    "write_daily_sentiment",
]
