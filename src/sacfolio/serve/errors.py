"""Error answers of the brain API: always strict JSON, never a traceback.

Validation errors keep FastAPI's shape (``{"detail": [{"loc", "msg", "type", ...}]}``)
but every value a client sent is made JSON-safe first: ``NaN``, ``Infinity`` and numbers
too large for a float (``1e400``) are echoed as strings, so the answer is a 422 naming the
field instead of a failure to encode it. Domain errors are ``{"detail": "<message>"}``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from sacfolio.exceptions import (
    ConfigError,
    DataError,
    EvaluationWindowError,
    LayoutMismatchError,
    ModelNotFoundError,
    SacfolioError,
    ServiceRequestError,
)

__all__ = ["json_safe", "status_for", "domain_error", "validation_error", "unexpected_error"]

logger = logging.getLogger(__name__)


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings and unknown objects as their ``str``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def status_for(exc: SacfolioError) -> int:
    """The HTTP status of a domain error: 404 unknown model or job, 422 invalid input, else 409."""
    if isinstance(exc, ServiceRequestError):
        return exc.status_code
    if isinstance(exc, ModelNotFoundError):
        return 404
    if isinstance(exc, (DataError, EvaluationWindowError, LayoutMismatchError, ConfigError, ValueError)):
        return 422
    return 409


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    """A :class:`SacfolioError` as ``{"detail": message}`` with its status."""
    assert isinstance(exc, SacfolioError)
    return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 listing each invalid field (``loc``), with what was sent made JSON-safe."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        item = {k: error[k] for k in ("type", "loc", "msg") if k in error}
        if "input" in error:
            item["input"] = error["input"]
        if error.get("ctx"):
            item["ctx"] = error["ctx"]
        errors.append(json_safe(item))
    return JSONResponse({"detail": errors}, status_code=422)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """500 as JSON; the traceback goes to the server log only."""
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"},
                        status_code=500)
