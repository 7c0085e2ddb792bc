"""The one table from domain errors to gRPC status codes, with google.rpc details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
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
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
    return packed


def _status(code: grpc.StatusCode, message: str, *details: object) -> status_pb2.Status:
    return status_pb2.Status(
        code=code.value[0], message=message, details=[_pack(d) for d in details]
    )


def to_status(error: DomainError) -> tuple[grpc.StatusCode, status_pb2.Status]:
    """Map a domain error to its status code and a google.rpc.Status with details."""
    code: grpc.StatusCode
    details: list[object] = []
    if isinstance(error, ReplayedRefusal):
        status = status_pb2.Status.FromString(error.status)
        return _CODES.get(status.code, grpc.StatusCode.INTERNAL), status
    match error:
        case InvalidArgument():
            code = grpc.StatusCode.INVALID_ARGUMENT
            details.append(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field=v.field, description=v.description
                        )
                        for v in error.violations
                    ]
                )
            )
        case NotFound():
            code = grpc.StatusCode.NOT_FOUND
            details.append(
                error_details_pb2.ResourceInfo(resource_type=error.kind, resource_name=error.key)
            )
        case AlreadyExists():
            code = grpc.StatusCode.ALREADY_EXISTS
            details.append(
                error_details_pb2.ResourceInfo(resource_type=error.kind, resource_name=error.key)
            )
        case PreconditionFailed():
            code = grpc.StatusCode.FAILED_PRECONDITION
            details.append(
                error_details_pb2.ErrorInfo(
                    reason=error.reason, domain=DOMAIN, metadata=error.metadata
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
    return code, _status(code, error.message, *details)


def internal_status() -> status_pb2.Status:
    """What a caller sees of an unexpected failure: no traceback, ever."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message="internal error; it has been logged with the request id"
    )
