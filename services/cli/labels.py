"""`muster labels`: GS1 payloads (and GS1-128 images) to print for a depot's bins, kits, units.

Each row gives the element string a printer encodes (FNC1 between a
variable-length field and the next AI, shown as <GS>) and the human-readable
text printed under the bars. With --out, one SVG per label is written there,
drawn by python-barcode's GS1-128 (FNC1 passed as its \\xf1 character).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table

from services.cli import credentials
from services.common.auth import Role
from services.inventory.domain import labels

DEADLINE_S = 10.0
WHAT = ("bins", "kits", "units")


@dataclass(frozen=True)
class PrintedLabel:
    kind: str
    name: str
    code: str

    @property
    def readable(self) -> str:
        return labels.human_readable(self.code)


def _pages(call: Any, request: Any) -> Iterator[Any]:
    token = ""
    while True:
        request.page_token = token
        answer = call(request, timeout=DEADLINE_S)
        yield answer
        token = answer.next_page_token
        if not token:
            return


def collect(address: str, depot: str, what: tuple[str, ...]) -> list[PrintedLabel]:
    out: list[PrintedLabel] = []
    with credentials.channel(address, Role.DEPOT_STAFF, [depot]) as channel:
        stub = pb_grpc.InventoryServiceStub(channel)
        if "bins" in what:
            for page in _pages(stub.ListLocations, pb.ListLocationsRequest(depot_code=depot)):
                out += [PrintedLabel("bin", loc.label, loc.code) for loc in page.locations]
        kits = [
            k
            for page in _pages(stub.ListKits, pb.ListKitsRequest(depot_code=depot, page_size=200))
            for k in page.kits
        ]
        if "kits" in what:
            out += [PrintedLabel("kit", k.label, k.code) for k in kits]
        if "units" in what:
            out += list(_units(stub, kits))
    return out


def _units(stub: pb_grpc.InventoryServiceStub, kits: list[pb.Kit]) -> Iterator[PrintedLabel]:
    gtins = {
        it.code: it.gtin
        for page in _pages(stub.ListItemTypes, pb.ListItemTypesRequest(page_size=500))
        for it in page.item_types
    }
    for kit in kits:
        got = stub.GetKit(pb.GetKitRequest(label=kit.label), timeout=DEADLINE_S)
        for unit in got.units:
            if gtins.get(unit.item_type_code):
                yield PrintedLabel(
                    "unit", unit.serial, labels.unit_code(gtins[unit.item_type_code], unit.serial)
                )
        for lot in got.lots:
            if gtins.get(lot.item_type_code) and lot.lot_number:
                expiry = lot.expiry_date
                expires = date(expiry.year, expiry.month, expiry.day) if expiry.year else None
                code = labels.lot_code(gtins[lot.item_type_code], lot.lot_number, expires)
                yield PrintedLabel("lot", lot.lot_number, code)


def write_svg(label: PrintedLabel, folder: Path) -> Path:
    import barcode
    from barcode.writer import SVGWriter

    folder.mkdir(parents=True, exist_ok=True)
    drawn = barcode.get("gs1_128", label.code.replace(labels.GS, "\xf1"), writer=SVGWriter())
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{label.kind}-{label.name}")
    target = folder / name
    written = drawn.save(str(target), options={"human": label.readable})
    return Path(written)


def show(
    address: str, depot: str, what: tuple[str, ...], out: Path | None, console: Console
) -> int:
    found = collect(address, depot, what)
    table = Table(title=f"{len(found)} labels at {depot}", title_justify="left")
    for column in ("kind", "name", "element string", "printed text"):
        table.add_column(column, overflow="fold")
    for label in found:
        table.add_row(label.kind, label.name, label.code.replace(labels.GS, "<GS>"), label.readable)
        if out is not None:
            write_svg(label, out)
    console.print(table)
    if out is not None:
        console.print(f"wrote {len(found)} GS1-128 SVG files to {out}")
    return 0
