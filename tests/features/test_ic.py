"""Walk-forward rank IC: hand-checked weekly ICs, a planted signal scores high, noise near 0."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import DataError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.ic import next_returns, rank_ic_table, weekly_rank_ic

YEARS = (2003, 2004, 2005, 2006)


def _panel(seed: int = 0, T: int = 360, N: int = 12) -> MarketPanel:
    """Weekly closes from 2000-01-07 (seven years), symbol 3 missing for ten weeks."""
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0.0, 0.03, (T, N)), axis=0))
    available = np.ones((T, N), bool)
    available[200:210, 3] = False
    return MarketPanel(dates=np.datetime64("2000-01-07") + 7 * np.arange(T),
                       symbols=tuple(f"S{i}" for i in range(N)),
                       close=np.where(available, close, np.nan), available=available)


def _features(panel: MarketPanel, columns: dict[str, np.ndarray]) -> FeatureSet:
    raw = np.stack(list(columns.values()), axis=2)
    valid = np.isfinite(raw)
    return FeatureSet(values=np.where(valid, raw, 0.0), names=tuple(columns), dates=panel.dates,
                      symbols=panel.symbols, valid=valid)


def test_weekly_rank_ic_matches_spearman_and_handles_ties_small_and_constant_rows():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 8)), rng.normal(size=(6, 8))
    x[0, :4] = 1.0  # ties
    mask = rng.random((6, 8)) > 0.2
    mask[4, 2:] = False  # two stocks: too few
    x[5] = 3.0  # constant feature
    ic = weekly_rank_ic(x, y, mask)
    for i in range(4):
        assert ic[i] == pytest.approx(spearmanr(x[i, mask[i]], y[i, mask[i]]).statistic, abs=1e-12)
    assert np.isnan(ic[4]) and ic[5] == 0.0
    assert weekly_rank_ic(y, y, np.ones_like(mask))[0] == pytest.approx(1.0)
    assert weekly_rank_ic(-y, y, np.ones_like(mask))[0] == pytest.approx(-1.0)


def test_a_planted_signal_scores_high_and_noise_near_zero():
    panel = _panel()
    rng = np.random.default_rng(2)
    forward = next_returns(panel)
    table = rank_ic_table(_features(panel, {
        "signal": forward + rng.normal(0.0, 0.03, forward.shape),  # NaN in the last row: invalid there
        "inverse": -forward + rng.normal(0.0, 0.03, forward.shape),
        "noise": rng.normal(size=forward.shape),
    }), panel, YEARS)
    signal, inverse, noise = table.rows
    assert signal.mean_ic > 0.5 and signal.t_stat > 20 and signal.hit_rate > 0.95
    assert signal.signed_ic == pytest.approx(signal.mean_ic)
    assert inverse.mean_ic < -0.5 and inverse.signed_ic == pytest.approx(-inverse.mean_ic)
    assert abs(noise.mean_ic) < 0.05 and abs(noise.t_stat) < 3 and 0.35 < noise.hit_rate < 0.65
    assert min(signal.yearly_ic) > 0.4


def test_weeks_belong_to_the_year_their_return_lands_in_and_stats_follow_their_formulas():
    panel = _panel()
    rng = np.random.default_rng(3)
    feats = _features(panel, {"f": rng.normal(size=panel.close.shape)})
    table = rank_ic_table(feats, panel, YEARS)
    row = table.rows[0]
    ic = weekly_rank_ic(feats.values[:, :, 0], next_returns(panel), feats.valid[:, :, 0])[:-1]
    years = panel.dates[1:].astype("datetime64[Y]").astype(int) + 1970
    weeks = np.flatnonzero((years >= YEARS[0]) & (years <= YEARS[-1]))
    assert row.n_weeks == weeks.size
    x = ic[weeks]
    assert row.mean_ic == pytest.approx(x.mean())
    assert row.t_stat == pytest.approx(x.mean() / x.std(ddof=1) * np.sqrt(x.size))
    assert row.hit_rate == pytest.approx((x > 0).mean())
    assert row.yearly_ic[1] == pytest.approx(ic[years == 2004].mean())
    # the sign of year Y comes from the weeks whose return lands before Y only
    signed = np.concatenate([np.sign(ic[years < y].mean()) * ic[years == y] for y in YEARS])
    assert row.signed_ic == pytest.approx(signed.mean())
    record = table.to_records()[0]
    assert record["feature"] == "f" and record["ic_2006"] == row.yearly_ic[3] and "yearly_ic" not in record


def test_the_ic_of_a_year_ignores_everything_after_it():
    panel = _panel()
    rng = np.random.default_rng(4)
    values = rng.normal(size=panel.close.shape)
    base = rank_ic_table(_features(panel, {"f": values}), panel, (2004,)).rows[0]
    later = values.copy()
    cut = int(np.searchsorted(panel.dates, np.datetime64("2004-12-31")))  # its return lands in 2005
    later[cut:] = rng.normal(size=later[cut:].shape)
    close = panel.close.copy()
    close[cut + 1:] *= 1.5
    moved = MarketPanel(dates=panel.dates, symbols=panel.symbols, close=close, available=panel.available)
    assert rank_ic_table(_features(moved, {"f": later}), moved, (2004,)).rows[0] == base


def test_misaligned_features_or_years_outside_the_data_are_refused():
    panel = _panel()
    feats = _features(panel, {"f": np.ones(panel.close.shape)})
    with pytest.raises(EvaluationWindowError, match="2011"):
        rank_ic_table(feats, panel, (2005, 2011))
    with pytest.raises(DataError, match="not on the panel"):
        rank_ic_table(feats, panel.slice(0, 100), (2001,))
