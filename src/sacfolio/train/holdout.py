"""A holdout check: does the policy's tilt predict returns out of sample, or only fit the training noise?

A learner trained on nine years of weekly returns finds patterns whether the market
has any or not: on a market without signal (the null known-answer market) an agent
that tilts freely turns over half its book a week chasing what it fitted. The check
asks the question a portfolio manager asks of a new signal before trading it, on data
the policy has not seen:

1. train on the training window less its last ``W`` weeks (``SACConfig.holdout_weeks``);
   a warm start (the previous walk-forward fold, a finetune's parent) already saw
   its own window, so only the weeks after that window are held out: a yearly
   walk-forward fold checks its tilts on the year before it, the last fold's test year;
2. walk the trained policy through those ``W`` weeks, as a backtest does, and at each
   week take the cross-sectional rank correlation (rank IC) between the tilt the policy
   asks for and the stocks' next-week returns. The tilt asked for is the stock part of
   its action: in the residual mode each stock's tilt is its action less their mean, so
   they rank alike. The weights it trades rank worse: the projection's cap and floor tie
   most stocks of a strong tilt at 0 or the cap, and those ties throw away the policy's
   order (on the AR(1) 0.1 market, for two of four seeds' first folds, the traded
   weights gave t 1.9 and 2.0 where the actions give 2.9 and 4.2 on the same weeks);
3. the tilt passes when the mean rank IC's t-statistic, ``mean / (std / sqrt(weeks))``,
   reaches ``SACConfig.holdout_min_t``. The statistic is taken over the model's whole
   out-of-sample record: a warm start's own checks are pooled with this one
   (:func:`pooled_record`), so a walk-forward's evidence grows fold by fold instead of
   resting on the one year each later fold can hold out;
4. train on, over the whole window (a quarter of the steps, :data:`REFIT_SHARE`).

How much of its tilt the model then trades is ``SACConfig.holdout_sizing``
(:data:`SIZINGS`, :func:`holdout_decision`):

- ``"gate"``: all of it when the record's t reached ``min_t``; otherwise it plays the zero
  action, which in the residual mode is the benchmark exactly (:meth:`ModelBundle.policy_target`);
- ``"scaled"``: the tilt times ``clip(t / min_t, 0, 1)``, so evidence short of ``min_t``
  trades a part of the tilt in proportion to it and a record that ranks nothing (t <= 0)
  trades the benchmark. It is the fundamental law's sizing (active positions in proportion
  to the skill measured) with the skill measured out of sample and capped: a gate throws a
  year away on t 1.8 and bets it all on t 2.0, though one year of weekly ICs cannot tell the
  two apart (their standard error is 1). In the residual mode the tilt is linear in the
  action, so the scaled action moves the weights ``scale`` of the way from the benchmark
  to the full tilt's target before the projection's cap and floor.

A cross-sectional IC is a far sharper test than the holdout's P&L: it needs no
position sizing, ignores the market's common move and gets N observations a week.

A seed ensemble that trades its members' average action (``ensemble_mix="actions"``) is
checked as what it trades: :func:`ensemble_check` walks the members' first passes together
through the same weeks and scores their average action, and that check decides for every
member (each keeps its own as ``member_trades``). Averaging cancels the noise the members
fitted apart and keeps the signal they share, so the mean tilt tends to rank returns better
than a single member's: three members that each missed ``min_t`` passed it together (draw 1
of the AR(1) 0.1 market, 2009: t 1.4, 1.4, 1.9, their mean 2.2), though not always (draw 0,
2012: 1.9, 1.9, 2.0, their mean 1.8); on the null market their mean ranked nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from sacfolio.agents.config import HOLDOUT_SIZINGS
from sacfolio.data.panel import MarketPanel
from sacfolio.exceptions import ConfigError, EvaluationWindowError
from sacfolio.features.blocks import FeatureSet
from sacfolio.model.bundle import ModelBundle

__all__ = ["REFIT_SHARE", "SIZINGS", "check_holdout_settings", "ensemble_check", "holdout_check", "holdout_decision",
           "pooled_record"]

REFIT_SHARE = 0.25
"""The whole-window training after the check, as a share of the steps before it."""

SIZINGS = HOLDOUT_SIZINGS
"""How much of its tilt a checked model trades (``SACConfig.holdout_sizing``)."""


def holdout_decision(record: dict[str, Any], *, min_t: float, sizing: str = "gate") -> dict[str, Any]:
    """``{"trades": bool, "scale": float}``: the share of its tilt a model with the
    out-of-sample ``record`` (``weeks`` and ``t``) trades under ``sizing`` (:data:`SIZINGS`).

    A record of fewer than two weeks has no t and trades nothing.
    """
    if sizing not in SIZINGS:
        raise ConfigError(f"holdout sizing {sizing!r}; choose from {list(SIZINGS)}")
    t, enough = float(record["t"]), int(record["weeks"]) > 1
    if sizing == "gate" or min_t <= 0:
        scale = 1.0 if enough and t >= min_t else 0.0
    else:
        scale = float(np.clip(t / min_t, 0.0, 1.0)) if enough else 0.0
    return {"trades": scale > 0, "scale": scale}


def check_holdout_settings(*, weeks: int, train_start: int, train_stop: int, action_mode: str, algo: str,
                           universal: bool, episode_length: int) -> None:
    """Raise :class:`ConfigError` / :class:`EvaluationWindowError` when a holdout check cannot run."""
    check_holdout_learner(action_mode=action_mode, algo=algo, universal=universal)
    if train_stop - weeks - train_start < max(episode_length, 52) or weeks < 8:
        raise EvaluationWindowError(f"a holdout of {weeks} weeks leaves {train_stop - weeks - train_start} "
                                    f"weeks to train on; keep at least a year (and the episode length, "
                                    f"{episode_length}) and hold out at least 8 weeks")


def check_holdout_learner(*, action_mode: str, algo: str, universal: bool) -> None:
    """Raise :class:`ConfigError` unless the learner's tilts can be checked (SAC, flat state, residual)."""
    if algo != "sac" or universal or action_mode != "residual":
        raise ConfigError("the holdout check needs SAC on a flat-state variant in the residual action mode "
                          "(a closed check plays the zero action, which only the residual mode maps to the "
                          f"benchmark); got algo={algo!r}, action_mode={action_mode!r}"
                          f"{', a universal variant' if universal else ''}")


