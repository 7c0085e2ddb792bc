"""A small depot world for scanning tests, built through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.inventory.domain import labels
from tests import factories as f

TODAY = date(2026, 11, 29)
_gtins = iter(range(5000, 9999))


def next_gtin() -> str:
    return labels.with_check_digit(f"069500000{next(_gtins):04d}")


@dataclass
class World:
    stub: pb_grpc.InventoryServiceStub
    depot: pb.Depot
    other: pb.Depot
    boat: pb.ItemType  # SERIAL, pacing, inspected every 30 days
    aid: pb.ItemType  # LOT, 2-year shelf life
    template: pb.KitTemplate

    def bin(self, label: str = "A-01", depot: pb.Depot | None = None) -> str:
        return labels.bin_code((depot or self.depot).gln, label)

    def unit(self, serial: str) -> str:
        return labels.unit_code(self.boat.gtin, serial)

    def lot(self, number: str, expires: date = date(2028, 1, 31)) -> str:
        return labels.lot_code(self.aid.gtin, number, expires)

    async def scan(self, code: str, action: int, **fields: object) -> pb.ScanResult:
        answer = await self.stub.RecordScan(
            pb.RecordScanRequest(scan=self.make(code, action, **fields))
        )
        return answer.result

    def make(self, code: str, action: int, **fields: object) -> pb.Scan:
        values: dict[str, object] = {
            "scan_id": str(uuid.uuid4()),
            "code": code,
            "action": action,
            "depot_code": self.depot.code,
            "operator": "tester",
            "device": "HH-01",
        }
        values.update(fields)
        return pb.Scan(**values)

    async def kit(self, units: int = 2, lot_quantity: int = 3) -> pb.Kit:
        """A kit at the depot with `units` boats and the first-aid lot; READY when full."""
        label = f.unique("KIT")
        created = await self.stub.CreateKit(
            pb.CreateKitRequest(
                label=label,
                template_code=self.template.code,
                depot_code=self.depot.code,
                location_label="A-01",
                units=[
                    pb.Unit(
                        item_type_code=self.boat.code,
                        serial=f"{label[-8:]}-{i}",
                        next_inspection_date=f.date("2026-12-20"),
                    )
                    for i in range(units)
                ],
                lots=[
                    pb.Lot(
                        item_type_code=self.aid.code,
                        lot_number=f"L{label[-6:]}",
                        quantity=lot_quantity,
                        expiry_date=f.date("2028-01-31"),
                    )
                ]
                if lot_quantity
                else [],
            )
        )
        return created.kit

    async def get(self, kit: pb.Kit) -> pb.GetKitResponse:
        return await self.stub.GetKit(pb.GetKitRequest(label=kit.label))


async def build_world(stub: pb_grpc.InventoryServiceStub) -> World:
    depots = []
    for _ in range(2):
        depot = (await stub.CreateDepot(pb.CreateDepotRequest(depot=f.depot()))).depot
        for bin_label, zone in (("A-01", "A"), ("A-02", "A"), ("B-01", "B")):
            await stub.CreateLocation(
                pb.CreateLocationRequest(
                    location=pb.Location(depot_code=depot.code, label=bin_label, zone=zone)
                )
            )
        depots.append(depot)
    boat = (
        await stub.CreateItemType(
            pb.CreateItemTypeRequest(
                item_type=f.item_type(
                    pb.TRACKING_MODE_SERIAL, gtin=next_gtin(), inspection_interval_days=30
                )
            )
        )
    ).item_type
    aid = (
        await stub.CreateItemType(
            pb.CreateItemTypeRequest(
                item_type=f.item_type(pb.TRACKING_MODE_LOT, gtin=next_gtin(), shelf_life_days=730)
            )
        )
    ).item_type
    template = (
        await stub.CreateKitTemplate(
            pb.CreateKitTemplateRequest(
                template=pb.KitTemplate(
                    code=f.unique("T"),
                    category=pb.CATEGORY_WATER,
                    name="Water module",
                    lines=[
                        pb.TemplateLine(item_type_code=boat.code, quantity=2, pacing=True),
                        pb.TemplateLine(item_type_code=aid.code, quantity=3),
                    ],
                )
            )
        )
    ).template
    return World(stub, depots[0], depots[1], boat, aid, template)
