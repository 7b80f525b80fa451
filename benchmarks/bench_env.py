"""Environment throughput on the embedded S&P 500 weekly sample (20 stocks + CASH).

Measures env-steps/s (portfolio decisions per second, random actions in [-1, 1],
full path: masked softmax, exact projection, costs, drift, observation) for

* the Gymnasium wrapper (one env, ``env.step``),
* the batched core with B = 1,
* the batched core with B = 64 (target: >= 1,900,000 env-steps/s).

Each figure is the best of ``--repeats`` runs by wall clock, and beside it the same by
CPU time of this process (``time.process_time``): on busy shared cores the CPU-time
figure is the steadier one. BLAS runs on one thread (``OPENBLAS_NUM_THREADS=1``, set
here before numpy loads): the step's matmuls are far below OpenBLAS's threading
threshold at B = 64, and on a busy machine idle BLAS threads only spin.

Run:  .venv/bin/python benchmarks/bench_env.py [--seconds 3] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from sacfolio.env.config import EnvConfig  # noqa: E402
from sacfolio.env.gym_env import PortfolioEnv  # noqa: E402


def _load_panel():
    try:
        from sacfolio.data import load_sp500_sample
    except ImportError:  # the loader module is optional for this benchmark
        import pandas as pd
        from skfolio.datasets import load_sp500_dataset

        from sacfolio.data.panel import MarketPanel

        prices = load_sp500_dataset()
        prices.index = pd.DatetimeIndex(prices.index)
        weekly = prices.resample("W-FRI").last()
        return MarketPanel.from_close_frame(weekly, source="embedded:sp500")
    return load_sp500_sample()


def _time_gym(env: PortfolioEnv, seconds: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, (4096, env.action_space.shape[0])).astype(np.float32)
    env.reset(seed=seed)
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        for a in actions[:256]:
            if env.step(a)[3]:
                env.reset()
        steps += 256
        actions = np.roll(actions, 1, axis=0)
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def _time_core(env: PortfolioEnv, batch: int, seconds: float, seed: int) -> tuple[float, float]:
    core = env.core
    rng = np.random.default_rng(seed)
    lo, hi = env.span
    length = core.config.episode_length
    actions = rng.uniform(-1, 1, (length, batch, core.act_dim))
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        first = rng.integers(lo, hi - length + 1, size=batch)
        core.reset(first, first + length)
        for k in range(length):
            core.step(actions[k])
        steps += length * batch
    return steps / (time.perf_counter() - start), steps / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="best of this many measurements")
    args = parser.parse_args()

    panel = _load_panel()
    env = PortfolioEnv.from_panel(panel, config=EnvConfig(), span=(52, panel.n_dates - 1))
    rows = [
        ("gym wrapper, 1 env", lambda: _time_gym(env, args.seconds, args.seed)),
        ("core, B = 1", lambda: _time_core(env, 1, args.seconds, args.seed)),
        ("core, B = 64", lambda: _time_core(env, 64, args.seconds, args.seed)),
    ]
    print(f"{panel!r}: N = {panel.n_symbols}, obs_dim = {env.core.obs_dim}, act_dim = {env.core.act_dim}")
    print(f"{'setting':<22}{'env-steps/s':>14}{'by CPU time':>14}")
    for label, run in rows:
        wall, cpu = map(max, zip(*(run() for _ in range(args.repeats))))
        print(f"{label:<22}{wall:>14,.0f}{cpu:>14,.0f}")


if __name__ == "__main__":
    main()
