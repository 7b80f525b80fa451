"""sacfolio's SAC against Stable-Baselines3's SAC on the same PortfolioEnv.

Both train on the embedded S&P 500 sample (20 stocks, weekly) with the same
hyperparameters — 64x64 networks, batch 64, replay 10,000, lr 3e-4, tau 0.005,
gamma 0.99, entropy coefficient tuned from 0.2 towards -|A|, 100 random warm-up
steps, one gradient update per env step, Adam weight decay 1e-4 on the networks
and no gradient clipping (SB3 has none) — one torch thread each, runs interleaved
so both see the same machine load. Prints env-steps/s by wall clock and by process
CPU time (steadier on a shared machine) and the sacfolio/SB3 ratio. A third row
runs sacfolio's default config, which adds gradient-norm clipping at 1.0, a
fourth adds the auxiliary return heads (horizons 1 and 4, coefficients 0.01), the
portfolio default's learner (on the hand-derived fast path since the aux heads have
one), and a fifth runs that same config through autograd (``SAC.use_fast_path = False``),
the update the fast path replaced.
Every sacfolio row runs with the default health monitor (a check every 1,000 updates).

    .venv/bin/python benchmarks/bench_sac.py --steps 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sacfolio.agents import SAC, SACConfig  # noqa: E402
from sacfolio.data import load_sp500_sample  # noqa: E402
from sacfolio.env import PortfolioEnv  # noqa: E402
from sacfolio.train.off_policy import train_sac  # noqa: E402

SB3_SAME_AS_SEED_001 = dict(learning_rate=3e-4, buffer_size=10_000, learning_starts=100, batch_size=64,
                            tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
                            ent_coef="auto_0.2", target_entropy="auto")


def _make_env(start: str, end: str) -> PortfolioEnv:
    return PortfolioEnv.from_panel(load_sp500_sample(start=start, end=end))


def _run_sb3(env: PortfolioEnv, steps: int, seed: int) -> None:
    from stable_baselines3 import SAC as SB3SAC

    model = SB3SAC("MlpPolicy", env, seed=seed, device="cpu", verbose=0,
                   policy_kwargs=dict(net_arch=[64, 64], optimizer_kwargs=dict(weight_decay=1e-4)),
                   **SB3_SAME_AS_SEED_001)
    model.learn(total_timesteps=steps)


def _runner(config: SACConfig, aux_returns: np.ndarray | None = None, fast: bool = True
            ) -> Callable[[PortfolioEnv, int, int], None]:
    def run(env: PortfolioEnv, steps: int, seed: int) -> None:
        SAC.use_fast_path = fast
        try:
            train_sac(env, config=config, total_steps=steps, seed=seed, progress=False, aux_returns=aux_returns)
        finally:
            SAC.use_fast_path = True
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="env steps per run (default 2000)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each (default 3)")
    parser.add_argument("--start", default="2005-01-01", help="first date of the training data")
    parser.add_argument("--end", default="2014-12-31", help="last date of the training data")
    args = parser.parse_args()

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    # aux labels: returns of the same rows the env is built from
    returns = load_sp500_sample(start=args.start, end=args.end).simple_returns()
    contenders = {
        "sb3": _run_sb3,
        "sacfolio": _runner(SACConfig(grad_clip_norm=None)),
        "sacfolio+clip": _runner(SACConfig()),
        "sacfolio+aux": _runner(SACConfig(aux=True), returns),
        "+aux autograd": _runner(SACConfig(aux=True), returns, fast=False),
    }
    env = _make_env(args.start, args.end)
    print(f"env: obs {env.observation_space.shape[0]}, actions {env.action_space.shape[0]}, "
          f"{args.steps} steps x {args.repeats} repeats, torch {torch.__version__}, 1 thread")
    _run_sb3(_make_env(args.start, args.end), 300, 0)  # warm both up (imports, allocator)
    _runner(SACConfig())(_make_env(args.start, args.end), 300, 0)

    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for rep in range(args.repeats):
        for name, run in contenders.items():
            env = _make_env(args.start, args.end)
            t_wall, t_cpu = time.perf_counter(), time.process_time()
            run(env, args.steps, rep)
            wall[name].append(args.steps / (time.perf_counter() - t_wall))
            cpu[name].append(args.steps / (time.process_time() - t_cpu))
            print(f"  repeat {rep} {name:14s} {wall[name][-1]:7.1f} steps/s wall "
                  f"{cpu[name][-1]:7.1f} steps/s cpu")

    print(f"\n{'':14s} {'wall steps/s':>13s} {'cpu steps/s':>12s} {'x SB3 (wall)':>13s} {'x SB3 (cpu)':>12s}")
    base_w, base_c = statistics.median(wall["sb3"]), statistics.median(cpu["sb3"])
    for name in contenders:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        print(f"{name:14s} {w:13.1f} {c:12.1f} {w / base_w:13.2f} {c / base_c:12.2f}")
    ratios = [s / b for s, b in zip(wall["sacfolio"], wall["sb3"])]
    print(f"\nper-repeat sacfolio/SB3 (wall): {', '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()
