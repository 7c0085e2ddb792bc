"""One server interceptor: request id, who calls, one log line per RPC, and the error table.

Every RPC gets a request id (the caller's `x-request-id` or a new one) bound
into structlog's context variables and echoed back in the trailing metadata.
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

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import structlog
from grpc_status import rpc_status

from services.common import auth, calls, metrics
from services.common.errors import DomainError, FieldViolation, InvalidArgument
from services.common.grpc_errors import internal_status, to_status

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


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


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


class _Call:
    """Times one RPC, knows who makes it, and writes its log line."""

    def __init__(
        self, method: str, context: grpc.aio.ServicerContext, checker: auth.Authenticator
    ) -> None:
        self.meta = _metadata(context)
        self.method = method
        self.context = context
        self.checker = checker
        sent = self.meta.get("x-request-id", "")
        # One the audit log and the logs cannot hold is refused in admit(), under a new id.
        self.unusable_request_id = bool(sent) and not _usable_request_id(sent)
        self.request_id = sent if sent and not self.unusable_request_id else uuid.uuid4().hex
        self.caller = self.meta.get("x-caller") or context.peer()
        self.started = time.perf_counter()

    async def __aenter__(self) -> _Call:
        structlog.contextvars.bind_contextvars(request_id=self.request_id, caller=self.caller)
        return self

    def admit(self, request: Any) -> None:
        """Verify the caller and the RPC's access (raises Unauthenticated / PermissionDenied)."""
        if isinstance(request, Undecodable):
            # The token first: a caller without one learns nothing about the API.
            if not self.method.startswith(auth.OPEN_PREFIXES):
                self.checker.verifier.verify(auth.bearer(self.meta))
            raise request.refusal()
        principal = self.checker.check(self.method, self.meta, request)
        if self.unusable_request_id and principal is not None:
            raise InvalidArgument([FieldViolation("x-request-id", REQUEST_ID_RULE)])
        auth.current.set(principal)
        if principal is not None:
            structlog.contextvars.bind_contextvars(subject=principal.subject)
            device = self.meta.get("x-device") or self.caller
            calls.current.set(calls.Call(self.request_id, principal.subject, device[:128]))

    async def __aexit__(self, *exc: object) -> None:
        code = self.context.code()
        if code is None:
            code = grpc.StatusCode.OK if exc[0] is None else grpc.StatusCode.CANCELLED
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        seconds = time.perf_counter() - self.started
        emit = log.debug if self.method.startswith(QUIET_PREFIXES) else log.info
        emit("rpc", method=self.method, code=name, duration_ms=round(seconds * 1000, 2))
        metrics.rpc_handled(self.method, name, seconds)
        structlog.contextvars.unbind_contextvars("request_id", "caller", "subject")


Handler = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamHandler = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]


def _wrap_unary(method: str, inner: Handler, checker: auth.Authenticator) -> Handler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
        async with _Call(method, context, checker) as call:
            try:
                call.admit(request)
                answer = await inner(request, context)
                # In the trailers, which go out with the status anyway: no extra frame.
                context.set_trailing_metadata((("x-request-id", call.request_id),))
                return answer
            except Exception as error:
                if isinstance(error, grpc.aio.AbortError):
                    raise
                await _abort_for(context, error, call.request_id)

    return handle


def _wrap_stream(method: str, inner: StreamHandler, checker: auth.Authenticator) -> StreamHandler:
    async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with _Call(method, context, checker) as call:
            try:
                call.admit(request)
                answer = inner(request, context)
                if isinstance(answer, AsyncIterator):
                    async for item in answer:
                        yield item
                else:  # a handler that sends with context.write (the health service's Watch)
                    await answer
            except Exception as error:
                if isinstance(error, grpc.aio.AbortError):
                    raise
                await _abort_for(context, error, call.request_id)

    return handle


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, checker: auth.Authenticator) -> None:
        self._checker = checker

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(method, handler.unary_unary, self._checker),
                request_deserializer=_lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(method, handler.unary_stream, self._checker),
                request_deserializer=_lenient(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        return handler
