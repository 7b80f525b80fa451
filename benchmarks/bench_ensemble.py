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

``--aux`` gives the sacfolio rows the portfolio default's learner (aux return heads,
reward scale 100; SB3 has no aux heads). Batched agents equal their separate runs bit
for bit here (``tests/agents/test_batched_sac.py`` holds them to 1e-5).

``--walk-forward`` instead times a small walk-forward with ``--seeds`` members per fold
(the portfolio default learner, 2 folds): members trained together vs one task each
(``SACFOLIO_BATCHED_ENSEMBLES=0``), with 1 process and with 2, and checks that the
ensemble's backtest weights agree.

    .venv/bin/python benchmarks/bench_ensemble.py --agents 16 --updates 100 --repeats 3
    .venv/bin/python benchmarks/bench_ensemble.py --walk-forward --seeds 5 --steps 600
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


def _buffer(seed: int, n: int = 2000, aux: bool = False) -> ReplayBuffer:
    rng = np.random.default_rng(seed)
    buf = ReplayBuffer(OBS, ACT, capacity=n, aux_shape=(2, ACT - 1) if aux else None)
    for _ in range(n):
        act = rng.uniform(-1, 1, ACT)
        target = 0.03 * rng.standard_normal((2, ACT - 1)) if aux else None
        buf.add(rng.standard_normal(OBS), act, 0.01 * rng.standard_normal(), rng.standard_normal(OBS), False, target)
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


def _contenders(k: int, aux: bool = False) -> dict[str, tuple[object, int]]:
    """name -> (a callable doing ``n`` updates, agent-updates per call of n=1)."""
    model = _sb3_model()
    config = SACConfig(aux=True, reward_scale=100.0) if aux else SACConfig()
    sac = SAC(OBS, ACT, config=config, seed=0)
    one = _buffer(0, aux=aux)
    batched = BatchedSAC(OBS, ACT, seeds=range(k), config=config)
    buffers = [_buffer(s, aux=aux) for s in range(k)]

    def sb3(n: int) -> None:
        model.train(gradient_steps=n, batch_size=BATCH)

    def single(n: int) -> None:
        for _ in range(n):
            sac.update(one.sample(BATCH, sac.generator))

    def stacked(n: int) -> None:
        for _ in range(n):
            batches = [buf.sample(BATCH, g) for buf, g in zip(buffers, batched.generators)]
            targets = None if not aux else torch.stack([b.aux_targets for b in batches])
            batched.update(ReplayBatch(*(torch.stack(f) for f in list(zip(*batches))[:5]), aux_targets=targets))

    return {"sb3": (sb3, 1), "sacfolio": (single, 1), f"batched K={k}": (stacked, k)}


def _child(k: int, updates: int, aux: bool, queue, go) -> None:
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    run, per = _contenders(k, aux)[f"batched K={k}"]
    run(5)
    queue.put(None)            # ready
    go.wait()
    start = time.perf_counter()
    run(updates)
    queue.put(updates * per / (time.perf_counter() - start))


def _two_processes(k: int, updates: int, aux: bool) -> float:
    ctx = mp.get_context("spawn")
    queues, go = [ctx.Queue() for _ in range(2)], ctx.Event()
    procs = [ctx.Process(target=_child, args=(k, updates, aux, q, go)) for q in queues]
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
    parser.add_argument("--aux", action="store_true", help="sacfolio rows with the portfolio default's aux heads")
    parser.add_argument("--walk-forward", action="store_true", help="time a small walk-forward instead")
    parser.add_argument("--seeds", type=int, default=5, help="walk-forward: members per fold (default 5)")
    parser.add_argument("--steps", type=int, default=600, help="walk-forward: steps of the first fold (default 600)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    if args.walk_forward:
        _walk_forward(args.seeds, args.steps)
        return
    contenders = _contenders(args.agents, args.aux)
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
    print(f"obs {OBS}, actions {ACT}, batch {BATCH}, torch {torch.__version__}, 1 thread per process"
          + (", sacfolio rows with aux heads" if args.aux else ""))
    print(f"{'contender':<28}{'agent-updates/s':>16}{'x SB3':>8}")
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:<28}{rate:>16,.0f}{rate / base:>8.2f}")
    if not args.no_processes:
        rate = _two_processes(args.agents, args.updates, args.aux)
        print(f"{f'batched K={args.agents} x 2 processes':<28}{rate:>16,.0f}{rate / base:>8.2f}  (wall)")


def _walk_forward(seeds: int, steps: int) -> None:
    """Wall time of a 2-fold walk-forward with ``seeds`` members per fold, batched or not, 1 or 2 processes."""
    import dataclasses

    from sacfolio.data import load_sp500_sample
    from sacfolio.evaluate.walkforward import WalkForwardConfig
    from sacfolio.train.ensemble import BATCHED_ENSEMBLES_ENV
    from sacfolio.train.portfolio import PORTFOLIO_SAC
    from sacfolio.workflows.walkforward import run_walk_forward

    panel = load_sp500_sample(start="2012-01-01")
    config = WalkForwardConfig(years=(2021, 2022), train_steps=steps, fold_steps=steps // 2, seeds=seeds,
                               baselines=("equal_weight",), variant="sac_price")
    sac = dataclasses.replace(PORTFOLIO_SAC, warmup_steps=100)
    print(f"walk-forward 2021-2022, {seeds} seeds per fold, {steps} + {steps // 2} steps per member, "
          f"portfolio default SAC (aux heads), torch {torch.__version__}, 1 thread per process")
    weights = {}
    for batched in ("1", "0"):
        for executor, workers in (("local", None), ("process", 2)):
            os.environ[BATCHED_ENSEMBLES_ENV] = batched
            start = time.perf_counter()
            result, _ = run_walk_forward(panel, config=config, sac_config=sac, progress=False, executor=executor,
                                         workers=workers)
            wall = time.perf_counter() - start
            weights[(batched, executor)] = np.concatenate([r.weights for r in result.results["sac"]])
            name = f"{'together' if batched == '1' else 'separate'}, {executor}" + (" x2" if workers else "")
            print(f"{name:<24}{wall:>8.1f} s wall")
    base = weights[("0", "local")]
    gap = max(float(np.abs(w - base).max()) for w in weights.values())
    print(f"largest difference of the ensemble's backtest weights from separate/local: {gap:.2e}")


if __name__ == "__main__":
    main()
