"""Who may call what: signed bearer tokens, roles, and the access each RPC declares.

Tokens are JWTs (PyJWT) signed with Ed25519 (`EdDSA`): a subject, roles, for
depot staff the depots they work at, an issuer, an audience, an issue time
and an expiry, honoured with a configurable clock skew. Services hold only
public keys, several at once so a key can be rotated without a gap; the
token's `kid` header names the key (the first 16 hex digits of the SHA-256
of the public key), so a verifier never tries keys in turn.

Every RPC declares its access next to its handler with `@allow(...)`;
`policy_for` refuses to build a server whose servicer leaves an RPC
undeclared, so nothing is open by omission. Roles:

- `depot_staff`: scans and stock at the depots named in the token;
- `planner`: delivery plans, transfers, reading stock;
- `command`: read-only readiness and stock;
- `admin`: everything.

An RPC that acts at depots names them with a `depots` function of the
request; a caller whose only granting role is `depot_staff` must hold every
depot it names, and a call that spans every depot (no depot given) is not
theirs to make.
"""

from __future__ import annotations

import contextvars
import enum
import hashlib
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.errors import PermissionDenied, Unauthenticated
from services.common.settings import SettingsError

ALGORITHM = "EdDSA"
ISSUER = "muster"
AUDIENCE = "muster"
ACCESS_ATTRIBUTE = "__muster_access__"
VERIFIED_CACHE_SIZE = 10_000
MAX_SUBJECT = 128
# Open to anyone: the standard health and reflection services.
OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class Role(enum.StrEnum):
    DEPOT_STAFF = "depot_staff"
    PLANNER = "planner"
    COMMAND = "command"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    depots: frozenset[str] = frozenset()
    token: str = field(default="", repr=False)  # as presented, to act on the caller's behalf
    # The roles that let this call through (set by the interceptor).
    granted: frozenset[Role] = frozenset()


# The caller of the RPC being served; set by the interceptor.
current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "muster_principal", default=None
)


DepotsOf = Callable[[Any], Iterable[str]]


@dataclass(frozen=True)
class Access:
    roles: frozenset[Role]
    # The depots a request acts at; empty means every depot. None: not depot-bound.
    depots: DepotsOf | None = None


F = TypeVar("F", bound=Callable[..., Any])


def allow(*roles: Role, depots: DepotsOf | None = None) -> Callable[[F], F]:
    """Declare who may call this RPC handler (admin always may)."""
    access = Access(frozenset(roles) | {Role.ADMIN}, depots)

    def mark(handler: F) -> F:
        setattr(handler, ACCESS_ATTRIBUTE, access)
        return handler

    return mark


def policy_for(
    servicer: object, service_full_name: str, methods: Iterable[str]
) -> dict[str, Access]:
    """Each RPC's declared access, by gRPC method path; an undeclared RPC stops the server."""
    found: dict[str, Access] = {}
    missing = []
    for name in methods:
        access = getattr(getattr(type(servicer), name, None), ACCESS_ATTRIBUTE, None)
        if access is None:
            missing.append(name)
        else:
            found[f"/{service_full_name}/{name}"] = access
    if missing:
        raise RuntimeError(f"{service_full_name}: no @allow(...) on {', '.join(missing)}")
    return found


def authorize(method: str, access: Access, principal: Principal, request: Any) -> frozenset[Role]:
    """The roles that grant this call, or PermissionDenied."""
    granting = principal.roles & access.roles
    if not granting:
        held = ", ".join(sorted(principal.roles)) or "no roles"
        needed = ", ".join(sorted(access.roles))
        raise PermissionDenied(
            f"{principal.subject} ({held}) may not call {method.rsplit('/', 1)[-1]}; "
            f"it needs one of: {needed}"
        )
    if granting != {Role.DEPOT_STAFF} or access.depots is None:
        return granting
    wanted = sorted(set(access.depots(request)))
    if not wanted:
        raise PermissionDenied(
            f"{principal.subject} works at {', '.join(sorted(principal.depots)) or 'no depot'}: "
            "name one of those depots in the request"
        )
    _at(principal, wanted)
    return granting


def _at(principal: Principal, depots: Iterable[str]) -> None:
    outside = [d for d in depots if d not in principal.depots]
    if outside:
        raise PermissionDenied(
            f"{principal.subject} does not work at {', '.join(outside)} "
            f"(token depots: {', '.join(sorted(principal.depots)) or 'none'})"
        )


def act_at(depot_code: str) -> None:
    """For handlers that learn a call's depot only from the data (a kit, a count):
    a caller let in only as depot staff must work there."""
    principal = current.get()
    if principal is not None and principal.granted == {Role.DEPOT_STAFF}:
        _at(principal, [depot_code])


