"""Instrument files: the shipped example, user JSON/YAML files, and bad input naming file, row and field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.financing import rollover_days
from sacfolio.broker.fx import HomeConversion
from sacfolio.broker.instruments import load_instruments
from sacfolio.broker.quotes import quotes_from_mid
from sacfolio.exceptions import ConfigError, DataError

EXAMPLE = load_instruments()
EUR_USD = next(i for i in json.loads(Path(
    __file__).resolve().parents[2].joinpath("src/sacfolio/broker/instruments/oanda_example.json").read_text()
)["instruments"] if i["name"] == "EUR_USD")


def _write(tmp_path: Path, rows: list, name: str = "mine.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"instruments": rows}))
    return path


def test_the_shipped_file_has_fx_pairs_an_index_cfd_and_us_equities() -> None:
    kinds = {i.name: i.type for i in EXAMPLE.instruments}
    assert {"EUR_USD", "USD_JPY", "SPX500_USD", "AAPL"} <= set(kinds)
    assert kinds["EUR_USD"] == "CURRENCY" and kinds["SPX500_USD"] == "CFD"
    eur = EXAMPLE.instruments[EXAMPLE.index("EUR_USD")]
    assert eur.pip == 1e-4 and eur.display_precision == 5 and eur.margin_rate == 0.02
    assert eur.days_charged == (1, 1, 3, 1, 1, 0, 0) and eur.base_currency == "EUR"
    assert EXAMPLE.spread_pips.shape == (len(EXAMPLE), 24)
    assert EXAMPLE.spread_pips[0, 22] > EXAMPLE.spread_pips[0, 14]  # wider at the rollover than in London/NY


def test_spreads_follow_the_hour_and_prices_the_display_precision() -> None:
    mid = np.full(len(EXAMPLE), 1.123456)
    night, day = quotes_from_mid(mid, EXAMPLE, 22), quotes_from_mid(mid, EXAMPLE, 14)
    assert night.spread[0] == pytest.approx(4.0e-4) and day.spread[0] == pytest.approx(1.0e-4)
    assert night.bid[0] == 1.12326 and night.ask[0] == 1.12366  # 5 decimals
    hourly = quotes_from_mid(np.tile(mid, (2, 1)), EXAMPLE, np.array([22, 14]))
    np.testing.assert_allclose(hourly.spread[:, 0], [4.0e-4, 1.0e-4])


def test_a_yaml_user_file_is_read_like_json(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"instruments": [EUR_USD]}))
    got = load_instruments(path)
    assert got.names == ("EUR_USD",) and got.source == str(path)


def _broken(**change) -> dict:
    row = copy.deepcopy(EUR_USD)
    for key, value in change.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    return row


@pytest.mark.parametrize("row, field, words", [
    (_broken(marginRate=None), "marginRate", "missing"),
    (_broken(marginRate=0.0), "marginRate", "outside (0.0, 1.0]"),
    (_broken(marginRate=1.5), "marginRate", "outside"),
    (_broken(typicalSpreadPips=-0.5), "typicalSpreadPips", "outside [0.0"),
    (_broken(typicalSpreadPips=[1.0] * 23), "typicalSpreadPips", "23 values"),
    (_broken(pipLocation=-4.5), "pipLocation", "integer"),
    (_broken(type="FOREX"), "type", "CURRENCY"),
    (_broken(quoteCurrency="US"), "quoteCurrency", "3-letter"),
    (_broken(colour="red"), "colour", "unknown field"),
    (_broken(financing={"longRate": -0.01, "shortRate": 0.0}), "financing.financingDaysOfWeek", "missing"),
    (_broken(financing={"longRate": -0.01, "shortRate": 0.0,
                        "financingDaysOfWeek": [{"dayOfWeek": "Wed", "daysCharged": 3}]}),
     "financing.financingDaysOfWeek", "dayOfWeek 'Wed'"),
])
def test_bad_instruments_name_the_file_the_instrument_and_the_field(tmp_path, row, field, words) -> None:
    path = _write(tmp_path, [EXAMPLE_ROW_OK, row])
    with pytest.raises(DataError) as err:
        load_instruments(path)
    text = str(err.value)
    assert str(path) in text and f"column {field!r}" in text and "row 2 (EUR_USD)" in text and words in text


EXAMPLE_ROW_OK = _broken(name="GBP_USD", baseCurrency="GBP")


def test_duplicates_unparsable_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"'EUR_USD' appears twice .*row 2 \(EUR_USD\)"):
        load_instruments(_write(tmp_path, [EUR_USD, EUR_USD]))
    bad = tmp_path / "bad.json"
    bad.write_text('{"instruments": [')
    with pytest.raises(DataError, match="cannot be parsed.*line 1"):
        load_instruments(bad)
    with pytest.raises(DataError, match="cannot read the instrument file"):
        load_instruments(tmp_path / "nope.json")
    with pytest.raises(DataError, match="no list of instruments"):
        load_instruments(_write(tmp_path, []))


def test_a_currency_without_a_conversion_pair_is_named() -> None:
    only_jpy = EXAMPLE.select(["USD_JPY"])
    with pytest.raises(ConfigError, match="USD_JPY is quoted in JPY.*EUR_JPY or JPY_EUR"):
        HomeConversion(only_jpy, "EUR")
    with pytest.raises(ConfigError, match="max_leverage"):
        AccountConfig(max_leverage=0.5)


def test_rollovers_follow_new_york_17_00_through_daylight_saving() -> None:
    eur = EXAMPLE.select(["EUR_USD"])
    # Wednesday 17:00 New York is 22:00 UTC in January and 21:00 UTC in July
    for stamps, want in ((["2024-01-10 21:59", "2024-01-10 22:00"], 3.0),
                         (["2024-07-10 20:59", "2024-07-10 21:00"], 3.0),
                         (["2024-01-10 22:00", "2024-01-10 23:00"], 0.0)):
        assert rollover_days(pd.DatetimeIndex(stamps), eur)[1, 0] == want
    week = pd.date_range("2024-01-05 23:00", periods=2, freq="7D")  # Friday to Friday, UTC
    assert rollover_days(week, eur)[1, 0] == 7.0  # 1 + 1 + 3 + 1 + 1 + 0 + 0
