"""The transport network's rows in and out, as domain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.adapters.orm import HubRow, PartnerServiceRow, PartnerTruckBaseRow, VehicleRow
from services.routing.domain.network import (
    Hub,
    HubKind,
    Mode,
    PartnerTruckBase,
    Place,
    ScheduledService,
    Vehicle,
)


@dataclass(frozen=True)
class HubRecord:
    hub: Hub
    name: str


def to_service(row: PartnerServiceRow) -> ScheduledService:
    return ScheduledService(
        service_code=row.service_code,
        partner_code=row.partner_code,
        mode=row.mode,
        origin=row.origin_hub,
        destination=row.destination_hub,
        days=frozenset(row.days),
        departure=row.departure,  # type: ignore[arg-type]
        arrival=row.arrival,  # type: ignore[arg-type]
        arrival_day_offset=row.arrival_day_offset,
        cutoff_minutes=row.cutoff_minutes,
        payload_kg=row.payload_kg,
        max_piece_kg=row.max_piece_kg,
    )


@dataclass
class NetworkRepository:
    session: AsyncSession

    async def hubs(self) -> list[HubRecord]:
        rows = await self.session.scalars(select(HubRow).order_by(HubRow.code))
        return [
            HubRecord(
                Hub(Place(r.code, r.latitude, r.longitude, r.city), r.kind, r.handling_minutes),
                r.name,
            )
            for r in rows
        ]

    async def services(
        self, mode: Mode | None = None, origin: str | None = None
    ) -> list[tuple[ScheduledService, str]]:
        query = select(PartnerServiceRow).order_by(PartnerServiceRow.service_code)
        if mode is not None:
            query = query.where(PartnerServiceRow.mode == mode)
        if origin:
            query = query.where(PartnerServiceRow.origin_hub == origin)
        return [(to_service(r), r.basis) for r in await self.session.scalars(query)]

    async def partner_trucks(self) -> list[tuple[PartnerTruckBase, str]]:
        rows = await self.session.scalars(
            select(PartnerTruckBaseRow).order_by(PartnerTruckBaseRow.id)
        )
        return [
            (
                PartnerTruckBase(
                    r.partner_code,
                    Place(f"{r.partner_code}@{r.base}", r.latitude, r.longitude, r.base),
                    r.response_minutes,
                    r.payload_kg,
                    r.volume_m3,
                    r.speed_kmh,
                    r.count,
                ),
                r.base,
            )
            for r in rows
        ]

    async def fleet(self, depot_code: str | None = None) -> list[Vehicle]:
        query = select(VehicleRow).order_by(VehicleRow.vehicle_id)
        if depot_code:
            query = query.where(VehicleRow.depot_code == depot_code)
        return [
            Vehicle(r.vehicle_id, r.depot_code, r.payload_kg, r.volume_m3, r.speed_kmh, r.count)
            for r in await self.session.scalars(query)
        ]

    async def hub_kind(self, code: str) -> HubKind | None:
        return await self.session.scalar(select(HubRow.kind).where(HubRow.code == code))

    # ---------------------------------------------------------------- writes (upserts)
    async def put_hub(self, hub: Hub, name: str, basis: str = "") -> None:
        values = {
            "code": hub.place.code,
            "kind": hub.kind,
            "name": name,
            "city": hub.place.city,
            "latitude": hub.place.latitude,
            "longitude": hub.place.longitude,
            "handling_minutes": hub.handling_minutes,
            "basis": basis,
        }
        await self._upsert(HubRow, values, ["code"])

    async def put_service(self, service: ScheduledService, basis: str = "") -> None:
        values = {
            "service_code": service.service_code,
            "partner_code": service.partner_code,
            "mode": service.mode,
            "origin_hub": service.origin,
            "destination_hub": service.destination,
            "days": sorted(service.days),
            "departure": service.departure,
            "arrival": service.arrival,
            "arrival_day_offset": service.arrival_day_offset,
            "cutoff_minutes": service.cutoff_minutes,
            "payload_kg": service.payload_kg,
            "max_piece_kg": service.max_piece_kg,
            "basis": basis,
        }
        await self._upsert(PartnerServiceRow, values, ["service_code"])

    async def put_partner_truck(self, base: PartnerTruckBase, base_name: str) -> None:
        values = {
            "partner_code": base.partner_code,
            "base": base_name,
            "latitude": base.place.latitude,
            "longitude": base.place.longitude,
            "response_minutes": base.response_minutes,
            "payload_kg": base.payload_kg,
            "volume_m3": base.volume_m3,
            "speed_kmh": base.speed_kmh,
            "count": base.count,
        }
        await self._upsert(PartnerTruckBaseRow, values, ["partner_code", "base"])

    async def put_vehicle(self, vehicle: Vehicle) -> None:
        values = {
            "vehicle_id": vehicle.vehicle_id,
            "depot_code": vehicle.depot_code,
            "payload_kg": vehicle.payload_kg,
            "volume_m3": vehicle.volume_m3,
            "speed_kmh": vehicle.speed_kmh,
            "count": vehicle.count,
        }
        await self._upsert(VehicleRow, values, ["vehicle_id"])

    async def _upsert(self, table: type, values: dict[str, object], keys: list[str]) -> None:
        statement = insert(table).values(**values)
        changes = {k: statement.excluded[k] for k in values if k not in keys}
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=keys, set_=changes)
        )


def parse_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))
