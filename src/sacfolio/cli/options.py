"""Options shared by several commands, each with the help that teaches it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from sacfolio.env.config import CONFIGURATIONS_TRIED, TRADING_DEFAULTS

TRADING = {"action_mode": TRADING_DEFAULTS["action_mode"], "tilt": TRADING_DEFAULTS["tilt"],
           "rebalance_rate": TRADING_DEFAULTS["execution"]["rebalance_rate"],
           "no_trade_band": TRADING_DEFAULTS["execution"]["no_trade_band"], "reward": TRADING_DEFAULTS["reward"],
           "train_cost_multiplier": TRADING_DEFAULTS["train_cost_multiplier"]}
"""The trading options' defaults (:data:`sacfolio.env.config.TRADING_DEFAULTS`, flat)."""

__all__ = ["TRADING", "ActionModeOpt", "AgentsOpt", "BrokerOpt", "LeverageOpt", "AuxLongOpt", "AuxOpt", "CounterfactualOpt", "EnsembleMixOpt", "GammaOpt", "HoldoutOpt", "FeatureNoiseOpt", "HoldoutSizingOpt", "NetworkOpt", "AuxShortOpt", "DataOpt", "EndOpt",
           "ExecutorOpt", "FoldStepsOpt", "FundamentalsOpt", "HomeOpt", "MarketOpt", "NewsOpt", "NoTradeBandOpt", "ProgressOpt",
           "RebalanceRateOpt", "RewardOpt", "SeedOpt", "SeedsOpt", "StartOpt", "StepsOpt", "StrengthOpt", "TiltOpt",
           "TrainCostOpt", "TrialsOpt", "UnsafeLrOpt", "WarmStartOpt", "WorkersOpt", "RayAddressOpt", "ResumeOpt", "VariantOpt", "YearsOpt", "BaselinesOpt", "env_options", "sac_options", "split_names"]

DataOpt = Annotated[Optional[Path], typer.Option(
    "--data", help="CSV or Parquet of prices (wide: date + one close column per symbol; long: "
    "date,symbol,close[,open,high,low,volume]). Default: the embedded S&P 500 sample.",
    show_default=False)]
StartOpt = Annotated[Optional[str], typer.Option(help="Use data from this date on (ISO, e.g. 2005-01-01).")]
EndOpt = Annotated[Optional[str], typer.Option(help="Use data up to this date (ISO).")]
SeedOpt = Annotated[int, typer.Option(help="Seed of everything random; the same seed gives the same result on CPU.")]
SeedsOpt = Annotated[int, typer.Option(
    "--seeds", min=1, max=64, help="Seed ensemble: train K agents per fold (member k with root seed "
    "--seed + 1000 k) and trade the average of their target weights, a portfolio of portfolios. "
    "The report shows the single seeds' band.")]
EnsembleMixOpt = Annotated[str, typer.Option(
    "--ensemble-mix", help="How --seeds K agents trade as one: 'weights' (the average of their target weights) "
    "or 'actions' (the target of their average action: where large residual tilts hit the position cap, "
    "what the members agree on survives the projection instead of being diluted by it).")]
TrialsOpt = Annotated[int, typer.Option(
    "--trials", min=1, help="Configurations tried before these settings were chosen; the report's "
    f"deflated Sharpe ratio discounts the best-of-N luck (default {CONFIGURATIONS_TRIED}: the study "
    "behind the default trading settings).")]
ExecutorOpt = Annotated[str, typer.Option(
    "--executor", help="Where the training tasks run: 'local' (one after another in this process), "
    "'process' (a pool of worker processes) or 'ray' (Ray tasks: a local Ray on 127.0.0.1, or the cluster "
    "of --ray-address; needs pip install 'sacfolio\\[ray]'). Each seed's chain of warm-started folds is one "
    "task (with --cold-start each fold is its own). Same results either way.")]
WorkersOpt = Annotated[Optional[int], typer.Option(
    "--workers", min=1, help="Processes of --executor process, CPUs of a local Ray (default: the number "
    "of CPUs).", show_default=False)]
