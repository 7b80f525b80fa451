"""meta_sac end to end on a small market: walk-forward against the baselines, registered and gated,
then loaded by the paper loop, whose session replays to the backtest of the same policy exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from _paper_helpers import CONFIG, SYMBOLS

from sacfolio.env.allocation_run import allocation_inputs, run_book
from sacfolio.paper.allocators import select_allocator
from sacfolio.paper.ledger import Ledger
from sacfolio.paper.loop import PaperLoop
from sacfolio.paper.reconcile import reconcile
from sacfolio.paper.sources import bar_stream, load_source_bars
from sacfolio.registry.registry import Registry
from sacfolio.workflows.meta import META_SAC, MetaSettings, evaluate_meta, summary_rows
from sacfolio.workflows.meta_gate import register_meta
from sacfolio.workflows.meta_model import load_meta_policy

SETTINGS = MetaSettings(steps=100, fold_steps=60, folds=1, test_sessions=2, episode_length=39, seed=1,
                        sac=META_SAC.__class__.from_dict({**META_SAC.to_dict(), "warmup_steps": 40,
                                                          "batch_size": 32, "buffer_size": 1000}))


@pytest.fixture(scope="module")
def market(strategies):
    bars = load_source_bars(n_bars=3 * 78, symbols=SYMBOLS, seed=11)
    return allocation_inputs(bars, strategies, CONFIG, exact=False)


def test_walk_forward_scores_meta_sac_against_every_baseline(market):
    evaluation = evaluate_meta(market, CONFIG, dataclasses.replace(SETTINGS, test_sessions=1))
    rows = {r["method"]: r for r in summary_rows(evaluation)}
    assert set(rows) == {"meta_sac", "static", "equal", "best_sharpe", "exp_gradient", "adahedge"}
    assert all(np.isfinite(r["total_return"]) and r["costs"] > 0 for r in rows.values())
    (lo, hi), = evaluation.folds
    assert hi == len(market.times) and hi - lo == 78
    for runs in evaluation.runs.values():
        run = runs[0]
        assert np.max(np.abs((run.strategy_pnl - run.strategy_cost).sum(axis=1) - run.pnl)) < 1e-8


def test_a_registered_meta_sac_trades_the_paper_session(tmp_path, market, strategies, small_bars, exact_inputs):
    registry = Registry(tmp_path / "models")
    outcome = register_meta(market, CONFIG, SETTINGS, registry)
    decision = outcome.decision
    assert decision.candidate_cagr is not None and decision.baseline_cagr is not None
    assert decision.candidate_in_sample_weeks == 0 and not decision.health_problems
    if not decision.promoted:  # a 120-step model rarely beats the static weights: promote it by hand
        assert "static fallback" in decision.reason
        registry.set_current("meta_sac", outcome.version, reason="test: trade the candidate")
    chosen = select_allocator(home=tmp_path / "models", model="meta_sac", strategies=strategies.names,
                              config=CONFIG)
    assert chosen.source == "model" and outcome.version in chosen.reason
    loop = PaperLoop(Ledger.open(tmp_path / "paper.sqlite3"), symbols=small_bars.symbols, strategies=strategies,
                     config=CONFIG, allocate=chosen.allocate, source=chosen.source, reason=chosen.reason,
                     fallback=chosen.fallback)
    loop.run(bar_stream(small_bars, loop.broker.instruments))
    assert reconcile(loop.ledger).ok
    navs = np.array([r["nav"] for r in loop.ledger.rows("SELECT nav FROM account ORDER BY seq")])
    policy = load_meta_policy(registry, "meta_sac").allocator()
    assert np.array_equal(navs[exact_inputs.first:], run_book(exact_inputs, policy, CONFIG).nav)
    shares = loop.ledger.rows("SELECT seq, share FROM allocations WHERE strategy = 'momentum' ORDER BY seq")
    assert len({round(r["share"], 9) for r in shares[exact_inputs.first:]}) > 1  # it reallocates bar by bar
