"""``POST /train/{model}/full`` and ``POST /train/{model}/finetune``: queue a training job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import JobView, Problem, TrainRequest

__all__ = ["router"]

router = APIRouter(prefix="/train", tags=["training"])

ModelPath = Annotated[str, Path(description="Model name, e.g. sac_price.", max_length=100)]
TrainBody = Annotated[TrainRequest | None, Body()]
_ERRORS = {404: {"model": Problem}, 413: {"model": Problem}}


def _queue(service, model: str, mode: str, body: TrainRequest | None, response: Response) -> JobView:
    body = body or TrainRequest()
    job, created = service.submit(model, mode, "api", steps=body.steps, seed=body.seed, until=body.until)
    response.headers["Location"] = f"/jobs/{job.id}"
    return JobView.of(job, existing=not created)


@router.post("/{model}/full", status_code=status.HTTP_202_ACCEPTED, response_model=JobView,
             responses=_ERRORS, summary="Train a model from scratch")
def train_full(model: ModelPath, service: ServiceDep, response: Response,
               body: TrainBody = None) -> JobView:
    """Queue a full training run: train on all data (up to `until`), save a version, run the gate.

    A run for the same model and mode that is already queued or running is returned
    instead of starting another (`existing: true`).
    """
    return _queue(service, model, "full", body, response)


@router.post("/{model}/finetune", status_code=status.HTTP_202_ACCEPTED, response_model=JobView,
             responses=_ERRORS, summary="Finetune the current version on recent weeks")
def train_finetune(model: ModelPath, service: ServiceDep, response: Response,
                   body: TrainBody = None) -> JobView:
    """Queue a finetune of the current version on the most recent weeks; the result goes through the gate."""
    return _queue(service, model, "finetune", body, response)
