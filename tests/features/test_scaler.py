"""FeatureScaler: fitted on rows before stop only, JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sacfolio.exceptions import DataError
from sacfolio.features.blocks import FeatureSet
from sacfolio.features.scaler import FeatureScaler


def _features(seed: int = 0, T: int = 30) -> FeatureSet:
    rng = np.random.default_rng(seed)
    values = rng.normal([1.0, -2.0], [0.5, 3.0], size=(T, 4, 2))
    valid = np.ones(values.shape, bool)
    valid[:5, :, 1] = False  # no history yet
    values[:5, :, 1] = 0.0
    return FeatureSet(values=values, names=("m", "v"), dates=np.datetime64("2010-01-01") + np.arange(T),
                      symbols=("A", "B", "C", "D"), valid=valid)


def test_fit_uses_valid_cells_of_rows_before_stop():
    feats = _features()
    scaler = FeatureScaler().fit(feats, 20)
    m = feats.values[:20, :, 0].ravel()
    v = feats.values[5:20, :, 1].ravel()
    np.testing.assert_allclose(scaler.mean_, [m.mean(), v.mean()], rtol=1e-13)
    np.testing.assert_allclose(scaler.std_, [m.std(), v.std()], rtol=1e-13)
    out = scaler.transform(feats)
    np.testing.assert_allclose(out.values[7, 2, 1], (feats.values[7, 2, 1] - v.mean()) / v.std(), rtol=1e-13)
    assert (out.values[:5, :, 1] == 0.0).all()  # neutral cells stay neutral


def test_rows_at_or_after_stop_do_not_change_the_fit():
    feats = _features()
    shocked_values = feats.values.copy()
    shocked_values[20:] = 1e6
    shocked = FeatureSet(values=shocked_values, names=feats.names, dates=feats.dates,
                         symbols=feats.symbols, valid=feats.valid)
    a, b = FeatureScaler().fit(feats, 20), FeatureScaler().fit(shocked, 20)
    np.testing.assert_array_equal(a.mean_, b.mean_)
    np.testing.assert_array_equal(a.std_, b.std_)
    assert not np.array_equal(FeatureScaler().fit(shocked, 21).mean_, a.mean_)


def test_json_round_trip_gives_the_same_transform():
    feats = _features()
    scaler = FeatureScaler().fit(feats, 25)
    loaded = FeatureScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_array_equal(loaded.transform(feats).values, scaler.transform(feats).values)
    assert loaded.stop_ == 25 and loaded.names_ == ("m", "v")


def test_errors_name_the_problem():
    feats = _features()
    with pytest.raises(RuntimeError, match="not fitted"):
        FeatureScaler().transform(feats)
    with pytest.raises(DataError, match="stop=0"):
        FeatureScaler().fit(feats, 0)
    other = FeatureSet(values=feats.values, names=("m", "w"), dates=feats.dates, symbols=feats.symbols)
    with pytest.raises(DataError, match="do not match"):
        FeatureScaler().fit(feats, 10).transform(other)
    with pytest.raises(DataError, match="malformed"):
        FeatureScaler.from_dict({"names": ["m"]})


def test_constant_feature_gets_unit_std():
    feats = FeatureSet(values=np.full((6, 2, 1), 4.0), names=("c",), dates=np.datetime64("2010-01-01") + np.arange(6),
                       symbols=("A", "B"))
    scaler = FeatureScaler().fit(feats, 6)
    assert scaler.std_[0] == 1.0 and (scaler.transform(feats).values == 0.0).all()
