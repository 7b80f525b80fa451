"""The forecast package's parts: samples (windows and targets) and the cache key."""

import numpy as np

from sacfolio.data.synthetic import drift_market
from sacfolio.features.forecast.cache import entry_key
from sacfolio.features.forecast.samples import forecast_samples, weekly_log_returns


def test_samples_are_trailing_windows_and_next_week_targets() -> None:
    panel = drift_market(n_weeks=40, seed=3)
    s = forecast_samples(panel, lookback=5)
    returns = weekly_log_returns(panel)
    assert s.windows.shape == (40, panel.n_symbols, 5)
    np.testing.assert_array_equal(s.windows[10, 1], returns[6:11, 1])   # weeks t-4..t
    np.testing.assert_array_equal(s.target[:-1], returns[1:])
    assert np.isnan(s.target[-1]).all()
    assert not s.ok_input[:5].any() and s.ok_input[5:].all()            # row 0 has no return


def test_cache_key_changes_with_the_data_it_covers_only() -> None:
    panel = drift_market(n_weeks=40, seed=3)
    other = drift_market(n_weeks=40, seed=4)
    key = entry_key({"a": 1}, 2001, panel, 0, 20)
    assert key == entry_key({"a": 1}, 2001, panel, 0, 20)
    assert key != entry_key({"a": 2}, 2001, panel, 0, 20) != entry_key({"a": 1}, 2002, panel, 0, 20)
    assert key != entry_key({"a": 1}, 2001, other, 0, 20)