def _rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank) of a 1-d array."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)
    if len(values) < len(x):
        ranks = np.bincount(inverse, ranks) / np.bincount(inverse)
        ranks = ranks[inverse]
    return ranks


def _rank_ic(tilt: np.ndarray, returns: np.ndarray) -> float | None:
    """Spearman correlation of one week's tilts and next returns (None: either is flat)."""
    a, b = _rank(tilt), _rank(returns)
    a -= a.mean()
    b -= b.mean()
    norm = float(np.sqrt((a @ a) * (b @ b)))
    return None if norm <= 1e-12 else float(a @ b) / norm


def holdout_check(bundle: ModelBundle, panel: MarketPanel, *, start: int, stop: int, min_t: float,
                  features: FeatureSet | None = None, sizing: str = "gate") -> dict[str, Any]:
    """The rank-IC check of ``bundle``'s tilts over decision rows ``start .. stop - 1`` (returns to ``stop``).

    The week's score of a stock is its action (averaged over a seed ensemble's members,
    a member its own check holds at the benchmark counting as the zero action, as it
    trades), the tilt the policy asks for before the projection; the walk trades the
    policy's targets, so the weights (part of the state) evolve as in a backtest.

    Returns
    -------
    dict
        ``trades`` and ``scale`` (:func:`holdout_decision` of this check alone under
        ``sizing``), ``ic`` (mean weekly rank IC), ``sd`` (its weekly standard deviation),
        ``t``, ``weeks`` (weeks with an IC: both the tilt and the returns vary), ``min_t``,
        ``sizing`` and ``window`` (first decision date, last return date).
    """
    if not 0 <= start < stop <= panel.n_dates - 1:
        raise EvaluationWindowError(f"holdout rows {start}..{stop} do not fit in {panel.n_dates} rows")
    if bundle.env_config.action_mode != "residual":
        raise ConfigError("the holdout check reads residual tilts; the model is not in the residual mode")
    core = bundle.core(panel, features)
    obs = core.reset(np.array([start]), np.array([stop]))
    ics = []
    for t in range(start, stop):
        actions = bundle.member_actions(obs)
        score = np.mean(actions, axis=0)[0, :-1]
        target = bundle.target_of(actions, core.available[t], core.benchmark[t])
        obs = core.step_weights(target)[0]
        live = core.available[t]
        if live.sum() >= 3:
            ic = _rank_ic(score[live], core.returns[t + 1, live])
            if ic is not None:
                ics.append(ic)
    values = np.asarray(ics)
    n = len(values)
    mean = float(values.mean()) if n else 0.0
    spread = float(values.std(ddof=1)) if n > 1 else 0.0
    check = {"ic": mean, "sd": spread, "t": _t(mean, spread, n), "weeks": n, "min_t": float(min_t),
             "sizing": sizing, "window": [str(panel.dates[start]), str(panel.dates[stop])]}
    return {**holdout_decision(check, min_t=min_t, sizing=sizing), **check}


