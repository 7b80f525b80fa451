"""``POST /inference/{model}`` and ``POST /decision/{model}``: target weights now or at a date.

Plain ``def`` routes: the work is CPU-bound numpy (a few microseconds of matmuls and
the constraint projection), run in the thread pool.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path

from sacfolio.serve.decisions import decide
from sacfolio.serve.deps import ServiceDep
from sacfolio.serve.models import DecisionResponse, InferenceRequest, Problem, WeightsResponse

__all__ = ["router"]

router = APIRouter(tags=["inference"])

ModelPath = Annotated[str, Path(description="Model name, e.g. sac_price.", max_length=100)]
RequestBody = Annotated[InferenceRequest | None, Body()]
_ERRORS = {404: {"model": Problem}, 413: {"model": Problem}}


@router.post("/inference/{model}", response_model=WeightsResponse, responses=_ERRORS,
             summary="Target portfolio weights")
def inference(model: ModelPath, service: ServiceDep, body: RequestBody = None) -> WeightsResponse:
    """Target weights by symbol incl. CASH from the current version of `model`.

    With no model loaded the configured static weights are returned with
    `source: fallback` and the reason.
    """
    service.check_model(model)
    body = body or InferenceRequest()
    d = decide(service.cache, model, as_of=body.as_of, current_weights=body.current_weights,
               fallback=service.settings.fallback_weights, symbols=body.symbols)
    return WeightsResponse(model=model, weights=d.weights, version=d.version, as_of=d.as_of,
                           source=d.source, reason=d.reason)


@router.post("/decision/{model}", response_model=DecisionResponse, responses=_ERRORS,
             summary="Target weights and auxiliary predictions")
def decision(model: ModelPath, service: ServiceDep, body: RequestBody = None) -> DecisionResponse:
    """As `/inference/{model}`, plus the model's auxiliary return predictions (`aux`) when it has them."""
    service.check_model(model)
    body = body or InferenceRequest()
    d = decide(service.cache, model, as_of=body.as_of, current_weights=body.current_weights,
               fallback=service.settings.fallback_weights, with_aux=True, symbols=body.symbols)
    return DecisionResponse(model=model, weights=d.weights, version=d.version, as_of=d.as_of,
                            source=d.source, reason=d.reason, aux=d.aux, advisors=d.advisors)
