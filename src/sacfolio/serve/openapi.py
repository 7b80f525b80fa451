"""The OpenAPI document as the service really answers.

FastAPI's generated document is adjusted where the service answers otherwise: every
422 may also be a domain error (``{"detail": "<message>"}``, a
:class:`~sacfolio.serve.models.Problem`) besides a list of invalid fields; operations
that read a body declare 400 (unreadable body) and the request limits' 408 and 413;
error answers are JSON even on the HTML page's route; routes listed in
``public_routes``, and every route when no token is configured, declare no security.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["exact_openapi"]

_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}
_LIMITS = {
    "400": "The body cannot be read as JSON text (e.g. it is not UTF-8).",
    "408": "The request body was not sent within request_timeout_seconds.",
    "413": "The request body is larger than max_body_bytes.",
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _PROBLEM}}}


def _adjust(path: str, operation: dict[str, Any], public_routes: list[str], secured: bool) -> None:
    responses = operation.setdefault("responses", {})
    for code, response in responses.items():  # errors are JSON even on the HTML page's route
        content = response.get("content") or {}
        if code.startswith("4") and content and "application/json" not in content:
            response["content"] = {"application/json": next(iter(content.values()))}
    if "422" in responses or "requestBody" in operation:
        responses["422"] = {
            "description": "Invalid input: a list of invalid fields (`loc` names each), or the "
                           "service's own message.",
            "content": {"application/json": {"schema": {"anyOf": [_VALIDATION, _PROBLEM]}}}}
    if "requestBody" in operation:
        for code, text in _LIMITS.items():
            responses.setdefault(code, _problem(text))
    if path in public_routes or not secured:
        operation.pop("security", None)
        responses.pop("401", None)


def exact_openapi(app: FastAPI, *, public_routes: list[str], secured: bool) -> dict[str, Any]:
    """The app's OpenAPI document (built once, then cached on the app); bearer auth is
    declared only when ``secured`` (a token is configured)."""
    if app.openapi_schema is None:
        doc = get_openapi(title=app.title, version=app.version, description=app.description,
                          routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        if "Problem" not in schemas:
            from sacfolio.serve.models import Problem

            schemas["Problem"] = Problem.model_json_schema()
        if "HTTPValidationError" not in schemas:
            from fastapi.openapi.utils import validation_error_definition, validation_error_response_definition

            schemas["ValidationError"] = validation_error_definition
            schemas["HTTPValidationError"] = validation_error_response_definition
        for path, item in doc.get("paths", {}).items():
            for operation in item.values():
                _adjust(path, operation, public_routes, secured)
        if not secured:
            doc["components"].pop("securitySchemes", None)
        app.openapi_schema = doc
    return app.openapi_schema
