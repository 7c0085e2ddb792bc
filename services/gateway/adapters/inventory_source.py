"""What the gateway reads from inventory: the reference, a kit export, the change feed, one kit.

Everything comes back as the gateway's own domain values. An unreachable
inventory is `Unavailable`, whatever the RPC.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import grpc
from google.type import date_pb2
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc

from services.common.channels import ClientTls, aio_channel
from services.common.errors import Unavailable
from services.gateway.domain.model import (
    Category,
    Depot,
    Kit,
    Line,
    Lot,
    Reference,
    Standard,
    Template,
    Unit,
)

DEADLINE_S = 10.0
# The feed beats every 10 s when quiet; three missed beats mean it is gone.
FEED_SILENCE_S = 35.0
_DOWN = (
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
    grpc.StatusCode.UNKNOWN,
)


def _name(enum: Any, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix)


def _date(value: date_pb2.Date, present: bool) -> date | None:
    return date(value.year, value.month, value.day) if present and value.year else None


def kit_from(k: inv.Kit, units: Any, lots: Any) -> Kit:
    return Kit(
        k.label,
        k.template_code,
        k.template_version,
        k.depot_code,
        _name(inv.Kit.State, k.state, "STATE_"),
        tuple(
            Unit(
                u.item_type_code,
                u.serial,
                _name(inv.Condition, u.condition, "CONDITION_"),
                _date(u.expiry_date, u.HasField("expiry_date")),
                _date(u.next_inspection_date, u.HasField("next_inspection_date")),
            )
            for u in units
        ),
        tuple(
            Lot(
                lt.item_type_code,
                lt.quantity,
                lt.lot_number,
                _name(inv.Condition, lt.condition, "CONDITION_"),
                _date(lt.expiry_date, lt.HasField("expiry_date")),
                _date(lt.next_inspection_date, lt.HasField("next_inspection_date")),
            )
            for lt in lots
        ),
    )


# Changes to what the gateway reads as its reference.
REFERENCE_KINDS = frozenset(
    {
        inv.SUBJECT_KIND_DEPOT,
        inv.SUBJECT_KIND_ITEM_TYPE,
        inv.SUBJECT_KIND_TEMPLATE,
        inv.SUBJECT_KIND_STANDARD,
    }
)


@dataclass(frozen=True)
class KitChange:
    cursor: str
    kit_labels: frozenset[str]
    # A depot, item type, template or reserve standard changed: the reference is stale.
    reference_changed: bool = False


class InventorySource:
    def __init__(self, address: str, token: str = "", tls: ClientTls | None = None) -> None:
        self.address = address
        self._channel = aio_channel(address, (lambda: token) if token else None, tls)
        self._stub = inv_grpc.InventoryServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    def _down(self, error: grpc.aio.AioRpcError) -> Exception:
        if error.code() in _DOWN:
            return Unavailable(f"inventory at {self.address} is unreachable: {error.code().name}")
        return error

    async def _pages(self, call: Any, request: Any, field: str) -> AsyncIterator[Any]:
        token = ""
        while True:
            request.page_token = token
            try:
                answer = await call(request, timeout=DEADLINE_S)
            except grpc.aio.AioRpcError as error:
                raise self._down(error) from error
            for item in getattr(answer, field):
                yield item
            token = answer.next_page_token
            if not token:
                return

    async def _call(self, call: Any, request: Any) -> Any:
        try:
            return await call(request, timeout=DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            raise self._down(error) from error

    async def reference(self, province: str = "jilin") -> Reference:
        depots = [
            d
            async for d in self._pages(
                self._stub.ListDepots, inv.ListDepotsRequest(page_size=500), "depots"
            )
        ]
        compliance = await self._call(
            self._stub.GetDepotCompliance, inv.GetDepotComplianceRequest()
        )
        short = {
            c.depot_code: f"{c.depot_code} has {c.floor_area_m2:g} m2 of the {c.minimum_area_m2:g} "
            f"m2 the plan sets for its tier"
            for c in compliance.depots
            if not c.compliant
        }
        inspected = {
            it.code
            async for it in self._pages(
                self._stub.ListItemTypes, inv.ListItemTypesRequest(page_size=500), "item_types"
            )
            if it.inspection_interval_days > 0
        }
        request = inv.ListKitTemplatesRequest(page_size=500, all_versions=True)
        templates = {
            (t.code, t.version): Template(
                t.code,
                t.version,
                Category(_name(inv.Category, t.category, "CATEGORY_")),
                tuple(Line(ln.item_type_code, ln.quantity, ln.pacing) for ln in t.lines),
            )
            async for t in self._pages(self._stub.ListKitTemplates, request, "templates")
        }
        standards = await self._call(
            self._stub.ListReserveStandards, inv.ListReserveStandardsRequest()
        )
        return Reference(
            depots={
                d.code: Depot(
                    d.code,
                    d.name,
                    _name(inv.Tier, d.tier, "TIER_"),
                    d.city,
                    d.location.latitude,
                    d.location.longitude,
                    d.parent_code,
                    short.get(d.code, ""),
                )
                for d in depots
            },
            templates=templates,
            inspected_items=frozenset(inspected),
            standards=tuple(
                Standard(
                    s.template_code,
                    s.quantity,
                    _name(inv.Tier, s.tier, "TIER_") if s.HasField("tier") else "",
                    s.depot_code,
                )
                for s in standards.standards
            ),
            province=province,
        )

    async def export(self) -> tuple[str, list[Kit]]:
        cursor = ""
        kits: list[Kit] = []
        try:
            async for batch in self._stub.ExportKits(inv.ExportKitsRequest(), timeout=60):
                cursor = batch.cursor
                kits.extend(kit_from(k.kit, k.units, k.lots) for k in batch.kits)
        except grpc.aio.AioRpcError as error:
            raise self._down(error) from error
        return cursor, kits

    async def kit(self, label: str) -> Kit | None:
        """The kit as it is now; None when it no longer exists."""
        try:
            answer = await self._stub.GetKit(inv.GetKitRequest(label=label), timeout=DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._down(error) from error
        return kit_from(answer.kit, answer.units, answer.lots)

    async def changes(self, cursor: str) -> AsyncIterator[KitChange]:
        """The kits each committed batch of changes touched, from the cursor on; heartbeats too."""
        call = self._stub.WatchChanges(inv.WatchChangesRequest(cursor=cursor))
        try:
            while True:
                try:
                    async with asyncio.timeout(FEED_SILENCE_S):
                        answer = await call.read()
                except TimeoutError:
                    raise Unavailable(f"inventory at {self.address} went silent") from None
                if answer is grpc.aio.EOF:
                    raise Unavailable(f"inventory at {self.address} ended the change feed")
                labels = frozenset(c.kit_label for c in answer.changes if c.kit_label)
                reference = any(c.kind in REFERENCE_KINDS for c in answer.changes)
                yield KitChange(answer.cursor, labels, reference)
        except grpc.aio.AioRpcError as error:
            raise self._down(error) from error
        finally:
            call.cancel()
