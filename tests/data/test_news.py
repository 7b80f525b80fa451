"""News loading and daily sentiment: fixtures in the real Alpaca / Alpha Vantage formats."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sacfolio.data.news import (
    FinBertScorer,
    daily_sentiment,
    load_daily_sentiment,
    load_news,
    read_daily_sentiment,
    write_daily_sentiment,
)
from sacfolio.exceptions import ConfigError, DataError, DataWarning, MissingDependencyError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "news"


def test_jsonl_items_are_kept_per_symbol_and_bad_items_are_counted() -> None:
    with pytest.warns(DataWarning, match="1 no symbol, 1 no timestamp, 1 unknown symbol"):
        batch = load_news(FIXTURES / "alpaca_news.jsonl", symbols=["IBM", "MSFT"])
    assert batch.skipped == {"no timestamp": 1, "no symbol": 1, "unknown symbol": 1}
    assert batch.frame["symbol"].tolist() == ["IBM", "IBM", "MSFT", "IBM", "IBM"]
    assert str(batch.frame["timestamp"].dt.tz) == "UTC"


def test_daily_dates_follow_the_new_york_close_and_vader_scores_have_the_right_sign() -> None:
    with pytest.warns(DataWarning):
        batch = load_news(FIXTURES / "alpaca_news.jsonl", symbols=["IBM", "MSFT"])
    daily = daily_sentiment(batch)
    got = {(d.strftime("%Y-%m-%d"), s): (score, c) for d, s, score, c in daily.itertuples(index=False)}
    # 20:05Z on 7/19 is 16:05 New York time: after the close, so it counts for 7/20.
    assert {k: v[1] for k, v in got.items()} == {
        ("2023-07-20", "IBM"): 2, ("2023-07-20", "MSFT"): 1,
        ("2023-07-21", "IBM"): 1,          # 15:59 local: before the close
        ("2023-07-22", "IBM"): 1,          # 16:00 local: at the close -> next day
    }
    assert got[("2023-07-21", "IBM")][0] < 0 < got[("2023-07-22", "IBM")][0]
    assert daily["score"].between(-1, 1).all()


def test_alpha_vantage_feed_with_naive_stamps_in_new_york_time() -> None:
    batch = load_news(FIXTURES / "av_news_sentiment.json", naive_tz="America/New_York")
    assert batch.frame["symbol"].tolist() == ["IBM", "MSFT"]
    assert batch.frame["timestamp"].iloc[0] == pd.Timestamp("2023-07-20T02:00:00Z")
    daily = daily_sentiment(batch)
    assert daily["date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-07-20", "2023-07-20"]
    assert daily["score"].iloc[0] > 0


def test_malformed_json_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text('{"headline": "ok", "created_at": "2023-01-03T10:00:00Z", "symbols": ["A"]}\n{"headline": \n')
    with pytest.raises(DataError, match=r"malformed JSON.*row 2"):
        load_news(path)


def test_unparseable_timestamp_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(json.dumps({"headline": "x", "created_at": "yesterday-ish", "symbols": ["A"]}) + "\n")
    with pytest.raises(DataError, match="yesterday-ish"):
        load_news(path)


def test_daily_table_round_trips_through_parquet_and_is_accepted_as_input(tmp_path: Path) -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2023-01-03", "2023-01-03"]), "symbol": ["a", "B"],
                          "score": [0.5, -0.25], "count": [2, 1]})
    path = write_daily_sentiment(frame, tmp_path / "daily_sentiment.parquet")
    back = read_daily_sentiment(path)
    assert back["symbol"].tolist() == ["A", "B"]
    np.testing.assert_array_equal(back["score"], [0.5, -0.25])
    pd.testing.assert_frame_equal(load_daily_sentiment(path), back)
    assert not list(tmp_path.glob(".tmp-*"))


def test_duplicate_or_out_of_range_daily_rows_are_errors(tmp_path: Path) -> None:
    dup = pd.DataFrame({"date": ["2023-01-03"] * 2, "symbol": ["A", "A"], "score": [0.1, 0.2], "count": [1, 1]})
    with pytest.raises(DataError, match="duplicate daily sentiment for A on 2023-01-03"):
        write_daily_sentiment(dup, tmp_path / "d.parquet")
    bad = dup.iloc[:1].assign(score=1.5)
    with pytest.raises(DataError, match="score 1.5"):
        load_daily_sentiment(bad)
    assert not (tmp_path / "d.parquet").exists()


def test_finbert_directory_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a model"):
        FinBertScorer(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"id2label": {"0": "up", "1": "down"}}))
    with pytest.raises(ConfigError, match="lack 'positive' and 'negative'"):
        FinBertScorer(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None, reason="transformers is installed")
def test_finbert_without_transformers_says_how_to_install(tmp_path: Path) -> None:
    labels = {"0": "positive", "1": "negative", "2": "neutral"}
    (tmp_path / "config.json").write_text(json.dumps({"id2label": labels}))
    with pytest.raises(MissingDependencyError, match="pip install transformers"):
        FinBertScorer(tmp_path)
