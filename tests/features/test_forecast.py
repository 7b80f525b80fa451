"""Walk-forward forecasts: no training sample reaches into its year, no look-ahead, cache, skill."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sacfolio.data.panel import MarketPanel
from sacfolio.data.splits import year_split
from sacfolio.data.synthetic import FactorMarketConfig, factor_market
from sacfolio.exceptions import ConfigError, DataWarning
from sacfolio.features.forecast import (
    ForecastConfig,
    ForecastResult,
    YearFit,
    forecast_quality,
    format_quality_table,
    walk_forward_forecasts,
)

TINY = dict(lookback=12, train_years=2, min_train_samples=50, epochs=2, batch_size=128, hidden=8,
            d_model=8, n_heads=2, n_layers=1, patch_len=4, stride=2)


@pytest.fixture(scope="module")
def market() -> MarketPanel:
    return factor_market(FactorMarketConfig(n_stocks=5, n_weeks=4 * 52, autocorr=0.3, seed=2)).panel


def test_forecast_year_split_never_reaches_into_the_year(market: MarketPanel) -> None:
    for year in (2002, 2003):
        split = year_split(market.dates, year, test_by="decision_year", train_years=2)
        train, predict = split.train_rows, split.test_rows
        assert (market.dates[train + 1] < np.datetime64(f"{year}-01-01")).all()
        assert (market.dates[train] >= np.datetime64(f"{year - 2}-01-01")).all()
        assert (market.dates[predict].astype("datetime64[Y]") == np.datetime64(str(year), "Y")).all()
        assert train[-1] + 1 == predict[0] - 1   # the last week of Y-1 is left out: its target is in Y


@pytest.mark.parametrize("model", ["lstm", "patchtst"])
def test_training_samples_precede_the_year_and_later_prices_change_nothing_before(market, model) -> None:
    cfg = ForecastConfig(model=model, **TINY)
    with pytest.warns(DataWarning, match=r"skipped 1 year\(s\).*\[2000\]"):
        base = walk_forward_forecasts(market, cfg, progress=False)
    assert [f.year for f in base.fits] == [2001, 2002, 2003]
    for fit in base.fits:
        start = np.datetime64(f"{fit.year}-01-01")
        assert (market.dates[fit.train_rows + 1] < start).all()           # targets before Y
        assert (fit.train_rows - cfg.lookback >= 0).all()                 # full input windows
    t = int(base.fits[-1].predict_rows[20])                                 # a week inside 2003
    close = market.close.copy()
    close[t + 1:] *= np.exp(np.random.default_rng(0).normal(0, 0.2, close[t + 1:].shape))
    moved = MarketPanel(dates=market.dates, symbols=market.symbols, close=close,
                        available=market.available)
    with pytest.warns(DataWarning):
        other = walk_forward_forecasts(moved, cfg, progress=False)
    np.testing.assert_array_equal(other.values[:t + 1], base.values[:t + 1])
    np.testing.assert_array_equal(other.valid[:t + 1], base.valid[:t + 1])
    assert not np.array_equal(other.values[t + 1:], base.values[t + 1:])
    assert base.valid[base.fits[0].predict_rows].all() and not base.valid[:52].any()


def test_cache_hits_reproduce_and_damaged_entries_are_recomputed(market, tmp_path: Path) -> None:
    cfg = ForecastConfig(model="lstm", **TINY)
    kw = dict(years=[2003], cache_dir=tmp_path, progress=False)
    first = walk_forward_forecasts(market, cfg, **kw)
    assert [f.cached for f in first.fits] == [False]
    assert len(list(tmp_path.glob("*.npz"))) == 1 and len(list(tmp_path.glob("*.json"))) == 1
    second = walk_forward_forecasts(market, cfg, **kw)
    assert [f.cached for f in second.fits] == [True]
    np.testing.assert_array_equal(second.values, first.values)
    npz = next(tmp_path.glob("*.npz"))
    npz.write_bytes(npz.read_bytes()[:40])                                # a torn write
    with pytest.warns(DataWarning, match="damaged"):
        third = walk_forward_forecasts(market, cfg, **kw)
    assert [f.cached for f in third.fits] == [False]
    np.testing.assert_array_equal(third.values, first.values)
    walk_forward_forecasts(market, replace(cfg, epochs=3), **kw)          # other settings: other entry
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not list(tmp_path.glob(".tmp-*"))


def test_both_forecasters_beat_zero_with_planted_autocorrelation() -> None:
    panel = factor_market(FactorMarketConfig(n_stocks=10, n_weeks=6 * 52, ic_sentiment=0.0, ic_fundamental=0.0,
                                             autocorr=0.4, factor_vol=0.01, seed=3)).panel
    for model in ("lstm", "patchtst"):
        cfg = ForecastConfig(model=model, lookback=26, train_years=3, epochs=8, batch_size=64, hidden=16, d_model=16,
                             n_layers=1, patch_len=8, stride=4, seed=1)
        result = walk_forward_forecasts(panel, cfg, years=[2003, 2004, 2005], progress=False)
        quality = forecast_quality(panel, result)
        assert len(quality) == 3
        assert np.mean([q.r2_oos for q in quality]) > 0.05, (model, quality)
        assert np.mean([q.ic for q in quality]) > 0.15, (model, quality)
        assert np.mean([q.hit_rate for q in quality]) > 0.55, (model, quality)
        assert "mean" in format_quality_table(quality)


def test_quality_measures_against_hand_computed_values(market: MarketPanel) -> None:
    r = np.log(market.close[1:] / market.close[:-1])
    T, N = market.close.shape
    rows = np.flatnonzero(market.dates.astype("datetime64[Y]") == np.datetime64("2003", "Y"))[:-1]
    values = np.zeros((T, N))
    values[rows] = r[rows]                                   # the realized next-week return
    valid = np.zeros((T, N), dtype=bool)
    valid[rows] = True
    cfg = ForecastConfig(**TINY)
    fit = YearFit(2003, np.zeros(0, int), np.zeros(0, int), rows, float("nan"), False)
    perfect = forecast_quality(market, ForecastResult(values, valid, (fit,), cfg))[0]
    assert (perfect.ic, perfect.hit_rate, perfect.r2_oos, perfect.n_obs) == (1.0, 1.0, 1.0, len(rows) * N)
    wrong = forecast_quality(market, ForecastResult(-values, valid, (fit,), cfg))[0]
    assert wrong.ic == pytest.approx(-1.0) and wrong.hit_rate == 0.0 and wrong.r2_oos == pytest.approx(-3.0)
    assert wrong.ic_momentum == perfect.ic_momentum


@pytest.mark.parametrize("kwargs, match", [
    (dict(model="gru"), "model='gru'"), (dict(epochs=0), "epochs=0"), (dict(lr=0.0), "lr=0.0"),
    (dict(d_model=10, n_heads=4), "divisible"), (dict(patch_len=60), "patch_len=60"),
    (dict(dropout=1.0), "dropout=1.0"),
])
def test_invalid_settings_name_the_value(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        ForecastConfig(**kwargs)
