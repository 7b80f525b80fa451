"""The zoo and OLPS baselines in the catalog: opt-in groups, names, feasible targets."""

from __future__ import annotations

import numpy as np
import pytest

from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.catalog import (ALL_STRATEGIES, BASELINE_GROUPS, OLPS_STRATEGIES, STRATEGIES,
                                         ZOO_STRATEGIES, make_strategies, resolve_baselines)
from sacfolio.strategies.olps import OLPS
from sacfolio.strategies.zoo import ADVISORS


def test_groups_expand_in_order_once_and_the_default_is_unchanged() -> None:
    assert resolve_baselines(None) == tuple(STRATEGIES) == BASELINE_GROUPS["default"]
    assert resolve_baselines(["zoo"]) == tuple(f"zoo_{a}" for a in ADVISORS)
    assert resolve_baselines(["olps"]) == (*OLPS, "hindsight_bcrp")
    assert resolve_baselines(["eg", "default", "equal_weight", "eg"]) == ("eg", *STRATEGIES)
    assert set(resolve_baselines(["all"])) == set(ALL_STRATEGIES) == set(STRATEGIES) | set(ZOO_STRATEGIES) | set(
        OLPS_STRATEGIES)
    with pytest.raises(ConfigError, match="groups"):
        resolve_baselines(["zoo", "astrology"])


def test_every_zoo_and_olps_baseline_gives_feasible_targets_under_its_own_name() -> None:
    T, N = 80, 5
    close = 20.0 * np.exp(np.cumsum(0.03 * np.random.default_rng(0).standard_normal((T, N)), axis=0))
    available = np.ones((T, N), bool)
    available[:30, 0] = False
    panel = MarketPanel(dates=np.datetime64("2020-01-03") + 7 * np.arange(T), symbols=tuple("ABCDE"),
                        close=close, available=available)
    built = make_strategies(panel, ["zoo", "olps"])
    assert list(built) == [*ZOO_STRATEGIES, *OLPS_STRATEGIES]
    for name, strategy in built.items():
        assert strategy.name == name
        assert strategy.uses_future == name.startswith("hindsight")
        for t in (10, 29, 60, 78):
            w = strategy.decide(t, None, np.eye(N + 1)[-1])
            assert w.shape == (N + 1,) and np.isfinite(w).all() and w.sum() == pytest.approx(1.0, abs=1e-9)
            assert (w >= -1e-12).all() and (w[:-1] <= 0.2 + 1e-9).all() and w[-1] >= 0.02 - 1e-9
            assert (w[:-1][~available[t]] == 0).all()
