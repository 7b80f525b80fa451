"""Request and response bodies of the brain API (pydantic)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sacfolio.serve.jobs import JobRecord
from sacfolio.serve.redact import scrub

__all__ = [
    "Problem", "InferenceRequest", "WeightsResponse", "DecisionResponse", "TrainRequest", "JobView",
    "JobList", "GateNote", "ModelHealth", "CheckView", "HealthResponse", "StatusResponse", "RetrainRequest",
    "RetrainResponse",
]


class Problem(BaseModel):
    """Body of every 4xx answer: what is wrong and how to fix it."""

    detail: str


class InferenceRequest(BaseModel):
    """Optional inputs of an inference; an empty body gives the target at the last data row."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    as_of: date | None = Field(default=None, description="Decide with the data of the last row at or "
                               "before this date (point in time). Default: the last row.")
    current_weights: dict[str, float] | list[float] | None = Field(
        default=None, description="The portfolio's weights now: by symbol incl. CASH (symbols left out "
        "hold 0), or N + 1 numbers in the model's symbol order then CASH. Non-negative, finite, summing "
        "to 1 (±1e-6). With them the answer is this row's trade under the model's execution rules (a "
        "partial step, a no-trade band); without them, the model's target itself, decided from 100% CASH.")
    symbols: list[str] | None = Field(
        default=None, max_length=1000, description="Universal models (universal_s<N>) only: trade just these "
        "symbols of the data, in this order (a universe change without retraining; at most N). Default: "
        "every symbol of the data.")


class WeightsResponse(BaseModel):
    """Target weights and where they came from."""

    model: str
    weights: dict[str, float] = Field(description="Target weight by symbol, CASH last; >= 0, sum 1.")
    version: str | None = Field(description="Registry version that decided (None for the fallback).")
    as_of: date = Field(description="Date of the data row used.")
    source: Literal["model", "fallback"]
    reason: str | None = Field(default=None, description="Why the static fallback was served.")


class DecisionResponse(WeightsResponse):
    """Target weights plus the model's auxiliary predictions."""

    aux: dict[str, dict[str, float]] | None = Field(
        default=None, description="Auxiliary return predictions of the model's aux heads: horizon "
        "('1w', '4w') -> symbol -> predicted simple return over that horizon; null when the served "
        "model has no aux heads (or the fallback is served).")
    advisors: dict[str, float] | None = Field(
        default=None, description="A universal model's advisor mixture of this decision: advisor -> weight "
        "(sums to 1); null for other models and the fallback.")


class TrainRequest(BaseModel):
    """Optional overrides of a training job; an empty body uses the service's settings."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    steps: int | None = Field(default=None, ge=1, le=1_000_000, strict=True, description="SAC environment steps.")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, strict=True, description="Seed of the run.")
    until: date | None = Field(default=None, description="Last date of data the training may use.")


class JobView(BaseModel):
    """A training job's record."""

    id: str
    model: str
    mode: Literal["full", "finetune"]
    state: Literal["queued", "running", "succeeded", "failed"]
    progress: float = Field(ge=0, le=1)
    trigger: str = Field(description="api, schedule or retrain.")
    params: dict[str, Any]
    created_at: str
    started_at: str | None
    finished_at: str | None
    pid: int | None = Field(description="Process id of the job's worker once started.")
    log_tail: str = Field(description="The last lines of the job's log; no tracebacks, and paths "
                          "outside the registry home shortened to '.../<file>'.")
    version: str | None = Field(description="Version the job saved in the registry.")
    promoted: bool | None = Field(description="The promotion gate's verdict.")
    decision: dict[str, Any] | None = Field(description="The gate decision with both scores.")
    error: str | None
    existing: bool = Field(default=False, description="True when a POST found this job already queued "
                           "or running for the same model and mode and did not start another.")

    @classmethod
    def of(cls, job: JobRecord, *, existing: bool = False) -> "JobView":
        home = job.params.get("home") if isinstance(job.params.get("home"), str) else None
        return cls(id=job.id, model=job.model, mode=job.mode, state=job.state, progress=job.progress,
                   trigger=job.trigger, params=job.params, created_at=job.created_at,
                   started_at=job.started_at, finished_at=job.finished_at, pid=job.pid,
                   log_tail=scrub(job.log_tail, home) or "", version=job.version, promoted=job.promoted,
                   decision=job.decision, error=scrub(job.error, home), existing=existing)


class JobList(BaseModel):
    jobs: list[JobView]


class GateNote(BaseModel):
    """The newest promotion-gate decision of a model: why its latest candidate serves or not."""

    version: str | None
    promoted: bool
    reason: str
    time: str | None


class ModelHealth(BaseModel):
    """One model's serving state."""

    enabled: bool
    loaded: bool
    source: Literal["model", "fallback"]
    version: str | None = Field(description="Version serving requests.")
    current: str | None = Field(description="The registry's current version (differs from `version` "
                                "while a newer version fails to load).")
    promoted_at: str | None
    loaded_at: str | None
    load_error: str | None
    reason: str | None = Field(description="Why the fallback is served.")
    last_decision: GateNote | None = Field(default=None, description="The newest gate decision "
                                           "(e.g. a candidate kept because it did not beat 1/N).")


class CheckView(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str
    required: bool


class PaperHealth(BaseModel):
    """The paper-trading loop (``sacfolio paper``) as its ledger shows it."""

    running: bool
    last_bar: str | None = None
    lag_seconds: float | None = None
    source: str | None = None
    error: str | None = None


class HealthResponse(BaseModel):
    """Is the service serving what it should (``sac_enabled`` / ``sac_loaded``)?"""

    status: Literal["ok", "degraded"]
    sac_enabled: bool
    sac_loaded: bool
    models: dict[str, ModelHealth]
    torch: str
    checks: list[CheckView]
    registry: str
    paper: PaperHealth | None = None


class StatusResponse(BaseModel):
    schedule: list[dict[str, Any]]
    jobs: list[JobView]
    running: list[str]
    data: dict[str, Any]
    started_at: str


class RetrainRequest(BaseModel):
    """Which scheduled jobs to run now (all when empty)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    model: str | None = Field(default=None, max_length=100)
    mode: Literal["full", "finetune"] | None = None


class RetrainResponse(BaseModel):
    jobs: list[JobView]
