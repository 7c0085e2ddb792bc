"""Repositories: ORM rows in, domain values out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit
from services.common.paging import Page, PageOf
from services.inventory.adapters.orm import (
    AuditRow,
    DepotRow,
    ItemTypeRow,
    KitRow,
    KitTemplateRow,
    LocationRow,
    LotRow,
    RequestRow,
    ReserveStandardRow,
    TemplateLineRow,
    UnitRow,
)
from services.inventory.domain import labels, model
from services.inventory.domain.model import AuditEntry, Category, KitState, Tier

R = TypeVar("R")


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer to a mutation, kept by its request id."""

    method: str
    fingerprint: str
    response: bytes


def to_depot(row: DepotRow) -> model.Depot:
    return model.Depot(
        code=row.code,
        name=row.name,
        tier=row.tier,
        city=row.city,
        latitude=row.latitude,
        longitude=row.longitude,
        floor_area_m2=row.floor_area_m2,
        parent_code=row.parent.code if row.parent else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
        gln=row.gln,
    )


def to_location(row: LocationRow) -> model.Location:
    code = labels.bin_code(row.depot.gln, row.label) if row.depot.gln else ""
    return model.Location(row.depot.code, row.label, row.zone, row.aisle, row.shelf, code)


def to_item_type(row: ItemTypeRow) -> model.ItemType:
    return model.ItemType(
        code=row.code,
        name=row.name,
        tracking_mode=row.tracking_mode,
        unit=row.unit,
        weight_kg=row.weight_kg,
        volume_m3=row.volume_m3,
        shelf_life_days=row.shelf_life_days,
        inspection_interval_days=row.inspection_interval_days,
        retire_after_days=row.retire_after_days,
        gtin=row.gtin,
    )


def to_template(row: KitTemplateRow) -> model.KitTemplate:
    lines = tuple(
        model.TemplateLine(
            line.item_type.code,
            line.quantity,
            line.pacing,
            inspection_interval_days=line.item_type.inspection_interval_days,
        )
        for line in row.lines
    )
    return model.KitTemplate(
        code=row.code,
        version=row.version,
        category=row.category,
        name=row.name,
        lines=lines,
        total_weight_kg=round(sum(ln.quantity * ln.item_type.weight_kg for ln in row.lines), 3),
        total_volume_m3=round(sum(ln.quantity * ln.item_type.volume_m3 for ln in row.lines), 4),
        published_at=row.published_at,
    )


def to_kit(row: KitRow) -> model.Kit:
    return model.Kit(
        label=row.label,
        template_code=row.template.code,
        template_version=row.template.version,
        category=row.template.category,
        depot_code=row.depot.code,
        state=row.state,
        location_label=row.location.label if row.location else None,
        created_at=row.created_at,
        giai=row.giai,
    )


def to_unit(row: UnitRow) -> model.Unit:
    return model.Unit(
        item_type_code=row.item_type.code,
        serial=row.serial,
        condition=row.condition,
        expires_on=row.expires_on,
        last_inspected_on=row.last_inspected_on,
        next_inspection_on=row.next_inspection_on,
    )


def to_lot(row: LotRow) -> model.Lot:
    return model.Lot(
        item_type_code=row.item_type.code,
        quantity=row.quantity,
        lot_number=row.lot_number,
        expires_on=row.expires_on,
        next_inspection_on=row.next_inspection_on,
        condition=row.condition,
    )


def to_standard(row: ReserveStandardRow) -> model.ReserveStandard:
    return model.ReserveStandard(
        template_code=row.template_code,
        quantity=row.quantity,
        tier=row.tier,
        depot_code=row.depot.code if row.depot else None,
    )


def _paged(rows: Sequence[object], size: int, key_of: object) -> tuple[list, str | None]:
    items = list(rows[:size])
    next_key = key_of(items[-1]) if len(rows) > size and items else None  # type: ignore[operator]
    return items, next_key


