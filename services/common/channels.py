"""Client channels to Muster services: the bearer token on every call, TLS when configured.

`aio_channel` is for services and async tools, `sync_channel` for the CLI.
A token source is called per call, so a service can forward the token of the
RPC it is serving (`auth.on_behalf`) and fall back to its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from services.common.auth import TokenSource
from services.common.settings import Env


@dataclass(frozen=True)
class ClientTls:
    """The CA to trust, and for mutual TLS this client's certificate and key."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=self.ca.read_bytes(),
            private_key=self.key.read_bytes() if self.key else None,
            certificate_chain=self.cert.read_bytes() if self.cert else None,
        )


def client_tls(env: Env) -> ClientTls | None:
    """MUSTER_TLS_CA to trust; with MUSTER_TLS_CERT and _KEY, this service's own certificate
    is presented too (the development certificates serve as server and client)."""
    ca = env.get("TLS_CA")
    if not ca:
        return None
    cert, key = env.get("TLS_CERT"), env.get("TLS_KEY")
    return ClientTls(Path(ca), Path(cert) if cert else None, Path(key) if key else None)


def _with_token(details: Any, token: TokenSource, make: Callable[..., Any]) -> Any:
    value = token()
    if not value:
        return details
    metadata = [*(details.metadata or ()), ("authorization", f"Bearer {value}")]
    return make(
        method=details.method,
        timeout=details.timeout,
        metadata=metadata,
        credentials=details.credentials,
        wait_for_ready=details.wait_for_ready,
    )


class _AioBearer:
    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        return _with_token(details, self._token, grpc.aio.ClientCallDetails)


# grpc.aio files each interceptor under the first call kind it implements, so one
# object per kind.
class _AioBearerUnary(_AioBearer, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _AioBearerStream(_AioBearer, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


@dataclass(frozen=True)
class _SyncDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: bool | None


class _SyncBearer(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: TokenSource) -> None:
        self._token = token

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self._token, _SyncDetails), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(_with_token(details, self._token, _SyncDetails), request)


def aio_channel(
    address: str,
    token: TokenSource | None = None,
    tls: ClientTls | None = None,
    options: Sequence[tuple[str, Any]] | None = None,
) -> grpc.aio.Channel:
    interceptors = [_AioBearerUnary(token), _AioBearerStream(token)] if token else None
    if tls is not None:
        return grpc.aio.secure_channel(
            address, tls.credentials(), options=options, interceptors=interceptors
        )
    return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)


def sync_channel(
    address: str, token: TokenSource | None = None, tls: ClientTls | None = None
) -> grpc.Channel:
    channel = (
        grpc.secure_channel(address, tls.credentials())
        if tls is not None
        else grpc.insecure_channel(address)
    )
    if token is None:
        return channel
    return grpc.intercept_channel(channel, _SyncBearer(token))
