"""Learning study: which action mode, execution, reward and discount make SAC worth trading.

Runs walk-forward evaluations (the same code as ``sacfolio evaluate``) over a grid of
trading settings, on the embedded S&P 500 sample and on known-answer markets (a null
market and planted AR(1) markets, :mod:`sacfolio.data.known_markets`), and prints one
table: CAGR, Sharpe, turnover, costs, Sharpe edge over 1/N and, on the generated
markets, the share of the known-model policy's excess CAGR the agent earns, and its share
of that policy's expected edge under the market's true model (net of costs; the same
weights read against the true means instead of the returns the test years drew).

Every run is cached under ``--out`` by its settings, so an interrupted study resumes
and a second table over the same runs costs nothing.

    # the grid, on folds before 2015 only (how the demo default was chosen)
    python benchmarks/bench_learning.py grid --years 2009-2014 --seeds 0,1

    # the issue's targets: the demo default with K = 5 seeds on 2015-2022, the null and
    # AR(1) markets, and the moonshot window 2005-2022
    python benchmarks/bench_learning.py targets

    # the planted-signal learner (cs_cold: cross-sectional network, counterfactual
    # actions, holdout check, every fold from scratch) on the null and AR(1) markets
    python benchmarks/bench_learning.py signal --seeds 1,2 --strengths 0.1 --steps 6000 --executor process

    # one named setting on one market
    python benchmarks/bench_learning.py run --config default --market ar1 --strength 0.1
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from sacfolio.data import load_sp500_sample
from sacfolio.data.known_markets import known_market
from sacfolio.env.config import EnvConfig
from sacfolio.evaluate.backtest import backtest_strategy
from sacfolio.evaluate.bootstrap import block_indices, paired_block_bootstrap
from sacfolio.evaluate.folds import parse_years, yearly_folds
from sacfolio.evaluate.metrics import cagr, sharpe, summarize
from sacfolio.evaluate.report.evidence import expected_edge_share
from sacfolio.evaluate.walkforward import WalkForwardConfig
from sacfolio.strategies.known import KnownModel
from sacfolio.strategies.simple import EqualWeight
from sacfolio.train.portfolio import PORTFOLIO_SAC
from sacfolio.workflows.walkforward import run_walk_forward

SLOW = {"rebalance_rate": 0.5, "no_trade_band": 0.01}
# name -> (env overrides, SAC overrides); "default" is what `sacfolio demo` runs
CONFIGS: dict[str, tuple[dict, dict]] = {
    "softmax": ({}, {}),
    "residual": ({"action_mode": "residual"}, {}),
    "residual_slow": ({"action_mode": "residual", "execution": SLOW}, {}),
    "residual_slow_excess": ({"action_mode": "residual", "execution": SLOW, "reward": "excess_log_return"}, {}),
    "rse_gamma0": ({"action_mode": "residual", "execution": SLOW, "reward": "excess_log_return"}, {"gamma": 0.0}),
    "rse_gamma0.5": ({"action_mode": "residual", "execution": SLOW, "reward": "excess_log_return"},
                     {"gamma": 0.5}),
    "rse_gamma0.9": ({"action_mode": "residual", "execution": SLOW, "reward": "excess_log_return"},
                     {"gamma": 0.9}),
    "rse_tilt0.05": ({"action_mode": "residual", "tilt": 0.05, "execution": SLOW,
                      "reward": "excess_log_return"}, {}),
    "rse_cost2x": ({"action_mode": "residual", "execution": SLOW, "reward": "excess_log_return",
                    "train_cost_multiplier": 2.0}, {}),
    "rse_eta0.25": ({"action_mode": "residual", "execution": {"rebalance_rate": 0.25, "no_trade_band": 0.01},
                     "reward": "excess_log_return"}, {}),
    "residual_excess": ({"action_mode": "residual", "reward": "excess_log_return"}, {}),
    "re_gamma0": ({"action_mode": "residual", "reward": "excess_log_return"}, {"gamma": 0.0}),
}
GRID = list(CONFIGS)
DEFAULT = "residual_slow_excess"
"""The demo's default trading settings, chosen from the grid on folds before 2015."""
CONFIGS["default"] = CONFIGS[DEFAULT]