RayAddressOpt = Annotated[Optional[str], typer.Option(
    "--ray-address", help="With --executor ray: attach to this running Ray cluster (e.g. 'ray://head:10001' "
    "or 'auto') instead of starting a local one on 127.0.0.1.", show_default=False)]
ResumeOpt = Annotated[bool, typer.Option(
    "--resume/--no-resume", help="Reuse the tasks an earlier run of the same data and settings finished "
    "(kept under --out/task_cache), so an interrupted run goes on where it stopped; --no-resume trains "
    "every task again.")]
WarmStartOpt = Annotated[bool, typer.Option(
    "--warm-start/--cold-start", help="Each later fold continues from the previous fold's weights for "
    "--fold-steps (default), or trains --steps from scratch (--cold-start: costs more, and keeps a fold's "
    "model from carrying what the earlier folds fitted; cold folds train in parallel with --executor process).")]
MarketOpt = Annotated[Optional[str], typer.Option(
    "--market", help="Run on a generated known-answer market instead of data: 'null' (no signal: "
    "1/N-like is best), 'ar1' (last week's idiosyncratic move predicts this week's) or 'factor' "
    "(news sentiment and a fundamental predict next week). The report adds the known-model policy "
    "and the share of its excess CAGR over 1/N the agent earns.", show_default=False)]
StrengthOpt = Annotated[Optional[float], typer.Option(
    "--strength", help="The planted signal of --market: the AR(1) coefficient (ar1, default 0.15) or "
    "the sentiment IC (factor, default 0.10).", show_default=False)]
YearsOpt = Annotated[Optional[str], typer.Option(
    "--eval-years", help="Test years, one walk-forward fold each: '2015-2022', '2021,2022' or '2022'.")]
StepsOpt = Annotated[int, typer.Option(
    "--steps", min=1, help="SAC environment steps (one gradient update each) for the first fold.")]
FoldStepsOpt = Annotated[int, typer.Option(
    "--fold-steps", min=1, help="Steps for each later fold, warm-started from the previous fold "
    "(unused with --cold-start).")]
VariantOpt = Annotated[str, typer.Option(
    "--variant", help="State: 'sac_lstm' / 'sac_patchtst' (news sentiment, fundamentals and a "
    "walk-forward LSTM / PatchTST forecast per stock), 'sac_price' (trailing returns and volatility) or "
    "'sac_factor' (sac_price plus risk-scaled 12-1 momentum, 52-week volatility, beta and correlation; "
    "see 'sacfolio features ic') or 'universal' (32 symbol slots, a transformer across symbols fusing the "
    "advisor zoo; trades changed universes without retraining).")]
NewsOpt = Annotated[Optional[Path], typer.Option(
    "--news", help="News items (JSONL/JSON/Parquet: timestamp, symbol(s), headline) or a "
    "daily_sentiment.parquet, for the sac_lstm / sac_patchtst variants.", show_default=False)]
FundamentalsOpt = Annotated[Optional[Path], typer.Option(
    "--fundamentals", help="Folder of cached Alpha Vantage responses (INCOME_STATEMENT, BALANCE_SHEET, "
    "EARNINGS) for the sac_lstm / sac_patchtst variants.", show_default=False)]
AuxOpt = Annotated[bool, typer.Option("--aux/--no-aux", help="Auxiliary heads predicting each stock's "
                                      "1- and 4-week return, trained beside the policy.")]
AuxShortOpt = Annotated[float, typer.Option(min=0.0, help="Weight of the 1-week aux loss.")]
AuxLongOpt = Annotated[float, typer.Option(min=0.0, help="Weight of the 4-week aux loss.")]
NetworkOpt = Annotated[str, typer.Option(
    "--network", help="SAC's actor and critics: 'mlp' (one network over the whole state) or 'cross_sectional' "
    "(one small network shared by every stock, reading its features and weight; what it learns about one "
    "stock it knows about all, so a per-stock signal is learned from 20x the examples).")]
