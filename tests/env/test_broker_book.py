"""The env's portfolios as broker accounts: the equity file agrees with the cost rule, spreads,
leverage and financing show up where they should, and backtests carry the cost split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.venue import BrokerVenue
from sacfolio.data.panel import MarketPanel
from sacfolio.data.sources.sample import load_sp500_sample
from sacfolio.env.config import EnvConfig
from sacfolio.env.core import PortfolioCore
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.evaluate.folds import yearly_folds
from sacfolio.exceptions import ConfigError
from sacfolio.strategies.simple import EqualWeight

DAYS = [{"dayOfWeek": d, "daysCharged": c} for d, c in
        zip(("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"), (1, 1, 1, 1, 3))]


@pytest.fixture(scope="module")
def panel() -> MarketPanel:
    return load_sp500_sample(start="2017-01-01", end="2019-12-31")


def _file(tmp_path, symbols, **fields) -> str:
    row = {"type": "CFD", "pipLocation": -2, "displayPrecision": 10, "tradeUnitsPrecision": 8,
           "minimumTradeSize": 0, "marginRate": 1.0, "quoteCurrency": "USD", "typicalSpreadPips": 0,
           "financing": {"longRate": 0.0, "shortRate": 0.0, "financingDaysOfWeek": DAYS}}
    row.update(fields)
    path = tmp_path / "instruments.json"
    path.write_text(json.dumps({"instruments": [dict(row, name=s) for s in symbols]}))
    return str(path)


def _core(panel: MarketPanel, rules: PortfolioRules) -> PortfolioCore:
    features = np.zeros((panel.n_dates, panel.n_symbols, 0))
    return PortfolioCore(panel.simple_returns(), features, panel.available, EnvConfig(rules=rules), panel=panel)


def _run(core: PortfolioCore, target: np.ndarray, steps: int) -> list[dict]:
    core.reset(np.array([0]), np.array([steps]))
    return [core.step_weights(target[None, :])[3] for _ in range(steps)]


def test_equity_instruments_agree_with_the_cost_rule(panel, tmp_path):
    """10 bps commission, no spread, no leverage: the account pays what the rule charges,
    and its growth differs only by when the cost leaves (cash vs every holding)."""
    venue = BrokerVenue(instruments=_file(tmp_path, panel.symbols, commission={"bps": 10.0}))
    rules = PortfolioRules(cost_bps=10.0)
    target = np.r_[np.full(panel.n_symbols, 0.049), 0.02]
    plain, broker = _run(_core(panel, rules), target, 60), _run(_core(panel, rules.__class__(broker=venue)),
                                                                 target, 60)
    np.testing.assert_allclose(broker[0]["commission"], plain[0]["cost"], rtol=1e-9)  # from cash: rounding only
    for a, b in zip(plain, broker):
        # later trades start from drifted weights that differ by the cost's timing (~1e-3 relative)
        np.testing.assert_allclose(b["commission"], a["cost"], rtol=1e-2, atol=1e-12)
        assert b["spread"][0] == 0.0 and b["financing"][0] == 0.0
        bound = a["cost"][0] * abs(a["net_return"][0]) + abs(b["commission"][0] - a["cost"][0]) + 1e-9
        assert abs(b["net_return"][0] - a["net_return"][0]) <= bound
        np.testing.assert_allclose(b["weights"], a["weights"], atol=1e-12)


def test_spread_leverage_and_financing(panel, tmp_path):
    path = _file(tmp_path, panel.symbols, marginRate=0.2, typicalSpreadBps=10.0,
                 financing={"longRate": -0.05, "shortRate": 0.0, "financingDaysOfWeek": DAYS})
    target = np.r_[np.full(panel.n_symbols, 0.04), 0.2]
    one = _run(_core(panel, PortfolioRules(broker=BrokerVenue(instruments=path))), target, 10)
    two = _run(_core(panel, PortfolioRules(broker=BrokerVenue(instruments=path, leverage=2.0))), target, 10)
    # the first trade buys 80% (160%) of NAV at half of a 10 bps spread
    assert one[0]["spread"][0] == pytest.approx(0.8 * 5e-4, rel=1e-3)
    assert two[0]["spread"][0] == pytest.approx(1.6 * 5e-4, rel=1e-3)
    # a week of financing at -5%/year on the exposure: 7 days charged per week
    assert one[1]["financing"][0] == pytest.approx(-0.8 * 0.05 * 7 / 365, rel=0.05)
    assert two[1]["financing"][0] == pytest.approx(-1.6 * 0.05 * 7 / 365, rel=0.05)
    assert all(s["commission"][0] == 0.0 for s in one + two)
    # twice the exposure: about twice the period's excess over the costs
    gross1 = np.array([s["net_return"][0] + s["spread"][0] - s["financing"][0] for s in one[1:]])
    gross2 = np.array([s["net_return"][0] + s["spread"][0] - s["financing"][0] for s in two[1:]])
    np.testing.assert_allclose(gross2, 2 * gross1, rtol=0.05, atol=2e-4)


def test_leverage_beyond_margin_is_refused_and_the_run_goes_on(panel, tmp_path):
    path = _file(tmp_path, panel.symbols, marginRate=0.5)  # 2:1 at most
    core = _core(panel, PortfolioRules(broker=BrokerVenue(instruments=path, leverage=3.0)))
    steps = _run(core, np.r_[np.full(panel.n_symbols, 0.049), 0.02], 5)
    assert all(np.isfinite(s["net_return"]).all() for s in steps)
    book = core._books[0]
    snap = book.broker.snapshot(book.state, book._quotes(np.array([5])))
    assert snap.margin_used[0] <= snap.nav[0] * (1 + 1e-9)


def test_backtests_carry_the_cost_split(panel):
    venue = BrokerVenue(instruments="sp500_cfd_example.json", leverage=1.5)
    rules = PortfolioRules(broker=venue)
    fold = yearly_folds(panel.dates, [2019], min_train=52)[0]
    result = backtest_strategy(panel, EqualWeight(panel, rules), fold, rules)
    assert result.through_broker
    np.testing.assert_allclose(result.costs, result.spread + result.commission)
    assert result.spread.sum() > 0 and result.financing.sum() < 0
    plain = backtest_strategy(panel, EqualWeight(panel), fold, PortfolioRules())
    assert not plain.through_broker and plain.spread is None


def test_a_symbol_missing_from_the_file_is_named(panel, tmp_path):
    path = _file(tmp_path, panel.symbols[:-1])
    with pytest.raises(ConfigError, match=panel.symbols[-1]):
        _core(panel, PortfolioRules(broker=BrokerVenue(instruments=path)))


def test_the_rules_round_trip_with_a_broker():
    rules = PortfolioRules(broker=BrokerVenue(instruments="sp500_cfd_example.json", leverage=2.0))
    assert PortfolioRules.from_dict(rules.to_dict()) == rules
    assert "broker" not in PortfolioRules().to_dict()  # the equity configuration's config.json is unchanged
    with pytest.raises(ConfigError, match="leverage"):
        BrokerVenue(instruments="x.json", leverage=0.0)


def test_an_alias_trades_as_its_instrument_under_its_own_name():
    venue = BrokerVenue(instruments="sp500_cfd_example.json")
    aliased = venue.with_aliases({"UNSEEN": "MSFT"})
    broker = aliased.broker_for(["AAPL", "UNSEEN"])
    plain = venue.broker_for(["AAPL", "MSFT"])
    assert [i.name for i in broker.instruments.instruments] == ["AAPL", "UNSEEN"]
    for key in ("spread_pips", "margin_rate", "long_rate", "commission_bps"):
        np.testing.assert_array_equal(broker.instruments.arrays[key], plain.instruments.arrays[key])
    assert BrokerVenue.from_dict(aliased.to_dict()) == aliased and aliased.to_dict()["aliases"] == {"UNSEEN": "MSFT"}
    assert "aliases" not in venue.to_dict()  # every earlier run's settings read the same
    with pytest.raises(ConfigError, match="UNSEEN"):
        venue.broker_for(["AAPL", "UNSEEN"])
    with pytest.raises(ConfigError, match="aliases"):
        BrokerVenue(instruments="sp500_cfd_example.json", aliases=(("UNSEEN",),))
