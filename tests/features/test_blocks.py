"""FeatureSet validation and concatenation of blocks."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.exceptions import DataError
from sacfolio.features.blocks import FeatureSet

DATES = np.datetime64("2020-01-03") + 7 * np.arange(4)


def _block(names=("a", "b"), symbols=("X", "Y", "Z"), dates=DATES, fill=1.0):
    values = np.full((len(dates), len(symbols), len(names)), fill)
    return FeatureSet(values=values, names=names, dates=dates, symbols=symbols)


def test_concat_joins_along_features_in_order():
    valid = np.ones((4, 3, 1), bool)
    valid[0] = False
    c = FeatureSet(values=np.full((4, 3, 1), 3.0), names=("c",), dates=DATES, symbols=("X", "Y", "Z"), valid=valid)
    both = FeatureSet.concat(_block(), c)
    assert both.names == ("a", "b", "c") and both.values.shape == (4, 3, 3)
    assert (both.values[..., 2] == 3.0).all() and (both.values[..., :2] == 1.0).all()
    assert not both.valid[0, :, 2].any() and both.valid[1:].all() and both.valid[0, :, :2].all()


def test_concat_rejects_mismatched_blocks():
    with pytest.raises(DataError, match="different symbols"):
        FeatureSet.concat(_block(), _block(names=("c",), symbols=("X", "Y", "W")))
    with pytest.raises(DataError, match="different dates"):
        FeatureSet.concat(_block(), _block(names=("c",), dates=DATES + 1))
    with pytest.raises(DataError, match="duplicate feature names"):
        FeatureSet.concat(_block(), _block())


def test_values_must_be_finite_and_shaped():
    with pytest.raises(DataError, match="'a' is nan on 2020-01-03"):
        _block(fill=np.nan)
    with pytest.raises(DataError, match="expected"):
        FeatureSet(values=np.zeros((4, 3)), names=("a",), dates=DATES, symbols=("X", "Y", "Z"))


def test_values_are_read_only():
    block = _block()
    with pytest.raises(ValueError):
        block.values[0, 0, 0] = 5.0
