"""`muster plan`: ask routing for a delivery plan, show it as tables (or JSON), commit it.

muster plan --demand songyuan:WATER-FLOOD:4:12 --demand baicheng:WATER-FLOOD:2:8
muster plan --file request.json --json plan.json --commit
muster plan --list                 # stored plans, newest first
muster plan --show PLAN_ID [--commit]
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from google.protobuf import json_format
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from services.cli import credentials
from services.common.auth import Role
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
    parser.add_argument(
        "--commit", action="store_true", help="open the plan's transfers in inventory"
    )
    parser.add_argument("--show", metavar="PLAN_ID", help="a stored plan instead of a new one")
    parser.add_argument("--list", action="store_true", help="stored plans, newest first")
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


def show(plan: pb.Plan, console: Console) -> None:
    state = pb.Plan.State.Name(plan.state).removeprefix("STATE_").lower()
    console.print(
        f"[bold]plan {plan.plan_id}[/] ({state}) {plan.status}: "
        f"[green]{len(plan.deliveries)} kits on time[/], "
        f"{'[red]' if plan.unmet else ''}{len(plan.unmet)} not{'[/]' if plan.unmet else ''}; "
        f"{plan.options_considered} options, solved in {plan.solve_seconds:.2f} s; "
        f"cost {plan.total_cost:,.0f}"
    )
    table = Table(title="kits by source", title_justify="left")
    for column in ("demand", "kit", "from", "legs", "arrives", "taken in at"):
        table.add_column(column, overflow="fold")
    for d in sorted(plan.deliveries, key=lambda d: (d.source_depot, d.demand_id, d.slot)):
        table.add_row(
            f"{d.demand_id} #{d.slot}",
            d.kit_label,
            d.source_depot,
            _legs(d),
            _local(d.arrive),
            d.receiving_depot,
        )
    console.print(table)
    _arrivals(plan, console)
    if plan.truck_routes:
        trucks = Table(title="own trucks", title_justify="left")
        for column in ("truck", "leaves", "stops", "back", "km"):
            trucks.add_column(column, overflow="fold")
        for r in plan.truck_routes:
            stops = "; ".join(
                f"{s.place} {_local(s.arrive)}"
                + (f" load {len(s.load)}" if s.load else "")
                + (f" unload {len(s.unload)}" if s.unload else "")
                for s in r.stops
            )
            trucks.add_row(
                r.vehicle_id, _local(r.leave), stops, _local(r.back), f"{r.distance_km:,.0f}"
            )
        console.print(trucks)
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
    if plan.transfers:
        opened = Table(title="transfers opened in inventory", title_justify="left")
        for column in ("SSCC", "from", "to", "kits"):
            opened.add_column(column, overflow="fold")
        for t in plan.transfers:
            opened.add_row(t.sscc, t.from_depot, t.to_depot, ", ".join(t.kit_labels))
        console.print(opened)


def _arrivals(plan: pb.Plan, console: Console) -> None:
    """Per demand: kits asked, on time, the last arrival, the deadline."""
    table = Table(title="arrival per destination", title_justify="left")
    for column in ("demand", "destination", "kits", "on time", "all there by", "deadline"):
        table.add_column(column)
    for d in plan.request.demands:
        mine = [x for x in plan.deliveries if x.demand_id == d.demand_id]
        late = [u for u in plan.unmet if u.demand_id == d.demand_id]
        arrivals = [x.arrive.ToDatetime() for x in mine] + [
            u.late.arrive.ToDatetime() for u in late if u.late.kit_label
        ]
        last = max(arrivals).replace(tzinfo=UTC) if len(arrivals) == d.count else None
        colour = "green" if len(mine) == d.count else "red"
        table.add_row(
            d.demand_id,
            d.destination.city or d.destination.name or "location",
            str(d.count),
            f"[{colour}]{len(mine)}[/]",
            last.astimezone(PROVINCE_TZ).strftime("%a %H:%M") if last else "never",
            _local(d.deadline),
        )
    console.print(table)


def _list(stub: pb_grpc.RoutingServiceStub, console: Console) -> None:
    answer = stub.ListPlans(pb.ListPlansRequest(page_size=20), timeout=DEADLINE_S)
    table = Table(title="plans, newest first", title_justify="left")
    for column in ("plan", "made", "state", "on time", "unmet", "destinations"):
        table.add_column(column)
    for p in answer.plans:
        table.add_row(
            p.plan_id,
            _local(p.create_time),
            pb.Plan.State.Name(p.state).removeprefix("STATE_").lower(),
            str(p.kits_on_time),
            f"[red]{p.kits_unmet}[/]" if p.kits_unmet else "0",
            ", ".join(p.destinations),
        )
    console.print(table)


def command(args: argparse.Namespace, console: Console) -> int:
    with credentials.channel(args.address, Role.PLANNER) as channel:
        stub = pb_grpc.RoutingServiceStub(channel)
        if args.list:
            _list(stub, console)
            return 0
        if args.show:
            plan = stub.GetPlan(pb.GetPlanRequest(plan_id=args.show), timeout=DEADLINE_S).plan
        else:
            request = request_from(args)
            plan = stub.PlanDelivery(request, timeout=DEADLINE_S).plan
        if args.commit:
            plan = stub.CommitPlan(
                pb.CommitPlanRequest(plan_id=plan.plan_id), timeout=DEADLINE_S
            ).plan
    show(plan, console)
    if args.json:
        args.json.write_text(json.dumps(json_format.MessageToDict(plan), indent=2))
        console.print(f"plan written to {args.json}")
    if not args.commit and plan.state == pb.Plan.STATE_DRAFT:
        console.print(f"commit it with: muster plan --show {plan.plan_id} --commit")
    return 0
