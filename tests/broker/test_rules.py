"""PortfolioRules: defaults, validation messages, serialisation."""

from __future__ import annotations

import dataclasses

import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.exceptions import ConfigError


def test_defaults_follow_the_design():
    rules = PortfolioRules()
    assert (rules.cash_floor, rules.max_weight, rules.cost_bps) == (0.02, 0.20, 10.0)
    assert rules.cost_rate == pytest.approx(0.001)


def test_rules_are_frozen_keyword_only_and_stored_as_floats():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PortfolioRules().cash_floor = 0.5  # type: ignore[misc]
    with pytest.raises(TypeError):
        PortfolioRules(0.02)  # type: ignore[misc]
    rules = PortfolioRules(cash_floor=0, max_weight=1, cost_bps=5)
    assert all(type(v) is float for v in (rules.cash_floor, rules.max_weight, rules.cost_bps))


@pytest.mark.parametrize(
    ("field", "value", "hint"),
    [("cash_floor", 1.0, r"\[0, 1\)"), ("cash_floor", -0.1, "2% cash"), ("max_weight", 0.0, r"\(0, 1\]"),
     ("max_weight", 1.5, "20% per stock"), ("cost_bps", -1.0, "basis points"), ("cost_bps", 6000.0, "5000"),
     ("cash_floor", float("nan"), "finite"), ("max_weight", True, "finite"), ("cost_bps", "10", "finite")],
)
def test_out_of_range_values_are_named_in_the_error(field, value, hint):
    with pytest.raises(ConfigError, match=f"PortfolioRules.{field}={value!r}") as err:
        PortfolioRules(**{field: value})
    assert err.match(hint)


def test_to_dict_round_trips_and_from_dict_names_unknown_keys():
    rules = PortfolioRules(cash_floor=0.05, max_weight=0.3, cost_bps=2.5)
    assert rules.to_dict() == {"cash_floor": 0.05, "max_weight": 0.3, "cost_bps": 2.5}
    assert PortfolioRules.from_dict(rules.to_dict()) == rules
    assert PortfolioRules.from_dict({"max_weight": 0.5}) == PortfolioRules(max_weight=0.5)
    with pytest.raises(ConfigError, match=r"unknown portfolio rule\(s\) \['leverage'\]"):
        PortfolioRules.from_dict({"leverage": 2.0})
