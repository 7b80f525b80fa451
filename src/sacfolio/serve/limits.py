"""Request limits: body size, time to send a body, JSON nesting and key counts (ASGI middleware),
and the HTTP protocol that closes connections whose request head arrives too slowly.

uvicorn bounds the header block (``h11_max_incomplete_event_size``) and idle keep-alive
connections (``timeout_keep_alive``); :class:`DeadlineH11Protocol` adds the deadline for
a request's line and headers that a slow-loris client would otherwise never meet.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Awaitable, Callable

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["RequestLimits", "DeadlineH11Protocol", "json_shape_problem", "deadline_protocol"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_STRUCTURE = re.compile(rb"[\[\]{}:]")


def json_shape_problem(body: bytes, *, max_depth: int, max_keys: int) -> str | None:
    """Why ``body`` (JSON text) is nested too deeply or has too many keys; None when within limits.

    Counts brackets and colons outside strings, without parsing (a deeply nested body
    would exhaust the parser's recursion before any validation ran).
    """
    depth = deepest = keys = 0
    for match in _STRUCTURE.finditer(_STRING.sub(b'""', body)):
        char = match.group()
        if char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > max_depth:
                return f"the JSON body is nested more than {max_depth} levels deep (max_json_depth)"
        elif char == b":":
            keys += 1
            if keys > max_keys:
                return f"the JSON body has more than {max_keys} object keys (max_json_keys)"
        else:
            depth -= 1
    return None


class RequestLimits:
    """Read each request body up to ``max_bytes`` within ``timeout`` seconds, then hand it on.

    Answers 431 for a request line plus headers over ``max_header_bytes``, 413 for a body over the limit (a declared ``Content-Length`` at once), 408 for
    a body not sent in time, and 422 for a JSON body nested deeper than ``max_depth`` or
    with more than ``max_keys`` keys. All answers are JSON ``{"detail": ...}``.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *, max_bytes: int,
                 timeout: float = 10.0, max_depth: int = 16, max_keys: int = 1000,
                 max_header_bytes: int = 16_384) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout
        self.max_header_bytes = max_header_bytes
        self.max_depth, self.max_keys = max_depth, max_keys

    @staticmethod
    async def _reject(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})

    def _too_large(self, scope: Scope) -> bool:
        for key, value in scope.get("headers", ()):
            if key == b"content-length":
                try:
                    return int(value) > self.max_bytes
                except ValueError:
                    return False
        return False

    async def _read(self, receive: Receive) -> tuple[bytes | None, bool]:
        """(body, disconnected); body None when over the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), True
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None, False
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = (f"request body is larger than the service's limit of {self.max_bytes} bytes "
                     "(max_body_bytes)")
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
        if head > self.max_header_bytes:
            await self._reject(send, 431, f"the request line and headers are larger than the service's "
                                          f"limit of {self.max_header_bytes} bytes (max_header_bytes)")
            return
        if self._too_large(scope):
            await self._reject(send, 413, too_large)
            return
        try:
            body, disconnected = await asyncio.wait_for(self._read(receive), self.timeout)
        except asyncio.TimeoutError:
            await self._reject(send, 408, f"the request body was not sent within {self.timeout:g} s "
                                          "(request_timeout_seconds)")
            return
        if body is None:
            await self._reject(send, 413, too_large)
            return
        problem = json_shape_problem(body, max_depth=self.max_depth, max_keys=self.max_keys) if body else None
        if problem is not None:
            await self._reject(send, 422, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed and not disconnected:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive() if not disconnected else {"type": "http.disconnect"}

        await self.app(scope, replay, send)


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose next request line and headers do not
    arrive within ``head_timeout`` seconds of connecting or of the previous response."""

    head_timeout: float = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.head_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a whole request head arrived
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm()


def deadline_protocol(head_timeout: float) -> type[DeadlineH11Protocol]:
    """:class:`DeadlineH11Protocol` with ``head_timeout`` seconds (uvicorn takes a class)."""
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"head_timeout": float(head_timeout)})
