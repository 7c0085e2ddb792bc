"""Terminal views of the inventory: depots with their compliance, and one kit."""

from __future__ import annotations

from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from services.cli import credentials
from services.common.auth import Role

DEADLINE_S = 10.0


def _name(wrapper: object, value: int, prefix: str) -> str:
    return wrapper.Name(value).removeprefix(prefix)  # type: ignore[attr-defined]


def depots(address: str, console: Console) -> int:
    with credentials.channel(address, Role.COMMAND) as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        listed: list[pb.Depot] = []
        token = ""
        while True:
            page = stub.ListDepots(
                pb.ListDepotsRequest(page_size=100, page_token=token), timeout=DEADLINE_S
            )
            listed.extend(page.depots)
            token = page.next_page_token
            if not token:
                break
        compliance = {
            c.depot_code: c
            for c in stub.GetDepotCompliance(
                pb.GetDepotComplianceRequest(), timeout=DEADLINE_S
            ).depots
        }
    table = Table(title=f"{len(listed)} depots", title_justify="left")
    for column in ("code", "tier", "city", "parent", "area m2", "minimum m2", "compliant"):
        table.add_column(column, justify="right" if "m2" in column else "left")
    for d in listed:
        c = compliance[d.code]
        mark = "[green]yes[/]" if c.compliant else f"[red]no: {c.reason}[/]"
        table.add_row(
            d.code,
            _name(pb.Tier, d.tier, "TIER_"),
            d.city,
            d.parent_code or "-",
            f"{d.floor_area_m2:,.0f}",
            f"{c.minimum_area_m2:,.0f}",
            mark,
        )
    console.print(table)
    return 0


def kit(address: str, label: str, console: Console) -> int:
    with credentials.channel(address, Role.COMMAND) as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        answer = stub.GetKit(pb.GetKitRequest(label=label), timeout=DEADLINE_S)
    k = answer.kit
    state = _name(pb.Kit.State, k.state, "STATE_")
    colour = "green" if k.state == pb.Kit.STATE_READY else "red"
    console.print(
        f"[bold]{k.label}[/]  {k.template_code} v{k.template_version}  at {k.depot_code}  "
        f"[{colour} bold]{state}[/]  ({len(answer.units)} units, {len(answer.lots)} lots)"
    )
    if not answer.shortfalls:
        return 0
    table = Table(title="shortfalls (pacing lines first)", title_justify="left")
    for column in ("item", "pacing", "required", "missing", "reason", "at fault"):
        table.add_column(column)
    for s in answer.shortfalls:
        faults = ", ".join(
            f"{f.serial or f.lot_number or 'bulk'} "
            f"{_name(pb.ShortfallReason, f.reason, 'SHORTFALL_REASON_')}"
            for f in s.faults
        )
        table.add_row(
            s.item_type_code,
            "yes" if s.pacing else "",
            str(s.required_quantity),
            str(s.missing_quantity),
            _name(pb.ShortfallReason, s.reason, "SHORTFALL_REASON_"),
            faults or "-",
        )
    console.print(table)
    return 0
