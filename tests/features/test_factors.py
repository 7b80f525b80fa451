"""Factor features: hand-computed values, neutral fill for missing history, no look-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.data.panel import MarketPanel
from sacfolio.features.factors import FACTOR_NAMES, factor_features, market_log_returns
from sacfolio.features.price import price_features
from sacfolio.features.variants import DEFAULT_VARIANT, VARIANTS, build_features

DATES = np.datetime64("2001-01-05") + 7 * np.arange(400)


def _panel(seed: int = 0, T: int = 160, gap: tuple[int, int] | None = (70, 74)) -> MarketPanel:
    """Four random-walk stocks; S1 is not traded in rows ``gap`` (four weeks by default)."""
    steps = np.random.default_rng(seed).normal(0.0, 0.03, (T, 4))
    available = np.ones((T, 4), bool)
    if gap is not None:
        available[gap[0]:gap[1], 1] = False
    close = np.where(available, 50 * np.exp(steps.cumsum(axis=0)), np.nan)
    return MarketPanel(dates=DATES[:T], symbols=("S0", "S1", "S2", "S3"), close=close, available=available)


def _known_panel(T: int = 120, mu: float = 0.004, sigma: float = 0.02) -> MarketPanel:
    """S0, S1 random; S2 alternates mu +- sigma each week; S3's simple return is the mean of
    the other three's, so S3 *is* the equal-weight market (which includes it)."""
    rng = np.random.default_rng(7)
    step = np.zeros((T, 4))
    step[1:, :2] = rng.normal(0.001, 0.03, (T - 1, 2))
    step[1:, 2] = mu + sigma * (-1.0) ** np.arange(1, T)
    simple = np.expm1(step)
    simple[:, 3] = simple[:, :3].mean(axis=1)
    close = 100 * np.cumprod(1 + simple, axis=0)
    return MarketPanel(dates=DATES[:T], symbols=("S0", "S1", "S2", "MKT"), close=close,
                       available=np.ones((T, 4), bool))


