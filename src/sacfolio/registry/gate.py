"""Promotion gate: a candidate replaces ``current`` only if it earns more on the same window.

Only out-of-sample evidence counts: an evaluation of a model on weeks it trained
on (``in_sample_weeks > 0``) is never a reason to promote. The first model of a
name is promoted if its health checks pass and, when the caller supplies the
static fallback's evaluation (``baseline``), its CAGR beats it; otherwise it is
kept as a version with the reason recorded. Later, the current model and the
candidate are evaluated on the same window and the candidate is promoted only if
its CAGR is higher and its health checks pass. Two years of weekly returns rarely
separate two strategies, so every decision also records a paired block-bootstrap
interval of the CAGR difference (and says "within noise" when it contains 0), and
``min_confidence`` can demand that the bootstrap probability of the candidate being
better reaches a level. ``force_reason`` promotes regardless, with the reason
recorded. Every decision, promoted or not, goes to ``promotions.jsonl``.

The registry does not know how to run a model: the caller passes ``evaluate``
(artifacts -> weekly net returns on the window) and optionally ``health``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sacfolio.evaluate.bootstrap import block_indices, paired_block_bootstrap
from sacfolio.evaluate.metrics import cagr
from sacfolio.exceptions import ConfigError, CorruptArtifactError, EvaluationWindowError, RegistryError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.decision import GateEvaluation, GateWindow, PromotionDecision
from sacfolio.registry.registry import Registry

__all__ = ["Evaluate", "GateFactory", "GateSetup", "Health", "PromotionGate", "decide_promotion"]

Evaluate = Callable[[ModelArtifacts], GateEvaluation]
"""``ModelArtifacts -> GateEvaluation`` on the gate window, supplied by the application."""
Health = Callable[[ModelArtifacts], Iterable[str]]
"""``ModelArtifacts -> problems``; any problem blocks promotion."""


@dataclass(frozen=True, kw_only=True)
class GateSetup:
    """How to evaluate models of one name for the gate.

    Attributes
    ----------
    evaluate : callable
        ``ModelArtifacts -> GateEvaluation`` on ``window``.
    window : GateWindow
    health : callable, optional
        ``ModelArtifacts -> list of problems``.
    baseline : GateEvaluation, optional
        The static fallback on ``window``; a first version must beat it.
    block : int
        The bootstrap block length, in the evaluation's periods (weeks for portfolio
        models, trading days for the meta-controller).
    """

    evaluate: Evaluate
    window: GateWindow
    health: Health | None = None
    baseline: GateEvaluation | None = None
    block: int = 4


GateFactory = Callable[[Registry, str], GateSetup]
"""``(registry, model name) -> GateSetup``, supplied by the application."""


@dataclass(frozen=True, kw_only=True)
class PromotionGate:
    """Settings of the promotion gate.

    Attributes
    ----------
    min_confidence : float, default 0.0
        Required bootstrap probability that the candidate's CAGR is higher
        (0 = the point estimate decides alone; 0.9 is strict).
    block : int, default 4
        Bootstrap block length in weeks.
    n_boot : int, default 2000
        Bootstrap samples.
    level : float, default 0.90
        Coverage of the recorded interval.
    seed : int, default 0
        Seed of the bootstrap draw (decisions are reproducible).
    """

    min_confidence: float = 0.0
    block: int = 4
    n_boot: int = 2000
    level: float = 0.90
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence < 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1), got {self.min_confidence}")
        if self.block < 1:
            raise ConfigError(f"block must be >= 1 week, got {self.block}")
        if self.n_boot < 100:
            raise ConfigError(f"n_boot must be >= 100, got {self.n_boot}")
        if not 0.5 <= self.level < 1.0:
            raise ConfigError(f"level must be in [0.5, 1), got {self.level}")

    def compare(self, candidate: GateEvaluation, current: GateEvaluation) -> tuple[dict[str, Any], float]:
        """Paired block-bootstrap interval of the CAGR difference and P(candidate better).

        Returns
        -------
        interval : dict
            :meth:`sacfolio.evaluate.bootstrap.Interval.as_dict` fields.
        p_better : float
            Share of the same bootstrap samples where the candidate's CAGR is higher.

        Raises
        ------
        EvaluationWindowError
            The two series differ in length (not the same window) or are shorter than
            two blocks.
        """
        a, b = candidate.weekly_returns, current.weekly_returns
        if a.shape != b.shape:
            raise EvaluationWindowError(
                f"candidate has {len(a)} weekly returns and current has {len(b)}: they were not "
                "evaluated on the same window"
            )
        if len(a) < 2 * self.block:
            raise EvaluationWindowError(
                f"the gate window has {len(a)} weeks; the bootstrap needs at least {2 * self.block}"
            )
        interval = paired_block_bootstrap(a, b, cagr, block=self.block, n_boot=self.n_boot,
                                          level=self.level, seed=self.seed)
        # The same draw as paired_block_bootstrap (same seed, same index call).
        idx = block_indices(len(a), block=self.block, n_boot=self.n_boot, rng=np.random.default_rng(self.seed))
        diffs = np.asarray(cagr(a[idx])) - np.asarray(cagr(b[idx]))
        return interval.as_dict(), float(np.mean(diffs > 0.0))

    def decide(
        self,
        registry: Registry,
        name: str,
        candidate_version: str,
        *,
        evaluate: Evaluate | None,
        window: GateWindow | None,
        health: Health | None = None,
        force_reason: str | None = None,
        baseline: GateEvaluation | None = None,
    ) -> PromotionDecision:
        """Decide, apply (move ``current`` if promoted) and record one promotion.

        Parameters
        ----------
        registry : Registry
        name : str
        candidate_version : str
            Version id (or ``"latest"``) of the candidate.
        evaluate : callable
            ``ModelArtifacts -> GateEvaluation`` on ``window``. May be None only
            when forcing (the decision then has no scores).
        window : GateWindow or None
            Recorded with the decision; None only with ``evaluate=None``.
        health : callable, optional
            ``ModelArtifacts -> list of problems``; any problem blocks promotion.
        force_reason : str, optional
            Promote regardless of scores and health, recording this reason.
        baseline : GateEvaluation, optional
            The static fallback on ``window``: a first version is promoted only if
            its CAGR is higher.

        Returns
        -------
        PromotionDecision

        Raises
        ------
        ModelNotFoundError
            No such candidate.
        CorruptArtifactError
            The candidate, or (unless forcing) the current version, cannot be loaded.
        EvaluationWindowError
            The two evaluations do not cover the same window.
        RegistryError
            ``current`` changed while deciding, or a forced promotion has no reason.
        """
        candidate = registry.resolve(name, candidate_version)
        forced = force_reason is not None
        if forced and not force_reason.strip():
            raise RegistryError("a forced promotion needs a reason (--reason '...')")
        if evaluate is None and not forced:
            raise RegistryError(
                f"the gate needs an evaluation of {name!r} on the window; pass evaluate, "
                "or force with a reason"
            )
        if evaluate is not None and window is None:
            raise RegistryError("an evaluated gate decision must record its window")
        current = registry.current(name)
        cand_art = registry.load(name, candidate)
        problems = tuple(str(p) for p in health(cand_art)) if health is not None else ()
        cand_eval = evaluate(cand_art) if evaluate is not None else None
        fields: dict[str, Any] = dict(
            name=name, candidate=candidate, current=current, forced=forced,
            window={} if window is None else asdict(window), health_problems=problems, min_confidence=self.min_confidence,
            candidate_cagr=None if cand_eval is None else cand_eval.cagr,
            candidate_in_sample_weeks=0 if cand_eval is None else int(cand_eval.in_sample_weeks),
            baseline_cagr=None if baseline is None else baseline.cagr,
        )

        cur_eval: GateEvaluation | None = None
        current_unreadable = None
        if current is not None and current != candidate and cand_eval is not None:
            cur_eval, current_unreadable = _evaluate_current(registry, name, current, evaluate, forced=forced)
        if cand_eval is not None and cur_eval is not None:
            interval, p_better = self.compare(cand_eval, cur_eval)
            fields.update(current_cagr=cur_eval.cagr, cagr_diff=cand_eval.cagr - cur_eval.cagr,
                          interval=interval, p_better=p_better,
                          within_noise=interval["low"] <= 0.0 <= interval["high"])

        if forced:
            promoted, reason = True, f"forced: {force_reason.strip()}"
            if current_unreadable:
                reason += f" (current was unreadable: {current_unreadable})"
        else:
            promoted, reason = self._unforced_verdict(fields, cand_eval, baseline)

        decision = PromotionDecision(promoted=promoted, reason=reason, **fields)
        _apply(registry, decision)
        return decision

    def _unforced_verdict(self, fields: Mapping[str, Any], cand_eval: GateEvaluation | None,
                          baseline: GateEvaluation | None) -> tuple[bool, str]:
        """Health first, then out-of-sample evidence only, then the scores."""
        if fields["current"] == fields["candidate"]:
            return False, "already the current version"
        if fields["health_problems"]:
            return False, "health checks failed: " + "; ".join(fields["health_problems"])
        if fields["candidate_in_sample_weeks"] > 0:
            return False, (f"no out-of-sample evidence: the candidate was scored on "
                           f"{fields['candidate_in_sample_weeks']} weeks it trained on; a score on "
                           "training weeks is never a reason to promote")
        if fields["current"] is None:
            return _first_verdict(fields["name"], cand_eval, baseline)
        return self._verdict(fields)

    def _verdict(self, fields: Mapping[str, Any]) -> tuple[bool, str]:
        cand, cur, diff = fields["candidate_cagr"], fields["current_cagr"], fields["cagr_diff"]
        noise = fields["interval"]["verdict"]  # "within noise" when the interval contains 0
        if not diff > 0.0:
            return False, f"CAGR {cand:+.2%} is not higher than current {cur:+.2%} ({noise})"
        if fields["p_better"] < self.min_confidence:
            return False, (f"CAGR {cand:+.2%} beats current {cur:+.2%} but P(better) "
                           f"{fields['p_better']:.2f} < min_confidence {self.min_confidence:.2f} ({noise})")
        return True, f"CAGR {cand:+.2%} beats current {cur:+.2%} ({noise})"


def _first_verdict(name: str, candidate: GateEvaluation | None,
                   baseline: GateEvaluation | None) -> tuple[bool, str]:
    """A first version serves only if it beats the static fallback (when that was evaluated)."""
    if baseline is None or candidate is None:
        return True, f"first model of {name}"
    if candidate.cagr > baseline.cagr:
        return True, f"first model of {name}: CAGR {candidate.cagr:+.2%} beats the static fallback {baseline.cagr:+.2%}"
    return False, (f"first model of {name} kept, not promoted: CAGR {candidate.cagr:+.2%} does not beat the "
                   f"static fallback (constrained 1/N) {baseline.cagr:+.2%} on the gate window")


def _evaluate_current(registry: Registry, name: str, current: str, evaluate: Evaluate, *,
                      forced: bool) -> tuple[GateEvaluation | None, str | None]:
    """The current version's evaluation, or (forcing only) why it could not be read."""
    try:
        now_current = registry.resolve(name, "current")  # a dangling pointer fails here
        if now_current != current:
            raise RegistryError(
                f"current version of {name!r} changed from {current} to {now_current} while "
                "the gate was deciding; run the gate again"
            )
        cur_art = registry.load(name, current)
    except CorruptArtifactError as exc:
        if not forced:
            raise
        return None, str(exc)  # forcing is how a broken current is replaced
    return evaluate(cur_art), None


