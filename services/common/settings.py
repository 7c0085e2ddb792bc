"""Settings from environment variables, parsed once at start into frozen objects.

Each service reads `MUSTER_<SERVICE>_<NAME>`, falling back to `MUSTER_<NAME>`
for values every service shares (the database URL). A missing required value
stops the process with a message that names it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


@dataclass(frozen=True)
class Env:
    """Looks values up for one service prefix."""

    service: str
    environ: Mapping[str, str]

    def names(self, name: str) -> list[str]:
        return [f"MUSTER_{self.service.upper()}_{name}", f"MUSTER_{name}"]

    def get(self, name: str, default: str | None = None) -> str | None:
        for key in self.names(name):
            value = self.environ.get(key)
            if value:
                return value
        return default

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise SettingsError(f"set {' or '.join(self.names(name))}")
        return value

    def integer(self, name: str, default: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(
                f"{self.names(name)[0]} must be a whole number, not {raw!r}"
            ) from None

    def optional_integer(self, name: str) -> int | None:
        """A whole number, or None when unset (for things that are off unless asked for)."""
        return None if self.get(name) is None else self.integer(name, 0)

    def number(self, name: str, default: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{self.names(name)[0]} must be a number, not {raw!r}") from None


@dataclass(frozen=True)
class ServerSettings:
    """What every gRPC service needs."""

    service: str
    database_url: str
    host: str = "127.0.0.1"
    port: int = 0
    health_interval_s: float = 2.0
    db_pool_size: int = 10
    # The Prometheus endpoint: None is off, 0 a free port (tests), else that port.
    metrics_port: int | None = None
    # On SIGTERM: how long in-flight calls may finish; at start: how long to wait
    # for PostgreSQL before giving up (the orchestrator restarts the process).
    shutdown_grace_s: float = 10.0
    database_wait_s: float = 60.0
    # Public keys that sign bearer tokens (PEM text, or comma-separated PEM files).
    # Required: no service answers without a token (health and reflection aside).
    auth_public_keys: str = ""
    auth_leeway_s: float = 60.0
    # TLS: this server's certificate and key; with a client CA, clients must present
    # a certificate it signed (mutual TLS between services).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None

    @classmethod
    def from_env(
        cls, service: str, default_port: int, environ: Mapping[str, str] | None = None
    ) -> ServerSettings:
        env = Env(service, os.environ if environ is None else environ)
        return cls(
            service=service,
            database_url=env.require("DATABASE_URL"),
            host=env.get("HOST", "127.0.0.1") or "127.0.0.1",
            port=env.integer("PORT", default_port),
            health_interval_s=env.number("HEALTH_INTERVAL_S", 2.0),
            db_pool_size=env.integer("DB_POOL_SIZE", 10),
            metrics_port=env.optional_integer("METRICS_PORT"),
            shutdown_grace_s=env.number("SHUTDOWN_GRACE_S", 10.0),
            database_wait_s=env.number("DATABASE_WAIT_S", 60.0),
            auth_public_keys=env.require("AUTH_PUBLIC_KEYS"),
            auth_leeway_s=env.number("AUTH_LEEWAY_S", 60.0),
            tls_cert=_path(env.get("TLS_CERT")),
            tls_key=_path(env.get("TLS_KEY")),
            tls_client_ca=_path(env.get("TLS_CLIENT_CA")),
        )


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
