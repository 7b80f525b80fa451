"""The paper loop on small real sessions: resume, replay = backtest, attribution, bad input."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from _paper_helpers import CONFIG, make_loop

from sacfolio.env.allocation_run import run_book
from sacfolio.env.allocation_state import StrategySet
from sacfolio.paper.errors import LedgerError
from sacfolio.paper.ledger import Ledger
from sacfolio.paper.reconcile import reconcile
from sacfolio.paper.sources import Bar, bar_stream
from sacfolio.strategies.expert import StaticWeights, load_static_weights


def _run(path, strategies, bars, **kwargs):
    loop = make_loop(path, strategies)
    summary = loop.run(bar_stream(bars, loop.broker.instruments), **kwargs)
    return loop, summary


def _navs(ledger: Ledger) -> np.ndarray:
    return np.array([r["nav"] for r in ledger.rows("SELECT nav FROM account ORDER BY seq")])


def test_a_stopped_session_resumes_and_replays_to_the_backtest_exactly(tmp_path, small_bars, strategies,
                                                                       exact_inputs):
    db = tmp_path / "paper.sqlite3"
    loop, first = _run(db, strategies, small_bars, max_bars=30)
    loop.ledger.close()
    loop, second = _run(db, strategies, small_bars)
    assert (first.processed, second.skipped_on_resume, second.processed) == (30, 30, len(small_bars.times) - 30)
    static = StaticWeights(load_static_weights(None, strategies.names))
    backtest = run_book(exact_inputs, static, CONFIG)
    navs = _navs(loop.ledger)
    assert np.array_equal(navs[exact_inputs.first:], backtest.nav)  # bit for bit
    pnl = loop.ledger.rows("SELECT strategy, SUM(pnl) AS pnl, SUM(cost) AS cost FROM strategy_pnl "
                           "WHERE seq >= ? GROUP BY strategy", (exact_inputs.first,))
    by_name = {r["strategy"]: (r["pnl"], r["cost"]) for r in pnl}
    for k, name in enumerate([*strategies.names, "CASH"]):
        assert by_name[name][0] == pytest.approx(backtest.strategy_pnl[:, k].sum(), abs=1e-8)
        assert by_name[name][1] == pytest.approx(backtest.strategy_cost[:, k].sum(), abs=1e-8)
    check = reconcile(loop.ledger)
    assert check.ok, check.problems
    assert check.max_attribution_error < 1e-8 and check.trades > 0
    kinds = [r["kind"] for r in loop.ledger.rows("SELECT kind FROM events")]
    assert kinds == ["resumed"]


def test_every_trade_names_its_strategies_with_shares(tmp_path, small_bars, strategies):
    loop, _ = _run(tmp_path / "p.sqlite3", strategies, small_bars, max_bars=40)
    trades = loop.ledger.rows("SELECT client_order_id, units, strategies FROM trades")
    assert trades
    for t in trades:
        owners = json.loads(t["strategies"])
        assert {o["strategy"] for o in owners} <= set(strategies.names)
        assert sum(o["share"] for o in owners) == pytest.approx(1.0)
        assert sum(o["units"] for o in owners) == pytest.approx(t["units"])
    source = loop.ledger.rows("SELECT DISTINCT source, reason FROM account")
    assert source == [{"source": "fallback", "reason": "no model registry given; static weights (built-in defaults)"}]


def test_a_bad_source_is_skipped_and_reported(tmp_path, small_bars, strategies):
    loop = make_loop(tmp_path / "p.sqlite3", strategies, stall_seconds=0.0)
    bars = list(bar_stream(small_bars, loop.broker.instruments))[:20]
    halted = bars[12]._replace(tradable=np.array([False] + [True] * 4))
    feed = bars[:10] + [bars[9], bars[5], None, None] + bars[10:12] + [halted] + bars[13:]
    summary = loop.run(feed, poll_seconds=0.0)
    kinds = [r["kind"] for r in loop.ledger.rows("SELECT kind FROM events ORDER BY id")]
    assert summary.processed == 20 and summary.rejected_bars == 2 and summary.stalls == 1
    assert kinds[:3] == ["bar_repeated", "bar_out_of_order", "source_stalled"]
    refused = loop.ledger.rows("SELECT * FROM orders WHERE status = 'refused'")
    assert refused and all(r["reason"] == "MARKET_HALTED" and r["instrument"] == "AAPL" for r in refused)
    assert "order_refused" in kinds
    assert reconcile(loop.ledger).ok


def test_a_strategy_with_nan_targets_gets_no_capital_that_bar(tmp_path, small_bars, strategies):
    def broken(history, mask):
        out = strategies.weights(history, mask)
        if history[0, 0, -1, 0] > history[0, 0, -2, 0]:  # whenever the first stock rose: NaN
            out[:, 0] = np.nan
        return out

    loop = make_loop(tmp_path / "p.sqlite3", StrategySet(strategies.names, broken))
    loop.run(bar_stream(small_bars, loop.broker.instruments), max_bars=40)
    zeroed = loop.ledger.rows("SELECT seq, share FROM allocations WHERE zeroed = 1")
    assert zeroed and all(r["share"] == 0.0 for r in zeroed)
    events = loop.ledger.rows("SELECT seq, detail FROM events WHERE kind = 'strategy_zeroed'")
    assert [e["seq"] for e in events] == [z["seq"] for z in zeroed]
    assert all(e["detail"].startswith("momentum") for e in events)
    assert reconcile(loop.ledger).ok


def test_a_corrupt_ledger_is_kept_aside_and_never_overwritten(tmp_path):
    db = tmp_path / "paper.sqlite3"
    garbage = b"this is not a database" * 100
    db.write_bytes(garbage)
    with pytest.raises(LedgerError, match="not a readable SQLite database") as err:
        Ledger.open(db)
    kept = list(tmp_path.glob("paper.sqlite3.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == garbage and str(kept[0]) in str(err.value)
    assert not db.exists()


def test_a_foreign_sqlite_file_or_other_settings_are_refused(tmp_path, small_bars, strategies):
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE jobs (id TEXT)")
    with pytest.raises(LedgerError, match="not a paper ledger"):
        Ledger.open(other)
    db = tmp_path / "paper.sqlite3"
    _run(db, strategies, small_bars, max_bars=2)[0].ledger.close()
    with pytest.raises(LedgerError, match="other settings"):
        make_loop(db, strategies, symbols=("AAPL", "AMD", "BAC", "BBY", "GE"))


def test_without_a_promoted_model_the_static_weights_trade(tmp_path, strategies):
    from sacfolio.paper.allocators import select_allocator

    chosen = select_allocator(home=tmp_path / "models", model="meta_sac", strategies=strategies.names,
                              config=CONFIG)
    assert chosen.source == "fallback" and "no promoted version of meta_sac" in chosen.reason
    weights = chosen.allocate(np.zeros(10), np.zeros(len(strategies)))
    assert np.allclose(weights, load_static_weights(None, strategies.names))