# Learning a planted per-stock signal (the AR(1) markets): the cross-sectional network
# (one small network shared by every stock), residual tilts up to 1 (a stock can reach the
# 20% cap), a bandit discount and full rebalancing. Not part of GRID: they were tried after
# the demo default was chosen, on the known-answer markets only.
CONFIGS.update({
    "cs_residual_tilt0.1": ({"action_mode": "residual", "tilt": 0.1, "reward": "excess_log_return"},
                            {"network": "cross_sectional"}),
    "cs_rt0.1_g0": ({"action_mode": "residual", "tilt": 0.1, "reward": "excess_log_return"},
                    {"network": "cross_sectional", "gamma": 0.0}),
    "cs_rt0.1_g0_shared": ({"action_mode": "residual", "tilt": 0.1, "reward": "excess_log_return"},
                           {"network": "cross_sectional", "gamma": 0.0, "aux_shared_trunk": True}),
    "cs_signal": ({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"},
                  {"network": "cross_sectional", "gamma": 0.0}),
    "cs_signal_band": ({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return",
                        "execution": {"rebalance_rate": 1.0, "no_trade_band": 0.02}},
                       {"network": "cross_sectional", "gamma": 0.0}),
})
# The planted-signal learner with a check that the signal exists: counterfactual actions
# (the critic learns each replayed week's reward for fresh actions), a faster learning
# rate, and a holdout check that keeps the benchmark unless the tilts ranked returns out
# of sample (t >= 2 on the rank IC; SACConfig.holdout_weeks).
CONFIGS["cs_checked"] = ({"action_mode": "residual", "tilt": 1.0, "reward": "excess_log_return"},
                         {"network": "cross_sectional", "gamma": 0.0, "counterfactual_actions": 1,
                          "actor_lr": 1e-3, "critic_lr": 1e-3, "holdout_weeks": 104})
# ... with every fold trained from scratch: warm-started folds lost the signal fold by fold
# (cs_checked's expected share, seed 1: 63, 35, 22, 0% over 2009-2012; seed 2: 53, 11, 0% once
# it traded), cold folds kept it (63-79% where they traded).
CONFIGS["cs_cold"] = CONFIGS["cs_checked"]
# ... with the per-stock aux head of next week's return sharing the actor's trunk and weighted
# up (supervised learning of the return shapes the features the policy reads)
CONFIGS["cs_cold_aux"] = (CONFIGS["cs_checked"][0],
                          {**CONFIGS["cs_checked"][1], "aux_shared_trunk": True, "aux_coef_short": 10.0})
# ... traded as a K-seed ensemble (--ensemble K) that averages the members' actions and
# projects the mean once: with tilts up to 1 the projection clips most members' targets at the
# cap or at zero, and averaging clipped weights diluted the view the members share (single-fold
# probes on draws 1 and 2, K = 3: expected share 72% and 61% averaging actions, 60% and 53%
# averaging weights, 64% and 57% for the best single member)
CONFIGS["cs_mix"] = CONFIGS["cs_checked"]
# ... with the check sizing the tilt by its evidence (SACConfig.holdout_sizing="scaled": the tilt
# times clip(t / 2, 0, 1)) instead of gating it: cs_mix held draw 0's 2012 at t 1.8, a year whose
# tilt earned where it traded in earlier runs
CONFIGS["cs_mix_scaled"] = (CONFIGS["cs_checked"][0], {**CONFIGS["cs_checked"][1], "holdout_sizing": "scaled"})
# ... with N(0, 1) noise on the replayed states' standardized features (SACConfig.feature_noise):
# the critic replays nine years of weeks ~800 times in 6,000 updates and memorizes each week's
# returns from its exact features. Chosen on fresh draws 5-8 (test year 2010, one seed, expected
# share): no noise 72, 45, 77, 77% (mean 68%); sigma 0.5: 78, 70, 78, 69% (74%); sigma 1: 87, 66,
# 76, 82% (78%); sigma 2 on draws 5 and 6: 37% and held 1/N (t 1.6). The same per-stock regression
# fitted by an MLP shows the mechanism (benchmarks/bench_memorization.py): 91-95% of the known edge
# after 100 updates, -20 to +7% after 6,000, 79-84% after 6,000 with sigma 0.5 or 1.
CONFIGS["cs_mix_noise"] = (CONFIGS["cs_checked"][0], {**CONFIGS["cs_checked"][1], "feature_noise": 1.0})
WALK_FORWARD = {"cs_cold": {"warm_start": False}, "cs_cold_aux": {"warm_start": False},
                "cs_mix": {"warm_start": False, "ensemble_mix": "actions"},
                "cs_mix_scaled": {"warm_start": False, "ensemble_mix": "actions"},
                "cs_mix_noise": {"warm_start": False, "ensemble_mix": "actions"}}
"""Walk-forward settings of a config other than the defaults (part of its cache key)."""
SIGNAL = "cs_cold"
"""The planted-signal learner whose known-market targets ``signal`` reads."""


def _market(name: str, strength: float | None, seed: int):
    """(panel, extra strategies) of a market: the sample, or a generated one with its known policy."""
    if name == "sample":
        return load_sp500_sample(), {}
    market = known_market(name, strength=strength, seed=seed)
    return market.panel, {"known_model": KnownModel(market.panel, market.expected_returns())}


def _sized(check: dict) -> str:
    """'trades', 'trades 90%' (scaled sizing) or 'holds 1/N'."""
    scale = float(check.get("scale", check["trades"]))
    return "holds 1/N" if scale <= 0 else "trades" if scale >= 1 else f"trades {scale:.0%}"


def _key(**settings) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def run_one(*, config: str, market: str, strength: float | None, years: str, seed: int, seeds: int,
            steps: int, fold_steps: int, variant: str, out: Path, executor: str = "local",
            market_seed: int = 0) -> dict:
    """One walk-forward run (cached): the agent's, 1/N's and the known policy's figures.

    ``market_seed`` picks the draw of a generated market (the agent's ``seed`` varies its
    training only); draw 0 is the one every earlier row was measured on.
    """
    settings = dict(config=config, env=CONFIGS[config][0], sac=CONFIGS[config][1], market=market,
                    strength=strength, years=years, seed=seed, seeds=seeds, steps=steps,
                    fold_steps=fold_steps, variant=variant, **({"walk_forward": WALK_FORWARD[config]}
                                                               if config in WALK_FORWARD else {}))
    if market_seed:  # draw 0 keeps the keys its rows were cached under
        settings["market_seed"] = market_seed
    if CONFIGS[config][1].get("holdout_weeks"):  # rows from before the check ranked actions are not these
        settings["holdout_score"] = "action"
        if seeds > 1 and WALK_FORWARD.get(config, {}).get("ensemble_mix") == "actions":
            settings["ensemble_check"] = "mean action"  # nor those from before the mean action was checked
    if WALK_FORWARD.get(config, {}).get("warm_start") is False:
        del settings["fold_steps"]  # every cold fold trains `steps`: the fold steps are unused
    path = out / "cache" / f"{_key(**settings)}.json"
    if path.exists():
        row = json.loads(path.read_text())
        if "p_win_method" not in row["edge"]:  # rows from before the P(win) fix carry a wrong one
            row["edge"]["p_win"] = None
        return row
    t0 = time.perf_counter()
    panel, extra = _market(market, strength, market_seed)
    wf_config = WalkForwardConfig(years=tuple(parse_years(years)), train_steps=steps, fold_steps=fold_steps,
                                  baselines=("equal_weight",), seed=seed, seeds=seeds, variant=variant,
                                  **WALK_FORWARD.get(config, {}))
    env = EnvConfig.from_dict(CONFIGS[config][0])
    sac = dataclasses.replace(PORTFOLIO_SAC, **CONFIGS[config][1])
    wf, _ = run_walk_forward(panel, config=wf_config, env_config=env, sac_config=sac, progress=False,
                             extra_strategies=extra, executor=executor)
    row = {**settings, "market_seed": market_seed, "seconds": round(time.perf_counter() - t0, 1)}
    for name in wf.results:
        r = wf.combined(name)
        m = summarize(r)
        row[name] = {"cagr": m.cagr, "sharpe": m.sharpe, "turnover": m.avg_turnover, "costs": m.total_costs,
                     "gross_cagr": float(cagr((1 + r.returns) / (1 - r.costs) - 1))}
    members = wf.combined_members("sac")
    if members:
        row["member_cagr"] = [float(cagr(r.returns)) for r in members]
        row["member_sharpe"] = [float(sharpe(r.returns)) for r in members]
    checks = [(r["fold"], r["member"], r["holdout"][0]) for r in wf.info.get("training", ()) if r.get("holdout")]
    if checks:  # per fold and member: traded its tilt or held the benchmark, and the record's t
        row["holdout"] = [{"fold": f, "member": m, "trades": c["trades"], "scale": round(c.get("scale", c["trades"]), 3),
                           "t": round(c["record"]["t"], 2),
                           "weeks": c["record"]["weeks"]} for f, m, c in checks]
    if wf.info.get("ensemble_holdout"):  # per fold: the check of the members' mean action, which decided
        row["ensemble_holdout"] = [{"fold": c["fold"], "trades": c["trades"], "t": round(c["record"]["t"], 2),
                                    "weeks": c["record"]["weeks"], "scale": round(c.get("scale", c["trades"]), 3)}
                                   for c in wf.info["ensemble_holdout"]]
    a, b = wf.combined("sac").returns, wf.combined("equal_weight").returns
    iv = paired_block_bootstrap(a, b, sharpe, seed=0)
    row["edge"] = {"point": iv.point, "low": iv.low, "high": iv.high, "p_win": _p_win(a, b), "p_win_method": "paired block bootstrap, 4 weeks"}
    if "known_model" in row:
        row["share"] = _share(row)
        row["share_interval"] = _share_interval(a, b, wf.combined("known_model").returns)
        wf = dataclasses.replace(wf, known_expected=extra["known_model"].expected)
        row["expected_share"] = expected_edge_share(wf, "sac")
        row["fold_expected_share"] = {f.label: expected_edge_share(wf, "sac", [i]) for i, f in enumerate(wf.folds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, indent=1))
    return row


def _p_win(a: np.ndarray, b: np.ndarray) -> float:
    """Share of paired block-bootstrap resamples (the report's: 4-week blocks, 2,000 draws,
    seed 0) in which the agent's Sharpe beats 1/N's."""
    idx = block_indices(len(a), block=4, n_boot=2000, rng=np.random.default_rng(0))
    return float(np.mean(sharpe(a[idx]) > sharpe(b[idx])))


def _p_win_text(edge: dict) -> str:
    """P(win) as printed: 'tie' when the agent's returns are 1/N's (every resample ties)."""
    if edge["p_win"] is None:
        return "n/a"
    return "tie" if edge["point"] == edge["low"] == edge["high"] == 0.0 else format(edge["p_win"], ".2f")


def _share(row: dict) -> float | None:
    """The agent's excess CAGR over 1/N as a share of the known policy's (None when that is < 0.5 pt)."""
    known = row["known_model"]["cagr"] - row["equal_weight"]["cagr"]
    return None if known < 0.005 else (row["sac"]["cagr"] - row["equal_weight"]["cagr"]) / known


def _share_interval(agent: np.ndarray, ew: np.ndarray, known: np.ndarray) -> list[float] | None:
    """90% interval of the CAGR share under the paired block bootstrap (4-week blocks, 2,000
    draws, seed 0: the three strategies' weeks resampled together), None when the known
    policy's excess CAGR is under 0.5 pt in more than a tenth of the draws (no ratio to read)."""
    idx = block_indices(len(agent), block=4, n_boot=2000, rng=np.random.default_rng(0))
    base = cagr(ew[idx])
    known_excess, agent_excess = cagr(known[idx]) - base, cagr(agent[idx]) - base
    ok = known_excess >= 0.005
    if ok.mean() < 0.9:
        return None
    low, high = np.quantile(agent_excess[ok] / known_excess[ok], [0.05, 0.95])
    return [float(low), float(high)]


def gated_expected_share(row: dict) -> float | None:
    """The expected share the gate (``holdout_sizing="gate"``) gives the same members: a run of
    cold folds whose mean-action check traded a fold in part (scaled sizing, 0 < scale < 1)
    would have held 1/N there under the gate, an expected edge of exactly 0, and trained
    alike (the sizing moves no weight). The folds are pooled by the known policy's expected
    edge, as :func:`expected_edge_share` pools weeks. None unless the row can say."""
    checks = row.get("ensemble_holdout") or ()
    if not checks or row.get("walk_forward", {}).get("warm_start") is not False or "fold_expected_share" not in row:
        return None
    partial = {c["fold"] for c in checks if 0 < c.get("scale", float(c["trades"])) < 1}
    if not partial:
        return row["expected_share"]
    panel, extra = _market(row["market"], row["strength"], row.get("market_seed", 0))
    rules = EnvConfig.from_dict(row["env"]).rules
    known, total = {}, 0.0
    for fold in yearly_folds(panel.dates, parse_years(row["years"])):
        k, b = (backtest_strategy(panel, s, fold, rules) for s in (extra["known_model"], EqualWeight(panel, rules)))
        mu = extra["known_model"].expected[fold.test_start:fold.test_stop]
        known[fold.label] = float((((k.weights - b.weights)[:, :-1] * mu).sum(axis=1) - (k.costs - b.costs)).sum())
        total += known[fold.label]
    return sum(known[f] * s for f, s in row["fold_expected_share"].items() if f not in partial) / total


def pooled_share(rows: list[dict]) -> float | None:
    """The CAGR share over several runs (market draws) as one: the mean of the agent's excess
    CAGR over 1/N divided by the mean of the known policy's (None: that is < 0.5 pt)."""
    known = np.mean([r["known_model"]["cagr"] - r["equal_weight"]["cagr"] for r in rows])
    agent = np.mean([r["sac"]["cagr"] - r["equal_weight"]["cagr"] for r in rows])
    return None if known < 0.005 else float(agent / known)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:5.1f}%"


