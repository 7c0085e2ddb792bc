"""Around every handler: request id, who calls, log line and metrics, and the error table.

Every handler is wrapped once, when it is registered (`ObservedRegistry`
stands in for the server in the generated `add_*_to_server` functions), not
per call by a grpc ServerInterceptor: grpc.aio then finds the wrapped
handler directly, without running an interceptor chain and building a new
method handler for every RPC.

Every RPC is counted and timed in the metrics and gets a log line, except a
successful read (a method the proto marks `NO_SIDE_EFFECTS`), logged at debug.
Every RPC has a request id (the caller's `x-request-id` or a new one) that
every log line written while it is served carries (`calls.current`), and that
goes back in the trailing metadata whenever the caller sent it or the server
wrote something under it: a log line, an audit row, a failure.
The caller's bearer token is verified and the RPC's declared access checked
before the handler runs (UNAUTHENTICATED,
PERMISSION_DENIED); the caller is then `auth.current` for the handler and
`subject` in the log line. Domain errors become their status codes with
google.rpc details; anything else is logged with its traceback and answered
INTERNAL without it.

A request whose bytes do not parse as the method's message is answered
INVALID_ARGUMENT (after the token is checked), not the UNKNOWN that grpc
answers when a deserializer raises: each handler's deserializer is wrapped
to hand such a request over as `Undecodable`.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

import grpc
import structlog
from google.protobuf import descriptor_pool
from grpc_status import rpc_status

from services.common import auth, calls, metrics
from services.common.errors import DomainError, FieldViolation, InvalidArgument
from services.common.grpc_errors import internal_status, to_status
from services.common.logging import enabled_for

log = structlog.get_logger("muster.rpc")

QUIET_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class Undecodable:
    """A request whose bytes are not the method's message (the deserializer's error)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def refusal(self) -> InvalidArgument:
        reason = str(self.error) or type(self.error).__name__
        return InvalidArgument([FieldViolation("request", f"is not a valid message: {reason}")])


def _lenient(
    deserializer: Callable[[bytes], Any] | None,
) -> Callable[[bytes], Any] | None:
    """The handler's deserializer, answering `Undecodable` instead of raising."""
    if deserializer is None:
        return None

    def parse(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception as error:
            return Undecodable(error)

    return parse


MAX_REQUEST_ID = 128
REQUEST_ID_RULE = f"at most {MAX_REQUEST_ID} printable ASCII characters without spaces"


def _usable_request_id(value: str) -> bool:
    return (
        len(value) <= MAX_REQUEST_ID
        and value.isascii()
        and value.isprintable()
        and " " not in value
    )


class _RequestIds:
    """New request ids: a random prefix per process and a counter (unique, and cheap).

    A uuid4 per call cost more than the rest of the id handling; the prefix is
    drawn again in a forked child, so worker processes never share one.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"  # 32 hex digits, as a uuid4


_request_ids = _RequestIds()


async def _abort_for(
    context: grpc.aio.ServicerContext, error: BaseException, request_id: str
) -> None:
    if isinstance(error, DomainError):
        code, status = to_status(error)
    else:
        log.error("rpc_failed", exc_info=error)
        code, status = grpc.StatusCode.INTERNAL, internal_status()
    trailer = (*rpc_status.to_status(status).trailing_metadata, ("x-request-id", request_id))
    await context.abort(code, status.message, trailing_metadata=trailer)


class _Method:
    """What every call of one RPC shares, worked out once at registration."""

    def __init__(self, name: str, checker: auth.Authenticator) -> None:
        self.name = name
        self.checker = checker
        self.open = name.startswith(auth.OPEN_PREFIXES)
        quiet = name.startswith(QUIET_PREFIXES)
        self.level = logging.DEBUG if quiet else logging.INFO  # of a failed call's line
        # A read's successful answers are counted and timed in the metrics, and logged
        # at debug only: a command system polling readiness makes most of the calls,
        # and their lines would say nothing the metrics do not (as cloud providers keep
        # data-access logs off by default). Writes and every failure keep their line.
        self.ok_level = logging.DEBUG if quiet or reads_only(name) else logging.INFO
        self.record = metrics.rpc_recorder(name)


def reads_only(method: str) -> bool:
    """Whether the proto declares `method` (`/pkg.Service/Method`) free of side effects
    (`option idempotency_level = NO_SIDE_EFFECTS`)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.lstrip("/").replace("/", "."))
    except KeyError:
        return False
    options = found.GetOptions()
    return bool(options.idempotency_level == options.NO_SIDE_EFFECTS)


