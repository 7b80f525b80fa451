"""Agent-updates/s of K SAC agents trained as one batched model, beside Stable-Baselines3.

An agent-update is one SAC gradient step of one agent (batch 64, 64x64 networks, the
embedded S&P 500 sample's sizes: obs 141, actions 21, gradient clipping at 1.0).
Measured by process CPU time (steadier than wall time on a shared machine), runs
interleaved so each contender sees the same load:

* ``sb3``: SB3's ``SAC.train`` on a filled replay buffer, one agent;
* ``sacfolio``: one :class:`~sacfolio.agents.sac.SAC` (the hand-derived fast path);
* ``batched K``: :class:`~sacfolio.agents.batched.BatchedSAC` with K agents, replay
  sampling included (each agent its own buffer and generator);
* ``batched K x 2 processes``: two such processes at once (wall time, agent-updates
  of both), to see what the second core adds.

    .venv/bin/python benchmarks/bench_ensemble.py --agents 16 --updates 100 --repeats 3
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sacfolio.agents import SAC, ReplayBatch, ReplayBuffer, SACConfig  # noqa: E402
from sacfolio.agents.batched import BatchedSAC  # noqa: E402

OBS, ACT, BATCH = 141, 21, 64


def _buffer(seed: int, n: int = 2000) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, capacity=n)
    for _ in range(n):
        act = rng.uniform(-1, 1, ACT)
        buf.add(rng.standard_normal(OBS), act, 0.01 * rng.standard_normal(), rng.standard_normal(OBS), False)
    return buf


def _sb3_model():
    from stable_baselines3 import SAC as SB3SAC

    from sacfolio.data import load_sp500_sample
    from sacfolio.env import PortfolioEnv

    env = PortfolioEnv.from_panel(load_sp500_sample(start="2005-01-01", end="2014-12-31"))  # obs 141, act 21
    model = SB3SAC("MlpPolicy", env, seed=0, device="cpu", verbose=0, batch_size=BATCH, buffer_size=2000,
                   learning_starts=0, ent_coef="auto_0.2",
                   policy_kwargs=dict(net_arch=[64, 64], optimizer_kwargs=dict(weight_decay=1e-4)))
    rng = np.random.default_rng(0)
    for _ in range(2000):
        model.replay_buffer.add(rng.standard_normal((1, OBS)).astype(np.float32),
                                rng.standard_normal((1, OBS)).astype(np.float32),
                                rng.uniform(-1, 1, (1, ACT)).astype(np.float32),
                                np.array([0.01]), np.array([False]), [{}])
    model._setup_learn(1, None)
    return model


def _contenders(k: int) -> dict[str, tuple[object, int]]:
    """name -> (a callable doing ``n`` updates, agent-updates per call of n=1)."""
    model = _sb3_model()
    sac = SAC(OBS, ACT, config=SACConfig(), seed=0)
    one = _buffer(0)
    batched = BatchedSAC(OBS, ACT, seeds=range(k), config=SACConfig())
    buffers = [_buffer(s) for s in range(k)]

    def sb3(n: int) -> None:
        model.train(gradient_steps=n, batch_size=BATCH)

    def single(n: int) -> None:
        for _ in range(n):
            sac.update(one.sample(BATCH, sac.generator))

    def stacked(n: int) -> None:
        for _ in range(n):
            batches = [buf.sample(BATCH, g) for buf, g in zip(buffers, batched.generators)]
            batched.update(ReplayBatch(*(torch.stack(f) for f in list(zip(*batches))[:5])))

    return {"sb3": (sb3, 1), "sacfolio": (single, 1), f"batched K={k}": (stacked, k)}


def _child(k: int, updates: int, queue, go) -> None:
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    run, per = _contenders(k)[f"batched K={k}"]
    run(5)
    queue.put(None)            # ready
    go.wait()
    start = time.perf_counter()
    run(updates)
    queue.put(updates * per / (time.perf_counter() - start))


def _two_processes(k: int, updates: int) -> float:
    ctx = mp.get_context("spawn")
    queues, go = [ctx.Queue() for _ in range(2)], ctx.Event()
    procs = [ctx.Process(target=_child, args=(k, updates, q, go)) for q in queues]
    for p in procs:
        p.start()
    for q in queues:
        q.get()
    go.set()
    rates = [q.get() for q in queues]
    for p in procs:
        p.join()
    return sum(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=16, help="K agents in the batched model (default 16)")
    parser.add_argument("--updates", type=int, default=100, help="updates per measurement (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved measurements (default 3)")
    parser.add_argument("--no-processes", action="store_true", help="skip the 2-process row")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    contenders = _contenders(args.agents)
    for run, _ in contenders.values():
        run(5)  # warm up
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.repeats):
        for name, (run, per) in contenders.items():
            n = args.updates if per > 1 else args.updates * 4
            start = time.process_time()
            run(n)
            rates[name].append(n * per / (time.process_time() - start))
    base = statistics.median(rates["sb3"])
    print(f"obs {OBS}, actions {ACT}, batch {BATCH}, torch {torch.__version__}, 1 thread per process")
    print(f"{'contender':<28}{'agent-updates/s':>16}{'x SB3':>8}")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:<28}{rate:>16,.0f}{rate / base:>8.2f}")
    if not args.no_processes:
        rate = _two_processes(args.agents, args.updates)
        print(f"{f'batched K={args.agents} x 2 processes':<28}{rate:>16,.0f}{rate / base:>8.2f}  (wall)")


if __name__ == "__main__":
    main()
