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


class _BearerCall:
    """A multicallable that adds the token source's bearer token to each call's metadata."""

    __slots__ = ("_inner", "_token")

    def __init__(self, inner: Any, token: TokenSource) -> None:
        self._inner = inner
        self._token = token

    def __call__(self, request: Any = None, *, metadata: Any = None, **options: Any) -> Any:
        value = self._token()
        if value:
            metadata = (*(metadata or ()), ("authorization", f"Bearer {value}"))
        return self._inner(request, metadata=metadata, **options)


class _BearerChannel(grpc.aio.Channel):
    """A grpc.aio channel whose calls carry a bearer token.

    Not a grpc.aio client interceptor: grpc.aio runs an intercepted call as
    an extra task with its own futures, which measured as a large share of a
    small call's client CPU. Here the token goes into the metadata as the
    call is made, and the call object is grpc's own.
    """

    def __init__(self, inner: grpc.aio.Channel, token: TokenSource) -> None:
        self._inner = inner
        self._token = token

    async def __aenter__(self) -> _BearerChannel:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)

    async def close(self, grace: float | None = None) -> None:
        await self._inner.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._inner.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._inner.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._inner.channel_ready()

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _BearerCall(self._inner.unary_unary(*args, **kwargs), self._token)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _BearerCall(self._inner.unary_stream(*args, **kwargs), self._token)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _BearerCall(self._inner.stream_unary(*args, **kwargs), self._token)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _BearerCall(self._inner.stream_stream(*args, **kwargs), self._token)


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
    channel = (
        grpc.aio.secure_channel(address, tls.credentials(), options=options)
        if tls is not None
        else grpc.aio.insecure_channel(address, options=options)
    )
    return channel if token is None else _BearerChannel(channel, token)


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
