"""Domain errors shared by every service.

Domain and service-layer code raise these; `services.common.grpc_errors` is the
one table that turns them into gRPC status codes. Nothing here imports grpc.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class DomainError(Exception):
    """Base of every error a caller can act on."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


class InvalidArgument(DomainError):
    """Malformed input: names each offending field."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        text = "; ".join(f"{v.field}: {v.description}" for v in violations)
        super().__init__(f"invalid argument: {text}")


class NotFound(DomainError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


class AlreadyExists(DomainError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} already exists")


class PreconditionFailed(DomainError):
    """A rule forbids this now; `reason` is an UPPER_SNAKE ErrorInfo reason."""

    def __init__(self, reason: str, message: str, metadata: dict[str, str] | None = None):
        self.reason = reason
        self.metadata = metadata or {}
        super().__init__(message)


class ReplayedRefusal(DomainError):
    """The refusal a scan got the first time, answered again for a re-sent copy.

    `status` is the google.rpc.Status sent then, serialized; the error table
    answers it unchanged.
    """

    def __init__(self, status: bytes, message: str = "refused before") -> None:
        self.status = status
        super().__init__(message)


class Conflict(DomainError):
    """A lost race: the caller may retry."""


class Unavailable(DomainError):
    """A dependency (the database, another service) cannot be reached."""


class Unauthenticated(DomainError):
    """No valid bearer token: who is calling is unknown."""


class PermissionDenied(DomainError):
    """A known caller without the role (or the depot) this call needs."""


@dataclass
class Violations:
    """Collects field violations and raises them together."""

    items: list[FieldViolation] = field(default_factory=list)

    def add(self, field_path: str, description: str) -> None:
        self.items.append(FieldViolation(field_path, description))

    def require(self, ok: bool, field_path: str, description: str) -> None:
        if not ok:
            self.add(field_path, description)

    def raise_if_any(self) -> None:
        if self.items:
            raise InvalidArgument(self.items)