def print_table(rows: list[dict]) -> None:
    head = (f"{'config':22} {'market':10} {'seed':>4} {'K':>2} {'CAGR':>7} {'1/N':>7} {'Sharpe':>6} {'1/N':>5} "
            f"{'edge [90% CI]':>22} {'P(win)':>6} {'turn/wk':>7} {'costs':>6} {'gross':>7} {'share':>6} {'s':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        s, e, ew = r["sac"], r["edge"], r["equal_weight"]
        market = (r["market"] + ("" if r["strength"] in (None, 0.0) else f" {r['strength']:g}")
                  + (f" #{r['market_seed']}" if r.get("market_seed") else ""))
        print(f"{r['config']:22} {market:10} {r['seed']:>4} {r['seeds']:>2} {_pct(s['cagr']):>7} "
              f"{_pct(ew['cagr']):>7} {s['sharpe']:6.2f} {ew['sharpe']:5.2f} "
              f"{e['point']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}]".ljust(98)
              + f" {_p_win_text(e):>6} {_pct(s['turnover']):>7} {_pct(s['costs']):>6} {_pct(s['gross_cagr']):>7} "
              f"{_pct(r.get('share')):>6} {r['seconds']:5.0f}")
        if "holdout" in r:
            print(f"{'':22} holdout: " + ", ".join(
                f"{c['fold']}{'' if r['seeds'] == 1 else '/' + str(c['member'])} "
                f"{_sized(c)} (t {c['t']:+.1f}, {c['weeks']} wk)" for c in r["holdout"]))
        if "ensemble_holdout" in r:
            print(f"{'':22} mean action's holdout (decides): " + ", ".join(
                f"{c['fold']} {_sized(c)} (t {c['t']:+.1f})"
                for c in r["ensemble_holdout"]))
        if r.get("share_interval"):
            low, high = r["share_interval"]
            print(f"{'':22} CAGR share {_pct(r.get('share')).strip()}, 90% interval "
                  f"[{_pct(low).strip()}, {_pct(high).strip()}] (paired block bootstrap of the test weeks)")
        if r.get("fold_expected_share"):
            print(f"{'':22} expected share (net, under the true model): {_pct(r['expected_share']).strip()}; "
                  + ", ".join(f"{k} {_pct(v).strip()}" for k, v in r["fold_expected_share"].items()))
        if "member_cagr" in r:
            mc = r["member_cagr"]
            print(f"{'':22} members: CAGR {', '.join(_pct(c).strip() for c in mc)} "
                  f"(spread {100 * (max(mc) - min(mc)):.1f} pts)")


def targets(a, common: dict) -> list[dict]:
    """The issue's target runs with the demo default and K seeds, then the verdicts."""
    k = max(a.ensemble, 5)
    common = {**common, "seeds": k}
    runs = {
        "sample 2015-2022": dict(market="sample", strength=None, years="2015-2022"),
        "null market": dict(market="null", strength=None, years="2009-2012"),
        **{f"ar1 {s:g}": dict(market="ar1", strength=s, years="2009-2012")
           for s in (float(x) for x in a.strengths.split(","))},
        "moonshot 2005-2022": dict(market="sample", strength=None, years="2005-2022"),
    }
    rows = {}
    for i, (label, spec) in enumerate(runs.items(), 1):
        print(f"[{i}/{len(runs)}] {DEFAULT} x{k} on {label} ...", file=sys.stderr, flush=True)
        rows[label] = run_one(config=DEFAULT, seed=int(a.seeds.split(",")[0]), **spec, **common)
    print_table(list(rows.values()))
    print()
    for line in verdicts(rows):
        print(line)
    return list(rows.values())


def known_market_verdicts(rows: dict[str, dict]) -> list[str]:
    """The null-market and AR(1) target lines of ``rows`` ("null market", "ar1 <strength>")."""
    out = []
    if "null market" in rows:
        r = rows["null market"]
        e, turn, ew_turn = r["edge"], r["sac"]["turnover"], r["equal_weight"]["turnover"]
        inside = e["low"] <= 0.0 <= e["high"]
        out.append(f"null market: Sharpe edge {e['point']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}] "
                   f"[{'met' if inside else 'NOT met'}: 0 inside]; turnover {_pct(turn).strip()} vs 1/N "
                   f"{_pct(ew_turn).strip()} [{'met' if turn <= 2 * ew_turn else 'NOT met'} <= 2x]")
    for label, r in rows.items():
        if label.startswith("ar1"):
            share = r.get("share")
            out.append(f"{label}: share of the known policy's excess CAGR {_pct(share).strip()} "
                       f"[{'met' if share is not None and share >= 0.6 else 'NOT met'} >= 60%] "
                       f"(agent {_pct(r['sac']['cagr']).strip()}, 1/N {_pct(r['equal_weight']['cagr']).strip()}, "
                       f"known {_pct(r['known_model']['cagr']).strip()}); of its expected edge under the true "
                       f"model, net of costs: {_pct(r.get('expected_share')).strip()}")
    return out


def signal_targets(a, common: dict) -> list[dict]:
    """The known-answer targets of the planted-signal learner (``--config``, default
    :data:`SIGNAL`; ``--ensemble`` agents per fold): a run per root seed and market draw,
    then the verdicts per seed and draw and, over several draws, the AR(1) share pooled
    across them."""
    config = a.config or SIGNAL
    markets = (a.markets or "null,ar1").split(",")
    runs = {**({"null market": dict(market="null", strength=None)} if "null" in markets else {}),
            **{f"ar1 {s:g}": dict(market="ar1", strength=s) for s in (float(x) for x in a.strengths.split(","))
               if "ar1" in markets}}
    draws = [int(x) for x in a.market_seeds.split(",")]
    rows = []
    for seed in (int(x) for x in a.seeds.split(",")):
        for draw in draws:
            by_label = {}
            for label, spec in runs.items():
                print(f"{config} seed {seed} on {label}, draw {draw} ...", file=sys.stderr, flush=True)
                by_label[label] = run_one(config=config, seed=seed, years="2009-2012", market_seed=draw,
                                          **spec, **common)
            rows.append((seed, draw, by_label))
    print_table([r for *_, by_label in rows for r in by_label.values()])
    for seed, draw, by_label in rows:
        print(f"\nseed {seed}, market draw {draw}:")
        for line in known_market_verdicts(by_label):
            print(line)
    if len(rows) > 1 and any(k.startswith("ar1") for k in runs):
        print(f"\npooled over {len(rows)} runs (seeds x draws; mean excess CAGR over mean known excess; the "
              "expected share, of the known policy's expected edge net of costs, is the same target read "
              "without the test weeks' luck):")
        for label in (k for k in runs if k.startswith("ar1")):
            share = pooled_share([by_label[label] for *_, by_label in rows])
            expected = [by_label[label].get("expected_share") for *_, by_label in rows]
            mean = float(np.mean(expected)) if None not in expected else None
            print(f"{label}: share of the known policy's excess CAGR {_pct(share).strip()} "
                  f"[{'met' if share is not None and share >= 0.6 else 'NOT met'} >= 60%]; mean expected share "
                  f"{_pct(mean).strip()} [{'met' if mean is not None and mean >= 0.6 else 'NOT met'} >= 60%]")
            if CONFIGS[config][1].get("holdout_sizing") == "scaled":
                gated = [gated_expected_share(by_label[label]) for *_, by_label in rows]
                if None not in gated:
                    print(f"{label}: the same members under the gate (folds traded in part hold 1/N instead): "
                          + ", ".join(f"draw {d} {_pct(g).strip()}" for (_, d, _), g in zip(rows, gated))
                          + f"; mean {_pct(float(np.mean(gated))).strip()}")
    return rows


def verdicts(rows: dict[str, dict]) -> list[str]:
    """One line per target of the issue, met or not, with the figure behind it."""
    out = []
    r = rows["sample 2015-2022"]
    s, ew, mc = r["sac"], r["equal_weight"], r.get("member_cagr", [0.0])
    spread = max(mc) - min(mc)
    out.append(f"sample 2015-2022: Sharpe {s['sharpe']:.2f} vs 1/N {ew['sharpe']:.2f} "
               f"[{'met' if s['sharpe'] >= ew['sharpe'] else 'NOT met'}]; turnover {_pct(s['turnover']).strip()}/wk "
               f"[{'met' if s['turnover'] <= 0.08 else 'NOT met'} <= 8%]; costs {_pct(s['costs']).strip()} "
               f"[{'met' if s['costs'] <= 0.03 else 'NOT met'} <= 3%]; CAGR spread of single seeds "
               f"{100 * spread:.1f} pts [{'met' if spread <= 0.02 else 'NOT met'} <= 2]")
    out += known_market_verdicts(rows)
    r = rows["moonshot 2005-2022"]
    e = r["edge"]
    out.append(f"moonshot 2005-2022: Sharpe edge {e['point']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}], "
               f"P(win) {e['p_win']:.2f} [{'met' if e['point'] >= 0.1 and e['p_win'] >= 0.9 else 'NOT met'}: "
               "+0.1 with P(win) >= 0.9]")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", choices=["grid", "targets", "signal", "run"])
    p.add_argument("--configs", default=",".join(GRID), help="comma list of config names (grid, run)")
    p.add_argument("--config", default=None, help=f"config name for 'run' (default: default) and 'signal' "
                   f"(default: {SIGNAL})")
    p.add_argument("--markets", default=None, help="comma list: sample, null, ar1 (grid: sample; signal: null,ar1)")
    p.add_argument("--market", default="sample")
    p.add_argument("--strength", type=float, default=None)
    p.add_argument("--strengths", default="0.05,0.1", help="AR(1) strengths of the grid's ar1 market")
    p.add_argument("--years", default="2009-2014")
    p.add_argument("--seeds", default="0,1", help="comma list of root seeds (one run each)")
    p.add_argument("--market-seeds", default="0",
                   help="comma list of generated-market draws (signal: one run per seed and draw; run: the first)")
    p.add_argument("--ensemble", type=int, default=1, help="K agents per fold, combined as the config says "
                   "(weights averaged unless its walk-forward settings give ensemble_mix)")
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--fold-steps", type=int, default=1500)
    p.add_argument("--variant", default="sac_price")
    p.add_argument("--out", type=Path, default=Path("runs/bench_learning"))
    p.add_argument("--executor", default="local", choices=["local", "process"],
                   help="where the training tasks run (same results; 'process' uses every core)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)  # one thread per process: these networks are too small to split
    common = dict(steps=a.steps, fold_steps=a.fold_steps, variant=a.variant, out=a.out, seeds=a.ensemble,
                  executor=a.executor)
    rows = []
    if a.study == "targets":
        targets(a, common)
        return 0
    if a.study == "signal":
        signal_targets(a, common)
        return 0
    if a.study == "run":
        rows.append(run_one(config=a.config or "default", market=a.market, strength=a.strength, years=a.years,
                            seed=int(a.seeds.split(",")[0]), market_seed=int(a.market_seeds.split(",")[0]),
                            **common))
    else:
        plan = []
        for market in (a.markets or "sample").split(","):
            strengths = [float(x) for x in a.strengths.split(",")] if market == "ar1" else [None]
            years = a.years if market == "sample" else "2009-2012"
            plan += [(c, market, s, years, int(seed)) for c in a.configs.split(",")
                     for s in strengths for seed in a.seeds.split(",")]
        for i, (c, market, s, years, seed) in enumerate(plan, 1):
            print(f"[{i}/{len(plan)}] {c} on {market} {s or ''} seed {seed} ...", file=sys.stderr, flush=True)
            rows.append(run_one(config=c, market=market, strength=s, years=years, seed=seed, **common))
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
