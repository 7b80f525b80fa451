"""The daily sentiment table (date, symbol, score, count): scored news per session, validated, stored.

Daily assignment is point in time: an item stamped before the market close
(16:00 America/New_York) of a day counts for that day; one stamped at or after it
counts for the next day, so a decision at a day's close never sees later news.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from sacfolio.data.news.items import NewsBatch, load_news
from sacfolio.data.news.scorers import SentimentScorer, VaderScorer
from sacfolio.exceptions import ConfigError, DataError

__all__ = [
    "DAILY_COLUMNS",
    "daily_sentiment",
    "load_daily_sentiment",
    "read_daily_sentiment",
    "validate_daily",
    "write_daily_sentiment",
]

DAILY_COLUMNS: tuple[str, ...] = ("date", "symbol", "score", "count")


def daily_sentiment(news: NewsBatch, scorer: SentimentScorer | None = None, *,
                    close_time: str = "16:00", market_tz: str = "America/New_York") -> pd.DataFrame:
    """Score each item and average per (session date, symbol).

    Parameters
    ----------
    news : NewsBatch
    scorer : SentimentScorer, optional
        Default :class:`VaderScorer` on ``headline + ". " + summary``.
    close_time, market_tz : str
        Items stamped at or after ``close_time`` local time count for the next day.

    Returns
    -------
    DataFrame
        Columns ``date`` (datetime64, day), ``symbol``, ``score`` (mean in [-1, 1]),
        ``count`` (items), sorted by date and symbol.
    """
    frame = news.frame
    if frame.empty:
        return _empty_daily()
    scorer = VaderScorer() if scorer is None else scorer
    texts = (frame["headline"] + np.where(frame["summary"] != "", ". " + frame["summary"], "")).tolist()
    scores = np.asarray(scorer(texts), dtype=np.float64)
    if scores.shape != (len(texts),) or not np.isfinite(scores).all():
        raise DataError(f"sentiment scorer returned shape {scores.shape} or non-finite scores for "
                        f"{len(texts)} texts")
    try:
        hh, mm = (int(x) for x in close_time.split(":"))
    except ValueError as exc:
        raise ConfigError(f"close_time={close_time!r} must be HH:MM, e.g. '16:00'.") from exc
    local = frame["timestamp"].dt.tz_convert(market_tz)
    minutes = local.dt.hour * 60 + local.dt.minute
    day = local.dt.tz_localize(None).dt.normalize() + pd.to_timedelta((minutes >= hh * 60 + mm).astype(int), unit="D")
    out = (pd.DataFrame({"date": day, "symbol": frame["symbol"], "score": scores})
           .groupby(["date", "symbol"], sort=True)["score"].agg(["mean", "size"]).reset_index())
    out.columns = list(DAILY_COLUMNS)
    out["count"] = out["count"].astype(np.int64)
    return out


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.Series([], dtype="datetime64[ns]"), "symbol": pd.Series([], dtype=object),
                         "score": pd.Series([], dtype=np.float64), "count": pd.Series([], dtype=np.int64)})


def validate_daily(frame: pd.DataFrame, *, source: str = "memory") -> pd.DataFrame:
    """Check a daily sentiment table; returns a clean copy sorted by date and symbol.

    Raises
    ------
    DataError
        On missing columns, unparseable dates, scores outside [-1, 1] or non-finite,
        negative counts, or duplicate (date, symbol) rows.
    """
    cols = {c.lower(): c for c in frame.columns}
    missing = [c for c in DAILY_COLUMNS if c not in cols]
    if missing:
        raise DataError(f"daily sentiment lacks columns {missing} (has {list(frame.columns)})", path=source,
                        fix="Write columns date, symbol, score, count.")
    out = frame[[cols[c] for c in DAILY_COLUMNS]].copy()
    out.columns = list(DAILY_COLUMNS)
    try:
        dates = pd.to_datetime(out["date"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"daily sentiment dates cannot be parsed ({exc})", path=source, column="date") from exc
    if dates.dt.tz is not None:
        dates = dates.dt.tz_localize(None)
    out["date"] = dates.dt.normalize()
    out["symbol"] = out["symbol"].astype(str).str.upper()
    score = pd.to_numeric(out["score"], errors="coerce").to_numpy(np.float64)
    count = pd.to_numeric(out["count"], errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(score) | (np.abs(score) > 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"score {out['score'].iloc[i]} is not a number in [-1, 1]", path=source,
                        column="score", row=i + 1)
    bad = ~np.isfinite(count) | (count < 0) | (count != np.round(count))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"count {out['count'].iloc[i]} is not a whole number >= 0", path=source,
                        column="count", row=i + 1)
    out["score"], out["count"] = score, count.astype(np.int64)
    dup = out.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        raise DataError(f"duplicate daily sentiment for {out['symbol'].iloc[i]} on "
                        f"{out['date'].iloc[i].date()}", path=source, row=i + 1,
                        fix="Keep one row per date and symbol.")
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def write_daily_sentiment(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a daily sentiment table to Parquet atomically (temporary file + rename)."""
    path = Path(path)
    clean = validate_daily(frame, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        clean.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_daily_sentiment(path: str | Path) -> pd.DataFrame:
    """Read and validate a ``daily_sentiment.parquet`` (columns date, symbol, score, count)."""
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise DataError(f"cannot read daily sentiment Parquet ({exc})", path=str(path)) from exc
    return validate_daily(frame, source=str(path))


def load_daily_sentiment(source: str | Path | pd.DataFrame, *, symbols: Iterable[str] | None = None,
                         scorer: SentimentScorer | None = None) -> pd.DataFrame:
    """A daily sentiment table from a ready table, a ``daily_sentiment.parquet`` or a news file.

    A Parquet file with columns date, symbol, score, count is read as a daily table;
    any other file is read with :func:`load_news` and scored with ``scorer``.
    """
    if isinstance(source, pd.DataFrame):
        return validate_daily(source)
    path = Path(source)
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq

            names = {n.lower() for n in pq.read_schema(path).names}
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise DataError(f"cannot read Parquet ({exc})", path=str(path)) from exc
        if set(DAILY_COLUMNS) <= names:
            return read_daily_sentiment(path)
    return daily_sentiment(load_news(path, symbols=symbols), scorer)