GammaOpt = Annotated[Optional[float], typer.Option(
    "--gamma", min=0.0, max=1.0, help="SAC's discount (default 0.99). 0 makes each week a bandit: right when "
    "the action moves nothing later (exogenous prices), as in the residual mode with full rebalancing.")]
CounterfactualOpt = Annotated[int, typer.Option(
    "--counterfactual-actions", min=0, help="SAC trains its critic on this many fresh policy actions per replayed "
    "week as well, with the reward the env gives them (prices do not depend on the action, so any action's "
    "week is known exactly). 1 roughly doubles an update's cost and learns a per-stock signal sooner.")]
HoldoutOpt = Annotated[int, typer.Option(
    "--holdout-weeks", min=0, help="Residual mode: train without the last N weeks, check there whether the "
    "policy's tilts ranked next week's returns (rank IC t-stat >= 2), train on over all weeks; a model that "
    "fails trades the benchmark. Warm-started folds check the weeks after their parent's window. A seed "
    "ensemble with --ensemble-mix actions is checked on its members' mean action, which decides for all "
    "of them. 0: no check.")]
HoldoutSizingOpt = Annotated[str, typer.Option(
    "--holdout-sizing", help="With --holdout-weeks, how much of its tilt a checked model trades: 'gate' all of "
    "it once the record's t reaches 2 and the benchmark below; 'scaled' the tilt times clip(t / 2, 0, 1), a "
    "part of it for evidence short of 2 (t 1.5 trades 75% of the tilt).")]
FeatureNoiseOpt = Annotated[float, typer.Option(
    "--feature-noise", min=0.0, metavar="SIGMA", help="SAC adds fresh N(0, SIGMA^2) noise to the standardized "
    "features of every replayed state (the weights stay exact), so the networks cannot memorize each "
    "training week's returns from its exact features; 1 lifted the AR(1) signal learner's share of the "
    "known policy's edge (benchmarks/bench_learning.py, cs_mix_noise). 0: none.")]
UnsafeLrOpt = Annotated[bool, typer.Option("--allow-unsafe-lr", help="Allow learning rates above 1e-3 "
                                           "(refused by default: they make SAC's weights explode).")]
AgentsOpt = Annotated[str, typer.Option("--agents", help="Learners trained and backtested on every fold: "
                                        "'sac' or 'sac,ppo' (PPO as an on-policy baseline on the same state).")]
ProgressOpt = Annotated[bool, typer.Option("--progress/--no-progress", help="Show progress bars.")]
HomeOpt = Annotated[Optional[str], typer.Option(
    "--home", help="Model registry root (path or fsspec URL). Default: $SACFOLIO_HOME or ./models.")]
BaselinesOpt = Annotated[Optional[str], typer.Option(
    help="Comma-separated baselines or groups: default (the default set), zoo (each of the 9 advisors alone), "
    "olps (UCRP, EG, ONS, OLMAR, PAMR, Anticor, hindsight BCRP), all.")]
ActionModeOpt = Annotated[str, typer.Option(
    "--action-mode", help="How the agent's action becomes weights: 'softmax' (a softmax of the scaled "
    "action: any portfolio, also far from 1/N) or 'residual' (the action tilts constrained equal weight by "
    "at most --tilt per stock, so doing nothing is exactly 1/N and the agent learns only deviations).")]
TiltOpt = Annotated[float, typer.Option(
    "--tilt", min=0.0, help="Residual mode: how far one unit of action moves a stock from its benchmark "
    "weight (0.02 = two points: an action of +1 takes 4.9% to 6.9%, funded by the others; the tilts are "
    "made zero-sum, so with the rest leaning the other way a stock can move up to about twice that).")]
RebalanceRateOpt = Annotated[float, typer.Option(
    "--rebalance-rate", min=0.0, max=1.0, help="Fraction of the way from the drifted weights to the target "
    "traded each week, in training, backtests and serving alike (1 = all the way; 0.25 = a quarter, so "
    "a steady target is 68% reached after 4 weeks and turnover falls about fourfold).")]
