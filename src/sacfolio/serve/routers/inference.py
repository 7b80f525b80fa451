"""``POST /inference/{model}`` and ``POST /decision/{model}``: target weights now or at a date.

A loaded version's answer to a request is a pure function of the version, its data and
the request, so it is computed and serialized once and kept in the version's
:class:`~sacfolio.serve.model_cache.AnswerCache` (a new version or new data starts an
empty one), under two keys:

- the validated request (:func:`request_key`: route, as-of date, current weights,
  symbols), looked up by the route functions;
- the request as sent (:class:`AnswerRoute`: route, ``Content-Type``, ``Authorization``
  and the body's bytes), looked up before FastAPI parses, validates and authorizes
  anything: FastAPI's answer is a deterministic function of exactly these, so a request
  it answered 200 before gets the same bytes again. Errors are never stored, so a wrong
  token or an invalid body always goes through FastAPI.

A hit is a dict look-up on the event loop that returns the stored bytes. A miss, and the
fallback (whose reason follows the model's load state and is never cached), runs in the
thread pool: CPU-bound numpy, the policy's matmuls and the constraint projection. The
bytes are what FastAPI's own ``response_model`` serialization writes.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Hashable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.requests import ClientDisconnect

from sacfolio.serve.decisions import Decision, decide, model_decision
from sacfolio.serve.model_cache import ServingModel
from sacfolio.serve.models import DecisionResponse, InferenceRequest, Problem, WeightsResponse
from sacfolio.serve.service import Service

__all__ = ["AnswerRoute", "router", "request_key", "RAW_KEY_MAX_BODY"]

RAW_KEY_MAX_BODY = 4096  # longer bodies are cached by their validated request only


class AnswerRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that answers a request it answered 200 before
    (same route, model, ``Content-Type``, ``Authorization`` and body bytes, same loaded
    version) with the stored bytes, without parsing, validating or authorizing it again.

    Everything else, and bodies over :data:`RAW_KEY_MAX_BODY` bytes, goes to FastAPI's
    handler unchanged; its 200 answers are stored if the version that served them still
    serves.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        path = self.path

        async def answer(request: Request) -> Response:
            slot = request.app.state.service.cache.slots.get(request.path_params.get("model"))
            serving = slot.serving if slot is not None else None
            if serving is None:
                return await handler(request)
            try:
                body = await request.body()
            except ClientDisconnect:  # the handler answers it as before (400)
                return await handler(request)
            if len(body) > RAW_KEY_MAX_BODY:
                return await handler(request)
            headers = request.headers
            key = (path, headers.get("content-type"), headers.get("authorization"), body)
            content = serving.answers.get(key)
            if content is not None:
                return Response(content, media_type="application/json")
            response = await handler(request)
            if response.status_code == 200 and slot.serving is serving:
                serving.answers.put(key, bytes(response.body))
            return response

        return answer


router = APIRouter(tags=["inference"], route_class=AnswerRoute)

ModelPath = Annotated[str, Path(description="Model name, e.g. sac_price.", max_length=100)]
RequestBody = Annotated[InferenceRequest | None, Body()]
_ERRORS = {404: {"model": Problem}, 413: {"model": Problem}}
_JSON = {False: TypeAdapter(WeightsResponse), True: TypeAdapter(DecisionResponse)}


@router.post("/inference/{model}", response_model=WeightsResponse, responses=_ERRORS,
             summary="Target portfolio weights")
async def inference(model: ModelPath, request: Request, body: RequestBody = None) -> Response:
    """Target weights by symbol incl. CASH from the current version of `model`.

    With no model loaded the configured static weights are returned with
    `source: fallback` and the reason.
    """
    return await _answer(request.app.state.service, model, body or InferenceRequest(), with_aux=False)


@router.post("/decision/{model}", response_model=DecisionResponse, responses=_ERRORS,
             summary="Target weights and auxiliary predictions")
async def decision(model: ModelPath, request: Request, body: RequestBody = None) -> Response:
    """As `/inference/{model}`, plus the model's auxiliary return predictions (`aux`) when it has them."""
    return await _answer(request.app.state.service, model, body or InferenceRequest(), with_aux=True)


def request_key(body: InferenceRequest, *, with_aux: bool) -> Hashable:
    """What identifies a validated request's answer for one loaded version: route, as-of date,
    current weights as sent (a mapping's items or the list) and symbols.

    Requests that differ only in how they spell the same portfolio get separate entries
    with the same answer; a key never stands for two different answers.
    """
    w = body.current_weights
    weights = None if w is None else (tuple(w.items()) if isinstance(w, dict) else tuple(w))
    symbols = None if body.symbols is None else tuple(body.symbols)
    return with_aux, body.as_of, isinstance(w, dict), weights, symbols


async def _answer(service: Service, model: str, body: InferenceRequest, *, with_aux: bool) -> Response:
    service.check_model(model)
    serving = service.cache.serving(model)
    if serving is None:
        content = await run_in_threadpool(_fallback_json, service, model, body, with_aux)
    else:
        key = request_key(body, with_aux=with_aux)
        content = serving.answers.get(key)
        if content is None:
            content = await run_in_threadpool(_model_json, serving, model, body, with_aux)
            serving.answers.put(key, content)
    return Response(content, media_type="application/json")


def _model_json(serving: ServingModel, model: str, body: InferenceRequest, with_aux: bool) -> bytes:
    d = model_decision(serving, as_of=body.as_of, current_weights=body.current_weights, with_aux=with_aux,
                       symbols=body.symbols)
    return _to_json(model, d, with_aux)


def _fallback_json(service: Service, model: str, body: InferenceRequest, with_aux: bool) -> bytes:
    d = decide(service.cache, model, as_of=body.as_of, current_weights=body.current_weights,
               fallback=service.settings.fallback_weights, with_aux=with_aux, symbols=body.symbols)
    return _to_json(model, d, with_aux)


def _to_json(model: str, d: Decision, with_aux: bool) -> bytes:
    fields = dict(model=model, weights=d.weights, version=d.version, as_of=d.as_of, source=d.source,
                  reason=d.reason)
    if with_aux:
        return _JSON[True].dump_json(DecisionResponse(**fields, aux=d.aux, advisors=d.advisors))
    return _JSON[False].dump_json(WeightsResponse(**fields))
