"""Allocators over strategy returns: AdaHedge's regret bound, EG's update, FinRL-style switching,
static weights from a file."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sacfolio.exceptions import ConfigError
from sacfolio.strategies.expert import (DEFAULT_STATIC_WEIGHTS, AdaHedge, BestRecentSharpe, EqualWeights,
                                        ExponentiatedGradient, load_static_weights)


def _hedge_run(losses: np.ndarray) -> tuple[float, AdaHedge]:
    algo = AdaHedge(losses.shape[1])
    total = 0.0
    for loss in losses:
        total += float(algo.weights @ loss)  # weights chosen before the loss is seen
        algo.update(loss)
    return total, algo


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adahedge_regret_stays_within_its_bound(seed):
    rng = np.random.default_rng(seed)
    T, K = 2000, 9
    losses = rng.uniform(0.0, 1.0, (T, K))
    losses[:, 3] *= 0.8  # one better expert
    total, _ = _hedge_run(losses)
    best = losses.sum(axis=0).min()
    bound = 2.0 * math.sqrt(best * (T - best) * math.log(K) / T) + 16.0 / 3.0 * math.log(K) + 2.0
    assert 0.0 < total - best <= bound


def test_adahedge_needs_no_scale_and_follows_a_clear_leader():
    rng = np.random.default_rng(4)
    losses = rng.normal(0.0, 1e-3, (300, 4))
    losses[:, 1] -= 2e-3
    _, small = _hedge_run(losses)
    _, large = _hedge_run(losses * 1000.0)
    assert np.allclose(small.weights, large.weights)
    assert small.weights[1] > 0.99


def test_exponentiated_gradient_takes_one_hand_computed_step():
    eg = ExponentiatedGradient(2, eta=0.5)
    w = eg(np.zeros(3), np.array([0.1, -0.1]))
    x = np.array([1.1, 0.9])
    expected = 0.5 * np.exp(0.5 * x / 1.0)
    assert np.allclose(w, expected / expected.sum())


def test_best_recent_sharpe_switches_on_schedule_only():
    algo = BestRecentSharpe(3, lookback=10, every=5)
    rng = np.random.default_rng(0)
    picks = []
    for t in range(20):
        r = rng.normal(0.0, 0.01, 3)
        r[0 if t < 10 else 2] += 0.02
        picks.append(int(np.argmax(algo(np.zeros(1), r))))
    assert picks[1:10] == [0] * 9 and picks[15:] == [2] * 5
    assert len(set(picks[10:15])) == 1  # held between re-choices


def test_static_weights_come_from_a_file_or_the_defaults(tmp_path):
    names = tuple(DEFAULT_STATIC_WEIGHTS)
    assert np.allclose(load_static_weights(None, names), list(DEFAULT_STATIC_WEIGHTS.values()))
    path = tmp_path / "weights.yaml"
    path.write_text("strategies:\n  momentum: 3\n  rsi: 1\n")
    w = load_static_weights(path, names)
    assert w[names.index("momentum")] == 0.75 and w[names.index("rsi")] == 0.25 and w.sum() == 1.0
    path.write_text("strategies: {default: 1}\n")
    with pytest.raises(ConfigError, match="unknown strategies"):
        load_static_weights(path, names)
    assert np.allclose(EqualWeights(4)(np.zeros(1), np.zeros(4)), 0.25)
