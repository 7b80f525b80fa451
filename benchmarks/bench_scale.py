"""Scale-out: one walk-forward plan of 8 cold folds x 2 seeds (16 independent tasks) on

* ``local``   one task after another in this process,
* ``process`` a spawn pool of 2 worker processes,
* ``ray``     Ray tasks on a local Ray with 2 CPUs (started before the clock runs),

and the per-task overhead of Ray: the round trip of a task that does nothing (submit,
schedule, run, return), and in the real run the wall time the 2 CPUs spent beyond the
tasks' own train + backtest seconds, per task. Every executor must give the same
weights (checked).

Run:  .venv/bin/python benchmarks/bench_scale.py [--steps 300] [--years 2015-2022]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sacfolio.agents.config import SACConfig  # noqa: E402
from sacfolio.data import load_sp500_sample  # noqa: E402
from sacfolio.evaluate.folds import parse_years  # noqa: E402
from sacfolio.evaluate.walkforward import WalkForwardConfig  # noqa: E402
from sacfolio.workflows.executors import run_tasks  # noqa: E402
from sacfolio.workflows.walkforward import run_walk_forward  # noqa: E402


def _noop(x: int) -> int:
    return x


def _ray_round_trip(n: int) -> float:
    """Seconds per do-nothing Ray task (warm workers: one batch first, then the timed one)."""
    run_tasks(list(range(4)), _noop, executor="ray")
    t0 = time.perf_counter()
    run_tasks(list(range(n)), _noop, executor="ray")
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="SAC steps per fold (cold: every fold)")
    parser.add_argument("--years", default="2015-2022", help="test years, one fold each (8 by default)")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    import ray

    panel = load_sp500_sample()
    config = WalkForwardConfig(years=tuple(parse_years(args.years)), train_steps=args.steps, warm_start=False,
                               baselines=("equal_weight",), variant="sac_price", seeds=args.seeds)
    sac = SACConfig(warmup_steps=min(100, args.steps // 2))
    ray.init(num_cpus=args.cpus, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    rows, reference = [], None
    for executor in ("local", "process", "ray"):
        t0 = time.perf_counter()
        result, _ = run_walk_forward(panel, config=config, sac_config=sac, progress=False, executor=executor,
                                     workers=args.cpus)
        wall = time.perf_counter() - t0
        weights = np.concatenate([r.weights for r in result.results["sac"]])
        reference = weights if reference is None else reference
        busy = result.info["seconds"]["train"] + result.info["seconds"]["backtest"]
        rows.append((executor, wall, busy, bool(np.array_equal(weights, reference))))
    n_tasks = len(config.years) * config.seeds
    round_trip = _ray_round_trip(64)
    ray.shutdown()
    print(f"{len(config.years)} cold folds x {config.seeds} seeds = {n_tasks} tasks, {args.steps} steps each, "
          f"{args.cpus} CPUs (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"{'executor':<9} {'wall s':>8} {'task s':>8} {'speed-up':>9}  same weights")
    for executor, wall, busy, same in rows:
        print(f"{executor:<9} {wall:8.1f} {busy:8.1f} {rows[0][1] / wall:8.2f}x  {same}")
    ray_wall, ray_busy = rows[2][1], rows[2][2]
    print(f"ray overhead per task: {round_trip * 1e3:.1f} ms for a do-nothing task (round trip); "
          f"{max(0.0, ray_wall * args.cpus - ray_busy) / n_tasks:.2f} s of CPU time per task beyond its own "
          "train + backtest in the real run (transfer of the result, worker start, idle tail)")


if __name__ == "__main__":
    main()
