"""The gateway's settings: where it listens (gRPC and HTTP) and where inventory and routing are."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.channels import ClientTls
from services.common.settings import Env, ServerSettings
from services.gateway.adapters.config_file import DEFAULT_PATH

DEFAULT_PORT = 50053
DEFAULT_HTTP_PORT = 8080


@dataclass(frozen=True)
class GatewaySettings:
    inventory_address: str = "127.0.0.1:50051"
    routing_address: str = "127.0.0.1:50052"
    host: str = "127.0.0.1"
    port: int = 0
    http_host: str = "127.0.0.1"
    http_port: int = 0
    readiness_config: Path = DEFAULT_PATH
    health_interval_s: float = 2.0
    estimates_interval_s: float = 60.0
    # The Prometheus endpoint: None is off, 0 a free port (tests), else that port.
    metrics_port: int | None = None
    # On SIGTERM: how long in-flight calls (and watchers) may finish.
    shutdown_grace_s: float = 10.0
    # Public keys that sign callers' tokens (see ServerSettings), and the gateway's own
    # token (role command) for reading inventory and routing.
    auth_public_keys: str = ""
    auth_leeway_s: float = 60.0
    token: str = ""
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    tls_ca: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = Env("gateway", os.environ if environ is None else environ)
        return cls(
            inventory_address=env.get("INVENTORY_ADDRESS", cls.inventory_address) or "",
            routing_address=env.get("ROUTING_ADDRESS", cls.routing_address) or "",
            host=env.get("HOST", "127.0.0.1") or "127.0.0.1",
            port=env.integer("PORT", DEFAULT_PORT),
            http_host=env.get("HTTP_HOST", "127.0.0.1") or "127.0.0.1",
            http_port=env.integer("HTTP_PORT", DEFAULT_HTTP_PORT),
            readiness_config=Path(env.get("READINESS_CONFIG", str(DEFAULT_PATH)) or DEFAULT_PATH),
            health_interval_s=env.number("HEALTH_INTERVAL_S", 2.0),
            estimates_interval_s=env.number("ESTIMATES_INTERVAL_S", 60.0),
            metrics_port=env.optional_integer("METRICS_PORT"),
            shutdown_grace_s=env.number("SHUTDOWN_GRACE_S", 10.0),
            auth_public_keys=env.require("AUTH_PUBLIC_KEYS"),
            auth_leeway_s=env.number("AUTH_LEEWAY_S", 60.0),
            token=env.require("TOKEN"),
            tls_cert=_path(env.get("TLS_CERT")),
            tls_key=_path(env.get("TLS_KEY")),
            tls_client_ca=_path(env.get("TLS_CLIENT_CA")),
            tls_ca=_path(env.get("TLS_CA")),
        )

    def server(self) -> ServerSettings:
        """The parts every gRPC server shares, for the common helpers."""
        return ServerSettings(
            service="gateway",
            database_url="",
            auth_public_keys=self.auth_public_keys,
            auth_leeway_s=self.auth_leeway_s,
            tls_cert=self.tls_cert,
            tls_key=self.tls_key,
            tls_client_ca=self.tls_client_ca,
        )

    def client_tls(self) -> ClientTls | None:
        if self.tls_ca is None:
            return None
        return ClientTls(self.tls_ca, self.tls_cert, self.tls_key)


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
