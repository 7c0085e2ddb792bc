"""The one table from domain errors to gRPC status codes, with google.rpc details.

A status goes out in the trailing metadata, which a client refuses past
8-16 KiB ("metadata size exceeds hard limit": the caller sees
RESOURCE_EXHAUSTED and loses the details). Errors may quote what was sent, so
the message, each field violation and their number are clipped here, where
every refusal passes, in UTF-8 bytes: ten violations, 240 bytes each, a
400-byte message.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from services.common.errors import (
    AlreadyExists,
    Conflict,
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    ReplayedRefusal,
    Unauthenticated,
    Unavailable,
)

DOMAIN = "muster.fire.gov.cn"
MAX_VIOLATIONS = 10
MAX_DESCRIPTION_BYTES = 240
MAX_FIELD_BYTES = 100
MAX_MESSAGE_BYTES = 400


def clip(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary, marked when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "..."


def _violations(error: InvalidArgument) -> list[error_details_pb2.BadRequest.FieldViolation]:
    shown = [
        error_details_pb2.BadRequest.FieldViolation(
            field=clip(v.field, MAX_FIELD_BYTES),
            description=clip(v.description, MAX_DESCRIPTION_BYTES),
        )
        for v in error.violations[:MAX_VIOLATIONS]
    ]
    left = len(error.violations) - MAX_VIOLATIONS
    if left > 0:
        shown.append(
            error_details_pb2.BadRequest.FieldViolation(
                field="...", description=f"and {left} more violations"
            )
        )
    return shown


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _status(code: grpc.StatusCode, message: str, *details: Message) -> status_pb2.Status:
    return status_pb2.Status(
        code=code.value[0], message=message, details=[_pack(d) for d in details]
    )


def to_status(error: DomainError) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """Map a domain error to its status code and a google.rpc.Status with details."""
    code: grpc.StatusCode
    details: list[Message] = []
    if isinstance(error, ReplayedRefusal):
        status = status_pb2.Status.FromString(error.status)
        return _CODES.get(status.code, grpc.StatusCode.INTERNAL), status
    match error:
        case InvalidArgument():
            code = grpc.StatusCode.INVALID_ARGUMENT
            details.append(error_details_pb2.BadRequest(field_violations=_violations(error)))
        case NotFound():
            code = grpc.StatusCode.NOT_FOUND
            details.append(
                error_details_pb2.ResourceInfo(
                    resource_type=error.kind, resource_name=clip(error.key, MAX_DESCRIPTION_BYTES)
                )
            )
        case AlreadyExists():
            code = grpc.StatusCode.ALREADY_EXISTS
            details.append(
                error_details_pb2.ResourceInfo(
                    resource_type=error.kind, resource_name=clip(error.key, MAX_DESCRIPTION_BYTES)
                )
            )
        case PreconditionFailed():
            code = grpc.StatusCode.FAILED_PRECONDITION
            details.append(
                error_details_pb2.ErrorInfo(
                    reason=error.reason,
                    domain=DOMAIN,
                    metadata={k: clip(x, MAX_DESCRIPTION_BYTES) for k, x in error.metadata.items()},
                )
            )
        case Conflict():
            code = grpc.StatusCode.ABORTED
        case Unavailable():
            code = grpc.StatusCode.UNAVAILABLE
        case Unauthenticated():
            code = grpc.StatusCode.UNAUTHENTICATED
        case PermissionDenied():
            code = grpc.StatusCode.PERMISSION_DENIED
        case _:
            code = grpc.StatusCode.INTERNAL
    return code, _status(code, clip(error.message, MAX_MESSAGE_BYTES), *details)


def internal_status() -> status_pb2.Status:
    """What a caller sees of an unexpected failure: no traceback, ever."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message="internal error; it has been logged with the request id"
    )