# ---------------------------------------------------------------- keys


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Public keys from PEM text or comma-separated PEM file paths, by key id."""
    blocks: list[str] = []
    for part in [text] if "-----BEGIN" in text else text.split(","):
        pem = part if "-----BEGIN" in part else Path(part.strip()).read_text()
        blocks += [
            "-----BEGIN" + b for b in pem.split("-----BEGIN") if b.strip() and "PUBLIC KEY" in b
        ]
    keys: dict[str, Ed25519PublicKey] = {}
    for block in blocks:
        key = serialization.load_pem_public_key(block.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("auth keys must be Ed25519 public keys (PEM)")
        keys[key_id(key)] = key
    if not keys:
        raise ValueError("no public key found")
    return keys


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def ensure_dev_key(directory: Path) -> Path:
    """A development signing key (and its public half) under `directory`, made once."""
    private = directory / "signing-key.pem"
    if not private.exists():
        directory.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        private.write_text(private_pem(key))
        private.chmod(0o600)
        (directory / "public-key.pem").write_text(public_pem(key.public_key()))
    return private


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class TokenIssuer:
    key: Ed25519PrivateKey
    issuer: str = ISSUER
    audience: str = AUDIENCE

    def issue(
        self,
        subject: str,
        roles: Iterable[Role],
        depots: Iterable[str] = (),
        ttl: timedelta = timedelta(hours=12),
        now: datetime | None = None,
    ) -> str:
        at = now or datetime.now(UTC)
        claims = {
            "sub": subject,
            "roles": sorted(Role(r).value for r in roles),
            "depots": sorted(depots),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(at.timestamp()),
            "exp": int((at + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        kid = key_id(self.key.public_key())
        return jwt.encode(claims, self.key, algorithm=ALGORITHM, headers={"kid": kid})


@dataclass(frozen=True)
class TokenVerifier:
    keys: Mapping[str, Ed25519PublicKey]
    issuer: str = ISSUER
    audience: str = AUDIENCE
    leeway_s: float = 60.0
    # Tokens verified before, with their expiry: a client sends the same token on every
    # call, and a signature check costs more than the rest of a cached read.
    _seen: dict[str, tuple[Principal, float]] = field(default_factory=dict, repr=False)

    def verify(self, token: str) -> Principal:
        """The token's principal, or Unauthenticated saying what is wrong with it."""
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Principal, float]:
        """The token's principal and until when (epoch seconds, leeway included) it holds."""
        seen = self._seen.get(token)
        if seen is not None:
            if time.time() <= seen[1]:
                return seen
            del self._seen[token]
        principal, expires = self._verify(token)
        if len(self._seen) >= VERIFIED_CACHE_SIZE:
            self._seen.clear()
        seen = self._seen[token] = (principal, expires + self.leeway_s)
        return seen

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated("the bearer token is not a JWT") from None
        key = self.keys.get(str(header.get("kid", "")))
        if key is None:
            raise Unauthenticated(
                "the bearer token is signed with a key this service does not trust"
            )
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the bearer token has expired; get a new one") from None
        except jwt.InvalidSignatureError:
            raise Unauthenticated("the bearer token's signature does not verify") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the bearer token is not valid: {error}") from None
        try:
            roles = frozenset(Role(r) for r in claims.get("roles", ()))
        except ValueError as error:
            raise Unauthenticated(f"the bearer token names an unknown role: {error}") from None
        depots = frozenset(str(d) for d in claims.get("depots", ()))
        subject = str(claims["sub"])
        if not subject or len(subject) > MAX_SUBJECT:
            # The audit log records it whole (and refused a longer one with INTERNAL).
            raise Unauthenticated(
                f"the bearer token's subject must be 1 to {MAX_SUBJECT} characters"
            )
        return Principal(subject, roles, depots, token), float(claims["exp"])


def bearer(metadata: Mapping[str, str]) -> str:
    """The token of an `authorization: Bearer ...` header, or Unauthenticated."""
    value = metadata.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if not value:
        raise Unauthenticated("no bearer token: send 'authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the authorization header must be 'Bearer <token>'")
    return token.strip()


@dataclass(frozen=True)
class Authenticator:
    """What the interceptor asks: is this call allowed, and who makes it."""

    verifier: TokenVerifier
    policy: Mapping[str, Access]
    # By (authorization header, method), a grant that does not depend on the request:
    # the principal with its granted roles, and until when its token holds. A client
    # sends the same header on every call; depot-bound grants are checked every time.
    _granted: dict[tuple[str, str], tuple[Principal, float]] = field(
        default_factory=dict, repr=False
    )

    def check(self, method: str, metadata: Mapping[str, str], request: Any) -> Principal | None:
        if method.startswith(OPEN_PREFIXES):
            return None
        key = (metadata.get("authorization", ""), method)
        known = self._granted.get(key)
        if known is not None and time.time() <= known[1]:
            return known[0]
        access = self.policy.get(method)
        principal, until = self.verifier.verify_until(bearer(metadata))
        if access is None:
            raise PermissionDenied(f"{method} is not open to anyone")
        granted = authorize(method, access, principal, request)
        found = replace(principal, granted=granted)
        if granted != {Role.DEPOT_STAFF} or access.depots is None:
            if len(self._granted) >= VERIFIED_CACHE_SIZE:
                self._granted.clear()
            self._granted[key] = (found, until)
        return found


def verifier(public_keys: str, leeway_s: float = 60.0) -> TokenVerifier:
    """The verifier for MUSTER_AUTH_PUBLIC_KEYS; a missing or bad value stops the process."""
    if not public_keys:
        raise SettingsError(
            "set MUSTER_AUTH_PUBLIC_KEYS (PEM, or PEM files separated by commas): "
            "no service runs without token keys"
        )
    try:
        return TokenVerifier(load_public_keys(public_keys), leeway_s=leeway_s)
    except (OSError, ValueError) as error:
        raise SettingsError(f"MUSTER_AUTH_PUBLIC_KEYS: {error}") from None


def authenticator(
    public_keys: str, servicer: object, service: Any, leeway_s: float = 60.0
) -> Authenticator:
    """The checks for one service (`service`: its protobuf ServiceDescriptor)."""
    policy = policy_for(servicer, service.full_name, [m.name for m in service.methods])
    return Authenticator(verifier(public_keys, leeway_s), policy)


# ---------------------------------------------------------------- clients


TokenSource = Callable[[], str]


def on_behalf(fallback: TokenSource | None = None) -> TokenSource:
    """The caller's own token while serving an RPC, else the fallback's (a service token)."""

    def token() -> str:
        principal = current.get()
        if principal is not None and principal.token:
            return principal.token
        return fallback() if fallback else ""

    return token
