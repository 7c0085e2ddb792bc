"""The test suite's token keys: one signing key per session, tokens for any role.

Servers started by the tests trust `PUBLIC_KEYS`; `channel` opens a client
channel that sends a token (admin unless asked otherwise); the environment
gets `MUSTER_AUTH_PUBLIC_KEYS` (for servers started as processes) and
`MUSTER_TOKEN` (an admin token, for the CLI code under test).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import grpc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.common.auth import Role, TokenIssuer, public_pem
from services.common.channels import aio_channel

KEY = Ed25519PrivateKey.generate()
PUBLIC_KEYS = public_pem(KEY.public_key())
ISSUER = TokenIssuer(KEY)


def token(
    role: Role = Role.ADMIN,
    depots: Iterable[str] = (),
    subject: str = "tester",
    ttl: timedelta = timedelta(hours=1),
) -> str:
    return ISSUER.issue(subject, [role], depots, ttl)


def channel(
    address: str, role: Role = Role.ADMIN, depots: Iterable[str] = (), **options: object
) -> grpc.aio.Channel:
    value = token(role, depots)
    return aio_channel(address, lambda: value, options=list(options.items()) or None)


def environment() -> dict[str, str]:
    return {"MUSTER_AUTH_PUBLIC_KEYS": PUBLIC_KEYS, "MUSTER_TOKEN": token(ttl=timedelta(hours=6))}


def gateway_token() -> str:
    """The token a test gateway reads inventory and routing with."""
    return token(Role.COMMAND, subject="gateway", ttl=timedelta(hours=6))
