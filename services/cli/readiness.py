"""`muster readiness`: the category x scope matrix coloured by level, or one cell's reasons."""

from __future__ import annotations

import argparse
import os

from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.gateway.v1 import gateway_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from services.cli import credentials
from services.common.auth import Role
from services.common.errors import InvalidArgument
from services.gateway.api.mappers import parse_category, parse_scope

GATEWAY_ADDRESS = os.environ.get("MUSTER_GATEWAY_ADDRESS", "127.0.0.1:50053")
COLOURS = {
    0: "white on grey30",
    1: "white on green4",
    2: "black on yellow3",
    3: "white on dark_orange3",
    4: "white on red3",
}
KINDS = {
    "province": pb.Scope.KIND_PROVINCE,
    "region": pb.Scope.KIND_REGION,
    "city": pb.Scope.KIND_CITY,
    "depot": pb.Scope.KIND_DEPOT,
}
MEASURES = {
    pb.Measure.KIND_ON_HAND: "on hand (S)",
    pb.Measure.KIND_PACING_ITEMS: "pacing items",
    pb.Measure.KIND_SERVICEABLE: "serviceable (R)",
    pb.Measure.KIND_SHELF_LIFE: "shelf-life cover",
    pb.Measure.KIND_TIME_TO_SCENE: "time to scene (T)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--category", help="with --scope: one cell's measures and reasons")
    parser.add_argument("--scope", help="province, region:CODE, city:CODE or depot:CODE")
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=tuple(KINDS),
        default=["province", "region", "city"],
        help="which scopes the matrix shows (default: province region city)",
    )
    parser.add_argument("--address", default=GATEWAY_ADDRESS)


def _name(category: int) -> str:
    return pb.Category.Name(category).removeprefix("CATEGORY_").lower().replace("_", " ")


def _level(level: int) -> str:
    return f"[{COLOURS.get(level, COLOURS[0])}] {level or '?'} [/]"


def matrix(reports: list[pb.ReadinessReport], console: Console) -> None:
    categories = sorted({r.category for r in reports})
    rows: dict[tuple[int, str], dict[int, pb.ReadinessReport]] = {}
    names: dict[tuple[int, str], str] = {}
    for r in reports:
        rows.setdefault((r.scope.kind, r.scope.code), {})[r.category] = r
        names[(r.scope.kind, r.scope.code)] = r.scope.name
    table = Table(title="Readiness: 1 ready ... 4 not ready", title_justify="left")
    table.add_column("scope")
    for c in categories:
        table.add_column(_name(c), justify="center")
    for key in sorted(rows):
        cells = rows[key]
        table.add_row(
            names[key], *(_level(cells[c].level) if c in cells else "" for c in categories)
        )
    console.print(table)
    if any(r.HasField("stale_since") for r in reports):
        console.print(
            "[yellow]stale: inventory is unreachable; these are the last known reports[/]"
        )


def _value(m: pb.Measure) -> str:
    if not m.known:
        return "unknown"
    if m.unit == "hours":
        return f"{m.value:.1f} h (target {m.target:g} h)"
    return f"{m.value:.1f} % ({m.numerator} of {m.denominator})"


def cell(report: pb.ReadinessReport, console: Console) -> None:
    where = f"[bold]{_name(report.category)}[/] in [bold]{report.scope.name}[/]"
    console.print(f"{where}: level {_level(report.level)}")
    if report.HasField("stale_since"):
        console.print(f"[yellow]stale since {report.stale_since.ToJsonString()}[/]")
    table = Table(show_lines=True)
    for column in ("measure", "value", "band", "reasons"):
        table.add_column(column)
    for m in report.measures:
        reasons = "\n".join(f"{x.code}: {x.message}" for x in m.reasons)
        table.add_row(MEASURES.get(m.kind, str(m.kind)), _value(m), _level(m.band), reasons)
    console.print(table)


def command(args: argparse.Namespace, console: Console) -> int:
    with credentials.channel(args.address, Role.COMMAND) as channel:
        stub = pb_grpc.ReadinessServiceStub(channel)
        if args.category or args.scope:
            try:
                category = parse_category(args.category or "")
                scope = parse_scope(args.scope or "province")
            except InvalidArgument as error:
                console.print(f"[red]{error.message}[/]")
                return 2
            answer = stub.GetReadiness(
                pb.GetReadinessRequest(category=category, scope=scope), timeout=10
            )
            cell(answer.report, console)
            return 0
        reports = []
        for kind in args.kinds:
            answer = stub.ListReadiness(pb.ListReadinessRequest(scope_kind=KINDS[kind]), timeout=10)
            reports += list(answer.reports)
        matrix(reports, console)
    return 0
