"""``GET /jobs`` and ``GET /jobs/{id}``: training jobs with state, progress, log tail and outcome."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BeforeValidator

from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import JobList, JobView, Problem

__all__ = ["router"]

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _digits(value: object) -> object:
    """A query integer is plain digits: ' 5', '+5' or '5.0' are not what the schema says."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError(f"expected an integer written as digits, got {value!r}")
    return value


@router.get("", response_model=JobList, summary="List training jobs, newest first")
def list_jobs(service: ServiceDep,
              limit: Annotated[int, Query(ge=1, le=500), BeforeValidator(_digits)] = 50,
              state: Annotated[Literal["queued", "running", "succeeded", "failed"] | None, Query()] = None,
              model: Annotated[str | None, Query(max_length=100)] = None) -> JobList:
    """Jobs newest first, optionally only those in `state` or of `model`."""
    return JobList(jobs=[JobView.of(j) for j in service.store.list(limit=limit, state=state, model=model)])


@router.get("/{job_id}", response_model=JobView, responses={404: {"model": Problem}},
            summary="One training job")
def get_job(job_id: Annotated[str, Path(max_length=64)], service: ServiceDep) -> JobView:
    """State, progress (0..1), log tail, the version it saved and the gate decision."""
    return JobView.of(service.store.get(job_id))