def _t(mean: float, spread: float, n: int) -> float:
    return float(mean / (spread / np.sqrt(n))) if n > 1 and spread > 0 else 0.0


def pooled_record(previous: dict[str, Any] | None, check: dict[str, Any]) -> dict[str, Any]:
    """The out-of-sample record of ``previous`` (a warm start's ``record``) and ``check`` together.

    Returns ``{"weeks", "ic", "sd", "t", "since"}``: the weekly rank ICs of both, as one
    sample (count, mean and standard deviation combined exactly), ``since`` the first
    week of the record.
    """
    if not previous:
        return {k: check[k] for k in ("weeks", "ic", "sd", "t")} | {"since": check["window"][0]}
    n1, m1, s1 = int(previous["weeks"]), float(previous["ic"]), float(previous["sd"])
    n2, m2, s2 = int(check["weeks"]), float(check["ic"]), float(check["sd"])
    n = n1 + n2
    mean = (n1 * m1 + n2 * m2) / n if n else 0.0
    squares = max(n1 - 1, 0) * s1 ** 2 + n1 * m1 ** 2 + max(n2 - 1, 0) * s2 ** 2 + n2 * m2 ** 2
    spread = float(np.sqrt(max(squares - n * mean ** 2, 0.0) / (n - 1))) if n > 1 else 0.0
    return {"weeks": n, "ic": mean, "sd": spread, "t": _t(mean, spread, n), "since": previous["since"]}


def ensemble_check(checked: ModelBundle, checks: "tuple[dict[str, Any], ...] | list[dict[str, Any]]",
                   panel: MarketPanel, *, previous: dict[str, Any] | None = None,
                   features: FeatureSet | None = None) -> tuple[dict[str, Any], ...]:
    """The members' ``checks`` with the decision of the check of their average action.

    Parameters
    ----------
    checked : ModelBundle
        The seed ensemble of the bundles the members' checks walked (their first passes),
        mixing actions; it is walked through the members' holdout weeks with every member
        trading, scored by its mean action.
    checks : sequence of dict
        Each member's own check (:func:`holdout_check` with its ``record``): same weeks.
    previous : dict, optional
        The out-of-sample record of the ensemble this one was warm-started from (its
        ``ensemble["record"]``), pooled as a single model's is.

    Returns
    -------
    tuple of dict
        Per member, its check with ``member_trades`` and ``member_scale`` (its own
        decision), ``trades`` and ``scale`` (the ensemble's) and ``ensemble`` (the
        ensemble's check: ``ic``, ``sd``, ``t``, ``weeks``, ``window``, ``min_t``,
        ``sizing``, ``record``, ``trades``, ``scale``).
    """
    if checked.n_members != len(checks) or checked.ensemble_mix != "actions" or len(checks) < 2:
        raise ConfigError(f"an ensemble check needs the {len(checks)} members' checked policies mixing actions; "
                          f"got {checked.n_members} mixing {checked.ensemble_mix}")
    windows = {tuple(c["window"]) for c in checks}
    if len(windows) != 1:
        raise EvaluationWindowError(f"the members were checked on different weeks: {sorted(windows)}")
    first, last = next(iter(windows))
    start, stop = (int(panel.index_of(np.datetime64(d, "D"))) for d in (first, last))
    min_t, sizing = float(checks[0]["min_t"]), str(checks[0].get("sizing", "gate"))
    mixed = holdout_check(replace(checked, holdout=()), panel, start=start, stop=stop, min_t=min_t,
                          features=features, sizing=sizing)
    mixed["record"] = pooled_record(previous, mixed)
    mixed.update(holdout_decision(mixed["record"], min_t=min_t, sizing=sizing))
    return tuple({**c, "member_trades": bool(c.get("member_trades", c["trades"])),
                  "member_scale": float(c.get("member_scale", c.get("scale", float(c["trades"])))),
                  "trades": mixed["trades"], "scale": mixed["scale"], "ensemble": mixed} for c in checks)
