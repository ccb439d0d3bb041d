"""HTTP errors as RFC 9457 problem+json, the same shape from every service."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MEDIA_TYPE = "application/problem+json"

log = logging.getLogger(__name__)


class Problem(Exception):
    """Raise from a route (or a use case) to answer with a problem+json body."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


class ProblemBody(BaseModel):
    """The body of every error answer (RFC 9457); an invalid request adds `errors`."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str


_DOCUMENTED = {
    401: "No valid bearer token.",
    403: "The token is another principal's, lacks the role, or the move is not the caller's.",
    404: "Not found, or not addressed to the caller's function.",
    409: "Not possible in the resource's present state.",
    413: "The request body is over the limit.",
    415: "The request body is not JSON.",
    422: "The request is invalid (`errors` names each field) or refused by a rule.",
}
# Documented on every route of the services' routers, as they are answered.
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {MEDIA_TYPE: {"schema": ProblemBody.model_json_schema()}},
    }
    for status, description in _DOCUMENTED.items()
}


def _response(request: Request, status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    return _problem_response(request.url.path, status, title, detail, **extra)


def _problem_response(
    path: str, status: int, title: str, detail: str, **extra: Any
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE)


class BodyGuard:
    """ASGI middleware for what every route takes: a JSON body of at most `limit` bytes.

    A body of another declared media type is answered 415, one over the limit 413, before any
    route (or FastAPI's parsing) reads it. A declared Content-Length is judged at once; a body
    without one (chunked) is read up to the limit first, then handed on whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media_type and not _is_json(media_type) and _has_body(headers):
            detail = f"The request body must be application/json, not {media_type.decode(errors='replace')}."
            response = _problem_response(scope["path"], 415, "Unsupported media type", detail)
            await response(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > self.limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                await self.app(scope, _replay(message, receive), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            more = message.get("more_body", False)
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay(whole, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The request body is larger than {self.limit} bytes."
        response = _problem_response(scope["path"], 413, "Request body too large", detail)
        await response(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _response(request, exc.status, exc.title, exc.detail, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field locations and messages only: the rejected values may be personal data.
        errors = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in exc.errors()
        ]
        return _response(
            request,
            422,
            "Invalid request",
            "The request body or parameters are invalid.",
            errors=errors,
        )

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    async def _unstorable(request: Request, exc: Exception) -> JSONResponse:
        # A NUL character reached a query: Postgres text cannot hold it. The input is invalid.
        detail = "A text contains a character that cannot be stored (NUL)."
        return _response(request, 422, "Invalid request", detail)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _response(request, 500, "Internal error", "The service failed; see its log.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _response(request, exc.status_code, str(exc.detail), str(exc.detail))


def _is_json(media_type: bytes) -> bool:
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def _has_body(headers: dict[bytes, bytes]) -> bool:
    return headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive channel that gives `first` again, then what `receive` gives."""
    pending = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
