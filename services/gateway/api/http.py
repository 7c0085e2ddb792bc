"""JSON for command systems that do not speak gRPC, the OpenAPI document, and the dashboard.

The same messages as the gRPC answers, in protobuf's JSON mapping
(google.protobuf.json_format), served by aiohttp on the gRPC server's event loop.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from services.common.auth import Role, TokenVerifier, bearer
from services.common.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    Unavailable,
)
from services.gateway.api import mappers
from services.gateway.api.openapi import openapi_document
from services.gateway.api.reports import ReportCache

DASHBOARD = Path(__file__).with_name("dashboard.html")
REPORTS: web.AppKey[ReportCache] = web.AppKey("reports", ReportCache)
VERIFIER: web.AppKey[TokenVerifier] = web.AppKey("verifier", TokenVerifier)
# The page and the API's description are open; readiness itself needs a token.
OPEN_PATHS = frozenset({"/", "/openapi.json"})
READERS = frozenset({Role.COMMAND, Role.PLANNER, Role.ADMIN})


def to_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        if request.path not in OPEN_PATHS:
            _admit(request)
        return await handler(request)
    except Unauthenticated as error:
        return _error(401, "UNAUTHENTICATED", error.message)
    except PermissionDenied as error:
        return _error(403, "PERMISSION_DENIED", error.message)
    except InvalidArgument as error:
        return _error(400, "INVALID_ARGUMENT", error.message)
    except NotFound as error:
        return _error(404, "NOT_FOUND", error.message)
    except Unavailable as error:
        return _error(503, "UNAVAILABLE", error.message)
    except DomainError as error:
        return _error(400, "FAILED_PRECONDITION", error.message)


def _admit(request: web.Request) -> None:
    """The same bearer tokens as gRPC: an Authorization header, or for the browser's
    EventSource (which cannot send headers) an `access_token` query parameter."""
    header = request.headers.get("Authorization", "")
    query = request.query.get("access_token", "")
    token = bearer({"authorization": header or (f"Bearer {query}" if query else "")})
    principal = request.app[VERIFIER].verify(token)
    if not principal.roles & READERS:
        raise PermissionDenied(f"{principal.subject} may not read readiness (command or planner)")


async def list_readiness(request: web.Request) -> web.Response:
    category = request.query.get("category", "")
    kind = request.query.get("scope_kind", "")
    answer = request.app[REPORTS].list_reports(
        mappers.parse_category(category) if category else 0,
        mappers.parse_scope(kind).kind if kind else 0,
    )
    return web.json_response(to_json(answer))


async def get_readiness(request: web.Request) -> web.Response:
    category = mappers.parse_category(request.match_info["category"])
    scope = mappers.parse_scope(request.query.get("scope", "province"))
    return web.json_response(to_json(request.app[REPORTS].get(category, scope)))


async def list_scopes(request: web.Request) -> web.Response:
    return web.json_response(to_json(request.app[REPORTS].scopes()))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: `readiness` with the current reports, then each batch that changed."""
    reports = request.app[REPORTS]
    category = request.query.get("category", "")
    wanted = reports.filter(mappers.parse_category(category) if category else 0, mappers.pb_scope())
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)
    async for batch in reports.watch(wanted):
        body = json.dumps({"reports": [to_json(r) for r in batch]})
        await stream.write(f"event: readiness\ndata: {body}\n\n".encode())
    return stream


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def dashboard(request: web.Request) -> web.Response:
    return web.Response(text=DASHBOARD.read_text(encoding="utf-8"), content_type="text/html")


def build_app(reports: ReportCache, verifier: TokenVerifier) -> web.Application:
    app = web.Application(middlewares=[errors])
    app[REPORTS] = reports
    app[VERIFIER] = verifier
    app.router.add_get("/", dashboard)
    app.router.add_get("/v1/readiness", list_readiness)
    app.router.add_get("/v1/readiness/{category}", get_readiness)
    app.router.add_get("/v1/scopes", list_scopes)
    app.router.add_get("/v1/events", events)
    app.router.add_get("/openapi.json", openapi)
    return app
