"""Act latency of the exported numpy policy (serving, backtests) beside the torch actor.

Deterministic action ``tanh(mean(obs))`` of a 64x64 actor with the embedded S&P 500
sample's sizes (obs 141, actions 21), batch 1 and batch 64, best of ``--repeats``
timings of ``--calls`` calls each (many short timings: on busy cores the best one is the
least disturbed). Beside it, the same layers as the plain numpy expression
``tanh(relu(relu(x @ w0 + b0) @ w1 + b1) @ w2 + b2)`` with a new array per operation
(the anchor: a bare numpy 64x64 MLP), in the same run. Target: <= 10 µs at batch 1. BLAS runs on one
thread (``OPENBLAS_NUM_THREADS=1``): on a busy 2-core machine a multi-threaded
OpenBLAS turns a 64-row matmul from ~0.1 ms into milliseconds.

    .venv/bin/python benchmarks/bench_policy.py [--calls 2000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sacfolio.agents import GaussianActor, NumpyPolicy  # noqa: E402

OBS, ACT = 141, 21


def _best_us(call, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def _plain(policy: NumpyPolicy):
    """The policy's layers as a plain numpy expression, one new array per operation."""
    layers = list(zip(policy.weights, policy.biases))

    def act(x: np.ndarray) -> np.ndarray:
        for w, b in layers[:-1]:
            x = np.maximum(np.dot(x, w) + b, 0.0)
        return np.tanh(np.dot(x, layers[-1][0]) + layers[-1][1])
    return act


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per timing (batch 1; batch 64: /10)")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    actor = GaussianActor(OBS, ACT, generator=torch.Generator().manual_seed(0))
    policy = NumpyPolicy.from_actor(actor)
    rng = np.random.default_rng(0)
    rows = {1: rng.standard_normal(OBS).astype(np.float32), 64: rng.standard_normal((64, OBS)).astype(np.float32)}
    print(f"64x64 actor, obs {OBS}, actions {ACT}, numpy {np.__version__}, torch {torch.__version__}, 1 thread")
    print(f"{'contender':<26}{'batch 1 µs':>12}{'batch 64 µs':>13}")
    for name, act in (("NumpyPolicy", policy), ("plain numpy expression", _plain(policy)),
                      ("torch actor.act", lambda x: actor.act(torch.from_numpy(np.atleast_2d(x))))):
        us = [_best_us(lambda: act(rows[b]), args.calls // (1 if b == 1 else 10), args.repeats) for b in (1, 64)]
        print(f"{name:<26}{us[0]:>12.1f}{us[1]:>13.1f}")


if __name__ == "__main__":
    main()
