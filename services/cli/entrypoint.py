"""The container's entrypoint: one image, a role by argument.

    inventory | routing | gateway   serve that service (configuration from MUSTER_* variables)
    migrate                         wait for PostgreSQL, then migrate every schema to head
    seed                            migrate, then load the Jilin reference network (idempotent)
    health ADDRESS [SERVICE]        exit 0 if the gRPC health service answers SERVING

`migrate` and `seed` read MUSTER_DATABASE_URL and wait up to
MUSTER_DATABASE_WAIT_S (default 60 s) for the database, logging why they
wait. `health` is for probes that cannot speak gRPC themselves (compose).
"""

from __future__ import annotations

import os
import sys

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.database import wait_for_database
from services.common.logging import configure_logging
from services.common.settings import Env

ROLES = ("inventory", "routing", "gateway", "migrate", "seed", "health")
log = structlog.get_logger("muster.entrypoint")


def _database_url() -> str:
    env = Env("migrate", os.environ)
    url = env.require("DATABASE_URL")
    wait_for_database(url, env.number("DATABASE_WAIT_S", 60.0))
    return url


def migrate() -> str:
    from services.common.schemas import ALL, upgrade_all

    url = _database_url()
    upgrade_all(url)
    log.info("migrated", schemas=[m.scripts.parent.name for m in ALL])
    return url


def seed() -> None:
    from rich.console import Console

    from services.cli import dev

    url = migrate()
    dev.prepare(Console(stderr=True), url)


def health(address: str, service: str = "", timeout_s: float = 3.0) -> int:
    with grpc.insecure_channel(address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError as error:
            print(f"{address}: {error.code().name}", file=sys.stderr)
            return 1
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
    print(f"{address}: {status}")
    return 0 if answer.status == health_pb2.HealthCheckResponse.SERVING else 1


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ROLES:
        print(__doc__, file=sys.stderr)
        return 2
    role, rest = args[0], args[1:]
    if role == "health":
        if not rest:
            print("usage: health ADDRESS [SERVICE]", file=sys.stderr)
            return 2
        return health(rest[0], rest[1] if len(rest) > 1 else "")
    configure_logging()
    if role == "migrate":
        migrate()
    elif role == "seed":
        seed()
    elif role == "inventory":
        from services.inventory.server import main as serve

        serve()
    elif role == "routing":
        from services.routing.server import main as serve

        serve()
    else:
        from services.gateway.server import main as serve

        serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
