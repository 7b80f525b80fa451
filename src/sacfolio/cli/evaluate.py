"""``sacfolio demo`` and ``sacfolio evaluate``: walk-forward runs with a report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from sacfolio.cli.app import app, console
from sacfolio.cli.options import (TRADING, ActionModeOpt, AgentsOpt, AuxLongOpt, AuxOpt, AuxShortOpt, BaselinesOpt,
                                  CounterfactualOpt, FeatureNoiseOpt, GammaOpt, HoldoutOpt, HoldoutSizingOpt, NetworkOpt,
                                  BrokerOpt, DataOpt, EndOpt, ExecutorOpt, FoldStepsOpt, FundamentalsOpt, HomeOpt,
                                  LeverageOpt, MarketOpt, NewsOpt, NoTradeBandOpt, ProgressOpt, RayAddressOpt,
                                  RebalanceRateOpt, ResumeOpt, RewardOpt, SeedOpt, SeedsOpt, EnsembleMixOpt, StartOpt, StepsOpt,
                                  StrengthOpt, TiltOpt, TrainCostOpt, TrialsOpt, UnsafeLrOpt, VariantOpt,
                                  WarmStartOpt, WorkersOpt, YearsOpt, env_options, sac_options, split_names)
from sacfolio.cli.sweep import ConfigFileOpt, with_config_file
from sacfolio.env.config import CONFIGURATIONS_TRIED

__all__ = ["demo", "evaluate", "open_registry"]


def open_registry(home: str | None, name: str):
    """The registry at ``home``, or the default root for model ``name``."""
    from sacfolio.registry import Registry
    from sacfolio.registry.roots import registry_root_for

    return Registry(home) if home else Registry(registry_root_for(name))


def _on_fold(fold, model) -> None:
    from sacfolio.evaluate.report.page import holdout_decision_words

    tr = model.train_result
    window = model.bundle.train_window
    console.print(f"  fold {fold.label}: trained on {window[0]}..{window[1]} "
                  f"({tr.n_updates} updates, {tr.wall_seconds:.0f}s, {tr.steps_per_second:.0f} steps/s)")
    for k, check in enumerate(model.bundle.holdout):
        record = check.get("record") or {**check, "since": check["window"][0]}
        console.print(f"    holdout {check['window'][0]}..{check['window'][1]}"
                      f"{f' (member {k})' if len(model.bundle.holdout) > 1 else ''}: rank IC {check['ic']:+.3f}, "
                      f"t {check['t']:+.2f}; record since {record['since']}, {record['weeks']} weeks, "
                      f"t {record['t']:+.2f} -> {holdout_decision_words(check)}")


def _run(request):
    """Run ``request`` and print what a user wants to see of it."""
    from sacfolio.evaluate.report import edge_summary, print_summary
    from sacfolio.evaluate.report.evidence import gather_evidence
    from sacfolio.evaluate.report.page import holdout_decision_words
    from sacfolio.workflows.evaluation import run_evaluation

    ev = run_evaluation(request, say=console.print, on_fold=_on_fold)
    if ev.forecast_quality is not None:
        console.print(ev.forecast_quality, highlight=False)
    result, years = ev.result, ev.years
    # the whole span and, for longer runs, the last two years
    print_summary(result, console, agent="sac", since=f"{years[-1] - 1}-01-01" if len(years) > 2 else None)
    console.print(f"[bold]edge[/bold] {edge_summary(result, agent='sac', seed=request.seed)}")
    for check in result.info.get("ensemble_holdout") or ():  # the check that decided for the members
        console.print(f"[bold]ensemble holdout[/bold] fold {check['fold']}: the members' mean action, rank IC "
                      f"{check['ic']:+.3f}, t {check['t']:+.2f}; record t {check['record']['t']:+.2f} -> "
                      f"{holdout_decision_words(check)}", highlight=False)
    for line in gather_evidence(result, "sac", n_trials=request.trials).lines("sac"):
        console.print(f"[bold]{line.split(':')[0]}[/bold]:{line.split(':', 1)[1]}", highlight=False)
    health = result.info.get("health") or {}
    statuses = {f"{i['agent']} {i['fold']}" + (f" member {i['member']}" if i.get("member") else ""): i.get("health")
                for i in result.info["training"]}
    bad = {k: v for k, v in statuses.items() if v not in ("ok", None)}
    console.print(f"[bold]training health[/bold] {len(statuses)} runs, "
                  + ("all ok" if not bad else f"not ok: {bad}")
                  + f"; last SAC run: {health.get('status', 'not monitored')}, {health.get('checks', 0)} checks, "
                  f"{len(health.get('findings', []))} findings")
    paths = ev.paths
    console.print(f"[bold]report[/bold] {paths.html}\n[bold]equity chart[/bold] {paths.png}\n"
                  f"[bold]weights[/bold] {paths.weights_csv}\n[bold]metrics[/bold] {paths.metrics_json}")
    return ev


def _request(title: str, *, baselines, agents, aux, aux_coef_short, aux_coef_long, allow_unsafe_lr,
             network, gamma, counterfactual_actions, holdout_weeks, holdout_sizing, feature_noise, action_mode, tilt, rebalance_rate, no_trade_band, reward, train_cost_multiplier, broker, leverage,
             config=None, **fields):
    """The EvaluationRequest of a demo or evaluate command line (its options by name; ``config``:
    a run configuration file whose settings the typed options override)."""
    from sacfolio.workflows.evaluation import EvaluationRequest

    sac, env, fields["steps"], fields["trials"] = with_config_file(
        config, sac=sac_options(aux=aux, aux_coef_short=aux_coef_short, aux_coef_long=aux_coef_long,
                                allow_unsafe_lr=allow_unsafe_lr, network=network, gamma=gamma,
                                counterfactual_actions=counterfactual_actions, holdout_weeks=holdout_weeks,
                                holdout_sizing=holdout_sizing, feature_noise=feature_noise),
        env=env_options(action_mode=action_mode, tilt=tilt, rebalance_rate=rebalance_rate,
                        no_trade_band=no_trade_band, reward=reward, train_cost_multiplier=train_cost_multiplier,
                        broker=broker, leverage=leverage), steps=fields["steps"], trials=fields["trials"])
    return EvaluationRequest(title=title, baselines=split_names(baselines), agents=split_names(agents), **fields,
                             sac_options=sac, env_options=env)


def _register(ev, home: str | None) -> None:
    from sacfolio.workflows.evaluation import register_last_fold

    name = ev.request.model_name
    registry = open_registry(home, name)
    version, decision = register_last_fold(ev, registry)
    console.print(f"[bold]registry[/bold] {registry.root}: saved {name} version {version}")
    console.print(f"[bold]gate[/bold] {decision.summary()}")
    if ev.model.bundle.has_aux:
        aux_problems = [p for p in decision.health_problems if p.startswith("aux heads")]
        console.print("[bold]aux validation[/bold] " + (
            "passed: predictions non-zero, finite, within +-1 and varying across the gate window's states"
            if not aux_problems else "FAILED: " + "; ".join(aux_problems)))


@app.command()
def demo(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = None,
    variant: VariantOpt = "sac_lstm",
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    synthetic: Annotated[bool, typer.Option(
        "--synthetic", help="Run on a generated factor market whose news and fundamentals carry a known "
        "amount of information (written to disk and read back through the real loaders); its model is "
        "registered as <variant>_synthetic.")] = False,
    steps: StepsOpt = 3_000,
    fold_steps: FoldStepsOpt = 1_500,
    seed: SeedOpt = 0,
    seeds: SeedsOpt = 5,
    ensemble_mix: EnsembleMixOpt = "weights",
    market: MarketOpt = None,
    strength: StrengthOpt = None,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    resume: ResumeOpt = True,
    warm_start: WarmStartOpt = True,
    config: ConfigFileOpt = None,
    trials: TrialsOpt = CONFIGURATIONS_TRIED,
    baselines: BaselinesOpt = None,
    out: Annotated[Path, typer.Option(help="Directory for the report, weights and TensorBoard logs.")] = Path("runs/demo"),
    progress: ProgressOpt = True,
    agents: AgentsOpt = "sac",
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01,
    aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False,
    network: NetworkOpt = "mlp",
    gamma: GammaOpt = None,
    counterfactual_actions: CounterfactualOpt = 0,
    holdout_weeks: HoldoutOpt = 0,
    holdout_sizing: HoldoutSizingOpt = "gate",
    feature_noise: FeatureNoiseOpt = 0.0,
    action_mode: ActionModeOpt = TRADING["action_mode"],
    tilt: TiltOpt = TRADING["tilt"],
    rebalance_rate: RebalanceRateOpt = TRADING["rebalance_rate"],
    no_trade_band: NoTradeBandOpt = TRADING["no_trade_band"],
    reward: RewardOpt = TRADING["reward"],
    train_cost_multiplier: TrainCostOpt = TRADING["train_cost_multiplier"],
    broker: BrokerOpt = None,
    leverage: LeverageOpt = 1.0,
    register: Annotated[bool, typer.Option("--register/--no-register",
                                           help="Save the last fold's model in the registry and run the promotion gate.")] = True,
    home: HomeOpt = None,
) -> None:
    """Train SAC walk-forward, compare it with classical portfolios out of sample, report, register.

    Uses the embedded S&P 500 sample unless --data is given. For each test year the agent
    trains only on earlier weeks; the report lands in --out and the last fold's model is
    saved in the registry and put through the promotion gate.

    By default it trades slowly around 1/N: five seeds per fold whose target weights are
    averaged, each tilting equal weight by at most 2 points per stock, moving half way to
    its target and leaving positions within 1 point alone, trained on the excess log return
    over 1/N. Today's earlier behaviour (a softmax of the action, traded at once, one seed):
    --action-mode softmax --rebalance-rate 1 --no-trade-band 0 --reward log_return --seeds 1.
    """
    t0 = time.perf_counter()
    options = {k: v for k, v in locals().items() if k not in ("register", "home", "t0")}
    ev = _run(_request(f"sacfolio demo ({variant})", **options))
    if register:
        _register(ev, home)
    console.print(f"[bold]demo finished[/bold] in {time.perf_counter() - t0:.0f}s")


@app.command()
def evaluate(
    data: DataOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    eval_years: YearsOpt = "2015-2022",
    variant: VariantOpt = "sac_lstm",
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    steps: StepsOpt = 3_000,
    fold_steps: FoldStepsOpt = 1_500,
    seed: SeedOpt = 0,
    seeds: SeedsOpt = 5,
    ensemble_mix: EnsembleMixOpt = "weights",
    market: MarketOpt = None,
    strength: StrengthOpt = None,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    ray_address: RayAddressOpt = None,
    resume: ResumeOpt = True,
    warm_start: WarmStartOpt = True,
    config: ConfigFileOpt = None,
    trials: TrialsOpt = CONFIGURATIONS_TRIED,
    baselines: BaselinesOpt = None,
    out: Annotated[Path, typer.Option(help="Directory for the report.")] = Path("runs/evaluate"),
    agents: AgentsOpt = "sac",
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01,
    aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False,
    network: NetworkOpt = "mlp",
    gamma: GammaOpt = None,
    counterfactual_actions: CounterfactualOpt = 0,
    holdout_weeks: HoldoutOpt = 0,
    holdout_sizing: HoldoutSizingOpt = "gate",
    feature_noise: FeatureNoiseOpt = 0.0,
    action_mode: ActionModeOpt = TRADING["action_mode"],
    tilt: TiltOpt = TRADING["tilt"],
    rebalance_rate: RebalanceRateOpt = TRADING["rebalance_rate"],
    no_trade_band: NoTradeBandOpt = TRADING["no_trade_band"],
    reward: RewardOpt = TRADING["reward"],
    train_cost_multiplier: TrainCostOpt = TRADING["train_cost_multiplier"],
    broker: BrokerOpt = None,
    leverage: LeverageOpt = 1.0,
    progress: ProgressOpt = True,
) -> None:
    """Walk-forward backtest of the agent and the baselines, with a report (no registration).

    Expanding window: for each test year the agent trains only on earlier data, then the
    agent and every baseline run through the same cost code (the agent under its execution
    rules: --rebalance-rate, --no-trade-band; the baselines trade to their targets).
    """
    _run(_request(f"sacfolio walk-forward evaluation ({variant})", **locals()))
