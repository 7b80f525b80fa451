"""SIGKILL at random points: the next start resumes from the ledger, reconciled, no order twice,
and the finished session equals the uninterrupted backtest bit for bit.

A forked child runs the loop (imports already loaded, so a kill cycle costs milliseconds);
the parent kills it at a random moment (of the start-up, or into a bar after one was
committed), then checks the ledger. ``SACFOLIO_PAPER_KILLS``
sets the number of kills (default 20; ``make faults`` can run hundreds)."""

from __future__ import annotations

import multiprocessing
import os
import random
import sqlite3
import time
from contextlib import closing

import numpy as np
import pytest

from _paper_helpers import CONFIG, ZOO, make_loop

from sacfolio.env.allocation_run import allocation_inputs, run_book
from sacfolio.env.allocation_state import zoo_strategies
from sacfolio.paper.ledger import Ledger
from sacfolio.paper.reconcile import reconcile
from sacfolio.paper.sources import bar_stream
from sacfolio.strategies.expert import StaticWeights, load_static_weights

KILLS = int(os.environ.get("SACFOLIO_PAPER_KILLS", "20"))
FAST = ("momentum", "mean_reversion", "ma_crossover", "breakout", "vol_target", "rsi", "bollinger", "risk_parity")
"""The zoo without min_variance (its solver is 2/3 of a bar's time): more bars per kill cycle."""
BUDGET_SECONDS = float(os.environ.get("SACFOLIO_PAPER_KILL_SECONDS", "25"))


def _committed(path) -> int:
    """Bars in the ledger now (0 while it is being created), read beside the writing child."""
    if not path.exists():
        return 0
    with closing(sqlite3.connect(path, timeout=5.0)) as conn:
        try:
            return conn.execute("SELECT COUNT(*) FROM bars").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def _kill_point(child, path, rng: random.Random, cycle: int) -> None:
    """Odd cycles: a random moment of the start-up or the first bars; even ones: just after
    a new bar was committed, a random moment into the next (mid-bar, mid-transaction)."""
    if cycle % 2:
        child.join(rng.uniform(0.01, 0.15))
        return
    before, deadline = _committed(path), time.monotonic() + 5.0
    while child.is_alive() and _committed(path) <= before and time.monotonic() < deadline:
        time.sleep(0.005)
    child.join(rng.uniform(0.0, 0.04))


def _child(path, strategies, bars) -> None:
    loop = make_loop(path, strategies)
    loop.run(bar_stream(bars, loop.broker.instruments))
    os._exit(0)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork (Linux)")
def test_sigkill_at_random_points_always_resumes_reconciled(tmp_path, small_bars):
    strategies = zoo_strategies(CONFIG.rules, FAST, config=ZOO)
    db = tmp_path / "paper.sqlite3"
    context = multiprocessing.get_context("fork")
    rng = random.Random(int(os.environ.get("SACFOLIO_PAPER_KILL_SEED", "13")))
    kills, finished, deadline = 0, False, time.monotonic() + BUDGET_SECONDS
    done_before, sessions = -1, 0
    while kills < KILLS and time.monotonic() < deadline:
        child = context.Process(target=_child, args=(db, strategies, small_bars))
        child.start()
        _kill_point(child, db, rng, kills)
        if child.is_alive():
            child.kill()  # SIGKILL
            kills += 1
        child.join()
        assert child.exitcode in (0, -9), f"the loop failed (exit code {child.exitcode})"
        ledger = Ledger.open(db)
        try:
            check = reconcile(ledger)
            assert check.ok, check.problems
            assert check.bars >= done_before  # never loses a committed bar
            done_before = check.bars
            finished = check.bars == len(small_bars.times)
        finally:
            ledger.close()
        if finished and kills < KILLS:  # a fast machine ran every bar first: kill a fresh session too
            sessions += 1
            db = tmp_path / f"paper{sessions}.sqlite3"
            done_before, finished = -1, False
        elif finished:
            break
    print(f"{kills} kills, {check.bars} bars committed before the last start")
    assert kills >= min(KILLS, 20), f"only {kills} kills landed"
    loop = make_loop(db, strategies)
    loop.run(bar_stream(small_bars, loop.broker.instruments))
    check = reconcile(loop.ledger)
    assert check.ok and check.bars == len(small_bars.times)
    ids = [r["client_order_id"] for r in loop.ledger.rows("SELECT client_order_id FROM orders")]
    assert len(ids) == len(set(ids))
    navs = np.array([r["nav"] for r in loop.ledger.rows("SELECT nav FROM account ORDER BY seq")])
    exact_inputs = allocation_inputs(small_bars, strategies, CONFIG, exact=True)
    backtest = run_book(exact_inputs, StaticWeights(load_static_weights(None, strategies.names)), CONFIG)
    assert np.array_equal(navs[exact_inputs.first:], backtest.nav)
