"""What a gate decision is about and what it records: the window, each model's returns on it,
the decision itself (also the ``promotions.jsonl`` entry) and the scores read back from history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np

from sacfolio.evaluate.metrics import cagr
from sacfolio.exceptions import EvaluationWindowError

__all__ = ["GateEvaluation", "GateWindow", "PromotionDecision", "gate_cagr_by_version"]


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
    in_sample_weeks : int, default 0
        Weeks of the window the evaluated model was trained on. Anything above 0 is
        in-sample evidence, which the gate never promotes on.
    cagr : float
        Computed from ``weekly_returns`` with :func:`sacfolio.evaluate.metrics.cagr`.
    """

    weekly_returns: np.ndarray
    in_sample_weeks: int = 0
    cagr: float = field(init=False)

    def __post_init__(self) -> None:
        if int(self.in_sample_weeks) < 0:
            raise EvaluationWindowError(f"in_sample_weeks must be >= 0, got {self.in_sample_weeks}")
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
    candidate_in_sample_weeks : int
        Weeks of the window the candidate's evaluated model trained on (0: out of sample).
    baseline_cagr : float or None
        CAGR of the static fallback (constrained 1/N) on the window, when evaluated.
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
    candidate_in_sample_weeks: int = 0
    baseline_cagr: float | None = None

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
