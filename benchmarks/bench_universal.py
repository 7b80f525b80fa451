"""The universal agent's cost: SAC with the slot transformer at MAX_SYMBOLS beside the MLP SAC.

Both train on the embedded S&P 500 sample (20 stocks, weekly) with the same SAC
settings (batch 64, one update per env step, 100 warm-up steps, one torch thread),
interleaved so both see the same machine load. Prints, per agent: env-steps/s by wall
clock and by process CPU time, the act latency at batch 1 (deterministic action and,
for the universal model, the whole decision: action -> fused target -> projection),
and where one universal update's time goes (torch profiler, grouped by component).

    .venv/bin/python benchmarks/bench_universal.py --steps 600 --repeats 2 --max-symbols 32
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sacfolio.agents import SACConfig  # noqa: E402
from sacfolio.agents.sac import SAC  # noqa: E402
from sacfolio.agents.universal import UniversalConfig  # noqa: E402
from sacfolio.agents.universal_critic import UniversalModules  # noqa: E402
from sacfolio.data import load_sp500_sample  # noqa: E402
from sacfolio.env import PortfolioEnv  # noqa: E402
from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig  # noqa: E402
from sacfolio.env.slot_env import SlotEnv  # noqa: E402
from sacfolio.env.slots import SlotSpec  # noqa: E402
from sacfolio.strategies.zoo import ADVISORS  # noqa: E402
from sacfolio.train.off_policy import train_sac  # noqa: E402
from sacfolio.train.universal import universal_sac_config  # noqa: E402

CONFIG = SACConfig(reward_scale=100.0)


def _envs(max_symbols: int):
    panel = load_sp500_sample(start="2005-01-01", end="2014-12-31")
    env_config = EnvConfig.from_dict(TRADING_DEFAULTS)
    spec = SlotSpec(max_symbols=max_symbols, vocabulary=panel.symbols, advisors=ADVISORS)
    return PortfolioEnv.from_panel(panel, config=env_config), SlotEnv.from_panel(panel, spec=spec, config=env_config)


def _universal(env: SlotEnv, seed: int, universal: UniversalConfig) -> tuple[SAC, SACConfig]:
    config = universal_sac_config(CONFIG, env.core.spec, env.core.n_symbols)
    modules = UniversalModules(layout=env.layout, spec=env.core.spec, config=universal)
    return SAC(env.layout.obs_dim, env.layout.act_dim, config=config, seed=seed, modules=modules), config


def _timed(run) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def _latency(fn, n: int = 200) -> float:
    for _ in range(10):
        fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e6


def _profile(sac: SAC, env: SlotEnv) -> list[tuple[str, float]]:
    """Share of one update's CPU time by component (actor trunk, critic, optimizer, rest)."""
    from torch.profiler import profile, record_function

    from sacfolio.agents.buffers import ReplayBatch

    obs = np.stack([env.reset(seed=s)[0] for s in range(64)])
    o = torch.as_tensor(obs)
    batch = ReplayBatch(o, torch.rand(64, env.layout.act_dim) * 2 - 1, torch.zeros(64), o.roll(1, 0), torch.zeros(64))
    for _ in range(3):
        sac.update(batch)
    with profile() as prof:
        with record_function("update"):
            for _ in range(5):
                sac.update(batch)
    groups = {"attention (sdpa / bmm / softmax)": ("bmm", "softmax", "scaled_dot", "baddbmm"),
              "linear layers (mm / addmm)": ("aten::mm", "addmm", "aten::linear"),
              "layer norm": ("layer_norm",), "Adam": ("adam", "foreach", "lerp")}
    total = sum(e.self_cpu_time_total for e in prof.key_averages())
    shares = {k: 0.0 for k in groups}
    for e in prof.key_averages():
        for name, keys in groups.items():
            if any(key in e.key.lower() for key in keys):
                shares[name] += e.self_cpu_time_total
                break
    out = [(k, v / total) for k, v in shares.items()]
    return out + [("everything else (copies, masks, elementwise)", 1.0 - sum(v for _, v in out))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-symbols", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=UniversalConfig().d_model)
    parser.add_argument("--layers", type=int, default=UniversalConfig().n_layers)
    args = parser.parse_args()
    torch.set_num_threads(1)
    universal = replace(UniversalConfig(), d_model=args.d_model, n_layers=args.layers)
    flat, slots = _envs(args.max_symbols)
    rows: dict[str, list[tuple[float, float]]] = {"mlp SAC (64x64)": [], f"universal_s{args.max_symbols}": []}
    for r in range(args.repeats):
        rows["mlp SAC (64x64)"].append(_timed(lambda: train_sac(flat, config=CONFIG, total_steps=args.steps,
                                                                 seed=r, progress=False)))
        sac, config = _universal(slots, r, universal)
        rows[f"universal_s{args.max_symbols}"].append(_timed(lambda: train_sac(
            slots, config=config, total_steps=args.steps, seed=r, progress=False, learner=sac)))
    print(f"{args.steps} env steps per run, {args.repeats} runs each, {universal}")
    for name, runs in rows.items():
        wall = statistics.median(args.steps / w for w, _ in runs)
        cpu = statistics.median(args.steps / c for _, c in runs)
        print(f"  {name:24s} {wall:8.1f} env-steps/s (wall)  {cpu:8.1f} (CPU)")
    mlp = SAC(flat.observation_space.shape[0], flat.action_space.shape[0], config=CONFIG)
    o = torch.as_tensor(flat.reset(seed=0)[0])[None]
    print(f"act latency, batch 1: mlp {_latency(lambda: mlp.actor.act(o)):.0f} us", end="")
    sac, _ = _universal(slots, 0, universal)
    s = torch.as_tensor(slots.reset(seed=0)[0])[None]
    print(f"; universal {_latency(lambda: sac.actor.act(s)):.0f} us", end="")
    def env_step() -> None:
        if not slots._started:
            slots.reset(seed=0)
        slots.step(slots.action_space.sample())

    print(f"; universal env step {_latency(env_step):.0f} us")
    print("where one universal update's CPU time goes (batch 64):")
    for name, share in _profile(sac, slots):
        print(f"  {name:48s} {100 * share:5.1f}%")


if __name__ == "__main__":
    main()