def test_hand_computed_values_on_a_known_panel():
    panel = _known_panel()
    feats = factor_features(panel)
    assert feats.names == FACTOR_NAMES
    col = {n: feats.values[:, :, i] for i, n in enumerate(feats.names)}
    t = 100
    # the stock that is the market has beta 1 and correlation 1 with it
    assert col["beta_52w"][t, 3] == pytest.approx(1.0, abs=1e-10)
    assert col["corr_52w"][t, 3] == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(market_log_returns(panel)[1:], np.log(panel.close[1:, 3] / panel.close[:-1, 3]),
                               rtol=1e-12)
    logret = np.log(panel.close[1:] / panel.close[:-1])
    np.testing.assert_allclose(col["reversal_1w"][t], -logret[t - 1], rtol=1e-12)
    np.testing.assert_allclose(col["vol_52w"][t], logret[t - 52:t].std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(col["vol_13w"][t], logret[t - 13:t].std(axis=0, ddof=1), rtol=1e-12)
    # alternating weekly steps: 48 of them sum to 48 mu; the 52-week sd is sigma * sqrt(52/51)
    assert col["mom_12_1"][t, 2] == pytest.approx(np.sqrt(48) * 0.004 / 0.02 * np.sqrt(51 / 52), rel=1e-9)
    c = panel.close
    expected = np.log(c[t - 4] / c[t - 52]) / (np.sqrt(48) * logret[t - 52:t].std(axis=0, ddof=1))
    np.testing.assert_allclose(col["mom_12_1"][t], expected, rtol=1e-10)
    x, m = logret[t - 52:t, 0], logret[t - 52:t, 3]
    assert col["beta_52w"][t, 0] == pytest.approx(np.cov(x, m)[0, 1] / m.var(ddof=1), rel=1e-10)
    assert col["corr_52w"][t, 0] == pytest.approx(np.corrcoef(x, m)[0, 1], rel=1e-10)


def test_the_market_holds_only_the_stocks_available_that_week():
    panel = _panel()
    simple = panel.close[1:] / panel.close[:-1] - 1
    market = market_log_returns(panel)
    assert np.isnan(market[0])
    t = 72  # S1 is missing at 70..73, so weeks 70..74 average the other three
    np.testing.assert_allclose(market[t], np.log1p(simple[t - 1, [0, 2, 3]].mean()), rtol=1e-12)
    np.testing.assert_allclose(market[80], np.log1p(simple[79].mean()), rtol=1e-12)


def test_rows_without_enough_history_are_neutral_and_invalid():
    feats = factor_features(_panel())
    first = {"mom_12_1": 52, "vol_13w": 13, "vol_52w": 52, "beta_52w": 52, "corr_52w": 52, "reversal_1w": 1}
    for f, name in enumerate(feats.names):
        assert (feats.values[:first[name], :, f] == 0).all() and not feats.valid[:first[name], :, f].any()
        assert feats.valid[first[name]:, 0, f].all(), name
    # the gap of S1 (rows 70..73) blanks every window that touches it
    vol52 = feats.names.index("vol_52w")
    assert not feats.valid[70:126, 1, vol52].any() and feats.valid[126, 1, vol52]
    rev = feats.names.index("reversal_1w")
    assert not feats.valid[70:75, 1, rev].any() and feats.valid[75, 1, rev]
    assert feats.valid[70:126, 0, vol52].all()  # the others keep their values
    assert np.isfinite(feats.values).all()


def _shocked(panel: MarketPanel, t: int, seed: int) -> MarketPanel:
    """``panel`` with every close after row t moved and symbol 2 gone after t + 3."""
    rng = np.random.default_rng(seed)
    close = panel.close.copy()
    close[t + 1:] *= np.exp(rng.normal(0.0, 0.5, close[t + 1:].shape))
    available = panel.available.copy()
    available[t + 4:, 2] = False
    return MarketPanel(dates=panel.dates, symbols=panel.symbols, close=np.where(available, close, np.nan),
                       available=available)


@pytest.mark.parametrize("t", [0, 12, 51, 52, 73, 100, 158])
def test_changing_or_removing_data_after_t_leaves_rows_up_to_t_bit_identical(t):
    panel = _panel()
    before = factor_features(panel)
    for other in (_shocked(panel, t, seed=t), panel.slice(0, t + 1)):
        after = factor_features(other)
        np.testing.assert_array_equal(before.values[: t + 1], after.values[: t + 1])
        np.testing.assert_array_equal(before.valid[: t + 1], after.valid[: t + 1])
    if t + 1 < panel.n_dates:
        assert not np.array_equal(before.values[t + 1:], factor_features(_shocked(panel, t, t)).values[t + 1:])


def test_vol_13w_matches_the_price_features_one_and_names_select_columns():
    panel = _panel()
    both = price_features(panel).values[:, :, -1]
    np.testing.assert_allclose(factor_features(panel, names=("vol_13w",)).values[:, :, 0], both, rtol=1e-14)
    picked = factor_features(panel, names=("reversal_1w", "mom_12_1"))
    assert picked.names == ("reversal_1w", "mom_12_1")
    np.testing.assert_array_equal(picked.values[:, :, 1], factor_features(panel).values[:, :, 0])
    with pytest.raises(ValueError, match="momentum"):
        factor_features(panel, names=("momentum",))


def test_the_sac_factor_variant_is_price_features_plus_four_factors():
    panel = _panel()
    feats = build_features(panel, "sac_factor")
    price = price_features(panel)
    assert "sac_factor" in VARIANTS and DEFAULT_VARIANT == "sac_lstm"
    assert feats.names == price.names + ("mom_12_1", "vol_52w", "beta_52w", "corr_52w")
    np.testing.assert_array_equal(feats.values[:, :, : price.n_features], price.values)
