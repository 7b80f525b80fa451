"""``sacfolio train``: train a model (full or finetune), register it, run the gate."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sacfolio.cli.app import app, console
from sacfolio.cli.evaluate import open_registry
from sacfolio.cli.options import (TRADING, ActionModeOpt, AuxLongOpt, AuxOpt, AuxShortOpt, BrokerOpt, DataOpt,
                                  CounterfactualOpt, FeatureNoiseOpt, GammaOpt, HoldoutOpt, HoldoutSizingOpt, NetworkOpt,
                                  ExecutorOpt, FundamentalsOpt, HomeOpt, LeverageOpt, NewsOpt, NoTradeBandOpt,
                                  ProgressOpt, RayAddressOpt, RebalanceRateOpt, RewardOpt, SeedOpt, StartOpt,
                                  StepsOpt, TiltOpt, TrainCostOpt, UnsafeLrOpt, env_options, sac_options)
from sacfolio.cli.sweep import ConfigFileOpt, with_config_file

__all__ = ["train"]


@app.command()
def train(
    model: Annotated[str, typer.Option("--model", help="Model name in the registry: its state variant "
                                       "(sac_lstm, sac_patchtst, sac_price or sac_factor), optionally with a tag "
                                       "(sac_price_eu).")] = "sac_lstm",
    mode: Annotated[str, typer.Option(help="'full': from scratch on all data up to --until. 'finetune': "
                                      "continue the current version on the last --finetune-weeks.")] = "full",
    data: DataOpt = None,
    start: StartOpt = None,
    until: Annotated[Optional[str], typer.Option(help="Train on data up to this date (default: all).")] = None,
    steps: StepsOpt = 10_000,
    seed: SeedOpt = 0,
    finetune_weeks: Annotated[int, typer.Option(min=4, help="finetune: most recent weeks to train on.")] = 26,
    finetune_lr: Annotated[Optional[float], typer.Option(help="finetune: learning rate (default: the model's).")] = None,
    gate_weeks: Annotated[int, typer.Option(min=8, help="Promotion gate window: the last N weeks of the data.")] = 104,
    min_confidence: Annotated[float, typer.Option(
        help="Promote only if the bootstrap probability that the candidate's CAGR is higher reaches this.")] = 0.0,
    force: Annotated[Optional[str], typer.Option("--force", metavar="REASON",
                                                 help="Promote regardless of the gate, recording REASON.")] = None,
    news: NewsOpt = None,
    fundamentals: FundamentalsOpt = None,
    lr: Annotated[Optional[float], typer.Option(
        "--lr", help="Learning rate of actor, critic and alpha (default 3e-4; SAC's safe range is 1e-5..3e-4, "
        "above 1e-3 needs --allow-unsafe-lr).")] = None,
    aux: AuxOpt = True,
    aux_coef_short: AuxShortOpt = 0.01, aux_coef_long: AuxLongOpt = 0.01,
    allow_unsafe_lr: UnsafeLrOpt = False, network: NetworkOpt = "mlp", gamma: GammaOpt = None,
    counterfactual_actions: CounterfactualOpt = 0, holdout_weeks: HoldoutOpt = 0,
    holdout_sizing: HoldoutSizingOpt = "gate", feature_noise: FeatureNoiseOpt = 0.0,
    action_mode: ActionModeOpt = TRADING["action_mode"],
    tilt: TiltOpt = TRADING["tilt"],
    rebalance_rate: RebalanceRateOpt = TRADING["rebalance_rate"],
    no_trade_band: NoTradeBandOpt = TRADING["no_trade_band"],
    reward: RewardOpt = TRADING["reward"],
    train_cost_multiplier: TrainCostOpt = TRADING["train_cost_multiplier"],
    broker: BrokerOpt = None,
    leverage: LeverageOpt = 1.0,
    home: HomeOpt = None,
    progress: ProgressOpt = True,
    config: ConfigFileOpt = None,
    executor: ExecutorOpt = "local",
    ray_address: RayAddressOpt = None,
) -> None:
    """Train a model (full or finetune), save it as a registry version, run the promotion gate.

    The new version becomes `current` only if it beats the current version's CAGR on the
    same window and its weights are healthy. The env options (--action-mode, --tilt,
    --rebalance-rate, --no-trade-band, --reward, --train-cost-multiplier) set how a full
    model trades; a finetune keeps its parent's and refuses others.
    """
    from sacfolio.features.variants import FeatureSources
    from sacfolio.workflows.evaluation import load_panel
    from sacfolio.workflows.registration import train_and_register

    panel = load_panel(data, start, None)
    sac, env, steps = _options(config, steps, locals())
    sac_config, env_config = _configs(mode, sac, env)
    registry = open_registry(home, model)
    outcome = train_and_register(
        name=model, mode=mode, panel=panel, registry=registry, steps=steps, seed=seed, until=until,
        finetune_weeks=finetune_weeks, finetune_lr=finetune_lr, gate_weeks=gate_weeks,
        min_confidence=min_confidence, force_reason=force, env_config=env_config, sac_config=sac_config,
        sources=FeatureSources.of(news, fundamentals), progress=progress, executor=executor, ray_address=ray_address)
    tr, window = outcome.model.train_result, outcome.model.bundle.train_window
    console.print(f"trained {model} ({mode}) on {window[0]}..{window[1]}: {tr.n_updates} updates in "
                  f"{tr.wall_seconds:.0f}s")
    console.print(f"[bold]registry[/bold] {registry.root}: version {outcome.version}")
    console.print(f"[bold]gate[/bold] {outcome.decision.summary()}")


def _options(config, steps: int, given: dict) -> tuple[dict, dict, int]:
    """The SAC and env overrides and steps of the command line, over a --config file's settings."""
    sac = sac_options(**{k: given[k] for k in ("aux", "aux_coef_short", "aux_coef_long", "allow_unsafe_lr", "lr",
                                             "network", "gamma", "counterfactual_actions", "holdout_weeks",
                                             "holdout_sizing", "feature_noise")})
    env = env_options(**{k: given[k] for k in ("action_mode", "tilt", "rebalance_rate", "no_trade_band", "reward",
                                               "train_cost_multiplier", "broker", "leverage")})
    sac, env, steps, _ = with_config_file(config, sac=sac, env=env, steps=steps)
    return sac, env, steps


def _configs(mode: str, sac: dict, env: dict):
    """The SAC and env settings of a training; a finetune keeps its parent's env and refuses others."""
    import dataclasses

    from sacfolio.env.config import TRADING_DEFAULTS, EnvConfig
    from sacfolio.exceptions import ConfigError
    from sacfolio.train.portfolio import PORTFOLIO_SAC

    env_config = EnvConfig.from_dict(env)
    if mode == "finetune" and env_config != EnvConfig.from_dict(TRADING_DEFAULTS):
        raise ConfigError("a finetune trades under its parent's env settings; drop --action-mode, --tilt, "
                          "--rebalance-rate, --no-trade-band, --reward and --train-cost-multiplier "
                          "(or use --mode full)")
    return dataclasses.replace(PORTFOLIO_SAC, **sac), env_config
