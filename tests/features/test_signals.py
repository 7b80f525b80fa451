"""Signal + forecast state block: layout, neutral values without data, and no look-ahead in any feature."""

import json
import warnings
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sacfolio.data.fundamentals import load_fundamentals
from sacfolio.data.news import load_daily_sentiment
from sacfolio.data.panel import MarketPanel
from sacfolio.data.synthetic import FactorMarketConfig, factor_market
from sacfolio.exceptions import DataWarning
from sacfolio.features.forecast import ForecastConfig
from sacfolio.features.signals import (
    MAX_AGE_YEARS,
    SIGNAL_FORECAST_NAMES,
    fundamental_features,
    sentiment_features,
    signal_forecast_features,
)

TINY = ForecastConfig(lookback=12, train_years=1, min_train_samples=50, epochs=1, batch_size=128, hidden=8,
                      d_model=8, n_heads=2, n_layers=1, patch_len=4, stride=2)


@pytest.fixture
def market(tmp_path: Path):
    return factor_market(FactorMarketConfig(n_stocks=4, n_weeks=120, seed=6), out_dir=tmp_path / "m")


def test_layout_and_values_with_news_and_fundamentals(market) -> None:
    with pytest.warns(DataWarning, match=r"skipped 1 year"):
        feats = signal_forecast_features(market.panel, forecaster="patchtst", news=market.news_path,
                                 fundamentals=market.fundamentals_dir, progress=False, forecast_config=TINY)
    assert feats.names == SIGNAL_FORECAST_NAMES == (
        "sentiment_score", "news_count_log", "gross_margin", "operating_margin", "net_margin",
        "debt_to_equity", "fundamental_age", "forecast")
    assert feats.values.shape == (120, 4, 8) and np.isfinite(feats.values).all()
    assert feats.valid[:, :, 0].all()                              # news every week
    assert feats.valid[52:, :, 7].all() and not feats.valid[:52, :, 7].any()
    age = feats.values[:, :, 6]
    assert age[:4].max() == MAX_AGE_YEARS and 4 / 52 < age[4:].max() < 18 / 52


def test_without_news_or_fundamentals_everything_is_neutral_and_says_so(market) -> None:
    with pytest.warns(DataWarning):
        feats = signal_forecast_features(market.panel, forecaster="lstm", progress=False, forecast_config=TINY)
    v, ok = feats.values, feats.valid
    assert (v[:, :, :6] == 0).all() and not ok[:, :, [0, 2, 3, 4, 5]].any()
    assert ok[:, :, 1].all() and ok[:, :, 6].all()                 # count 0 and max age are facts
    assert (v[:, :, 6] == MAX_AGE_YEARS).all()


def _shift_after(daily: pd.DataFrame, cut: np.datetime64) -> pd.DataFrame:
    late = daily["date"].to_numpy().astype("datetime64[D]") > cut
    out = daily.copy()
    out.loc[late, "score"] = -out.loc[late, "score"]
    out.loc[late, "count"] = out.loc[late, "count"] + 5
    extra = pd.DataFrame({"date": [pd.Timestamp(cut) + pd.Timedelta(days=2)], "symbol": ["S00"],
                          "score": [1.0], "count": [9]})
    return pd.concat([out, extra], ignore_index=True)


def test_sentiment_after_t_does_not_change_rows_up_to_t(market) -> None:
    daily = load_daily_sentiment(market.news_path)
    t = 60
    base = sentiment_features(market.panel, daily)
    moved = sentiment_features(market.panel, _shift_after(daily, market.panel.dates[t]))
    np.testing.assert_array_equal(moved.values[:t + 1], base.values[:t + 1])
    assert not np.array_equal(moved.values[t + 1:], base.values[t + 1:])


def test_news_stamped_after_the_close_counts_for_the_next_week(market, tmp_path: Path) -> None:
    t, friday = 30, pd.Timestamp(market.panel.dates[30])
    lines = [json.dumps({"created_at": (friday + pd.Timedelta(hours=h)).tz_localize("America/New_York").isoformat(),
                         "symbols": ["S01"], "headline": "S01 collapses in a terrible scandal"}) for h in (15, 16)]
    path = tmp_path / "late.jsonl"
    path.write_text("\n".join(lines) + "\n")
    feats = sentiment_features(market.panel, load_daily_sentiment(path))
    assert feats.values[t, 1, 1] == pytest.approx(np.log1p(1)) and feats.values[t + 1, 1, 1] == pytest.approx(np.log1p(1))


def _edit_quarters_after(directory: Path, cut: pd.Timestamp) -> None:
    """Change every quarter that ends after ``cut`` and add a restatement-like new one."""
    for path in directory.glob("*_INCOME_STATEMENT.json"):
        data = json.loads(path.read_text())
        for q in data["quarterlyReports"]:
            if pd.Timestamp(q["fiscalDateEnding"]) > cut:
                q["netIncome"] = str(-int(q["netIncome"]))
        path.write_text(json.dumps(data))
    for path in directory.glob("*_EARNINGS.json"):
        data = json.loads(path.read_text())
        for q in data["quarterlyEarnings"]:
            if pd.Timestamp(q["fiscalDateEnding"]) > cut:
                q["reportedDate"] = (pd.Timestamp(q["fiscalDateEnding"]) + pd.Timedelta(days=3)).date().isoformat()
        path.write_text(json.dumps(data))


def test_fundamentals_published_after_t_do_not_change_rows_up_to_t(market, tmp_path: Path) -> None:
    t = 70
    base = fundamental_features(market.panel, load_fundamentals(market.fundamentals_dir))
    copy = tmp_path / "f2"
    shutil.copytree(market.fundamentals_dir, copy)
    _edit_quarters_after(copy, pd.Timestamp(market.panel.dates[t]))
    moved = fundamental_features(market.panel, load_fundamentals(copy))
    np.testing.assert_array_equal(moved.values[:t + 1], base.values[:t + 1])
    np.testing.assert_array_equal(moved.valid[:t + 1], base.valid[:t + 1])
    assert not np.array_equal(moved.values[t + 1:], base.values[t + 1:])


def test_whole_state_block_at_t_ignores_every_input_after_t(market, tmp_path: Path) -> None:
    t = 90
    cut = market.panel.dates[t]
    kw = dict(forecaster="lstm", progress=False, forecast_config=TINY)
    with pytest.warns(DataWarning):
        base = signal_forecast_features(market.panel, news=market.news_path, fundamentals=market.fundamentals_dir, **kw)
    close = market.panel.close.copy()
    close[t + 1:] *= 1.3
    panel = MarketPanel(dates=market.panel.dates, symbols=market.panel.symbols, close=close,
                        available=market.panel.available)
    fund = tmp_path / "f3"
    shutil.copytree(market.fundamentals_dir, fund)
    _edit_quarters_after(fund, pd.Timestamp(cut))
    daily = _shift_after(load_daily_sentiment(market.news_path), cut)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)   # the same skipped first year
        moved = signal_forecast_features(panel, news=daily, fundamentals=fund, **kw)
    np.testing.assert_array_equal(moved.values[:t + 1], base.values[:t + 1])
    np.testing.assert_array_equal(moved.valid[:t + 1], base.valid[:t + 1])
    assert not np.array_equal(moved.values[t + 1:], base.values[t + 1:])