@dataclass
class Repository:
    session: AsyncSession

    # ---------------------------------------------------------------- depots
    async def depot_row(self, code: str) -> DepotRow | None:
        return await self.session.scalar(select(DepotRow).where(DepotRow.code == code))

    async def depot_by_gln(self, gln: str) -> DepotRow | None:
        return await self.session.scalar(select(DepotRow).where(DepotRow.gln == gln))

    async def parent_of(self, row: DepotRow) -> DepotRow | None:
        if row.parent_id is None:
            return None
        return await self.session.get(DepotRow, row.parent_id)

    async def list_depots(
        self, page: Page, tier: Tier | None = None, city: str | None = None
    ) -> PageOf[model.Depot]:
        query = select(DepotRow).order_by(DepotRow.code).limit(page.size + 1)
        if page.after_key:
            query = query.where(DepotRow.code > page.after_key)
        if tier:
            query = query.where(DepotRow.tier == tier)
        if city:
            query = query.where(DepotRow.city == city)
        rows = (await self.session.scalars(query)).unique().all()
        items, next_key = _paged(rows, page.size, lambda r: r.code)
        return PageOf([to_depot(r) for r in items], next_key)

    async def all_depots(self) -> list[model.Depot]:
        rows = (await self.session.scalars(select(DepotRow).order_by(DepotRow.code))).unique()
        return [to_depot(r) for r in rows]

    # ---------------------------------------------------------------- locations
    async def location_row(self, depot_id: int, label: str) -> LocationRow | None:
        return await self.session.scalar(
            select(LocationRow).where(LocationRow.depot_id == depot_id, LocationRow.label == label)
        )

    async def list_locations(self, depot_id: int | None, page: Page) -> PageOf[model.Location]:
        query = select(LocationRow).order_by(LocationRow.label).limit(page.size + 1)
        if depot_id is not None:
            query = query.where(LocationRow.depot_id == depot_id)
        if page.after_key:
            query = query.where(LocationRow.label > page.after_key)
        rows = (await self.session.scalars(query)).unique().all()
        items, next_key = _paged(rows, page.size, lambda r: r.label)
        return PageOf([to_location(r) for r in items], next_key)

    # ---------------------------------------------------------------- item types
    async def item_type_row(self, code: str) -> ItemTypeRow | None:
        return await self.session.scalar(select(ItemTypeRow).where(ItemTypeRow.code == code))

    async def item_type_rows(self, codes: set[str]) -> dict[str, ItemTypeRow]:
        rows = await self.session.scalars(select(ItemTypeRow).where(ItemTypeRow.code.in_(codes)))
        return {r.code: r for r in rows}

    async def gtin_taken(self, gtin: str) -> bool:
        found = await self.session.scalar(select(ItemTypeRow.id).where(ItemTypeRow.gtin == gtin))
        return found is not None

    async def list_item_types(self, page: Page) -> PageOf[model.ItemType]:
        query = select(ItemTypeRow).order_by(ItemTypeRow.code).limit(page.size + 1)
        if page.after_key:
            query = query.where(ItemTypeRow.code > page.after_key)
        rows = (await self.session.scalars(query)).all()
        items, next_key = _paged(rows, page.size, lambda r: r.code)
        return PageOf([to_item_type(r) for r in items], next_key)

    # ---------------------------------------------------------------- templates
    async def latest_template_version(self, code: str) -> int:
        found = await self.session.scalar(
            select(func.max(KitTemplateRow.version)).where(KitTemplateRow.code == code)
        )
        return found or 0

    async def template_row(self, code: str, version: int = 0) -> KitTemplateRow | None:
        query = select(KitTemplateRow).where(KitTemplateRow.code == code)
        if version:
            query = query.where(KitTemplateRow.version == version)
        query = query.order_by(KitTemplateRow.version.desc()).limit(1)
        return await self.session.scalar(query)

    async def template_code_exists(self, code: str) -> bool:
        return await self.latest_template_version(code) > 0

    async def list_templates(
        self, page: Page, category: Category | None, all_versions: bool
    ) -> PageOf[model.KitTemplate]:
        query = (
            select(KitTemplateRow)
            .order_by(KitTemplateRow.code, KitTemplateRow.version)
            .limit(page.size + 1)
        )
        if not all_versions:
            latest = (
                select(KitTemplateRow.code, func.max(KitTemplateRow.version).label("v"))
                .group_by(KitTemplateRow.code)
                .subquery()
            )
            query = query.join(
                latest,
                (latest.c.code == KitTemplateRow.code) & (latest.c.v == KitTemplateRow.version),
            )
        if category:
            query = query.where(KitTemplateRow.category == category)
        if page.after_key:
            code, _, version = page.after_key.rpartition("@")
            query = query.where(
                tuple_(KitTemplateRow.code, KitTemplateRow.version)
                > (
                    code,
                    int(version)
                    if version.isascii() and version.isdigit() and len(version) < 10
                    else 0,
                )
            )
        rows = (await self.session.scalars(query)).unique().all()
        items, next_key = _paged(rows, page.size, lambda r: f"{r.code}@{r.version}")
        return PageOf([to_template(r) for r in items], next_key)

    # ---------------------------------------------------------------- kits
    async def kit_row(self, label: str) -> KitRow | None:
        return await self.session.scalar(select(KitRow).where(KitRow.label == label))

    async def kit_by_giai(self, giai: str) -> KitRow | None:
        return await self.session.scalar(select(KitRow).where(KitRow.giai == giai))

    async def kit_contents(self, kit_ids: Sequence[int]) -> dict[int, model.KitContents]:
        units = await self.session.scalars(
            select(UnitRow).where(UnitRow.kit_id.in_(kit_ids)).order_by(UnitRow.id)
        )
        lots = await self.session.scalars(
            select(LotRow).where(LotRow.kit_id.in_(kit_ids)).order_by(LotRow.id)
        )
        by_kit: dict[int, tuple[list[model.Unit], list[model.Lot]]] = {k: ([], []) for k in kit_ids}
        for u in units:
            by_kit[u.kit_id][0].append(to_unit(u))  # type: ignore[index]
        for lot in lots:
            by_kit[lot.kit_id][1].append(to_lot(lot))  # type: ignore[index]
        return {k: model.KitContents(tuple(u), tuple(lt)) for k, (u, lt) in by_kit.items()}

    async def kits_to_reassess(self, today: date) -> list[KitRow]:
        """Kits whose READY / INCOMPLETE state may have changed with the date."""
        query = select(KitRow).where(
            KitRow.state.in_([KitState.READY, KitState.INCOMPLETE]),
            KitRow.state_valid_until <= today,
        )
        query = query.order_by(KitRow.id).with_for_update(of=KitRow, skip_locked=True)
        return list((await self.session.scalars(query)).unique())

    async def list_kits(
        self,
        page: Page,
        depot_id: int | None = None,
        category: Category | None = None,
        template_code: str | None = None,
        state: KitState | None = None,
    ) -> PageOf[model.Kit]:
        query = (
            select(KitRow)
            .join(KitTemplateRow, KitRow.template_id == KitTemplateRow.id)
            .order_by(KitRow.label)
            .limit(page.size + 1)
        )
        if page.after_key:
            query = query.where(KitRow.label > page.after_key)
        if depot_id is not None:
            query = query.where(KitRow.depot_id == depot_id)
        if category:
            query = query.where(KitTemplateRow.category == category)
        if template_code:
            query = query.where(KitTemplateRow.code == template_code)
        if state:
            query = query.where(KitRow.state == state)
        rows = (await self.session.scalars(query)).unique().all()
        items, next_key = _paged(rows, page.size, lambda r: r.label)
        return PageOf([to_kit(r) for r in items], next_key)

    async def serials_taken(self, item_type_id: int, serials: Sequence[str]) -> list[str]:
        rows = await self.session.scalars(
            select(UnitRow.serial).where(
                UnitRow.item_type_id == item_type_id, UnitRow.serial.in_(serials)
            )
        )
        return list(rows)

    async def loose_stock_exists(self, depot_code: str, item_type_code: str) -> bool:
        for row_type in (UnitRow, LotRow):
            found = await self.session.scalar(
                select(row_type.id)
                .join(DepotRow, DepotRow.id == row_type.depot_id)
                .join(ItemTypeRow, ItemTypeRow.id == row_type.item_type_id)
                .where(
                    DepotRow.code == depot_code,
                    ItemTypeRow.code == item_type_code,
                    row_type.kit_id.is_(None),
                )
                .limit(1)
            )
            if found is not None:
                return True
        return False

    # ---------------------------------------------------------------- standards
    async def standard_row(
        self, template_code: str, tier: Tier | None, depot_id: int | None
    ) -> ReserveStandardRow | None:
        query = select(ReserveStandardRow).where(ReserveStandardRow.template_code == template_code)
        if tier is not None:
            query = query.where(ReserveStandardRow.tier == tier)
        else:
            query = query.where(ReserveStandardRow.depot_id == depot_id)
        return await self.session.scalar(query)

    async def list_standards(self, template_code: str | None) -> list[model.ReserveStandard]:
        query = select(ReserveStandardRow).order_by(
            ReserveStandardRow.template_code, ReserveStandardRow.tier, ReserveStandardRow.depot_id
        )
        if template_code:
            query = query.where(ReserveStandardRow.template_code == template_code)
        return [to_standard(r) for r in (await self.session.scalars(query)).unique()]

    # ---------------------------------------------------------------- writes
    async def add_depot(self, depot: model.Depot, parent: DepotRow | None) -> DepotRow:
        row = DepotRow(
            code=depot.code,
            name=depot.name,
            tier=depot.tier,
            city=depot.city,
            latitude=depot.latitude,
            longitude=depot.longitude,
            floor_area_m2=depot.floor_area_m2,
            parent=parent,
            gln=depot.gln,
        )
        await self._added(row)
        if row.gln is None:
            row.gln = labels.gln_for(row.id)
            await self.session.flush()
        return row

    async def update_depot(self, row: DepotRow, changes: dict[str, object]) -> None:
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = func.now()
        await self.session.flush()
        await self.session.refresh(row)

    async def add_location(self, loc: model.Location, depot: DepotRow) -> LocationRow:
        row = LocationRow(
            depot=depot, label=loc.label, zone=loc.zone, aisle=loc.aisle, shelf=loc.shelf
        )
        return await self._added(row)

    async def add_item_type(self, item: model.ItemType) -> ItemTypeRow:
        row = ItemTypeRow(
            code=item.code,
            name=item.name,
            tracking_mode=item.tracking_mode,
            unit=item.unit,
            weight_kg=item.weight_kg,
            volume_m3=item.volume_m3,
            shelf_life_days=item.shelf_life_days,
            inspection_interval_days=item.inspection_interval_days,
            retire_after_days=item.retire_after_days,
            gtin=item.gtin,
        )
        return await self._added(row)

    async def add_template(
        self,
        template: model.KitTemplate,
        items: dict[str, ItemTypeRow],
    ) -> KitTemplateRow:
        row = KitTemplateRow(
            code=template.code,
            version=template.version,
            category=template.category,
            name=template.name,
        )
        row.lines = [
            TemplateLineRow(
                item_type=items[ln.item_type_code],
                position=i,
                quantity=ln.quantity,
                pacing=ln.pacing,
            )
            for i, ln in enumerate(template.lines)
        ]
        return await self._added(row)

    def set_kit_state(self, row: KitRow, state: KitState, valid_until: date | None) -> None:
        row.state, row.state_valid_until = state, valid_until

    async def add_kit(
        self,
        label: str,
        template: KitTemplateRow,
        depot: DepotRow,
        location: LocationRow | None,
        state: KitState,
        state_valid_until: date | None,
        giai: str | None = None,
    ) -> KitRow:
        row = KitRow(
            label=label,
            giai=giai,
            template=template,
            depot=depot,
            location=location,
            state=state,
            state_valid_until=state_valid_until,
        )
        await self._added(row)
        if row.giai is None:
            row.giai = labels.giai_for(row.id)
            await self.session.flush()
        return row

    async def add_stock(
        self,
        contents: model.KitContents,
        items: dict[str, ItemTypeRow],
        depot: DepotRow,
        location: LocationRow | None = None,
        kit: KitRow | None = None,
    ) -> None:
        """Units and lots at a depot, in a kit or loose."""
        where = {"kit": kit, "depot": depot, "location": location}
        self.session.add_all(
            [
                UnitRow(
                    item_type=items[u.item_type_code],
                    serial=u.serial,
                    condition=u.condition,
                    expires_on=u.expires_on,
                    last_inspected_on=u.last_inspected_on,
                    next_inspection_on=u.next_inspection_on,
                    **where,
                )
                for u in contents.units
            ]
        )
        self.session.add_all(
            [
                LotRow(
                    item_type=items[lt.item_type_code],
                    lot_number=lt.lot_number,
                    quantity=lt.quantity,
                    condition=lt.condition,
                    expires_on=lt.expires_on,
                    next_inspection_on=lt.next_inspection_on,
                    **where,
                )
                for lt in contents.lots
            ]
        )
        await self.session.flush()

    async def set_standard(
        self, standard: model.ReserveStandard, depot: DepotRow | None
    ) -> ReserveStandardRow:
        row = await self.standard_row(
            standard.template_code, standard.tier, depot.id if depot else None
        )
        if row is None:
            row = ReserveStandardRow(
                template_code=standard.template_code,
                tier=standard.tier,
                depot=depot,
                quantity=standard.quantity,
            )
            return await self._added(row)
        row.quantity = standard.quantity
        await self.session.flush()
        return row

    async def _added(self, row: R) -> R:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    # ---------------------------------------------------------------- requests
    async def lock(self, key: str) -> None:
        """Hold others taking the same key in line until this transaction ends."""
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0)))
        )

    async def request(self, request_id: str) -> StoredAnswer | None:
        row = await self.session.get(RequestRow, request_id)
        return StoredAnswer(row.method, row.fingerprint, row.response) if row else None

    def audit(self, method: str, keys: Sequence[str]) -> None:
        """Record who made this change, from where, under which request id (same transaction)."""
        self.session.add(AuditRow(**audit.row_values(method, keys)))

    async def audit_of(self, key: str, limit: int = 100) -> list[AuditEntry]:
        """The changes that touched `key`, newest first."""
        rows = await self.session.scalars(
            select(AuditRow)
            .where(AuditRow.keys.contains([key]))
            .order_by(AuditRow.id.desc())
            .limit(limit)
        )
        return [
            AuditEntry(r.at, r.method, r.actor, r.device, r.request_id, tuple(r.keys)) for r in rows
        ]

    def save_answer(self, request_id: str, method: str, fingerprint: str, answer: bytes) -> None:
        self.session.add(
            RequestRow(
                request_id=request_id, method=method, fingerprint=fingerprint, response=answer
            )
        )

    async def flush(self) -> None:
        await self.session.flush()