def _apply(registry: Registry, decision: PromotionDecision) -> None:
    """Move ``current`` if promoted, and record the decision in the history either way."""
    entry = decision.as_dict()
    for key in ("name", "candidate", "current", "promoted", "reason"):
        entry.pop(key)
    name, candidate, current, reason = decision.name, decision.candidate, decision.current, decision.reason
    if decision.promoted:
        registry.promote(name, candidate, reason=reason, details=entry, action="gate",
                         expect_current=current)
    else:
        registry.record(name, {**entry, "action": "gate", "version": candidate, "previous": current,
                               "promoted": False, "reason": reason})


def decide_promotion(
    name: str,
    candidate_version: str,
    *,
    evaluate: Evaluate | None,
    registry: Registry,
    window: GateWindow | None,
    min_confidence: float = 0.0,
    force_reason: str | None = None,
    health: Health | None = None,
    seed: int = 0,
    baseline: GateEvaluation | None = None,
) -> PromotionDecision:
    """Run the promotion gate with default settings; see :meth:`PromotionGate.decide`."""
    gate = PromotionGate(min_confidence=min_confidence, seed=seed)
    return gate.decide(registry, name, candidate_version, evaluate=evaluate, window=window,
                       health=health, force_reason=force_reason, baseline=baseline)