class _Call:
    """Times one RPC, knows who makes it, and writes its log line.

    It is the call `calls.current` names while the RPC is served (each RPC
    runs in its own asyncio task, so the setting ends with it). The request
    id and the caller are worked out when first read: by a log line, an
    audit row or the trailers.
    """

    __slots__ = ("_caller", "_request_id", "context", "meta", "method", "principal", "started")

    def __init__(self, method: _Method, context: grpc.aio.ServicerContext) -> None:
        self.started = time.perf_counter()
        # -bin keys carry bytes; no one here reads those.
        self.meta: dict[str, str] = dict(context.invocation_metadata() or ())
        self.method = method
        self.context = context
        self.principal: auth.Principal | None = None
        self._request_id: str | None = None
        self._caller: str | None = None
        calls.current.set(self)

    @property
    def request_id(self) -> str:
        """The caller's `x-request-id` if the logs can hold it, else a new one."""
        found = self._request_id
        if found is None:
            sent = self.meta.get("x-request-id", "")
            found = sent if sent and _usable_request_id(sent) else _request_ids.next()
            self._request_id = found
        return found

    @property
    def caller(self) -> str:
        found = self._caller
        if found is None:
            found = self._caller = self.meta.get("x-caller") or self.context.peer()
        return found

    @property
    def actor(self) -> str:
        return "" if self.principal is None else self.principal.subject

    @property
    def device(self) -> str:
        return (self.meta.get("x-device") or self.caller)[:128]

    def admit(self, request: Any) -> None:
        """Verify the caller and the RPC's access (raises Unauthenticated / PermissionDenied)."""
        checker = self.method.checker
        if isinstance(request, Undecodable):
            # The token first: a caller without one learns nothing about the API.
            if not self.method.open:
                checker.verifier.verify(auth.bearer(self.meta))
            raise request.refusal()
        principal = checker.check(self.method.name, self.meta, request)
        if principal is not None:
            # One the audit log and the logs cannot hold is refused, under a new id.
            sent = self.meta.get("x-request-id")
            if sent is not None and not _usable_request_id(sent):
                raise InvalidArgument([FieldViolation("x-request-id", REQUEST_ID_RULE)])
        auth.current.set(principal)
        self.principal = principal

    def carries_id(self) -> bool:
        """Whether a successful answer carries the request id in its trailers: when the
        caller sent one, or the server wrote something under it (its log line, a line
        the handler logged, an audit row). A read no line mentions needs none."""
        return (
            self._request_id is not None
            or "x-request-id" in self.meta
            or enabled_for(self.method.ok_level)
        )

    def finish(self, failed: bool) -> None:
        """The log line and the metrics, once the answer (or the failure) is known."""
        code = self.context.code()
        if code is None:
            code = grpc.StatusCode.CANCELLED if failed else grpc.StatusCode.OK
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        seconds = time.perf_counter() - self.started
        self.method.record(name, seconds)
        level = self.method.ok_level if name == "OK" else self.method.level
        if enabled_for(level):
            log.log(
                level,
                "rpc",
                method=self.method.name,
                code=name,
                duration_ms=round(seconds * 1000, 2),
            )


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def _wrap_unary(method: _Method, inner: Handler) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(method, context)
        failed = True
        try:
            call.admit(request)
            answer = await inner(request, context)
            # In the trailers, which go out with the status anyway: no extra frame.
            if call.carries_id():
                context.set_trailing_metadata((("x-request-id", call.request_id),))
            failed = False
            return answer
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort_for(context, error, call.request_id)
        finally:
            call.finish(failed)

    return handle


def _wrap_stream(method: _Method, inner: StreamHandler) -> StreamHandler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        call = _Call(method, context)
        failed = True
        try:
            call.admit(request)
            answer = inner(request, context)
            if isinstance(answer, AsyncIterator):
                async for item in answer:
                    yield item
            else:  # a handler that sends with context.write (the health service's Watch)
                await answer
            failed = False
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort_for(context, error, call.request_id)
        finally:
            call.finish(failed)

    return handle


def observe(
    method: str, handler: grpc.RpcMethodHandler, checker: auth.Authenticator
) -> grpc.RpcMethodHandler:
    """`handler` with the checks, the log line and the metrics around it.

    Unary-unary and unary-stream handlers are wrapped; streaming requests
    (server reflection) are passed through as they are.
    """
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            _wrap_unary(_Method(method, checker), handler.unary_unary),
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            _wrap_stream(_Method(method, checker), handler.unary_stream),
            request_deserializer=_lenient(handler.request_deserializer),
            response_serializer=handler.response_serializer,
        )
    return handler


class _ObservedGeneric(grpc.GenericRpcHandler):
    """A generic handler whose method handlers are wrapped, each once."""

    def __init__(self, inner: grpc.GenericRpcHandler, checker: auth.Authenticator) -> None:
        self._inner = inner
        self._checker = checker
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(
        self, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method = handler_call_details.method
        try:
            return self._wrapped[method]
        except KeyError:
            pass
        handler = self._inner.service(handler_call_details)
        wrapped = None if handler is None else observe(method, handler, self._checker)
        if len(self._wrapped) < MAX_GENERIC_METHODS:  # unknown names must not grow it forever
            self._wrapped[method] = wrapped
        return wrapped


MAX_GENERIC_METHODS = 1024


class ObservedRegistry:
    """The server as handler registration sees it: every handler it is given is observed.

    Pass it where the generated `add_*Servicer_to_server` functions, the health
    service and server reflection expect the server.
    """

    def __init__(self, server: grpc.aio.Server, checker: auth.Authenticator) -> None:
        self._server = server
        self._checker = checker

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(
            tuple(_ObservedGeneric(h, self._checker) for h in handlers)
        )

    def add_registered_method_handlers(
        self, service_name: str, method_handlers: Mapping[str, grpc.RpcMethodHandler]
    ) -> None:
        self._server.add_registered_method_handlers(
            service_name,
            {
                name: observe(f"/{service_name}/{name}", handler, self._checker)
                for name, handler in method_handlers.items()
            },
        )
