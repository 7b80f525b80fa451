"""Synthetic 5-minute bars: session calendar, U-shaped volatility, gaps, open spreads, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sacfolio.data.intraday import IntradayConfig, calibrate_daily, session_times, synthetic_bars
from sacfolio.exceptions import ConfigError

SYMBOLS = ["AAPL", "JPM", "XOM"]


@pytest.fixture(scope="module")
def bars():
    return synthetic_bars(SYMBOLS, config=IntradayConfig(sessions=60), seed=3)


def test_sessions_are_new_york_weekdays_without_holidays() -> None:
    times, minutes = session_times(IntradayConfig(sessions=3, start="2023-07-03"))
    local = pd.DatetimeIndex(times).tz_localize("UTC").tz_convert("America/New_York")
    assert len(times) == 3 * 78 and minutes[0] == 5 and minutes[-1] == 390
    assert sorted(set(local.date.astype(str))) == ["2023-07-03", "2023-07-05", "2023-07-06"]  # 4 July skipped
    assert local[0].strftime("%H:%M") == "09:35" and local[77].strftime("%H:%M") == "16:00"
    assert str(pd.DatetimeIndex(times)[0].time()) == "13:35:00"  # summer: New York = UTC - 4


def test_bars_are_valid_deterministic_and_start_at_the_last_daily_close(bars) -> None:
    assert bars.symbols == tuple(SYMBOLS) and bars.close.shape == (60 * 78, 3)
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.bid < bars.ask) and np.all(bars.bid > 0) and np.all(np.diff(bars.times.astype(np.int64)) > 0)
    again = synthetic_bars(SYMBOLS, config=IntradayConfig(sessions=60), seed=3)
    np.testing.assert_array_equal(again.close, bars.close)
    assert not np.array_equal(synthetic_bars(SYMBOLS, config=IntradayConfig(sessions=60), seed=4).close, bars.close)
    from skfolio.datasets import load_sp500_dataset

    last = load_sp500_dataset()[SYMBOLS].iloc[-1].to_numpy()
    np.testing.assert_allclose(bars.open[0], last, rtol=0.1)


def test_intraday_volatility_is_u_shaped_and_gaps_carry_their_share(bars) -> None:
    k = 78
    logc = np.log(bars.close).reshape(60, k, 3)
    logo = np.log(bars.open).reshape(60, k, 3)
    within = np.abs(logc - logo)  # (session, bar, symbol)
    by_bar = within.mean(axis=(0, 2))
    assert by_bar[:3].mean() > 1.5 * by_bar[36:42].mean() and by_bar[-3:].mean() > 1.5 * by_bar[36:42].mean()
    gaps = logo[1:, 0, :] - logc[:-1, -1, :]
    intraday = logc[1:, -1, :] - logo[1:, 0, :]
    share = (gaps ** 2).mean() / ((gaps ** 2).mean() + (intraday ** 2).mean())
    assert 0.12 < share < 0.4  # configured 0.25


def test_spreads_widen_at_the_open(bars) -> None:
    rel = ((bars.ask - bars.bid) / bars.close).reshape(60, 78, 3).mean(axis=(0, 2))
    assert rel[0] > 2.0 * rel[30] and rel[0] > rel[3] > rel[30]


def test_calibration_matches_the_daily_sample() -> None:
    from skfolio.datasets import load_sp500_dataset

    daily = load_sp500_dataset()[SYMBOLS].astype(float)
    mu, sigma, corr, last = calibrate_daily(daily, 2.0)
    assert np.all((sigma > 0.005) & (sigma < 0.06)) and np.allclose(np.diag(corr), 1.0)
    bars = synthetic_bars(SYMBOLS, config=IntradayConfig(sessions=120), seed=0)
    closes = bars.close.reshape(120, 78, 3)[:, -1, :]
    realized = np.diff(np.log(closes), axis=0).std(axis=0)
    np.testing.assert_allclose(realized, sigma, rtol=0.25)


def test_bad_settings_and_symbols_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="bar_minutes"):
        IntradayConfig(bar_minutes=7)
    with pytest.raises(ConfigError, match="overnight_share"):
        IntradayConfig(overnight_share=1.0)
    with pytest.raises(ConfigError, match="unknown symbol"):
        synthetic_bars(["NOPE"])
