"""Price features: values, neutral fill for missing history, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.data.panel import MarketPanel
from sacfolio.features.price import price_features


def _panel(seed: int = 0, T: int = 80, N: int = 3, gap: bool = True) -> MarketPanel:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0, 0.03, (T, N)), axis=0))
    available = np.ones((T, N), bool)
    if gap:
        available[30:34, 1] = False  # symbol 1 is not traded for four weeks
    dates = np.datetime64("2001-01-05") + 7 * np.arange(T)
    return MarketPanel(dates=dates, symbols=tuple(f"S{i}" for i in range(N)),
                       close=np.where(available, close, np.nan), available=available)


def test_names_and_hand_computed_values():
    panel = _panel(gap=False)
    feats = price_features(panel)
    assert feats.names == ("logret_1w", "logret_4w", "logret_13w", "logret_26w", "logret_52w", "vol_13w")
    c = panel.close
    t = 60
    for f, h in enumerate((1, 4, 13, 26, 52)):
        np.testing.assert_allclose(feats.values[t, :, f], np.log(c[t] / c[t - h]), rtol=1e-13)
    weekly = np.log(c[t - 12: t + 1] / c[t - 13: t])
    np.testing.assert_allclose(feats.values[t, :, 5], weekly.std(axis=0, ddof=1), rtol=1e-12)


def test_rows_without_enough_history_are_neutral_and_invalid():
    feats = price_features(_panel())
    f52 = feats.names.index("logret_52w")
    assert (feats.values[:52, :, f52] == 0).all() and not feats.valid[:52, :, f52].any()
    assert feats.valid[52:, 0, f52].all()
    vol = feats.names.index("vol_13w")
    assert not feats.valid[:13, :, vol].any() and feats.valid[13:, 0, vol].all()
    # the four-week gap of symbol 1 blanks every window that touches it
    f1 = feats.names.index("logret_1w")
    assert not feats.valid[30:35, 1, f1].any() and feats.valid[35, 1, f1]
    assert not feats.valid[30:47, 1, vol].any() and feats.valid[47, 1, vol]
    assert np.isfinite(feats.values).all()


@pytest.mark.parametrize("t", [0, 13, 40, 52, 78])
def test_perturbing_prices_after_t_leaves_rows_up_to_t_bit_identical(t):
    panel = _panel()
    rng = np.random.default_rng(t)
    close = panel.close.copy()
    close[t + 1:] *= np.exp(rng.normal(0.0, 0.5, close[t + 1:].shape))
    shocked = MarketPanel(dates=panel.dates, symbols=panel.symbols, close=close, available=panel.available)
    before, after = price_features(panel), price_features(shocked)
    np.testing.assert_array_equal(before.values[: t + 1], after.values[: t + 1])
    np.testing.assert_array_equal(before.valid[: t + 1], after.valid[: t + 1])
    if t + 1 < panel.n_dates:
        assert not np.array_equal(before.values[t + 1:], after.values[t + 1:])
