"""Broker throughput: fills/s and account updates/s for B portfolios x N instruments, batched in numpy.

Instruments: the shipped example (6 FX pairs in USD/JPY/GBP/CHF, an index CFD, 3 equities)
plus copies of the equity CFD up to N, in a USD account at 50:1. Measured, each for
``--seconds``:

* ``submit``: market orders on every instrument of every portfolio (B x N fills per call),
  all fitting the margin (the fast path), and with ~half the portfolios over their margin
  (the instrument-by-instrument pass);
* ``snapshot``: NAV, margin and closeout percent of B accounts (account updates/s);
* ``step``: a whole bar (financing, orders to target weights, closeout, snapshot);
* ``env``: the weekly env (B portfolios on the embedded sample) stepped with and without
  the broker in the loop (``--broker sp500_cfd_example.json``), side by side in one run.

Run:  .venv/bin/python benchmarks/bench_broker.py [--portfolios 64] [--instruments 20] [--seconds 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from sacfolio.broker.account import AccountConfig
from sacfolio.broker.instruments import InstrumentSet, load_instruments
from sacfolio.broker.quotes import quotes_from_mid
from sacfolio.broker.rules import PortfolioRules
from sacfolio.broker.simulator import Broker
from sacfolio.broker.venue import BrokerVenue


def _instruments(n: int) -> InstrumentSet:
    example = load_instruments()
    rows = list(example.instruments)
    template = rows[example.index("AAPL")]
    rows += [dataclasses.replace(template, name=f"EQ{k:02d}") for k in range(max(0, n - len(rows)))]
    return InstrumentSet(tuple(rows[:n]), source="benchmark")


def _rate(fn, seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(20):
            fn()
        calls += 20
    return calls / (time.perf_counter() - start)


def _env_rate(b: int, rules: PortfolioRules, seconds: float) -> float:
    """Env-steps/s of B portfolios on the embedded sample trading to random targets under ``rules``."""
    from sacfolio.data.sources.sample import load_sp500_sample
    from sacfolio.env.config import EnvConfig
    from sacfolio.env.core import PortfolioCore

    panel = load_sp500_sample()
    core = PortfolioCore(panel.simple_returns(), np.zeros((panel.n_dates, panel.n_symbols, 0)), panel.available,
                         EnvConfig(rules=rules), panel=panel)
    rng = np.random.default_rng(0)
    targets = rng.dirichlet(np.ones(panel.n_symbols + 1), size=(64, b))
    start = rng.integers(0, panel.n_dates - 60, b)
    state = {"k": 0}

    def step() -> None:
        if state["k"] % 50 == 0:
            core.reset(start, start + 50)
        core.step_weights(targets[state["k"] % 64])
        state["k"] += 1

    return _rate(step, seconds) * b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--portfolios", type=int, default=64)
    parser.add_argument("--instruments", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    b, n = args.portfolios, args.instruments
    instruments = _instruments(n)
    broker = Broker(instruments, AccountConfig(home_currency="USD", max_leverage=50))
    rng = np.random.default_rng(args.seed)
    mids = {"EUR_USD": 1.1, "USD_JPY": 150.0, "GBP_USD": 1.27, "EUR_GBP": 0.866, "USD_CHF": 0.88,
            "AUD_USD": 0.66, "SPX500_USD": 4800.0}
    mid = np.array([mids.get(name, 150.0) for name in instruments.names])
    quotes = quotes_from_mid(mid * np.exp(rng.normal(0, 0.01, (b, n))), instruments, 14)
    state = broker.open(b, 1_000_000.0)
    state, _ = broker.submit(state, np.round(rng.normal(0, 200, (b, n))), quotes)
    fit = np.round(rng.normal(0, 100, (b, n)))
    assert (broker.submit(state, fit, quotes)[1].reason != 3).all(), "the fast-path orders must all fit"
    over = fit.copy()
    over[: b // 2] *= 20_000  # far beyond the margin of half the portfolios
    weights = rng.normal(0, 0.05, (b, n))
    days = np.ones(n)

    results = {
        "submit (all fit)": _rate(lambda: broker.submit(state, fit, quotes), args.seconds),
        "submit (half over margin)": _rate(lambda: broker.submit(state, over, quotes), args.seconds),
        "snapshot": _rate(lambda: broker.snapshot(state, quotes), args.seconds),
        "step (financing+orders+closeout)": _rate(
            lambda: broker.step(state, quotes, weights=weights, days=days), args.seconds),
    }
    print(f"broker benchmark: {b} portfolios x {n} instruments, numpy {np.__version__}")
    for name, calls in results.items():
        per = "fills" if name.startswith("submit") else "account updates"
        scale = b * n if name.startswith("submit") else b
        print(f"  {name:34s} {calls:10,.0f} calls/s  {calls * scale:14,.0f} {per}/s  {1e6 / calls:8.1f} us/call")
    plain = _env_rate(b, PortfolioRules(), args.seconds)
    broker_rate = _env_rate(b, PortfolioRules(broker=BrokerVenue(instruments="sp500_cfd_example.json")),
                            args.seconds)
    print(f"  weekly env, {b} portfolios x 20 stocks: {plain:12,.0f} env-steps/s equity rules, "
          f"{broker_rate:12,.0f} through the broker ({broker_rate / plain:.2f}x)")


if __name__ == "__main__":
    main()
