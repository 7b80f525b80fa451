"""Promotion gate: a candidate replaces ``current`` only if it earns more on the same window.

DESIGN §2: the first model of a name is promoted. Later, the current model and the
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
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from sacfolio.evaluate.bootstrap import block_indices, paired_block_bootstrap
from sacfolio.evaluate.metrics import cagr
from sacfolio.exceptions import ConfigError, CorruptArtifactError, EvaluationWindowError, RegistryError
from sacfolio.registry.artifacts import ModelArtifacts
from sacfolio.registry.registry import Registry

__all__ = [
    "GateWindow",
    "GateEvaluation",
    "PromotionDecision",
    "PromotionGate",
    "decide_promotion",
    "gate_cagr_by_version",
]

Evaluate = Callable[[ModelArtifacts], "GateEvaluation"]
Health = Callable[[ModelArtifacts], Iterable[str]]


@dataclass(frozen=True, kw_only=True)
class GateWindow:
    """The evaluation window of a gate decision, as recorded.

    Attributes
    ----------
    start, end : str
        First decision date and last return date, ISO ``YYYY-MM-DD``.
    description : str
        How returns were produced on it.
    """

    start: str
    end: str
    description: str = "last 2 years, expanding-window walk-forward"

    def __post_init__(self) -> None:
        try:
            start, end = date.fromisoformat(str(self.start)), date.fromisoformat(str(self.end))
        except ValueError as exc:
            raise EvaluationWindowError(
                f"gate window dates must be ISO YYYY-MM-DD, got start={self.start!r} end={self.end!r}"
            ) from exc
        if start >= end:
            raise EvaluationWindowError(f"gate window start {start} must be before its end {end}")
        object.__setattr__(self, "start", start.isoformat())
        object.__setattr__(self, "end", end.isoformat())


@dataclass(frozen=True, kw_only=True)
class GateEvaluation:
    """One model's result on the gate window.

    Attributes
    ----------
    weekly_returns : ndarray of float64, shape (S,)
        Net simple returns per week, costs included (read-only copy).
    cagr : float
        Computed from ``weekly_returns`` with :func:`sacfolio.evaluate.metrics.cagr`.
    """

    weekly_returns: np.ndarray
    cagr: float = field(init=False)

    def __post_init__(self) -> None:
        r = np.array(self.weekly_returns, dtype=np.float64, copy=True)
        if r.ndim != 1 or len(r) < 2:
            raise EvaluationWindowError(f"weekly_returns must be 1-D with >= 2 weeks, got shape {r.shape}")
        if not np.isfinite(r).all() or (r < -1.0).any():
            bad = int(np.flatnonzero(~np.isfinite(r) | (r < -1.0))[0])
            raise EvaluationWindowError(f"weekly return {r[bad]} at week {bad} is not a finite return >= -1")
        r.flags.writeable = False
        object.__setattr__(self, "weekly_returns", r)
        object.__setattr__(self, "cagr", float(cagr(r)))


@dataclass(frozen=True, kw_only=True)
class PromotionDecision:
    """What the gate decided and why; also the ``promotions.jsonl`` entry.

    Attributes
    ----------
    name, candidate : str
    current : str or None
        Version that was current when the gate decided.
    promoted, forced : bool
    reason : str
    candidate_cagr, current_cagr, cagr_diff : float or None
        On the window; None where not evaluated.
    interval : dict or None
        Bootstrap interval of ``CAGR(candidate) - CAGR(current)``: ``low``, ``high``,
        ``point``, ``level``, ``block``, ``n_boot``, ``seed``, ``verdict``.
    p_better : float or None
        Bootstrap share of samples where the candidate's CAGR is higher.
    within_noise : bool or None
        The interval contains 0.
    window : dict
    health_problems : tuple of str
    min_confidence : float
    """

    name: str
    candidate: str
    current: str | None
    promoted: bool
    forced: bool
    reason: str
    candidate_cagr: float | None = None
    current_cagr: float | None = None
    cagr_diff: float | None = None
    interval: dict[str, Any] | None = None
    p_better: float | None = None
    within_noise: bool | None = None
    window: dict[str, Any] = field(default_factory=dict)
    health_problems: tuple[str, ...] = ()
    min_confidence: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        out = asdict(self)
        out["health_problems"] = list(self.health_problems)
        return out

    def summary(self) -> str:
        """One line for people: verdict, scores, interval."""
        head = f"{self.name} {self.candidate}: {'PROMOTED' if self.promoted else 'not promoted'} ({self.reason})"
        if self.candidate_cagr is None:
            return head
        text = f"{head}; CAGR candidate {self.candidate_cagr:+.2%}"
        if self.current_cagr is not None:
            text += f" vs current {self.current_cagr:+.2%}"
        if self.interval is not None:
            text += (f"; {self.interval['level']:.0%} interval of the difference "
                     f"[{self.interval['low']:+.2%}, {self.interval['high']:+.2%}], {self.interval['verdict']}, "
                     f"P(better) {self.p_better:.2f}")
        return text


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
        )

        cur_eval: GateEvaluation | None = None
        current_unreadable = None
        if current is not None and current != candidate and cand_eval is not None:
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
                current_unreadable = str(exc)  # forcing is how a broken current is replaced
            else:
                cur_eval = evaluate(cur_art)
        if cand_eval is not None and cur_eval is not None:
            interval, p_better = self.compare(cand_eval, cur_eval)
            fields.update(current_cagr=cur_eval.cagr, cagr_diff=cand_eval.cagr - cur_eval.cagr,
                          interval=interval, p_better=p_better,
                          within_noise=interval["low"] <= 0.0 <= interval["high"])

        if forced:
            promoted, reason = True, f"forced: {force_reason.strip()}"
            if current_unreadable:
                reason += f" (current was unreadable: {current_unreadable})"
        elif current == candidate:
            promoted, reason = False, "already the current version"
        elif problems:
            promoted, reason = False, "health checks failed: " + "; ".join(problems)
        elif current is None:
            promoted, reason = True, f"first model of {name}"
        else:
            promoted, reason = self._verdict(fields)

        decision = PromotionDecision(promoted=promoted, reason=reason, **fields)
        entry = decision.as_dict()
        entry.pop("name")
        entry.pop("candidate")
        entry.pop("current")
        entry.pop("promoted")
        entry.pop("reason")
        if promoted:
            registry.promote(name, candidate, reason=reason, details=entry, action="gate",
                             expect_current=current)
        else:
            registry.record(name, {**entry, "action": "gate", "version": candidate, "previous": current,
                                   "promoted": False, "reason": reason})
        return decision

    def _verdict(self, fields: Mapping[str, Any]) -> tuple[bool, str]:
        cand, cur, diff = fields["candidate_cagr"], fields["current_cagr"], fields["cagr_diff"]
        noise = fields["interval"]["verdict"]  # "within noise" when the interval contains 0
        if not diff > 0.0:
            return False, f"CAGR {cand:+.2%} is not higher than current {cur:+.2%} ({noise})"
        if fields["p_better"] < self.min_confidence:
            return False, (f"CAGR {cand:+.2%} beats current {cur:+.2%} but P(better) "
                           f"{fields['p_better']:.2f} < min_confidence {self.min_confidence:.2f} ({noise})")
        return True, f"CAGR {cand:+.2%} beats current {cur:+.2%} ({noise})"


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
) -> PromotionDecision:
    """Run the promotion gate with default settings; see :meth:`PromotionGate.decide`."""
    gate = PromotionGate(min_confidence=min_confidence, seed=seed)
    return gate.decide(registry, name, candidate_version, evaluate=evaluate, window=window,
                       health=health, force_reason=force_reason)


def gate_cagr_by_version(history: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Latest CAGR on a gate window of each version named in a history.

    A version is scored when it was a candidate (``candidate_cagr``) and when it was
    re-evaluated as the current model (``current_cagr`` of a later decision).
    """
    scores: dict[str, float] = {}
    for entry in history:
        if entry.get("action") != "gate":
            continue
        if isinstance(entry.get("candidate_cagr"), (int, float)) and entry.get("version"):
            scores[entry["version"]] = float(entry["candidate_cagr"])
        if isinstance(entry.get("current_cagr"), (int, float)) and entry.get("previous"):
            scores[entry["previous"]] = float(entry["current_cagr"])
    return scores
