"""`muster plan`: ask routing for a delivery plan and show it as tables (or JSON)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from google.protobuf import json_format
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from services.common.clock import PROVINCE_TZ

DEADLINE_S = 60.0
MODES = {
    "truck": pb.MODE_OWN_TRUCK,
    "partner": pb.MODE_PARTNER_TRUCK,
    "air": pb.MODE_AIR,
    "rail": pb.MODE_RAIL,
}


def add_arguments(parser: argparse.ArgumentParser, default_address: str) -> None:
    parser.add_argument(
        "--demand",
        action="append",
        default=[],
        metavar="CITY:TEMPLATE:COUNT:HOURS[:PRIORITY]",
        help="e.g. songyuan:WATER-FLOOD:4:12 (repeat for more)",
    )
    parser.add_argument("--file", type=Path, help="a PlanDeliveryRequest as JSON instead")
    parser.add_argument("--modes", default="", help="comma list of truck,partner,air,rail")
    parser.add_argument("--winter", action="store_true")
    parser.add_argument("--budget", type=float, default=5.0, help="solver seconds")
    parser.add_argument("--json", type=Path, help="also write the plan as JSON here")
    parser.add_argument("--address", default=default_address)


def request_from(args: argparse.Namespace) -> pb.PlanDeliveryRequest:
    if args.file:
        return json_format.Parse(args.file.read_text(), pb.PlanDeliveryRequest())
    request = pb.PlanDeliveryRequest(winter=args.winter, time_budget_s=args.budget)
    now = datetime.now(UTC)
    for i, text in enumerate(args.demand):
        parts = text.split(":")
        if len(parts) not in (4, 5):
            raise SystemExit(f"--demand {text!r}: CITY:TEMPLATE:COUNT:HOURS[:PRIORITY]")
        city, template, count, hours, *priority = parts
        demand = request.demands.add(
            demand_id=f"{city}-{i + 1}",
            destination=pb.Destination(city=city),
            template_code=template,
            count=int(count),
            priority=int(priority[0]) if priority else 1,
        )
        demand.deadline.FromDatetime(now + timedelta(hours=float(hours)))
    for name in filter(None, args.modes.split(",")):
        if name not in MODES:
            raise SystemExit(f"--modes: {name!r} is not one of {', '.join(MODES)}")
        request.modes.append(MODES[name])
    return request


def _local(stamp: object) -> str:
    return stamp.ToDatetime(tzinfo=UTC).astimezone(PROVINCE_TZ).strftime("%a %H:%M")  # type: ignore[attr-defined]


def _legs(delivery: pb.KitDelivery) -> str:
    return " → ".join(
        f"{pb.Mode.Name(leg.mode).removeprefix('MODE_').lower()}"
        + (f" {leg.service_code}" if leg.service_code else "")
        + f" {leg.origin}→{leg.destination} {_local(leg.depart)}-{_local(leg.arrive)}"
        for leg in delivery.legs
    )


def show(plan: pb.PlanDeliveryResponse, console: Console) -> None:
    console.print(
        f"[bold]plan[/] {plan.status}: {len(plan.deliveries)} kits on time, "
        f"{len(plan.unmet)} not; {plan.options_considered} options, solved in "
        f"{plan.solve_seconds:.2f} s; cost {plan.total_cost:,.0f}"
    )
    table = Table(title="kits by source", title_justify="left")
    for column in ("demand", "kit", "from", "legs", "arrives"):
        table.add_column(column, overflow="fold")
    for d in sorted(plan.deliveries, key=lambda d: (d.demand_id, d.slot)):
        table.add_row(
            f"{d.demand_id} #{d.slot}", d.kit_label, d.source_depot, _legs(d), _local(d.arrive)
        )
    console.print(table)
    if plan.unmet:
        unmet = Table(title="not met by the deadline", title_justify="left")
        for column in ("demand", "reason", "if sent anyway"):
            unmet.add_column(column, overflow="fold")
        for u in plan.unmet:
            late = (
                f"{u.late.kit_label} arrives {_local(u.late.arrive)}" if u.late.kit_label else "-"
            )
            unmet.add_row(f"{u.demand_id} #{u.slot}", f"[red]{u.reason}[/]", late)
        console.print(unmet)


def command(args: argparse.Namespace, console: Console) -> int:
    request = request_from(args)
    with grpc.insecure_channel(args.address) as channel:
        plan = pb_grpc.RoutingServiceStub(channel).PlanDelivery(request, timeout=DEADLINE_S)
    show(plan, console)
    if args.json:
        args.json.write_text(json.dumps(json_format.MessageToDict(plan), indent=2))
        console.print(f"plan written to {args.json}")
    return 0