NoTradeBandOpt = Annotated[float, typer.Option(
    "--no-trade-band", min=0.0, max=1.0, help="Stocks within this many weight points of their target do "
    "not trade; the others trade only to the band's edge (0.01: a stock at 6.5% with a 5% target sells "
    "to 6%). Cash takes up the difference. 0 = no band.")]
RewardOpt = Annotated[str, typer.Option(
    "--reward", help="Training reward: 'log_return' (weekly log growth net of costs) or 'excess_log_return' "
    "(minus the same for equal weight held under the same execution and costs: the market's move "
    "cancels, so the agent is paid for its tilt alone).")]
TrainCostOpt = Annotated[float, typer.Option(
    "--train-cost-multiplier", min=0.0, help="Training charges this many times the 10 bps cost (2 = 20 bps) "
    "to teach trading less; backtests and the report always pay the real cost.")]


def split_names(text: str | None) -> tuple[str, ...] | None:
    """``"a, b"`` -> ``("a", "b")``; None stays None (meaning: all)."""
    if text is None:
        return None
    return tuple(n.strip() for n in text.split(",") if n.strip())


BrokerOpt = Annotated[Optional[str], typer.Option(
    "--broker", metavar="FILE", help="Trade through the simulated broker with this instrument file (OANDA v20 "
    "fields: spread, commission, marginRate, financing; every symbol must be in it), or "
    "'sp500_cfd_example.json' (the sample's stocks as share CFDs: 5 bps spread, 5:1 margin, -4.5%/y "
    "financing). Default: the equity rules, 10 bps on turnover, no spread, no leverage.")]
LeverageOpt = Annotated[float, typer.Option(
    "--leverage", min=0.01, max=50.0, help="With --broker: hold this many times each stock weight in exposure "
    "(2 = 2:1); orders the margin cannot carry are refused, closeout at the margin closeout level.")]


def env_options(*, action_mode: str, tilt: float, rebalance_rate: float, no_trade_band: float, reward: str,
                train_cost_multiplier: float, broker: str | None = None, leverage: float = 1.0) -> dict:
    """Overrides of the env settings from the command line, in :meth:`EnvConfig.from_dict` form."""
    options: dict = {"action_mode": action_mode, "tilt": tilt, "reward": reward,
                     "execution": {"rebalance_rate": rebalance_rate, "no_trade_band": no_trade_band},
                     "train_cost_multiplier": train_cost_multiplier}
    if broker is not None:
        options["rules"] = {"broker": {"instruments": broker, "leverage": leverage}}
    elif leverage != 1.0:
        from sacfolio.exceptions import ConfigError

        raise ConfigError("--leverage needs --broker FILE: the equity rules hold no leverage")
    return options


def sac_options(*, aux: bool, aux_coef_short: float, aux_coef_long: float, allow_unsafe_lr: bool,
                lr: float | None = None, network: str = "mlp", gamma: float | None = None,
                counterfactual_actions: int = 0, holdout_weeks: int = 0, holdout_sizing: str = "gate",
                feature_noise: float = 0.0) -> dict:
    """Overrides of the portfolio SAC settings from the command line."""
    options = dict(aux=aux, aux_coef_short=aux_coef_short, aux_coef_long=aux_coef_long,
                   allow_unsafe_lr=allow_unsafe_lr)
    if network != "mlp":
        options["network"] = network
    if gamma is not None:
        options["gamma"] = gamma
    if counterfactual_actions:
        options["counterfactual_actions"] = counterfactual_actions
    if holdout_weeks:
        options["holdout_weeks"] = holdout_weeks
    if holdout_sizing != "gate":
        options["holdout_sizing"] = holdout_sizing
    if feature_noise:
        options["feature_noise"] = feature_noise
    if lr is not None:
        options.update(actor_lr=lr, critic_lr=lr, alpha_lr=lr)
    return options
