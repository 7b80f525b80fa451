"""Alpha Vantage fundamentals: ratios, reported dates, "None" fields, bad and duplicate input."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sacfolio.data.fundamentals import load_fundamentals
from sacfolio.exceptions import DataError, DataWarning

FIXTURES = Path(__file__).parent.parent / "fixtures" / "alphavantage"


def _row(table, symbol: str, fiscal: str) -> pd.Series:
    f = table.frame
    return f[(f["symbol"] == symbol) & (f["fiscal_date"] == pd.Timestamp(fiscal))].iloc[0]


@pytest.fixture
def table():
    with pytest.warns(DataWarning, match="api note"):
        return load_fundamentals(FIXTURES, symbols=["IBM", "MSFT"])


def test_ratios_and_reported_dates_of_a_full_quarter(table) -> None:
    q = _row(table, "IBM", "2023-06-30")
    assert q["gross_margin"] == pytest.approx(8456 / 15475)
    assert q["operating_margin"] == pytest.approx(2102 / 15475)
    assert q["net_margin"] == pytest.approx(1583 / 15475)
    assert q["debt_to_equity"] == pytest.approx(57387 / 22480)
    assert q["reported_date"] == pd.Timestamp("2023-07-19")        # from EARNINGS
    assert q["available_date"] == pd.Timestamp("2023-07-20")       # one day later


def test_none_and_empty_fields_become_missing_ratios_or_fallbacks(table) -> None:
    q = _row(table, "IBM", "2023-03-31")
    assert np.isnan(q["operating_margin"])                          # "None"
    assert q["debt_to_equity"] == pytest.approx((51330 + 5999) / 22135)  # total "None": parts
    q = _row(table, "IBM", "2022-12-31")
    assert np.isnan(q["debt_to_equity"])                            # every debt field missing
    assert q["reported_date"] == pd.Timestamp("2023-02-14")        # no EARNINGS row: fiscal + 45 d
    m = _row(table, "MSFT", "2023-03-31")
    assert np.isnan(m[["gross_margin", "operating_margin", "net_margin", "debt_to_equity"]].astype(float)).all()
    assert table.overview["IBM"]["Sector"] == "TECHNOLOGY"
    assert table.skipped == {"api note response": 1}


def test_unknown_symbols_are_counted_not_dropped_silently() -> None:
    with pytest.warns(DataWarning) as record:
        t = load_fundamentals(FIXTURES, symbols=["IBM"])
    assert any("1 unknown symbol" in str(w.message) for w in record)
    assert t.symbols == ("IBM",)
    assert t.skipped["unknown symbol"] == 1


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "av"
    shutil.copytree(FIXTURES, d)
    (d / "RATE_LIMIT_NOTE.json").unlink()
    return d


def test_exact_duplicates_are_counted_conflicts_are_errors(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    shutil.copy(d / "IBM_INCOME_STATEMENT.json", d / "IBM_INCOME_STATEMENT_again.json")
    with pytest.warns(DataWarning, match="3 duplicate quarter"):
        t = load_fundamentals(d)
    assert len(t.frame) == 5
    data = json.loads((d / "IBM_INCOME_STATEMENT_again.json").read_text())
    data["quarterlyReports"][0]["netIncome"] = "1"
    (d / "IBM_INCOME_STATEMENT_again.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"conflicting income reports for IBM fiscal quarter 2023-06-30.*netIncome"):
        load_fundamentals(d)


def test_malformed_unrecognised_and_non_numeric_input_are_errors(tmp_path: Path) -> None:
    d = _copy(tmp_path)
    (d / "broken.json").write_text('{"symbol": "IBM", "quarterlyReports": [')
    with pytest.raises(DataError, match="malformed JSON.*broken.json"):
        load_fundamentals(d)
    (d / "broken.json").write_text('{"symbol": "IBM", "weird": 1}')
    with pytest.raises(DataError, match="unrecognised Alpha Vantage response"):
        load_fundamentals(d)
    (d / "broken.json").unlink()
    data = json.loads((d / "MSFT_INCOME_STATEMENT.json").read_text())
    data["quarterlyReports"][0]["netIncome"] = "12abc"
    (d / "MSFT_INCOME_STATEMENT.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="netIncome='12abc'"):
        load_fundamentals(d)
    with pytest.raises(DataError, match="does not exist"):
        load_fundamentals(tmp_path / "nope")
