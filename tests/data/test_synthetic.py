"""The synthetic drift market: seeded, Friday-dated, with the drifts it was asked for."""

import numpy as np
import pandas as pd
import pytest

from sacfolio.data import MarketPanel, drift_market
from sacfolio.exceptions import ConfigError


def test_defaults_give_up_down_flat_on_fridays() -> None:
    panel = drift_market()
    assert isinstance(panel, MarketPanel)
    assert panel.symbols == ("UP", "DOWN", "FLAT")
    assert panel.close.shape == (260, 3)
    assert panel.available.all()
    assert panel.dates[0] == np.datetime64("2000-01-07")
    assert (np.diff(panel.dates).astype(int) == 7).all()
    assert set(pd.DatetimeIndex(panel.dates).day_name()) == {"Friday"}
    np.testing.assert_array_equal(panel.close[0], [100.0, 100.0, 100.0])


def test_same_seed_same_market_other_seed_other_market() -> None:
    a, b, c = drift_market(seed=7), drift_market(seed=7), drift_market(seed=8)
    np.testing.assert_array_equal(a.close, b.close)
    assert not np.allclose(a.close[1:], c.close[1:])


def test_realized_drifts_match_the_requested_ones() -> None:
    panel = drift_market(n_weeks=520, seed=3)
    log_returns = np.diff(np.log(panel.close), axis=0)
    mean = log_returns.mean(axis=0)
    standard_error = 0.01 / np.sqrt(len(log_returns))
    assert mean[0] > 0 > mean[1]
    np.testing.assert_allclose(mean, [0.004, -0.004, 0.0], atol=4 * standard_error)
    np.testing.assert_allclose(log_returns.std(axis=0, ddof=1), 0.01, rtol=0.1)


def test_zero_volatility_is_pure_geometric_growth() -> None:
    panel = drift_market(drifts=(0.01, -0.02), volatility=0.0, n_weeks=5)
    t = np.arange(5)[:, None]
    np.testing.assert_allclose(panel.close, 100.0 * np.exp(t * np.array([0.01, -0.02])))
    assert panel.symbols == ("S0", "S1")


def test_custom_symbols_and_start_moved_to_next_friday() -> None:
    panel = drift_market(drifts=(0.0, 0.0), symbols=("A", "B"), start="2021-03-01", n_weeks=3)
    assert panel.symbols == ("A", "B")
    assert list(panel.dates.astype(str)) == ["2021-03-05", "2021-03-12", "2021-03-19"]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"drifts": (0.01,)}, "at least 2 drifts"),
        ({"drifts": (0.01, float("nan"))}, "finite"),
        ({"volatility": -0.1}, "volatility"),
        ({"n_weeks": 1}, "n_weeks"),
        ({"symbols": ("A", "B")}, "one symbol per drift"),
        ({"start": "not a date"}, "start"),
    ],
)
def test_invalid_settings_raise_config_error(kwargs: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        drift_market(**kwargs)
