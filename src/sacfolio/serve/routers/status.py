"""``GET /status`` (schedule, recent jobs, data freshness) and ``POST /retrain``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, status

from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import JobView, Problem, RetrainRequest, RetrainResponse, StatusResponse

__all__ = ["router"]

router = APIRouter(tags=["status"])


@router.get("/status", response_model=StatusResponse, summary="Scheduler, jobs and data freshness")
def get_status(service: ServiceDep) -> StatusResponse:
    """Next run of every scheduled retraining, the 10 newest jobs, and how old the data is."""
    return StatusResponse(
        schedule=service.scheduler.next_runs(),
        jobs=[JobView.of(j) for j in service.store.list(limit=10)],
        running=service.runner.running_ids(),
        data=service.data.current.freshness(),
        started_at=service.started_at.isoformat())


@router.post("/retrain", status_code=status.HTTP_202_ACCEPTED, response_model=RetrainResponse,
             responses={404: {"model": Problem}},
             summary="Run the scheduled retraining now")
def retrain(service: ServiceDep,
            body: Annotated[RetrainRequest | None, Body()] = None) -> RetrainResponse:
    """Queue the scheduled jobs now (all, or those of `model` / `mode`); active ones are not duplicated."""
    body = body or RetrainRequest()
    if body.model is not None:
        service.check_model(body.model)
    results = service.scheduler.run_now(body.model, body.mode)
    return RetrainResponse(jobs=[JobView.of(job, existing=not created) for job, created in results])
