"""Paired block bootstrap: pairing, planted edges, determinism, arguments."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.evaluate.bootstrap import Interval, block_indices, paired_block_bootstrap, verdict
from sacfolio.evaluate.metrics import cagr, sharpe
from sacfolio.exceptions import ConfigError


def _noise(seed: int, n: int = 260, mu: float = 0.002, sd: float = 0.02) -> np.ndarray:
    return np.random.default_rng(seed).normal(mu, sd, size=n)


def test_identical_series_give_exactly_zero() -> None:
    r = _noise(0)
    iv = paired_block_bootstrap(r, r.copy(), sharpe, n_boot=500, seed=1)
    assert (iv.low, iv.high, iv.point) == (0.0, 0.0, 0.0)
    assert verdict(iv) == "within noise"


def test_same_blocks_for_both_series() -> None:
    # with a constant offset, mean(a*) - mean(b*) is the offset on every paired sample
    b = _noise(2)
    iv = paired_block_bootstrap(b + 0.003, b, lambda x: x.mean(axis=-1), n_boot=300, seed=4)
    assert iv.low == pytest.approx(0.003, abs=1e-12)
    assert iv.high == pytest.approx(0.003, abs=1e-12)


def test_planted_edge_is_beyond_noise() -> None:
    b = _noise(5)
    a = b + 0.004 + np.random.default_rng(6).normal(0, 0.004, size=len(b))
    iv = paired_block_bootstrap(a, b, sharpe, seed=7)
    assert iv.low > 0 and iv.low <= iv.point <= iv.high
    assert iv.excludes_zero and verdict(iv) == "edge beyond noise"
    worse = paired_block_bootstrap(b, a, sharpe, seed=7)
    assert worse.high < 0 and verdict(worse) == "shortfall beyond noise"
    assert paired_block_bootstrap(a, b, cagr, seed=7).low > 0


def test_no_edge_stays_within_noise() -> None:
    iv = paired_block_bootstrap(_noise(8), _noise(9), sharpe, seed=10)
    assert iv.low < 0 < iv.high
    assert verdict(iv) == "within noise"


def test_width_matches_normal_theory_for_iid_means() -> None:
    # iid returns: the 90% interval of a mean difference is about +-1.645 sd(a-b)/sqrt(S)
    a, b = _noise(12, n=520), _noise(13, n=520)
    iv = paired_block_bootstrap(a, b, lambda x: x.mean(axis=-1), n_boot=4000, seed=14)
    expected = 2 * 1.645 * np.std(a - b, ddof=1) / np.sqrt(520)
    assert iv.high - iv.low == pytest.approx(expected, rel=0.15)


def test_seeded_determinism() -> None:
    a, b = _noise(15), _noise(16)
    one = paired_block_bootstrap(a, b, sharpe, n_boot=400, seed=3)
    two = paired_block_bootstrap(a, b, sharpe, n_boot=400, seed=3)
    other = paired_block_bootstrap(a, b, sharpe, n_boot=400, seed=4)
    assert one == two
    assert (one.low, one.high) != (other.low, other.high)
    assert one.point == other.point


def test_block_indices_are_circular_runs() -> None:
    idx = block_indices(10, block=4, n_boot=50, rng=np.random.default_rng(0))
    assert idx.shape == (50, 10) and idx.min() >= 0 and idx.max() <= 9
    for row in idx:
        for start in (0, 4, 8):  # each block continues its start by +1 mod 10
            run = row[start:start + 4]
            np.testing.assert_array_equal(run, (run[0] + np.arange(len(run))) % 10)


@pytest.mark.parametrize("kwargs, error", [
    ({"block": 0}, ConfigError), ({"n_boot": 5}, ConfigError), ({"level": 1.0}, ConfigError),
])
def test_bad_arguments(kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        paired_block_bootstrap(_noise(0), _noise(1), sharpe, seed=0, **kwargs)


def test_bad_series() -> None:
    with pytest.raises(ValueError, match="same length"):
        paired_block_bootstrap(_noise(0, n=20), _noise(1, n=21), sharpe, seed=0)
    with pytest.raises(ValueError, match="2 blocks"):
        paired_block_bootstrap(_noise(0, n=7), _noise(1, n=7), sharpe, seed=0)
    with pytest.raises(ValueError, match="undefined"):
        paired_block_bootstrap(np.full(20, 0.01), np.full(20, 0.01), sharpe, n_boot=20, seed=0)


def test_interval_as_dict_has_verdict() -> None:
    iv = Interval(low=0.1, high=0.4, point=0.2, level=0.9, n_boot=10, n_valid=10, block=4, seed=0)
    assert iv.as_dict()["verdict"] == "edge beyond noise"
