"""The `muster` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import grpc
from rich.console import Console

from services.cli import certs as certs_cli
from services.cli import credentials
from services.cli import plan as plan_cli
from services.cli import readiness as readiness_cli
from services.cli import scan as scan_cli
from services.common.logging import configure_logging

INVENTORY_ADDRESS = os.environ.get("MUSTER_INVENTORY_ADDRESS", "127.0.0.1:50051")
ROUTING_ADDRESS = os.environ.get("MUSTER_ROUTING_ADDRESS", "127.0.0.1:50052")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="muster", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="database, migrations, seed and every service")
    run.add_argument("--var", type=Path, default=Path("var"), help="local data folder")
    sub.add_parser("migrate", help="migrate MUSTER_DATABASE_URL to the latest schema")
    sub.add_parser("seed", help="load the Jilin reference network into MUSTER_DATABASE_URL")
    depots = sub.add_parser("depots", help="depots with tier, area and compliance")
    depots.add_argument("--address", default=INVENTORY_ADDRESS)
    kit = sub.add_parser("kit", help="one kit: state and shortfalls")
    kit.add_argument("label")
    kit.add_argument("--address", default=INVENTORY_ADDRESS)
    scan = sub.add_parser("scan", help="scan codes at a depot; spooled while inventory is away")
    scan_cli.add_arguments(scan, INVENTORY_ADDRESS)
    planning = sub.add_parser("plan", help="a delivery plan from routing, as tables")
    plan_cli.add_arguments(planning, ROUTING_ADDRESS)
    ready = sub.add_parser(
        "readiness", help="readiness by category and scope, or one cell's reasons"
    )
    readiness_cli.add_arguments(ready)
    certs = sub.add_parser("certs", help="a development CA and TLS certificates")
    certs_cli.add_arguments(certs)
    token = sub.add_parser("token", help="a development bearer token for a role")
    credentials.add_arguments(token)
    printed = sub.add_parser("labels", help="GS1 label payloads (and SVG images) for a depot")
    printed.add_argument("--depot", required=True)
    printed.add_argument(
        "--what",
        nargs="+",
        choices=("bins", "kits", "units"),
        default=["bins", "kits"],
        help="which labels (default: bins kits)",
    )
    printed.add_argument("--out", type=Path, default=None, help="write one GS1-128 SVG each here")
    printed.add_argument("--address", default=INVENTORY_ADDRESS)
    return parser


def _database_url() -> str:
    url = os.environ.get("MUSTER_DATABASE_URL")
    if not url:
        raise SystemExit("set MUSTER_DATABASE_URL (or use `muster run`, which starts one)")
    return url


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    console = Console()
    configure_logging("WARNING")
    try:
        if args.command == "run":
            from services.cli import dev

            configure_logging("INFO")
            return dev.run(args.var)
        if args.command == "migrate":
            from services.common.schemas import upgrade_all

            upgrade_all(_database_url())
            return 0
        if args.command == "seed":
            from services.cli import dev

            dev.prepare(console, _database_url())
            return 0
        if args.command == "scan":
            return scan_cli.command(args, console)
        if args.command == "certs":
            return certs_cli.command(args, console)
        if args.command == "token":
            return credentials.command(args, console)
        if args.command == "plan":
            return plan_cli.command(args, console)
        if args.command == "readiness":
            return readiness_cli.command(args, console)
        if args.command == "labels":
            from services.cli import labels

            return labels.show(args.address, args.depot, tuple(args.what), args.out, console)
        from services.cli import inventory

        if args.command == "depots":
            return inventory.depots(args.address, console)
        if args.command == "kit":
            return inventory.kit(args.address, args.label, console)
    except grpc.RpcError as error:
        console.print(f"[red]{error.code().name}[/]: {error.details()}")
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
