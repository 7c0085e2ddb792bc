"""Use cases: each runs one command or query in a unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from services.common.errors import (
    AlreadyExists,
    FieldViolation,
    InvalidArgument,
    NotFound,
)
from services.common.paging import Page, PageOf
from services.inventory.adapters.orm import DepotRow, ItemTypeRow
from services.inventory.adapters.repository import (
    to_depot,
    to_item_type,
    to_kit,
    to_location,
    to_standard,
    to_template,
)
from services.inventory.domain import commands, model
from services.inventory.domain.completeness import Assessment, assess
from services.inventory.domain.compliance import AreaCompliance, area_compliance
from services.inventory.domain.model import (
    ASSESSED_STATES,
    Category,
    KitState,
    Tier,
    TrackingMode,
)
from services.inventory.service_layer.unit_of_work import UnitOfWork

# ------------------------------------------------------------------ depots


async def _depot_row(uow: UnitOfWork, code: str) -> DepotRow:
    row = await uow.repo.depot_row(code)
    if row is None:
        raise NotFound("depot", code)
    return row


async def _parent_row(uow: UnitOfWork, code: str | None, field_path: str) -> DepotRow | None:
    if not code:
        return None
    row = await uow.repo.depot_row(code)
    if row is None:
        raise InvalidArgument([FieldViolation(field_path, f"no depot has the code {code!r}")])
    return row


async def create_depot(cmd: commands.CreateDepot, uow: UnitOfWork) -> model.Depot:
    depot = cmd.depot
    if await uow.repo.depot_row(depot.code) is not None:
        raise AlreadyExists("depot", depot.code)
    if depot.gln and await uow.repo.depot_by_gln(depot.gln) is not None:
        raise AlreadyExists("depot GLN", depot.gln)
    parent = await _parent_row(uow, depot.parent_code, "depot.parent_code")
    row = await uow.repo.add_depot(depot, parent)
    uow.movements.change(kind="DEPOT", key=depot.code, depot_code=depot.code)
    return to_depot(row)


async def update_depot(cmd: commands.UpdateDepot, uow: UnitOfWork) -> model.Depot:
    row = await _depot_row(uow, cmd.code)
    changes = dict(cmd.changes)
    if "parent_code" in changes:
        parent = await _parent_row(uow, changes.pop("parent_code"), "depot.parent_code")
        await _refuse_cycle(uow, cmd.code, parent)
        changes["parent"] = parent
    await uow.repo.update_depot(row, changes)
    uow.movements.change(kind="DEPOT", key=cmd.code, depot_code=cmd.code)
    return to_depot(row)


async def _refuse_cycle(uow: UnitOfWork, code: str, parent: DepotRow | None) -> None:
    """A depot may not report to itself, directly or through its parents."""
    chain: list[str] = []
    while parent is not None:
        chain.append(parent.code)
        if parent.code == code:
            path = " -> ".join([code, *chain])
            raise InvalidArgument(
                [FieldViolation("depot.parent_code", f"would make a reporting loop: {path}")]
            )
        parent = await uow.repo.parent_of(parent)


async def get_depot(code: str, uow: UnitOfWork) -> model.Depot:
    return to_depot(await _depot_row(uow, code))


async def list_depots(
    page: Page, tier: Tier | None, city: str | None, uow: UnitOfWork
) -> PageOf[model.Depot]:
    return await uow.repo.list_depots(page, tier, city)


async def depot_compliance(code: str | None, uow: UnitOfWork) -> list[AreaCompliance]:
    depots = [await get_depot(code, uow)] if code else await uow.repo.all_depots()
    return [area_compliance(d) for d in depots]


# ------------------------------------------------------------------ locations


async def create_location(cmd: commands.CreateLocation, uow: UnitOfWork) -> model.Location:
    loc = cmd.location
    depot = await _depot_row(uow, loc.depot_code)
    if await uow.repo.location_row(depot.id, loc.label) is not None:
        raise AlreadyExists("bin", f"{loc.label} at {loc.depot_code}")
    row = await uow.repo.add_location(loc, depot)
    return to_location(row)


async def list_locations(
    depot_code: str | None, page: Page, uow: UnitOfWork
) -> PageOf[model.Location]:
    depot_id = (await _depot_row(uow, depot_code)).id if depot_code else None
    return await uow.repo.list_locations(depot_id, page)


# ------------------------------------------------------------------ item types


async def create_item_type(cmd: commands.CreateItemType, uow: UnitOfWork) -> model.ItemType:
    item = cmd.item_type
    if await uow.repo.item_type_row(item.code) is not None:
        raise AlreadyExists("item type", item.code)
    if item.gtin and await uow.repo.gtin_taken(item.gtin):
        raise AlreadyExists("GTIN", item.gtin)
    row = await uow.repo.add_item_type(item)
    uow.movements.change(kind="ITEM_TYPE", key=item.code, depot_code="")
    return to_item_type(row)


async def list_item_types(page: Page, uow: UnitOfWork) -> PageOf[model.ItemType]:
    return await uow.repo.list_item_types(page)


# ------------------------------------------------------------------ templates


async def publish_kit_template(
    cmd: commands.PublishKitTemplate, uow: UnitOfWork
) -> model.KitTemplate:
    """A new code starts at version 1; a known code gets the next version."""
    items = await uow.repo.item_type_rows({ln.item_type_code for ln in cmd.lines})
    unknown = [
        FieldViolation(f"template.lines[{i}].item_type_code", f"no item type {ln.item_type_code!r}")
        for i, ln in enumerate(cmd.lines)
        if ln.item_type_code not in items
    ]
    if unknown:
        raise InvalidArgument(unknown)
    await uow.repo.lock(f"template:{cmd.code}")
    version = await uow.repo.latest_template_version(cmd.code) + 1
    template = model.KitTemplate(cmd.code, version, cmd.category, cmd.name, cmd.lines)
    row = await uow.repo.add_template(template, items)
    uow.movements.change(kind="TEMPLATE", key=template.code, depot_code="")
    return to_template(row)


async def get_kit_template(code: str, version: int, uow: UnitOfWork) -> model.KitTemplate:
    row = await uow.repo.template_row(code, version)
    if row is None:
        raise NotFound("kit template", f"{code} v{version}" if version else code)
    return to_template(row)


async def list_kit_templates(
    page: Page, category: Category | None, all_versions: bool, uow: UnitOfWork
) -> PageOf[model.KitTemplate]:
    return await uow.repo.list_templates(page, category, all_versions)


# ------------------------------------------------------------------ kits


@dataclass(frozen=True)
class KitView:
    """A kit with its contents and what it lacks."""

    kit: model.Kit
    contents: model.KitContents
    assessment: Assessment


def _assessed_state(current: KitState, assessment: Assessment) -> KitState:
    return assessment.state if current in ASSESSED_STATES else current


def _with_item_dates(
    contents: model.KitContents, items: dict[str, ItemTypeRow], path: str = ""
) -> model.KitContents:
    """Fill what the item type implies; refuse lots of expiring items without a date.

    A unit inspected on a known day is next due one interval later. A lot of
    an item with a shelf life must say when it expires: guessing would report
    it in date when nobody knows.
    """
    units = tuple(
        replace(u, next_inspection_on=u.last_inspected_on + timedelta(days=interval))
        if u.next_inspection_on is None
        and u.last_inspected_on is not None
        and (interval := items[u.item_type_code].inspection_interval_days)
        else u
        for u in contents.units
    )
    undated = [
        FieldViolation(
            f"{path}lots[{i}].expiry_date",
            f"{lot.item_type_code} has a shelf life; give the lot's expiry date",
        )
        for i, lot in enumerate(contents.lots)
        if lot.expires_on is None and items[lot.item_type_code].shelf_life_days
    ]
    if undated:
        raise InvalidArgument(undated)
    return model.KitContents(units, contents.lots)


def _check_contents(
    cmd: commands.CreateKit, lines: tuple[model.TemplateLine, ...], items: dict[str, ItemTypeRow]
) -> None:
    on_template = {ln.item_type_code for ln in lines}
    problems: list[FieldViolation] = []
    entries: list[tuple[str, model.Unit | model.Lot, set[TrackingMode]]] = [
        *((f"units[{i}]", u, {TrackingMode.SERIAL}) for i, u in enumerate(cmd.units)),
        *(
            (f"lots[{i}]", lot, {TrackingMode.LOT, TrackingMode.BULK})
            for i, lot in enumerate(cmd.lots)
        ),
    ]
    for path, entry, modes in entries:
        item = items.get(entry.item_type_code)
        if item is None:
            problems.append(
                FieldViolation(f"{path}.item_type_code", f"no item type {entry.item_type_code!r}")
            )
        elif entry.item_type_code not in on_template:
            problems.append(
                FieldViolation(
                    f"{path}.item_type_code",
                    f"{entry.item_type_code} is not a line of template {cmd.template_code}",
                )
            )
        elif item.tracking_mode not in modes:
            problems.append(
                FieldViolation(
                    f"{path}.item_type_code",
                    f"{entry.item_type_code} is tracked as {item.tracking_mode.value}",
                )
            )
    if problems:
        raise InvalidArgument(problems)


async def create_kit(cmd: commands.CreateKit, uow: UnitOfWork, today: date) -> KitView:
    depot = await _depot_row(uow, cmd.depot_code)
    template = await uow.repo.template_row(cmd.template_code, cmd.template_version)
    if template is None:
        raise NotFound("kit template", cmd.template_code)
    location = None
    if cmd.location_label:
        location = await uow.repo.location_row(depot.id, cmd.location_label)
        if location is None:
            raise NotFound("bin", f"{cmd.location_label} at {cmd.depot_code}")
    if await uow.repo.kit_row(cmd.label) is not None:
        raise AlreadyExists("kit", cmd.label)
    lines = to_template(template).lines
    items = await uow.repo.item_type_rows(
        {u.item_type_code for u in cmd.units} | {lot.item_type_code for lot in cmd.lots}
    )
    _check_contents(cmd, lines, items)
    await _refuse_taken_serials(uow, cmd.units, items)

    contents = _with_item_dates(model.KitContents(cmd.units, cmd.lots), items)
    assessment = assess(lines, contents, today)
    if cmd.giai and await uow.repo.kit_by_giai(cmd.giai) is not None:
        raise AlreadyExists("kit GIAI", cmd.giai)
    kit = await uow.repo.add_kit(
        cmd.label, template, depot, location, assessment.state, assessment.valid_until, cmd.giai
    )
    await uow.repo.add_stock(contents, items, depot, location, kit)
    return KitView(to_kit(kit), contents, assessment)


async def _refuse_taken_serials(
    uow: UnitOfWork, units: Sequence[model.Unit], items: dict[str, ItemTypeRow]
) -> None:
    seen: set[tuple[str, str]] = set()
    for unit in units:
        key = (unit.item_type_code, unit.serial)
        if key in seen:
            raise InvalidArgument(
                [FieldViolation("units", f"serial {unit.serial} of {unit.item_type_code} twice")]
            )
        seen.add(key)
    by_type: dict[str, list[str]] = {}
    for unit in units:
        by_type.setdefault(unit.item_type_code, []).append(unit.serial)
    for code, serials in by_type.items():
        taken = await uow.repo.serials_taken(items[code].id, serials)
        if taken:
            raise AlreadyExists("unit", f"{code} serial {taken[0]}")


async def get_kit(label: str, uow: UnitOfWork, today: date) -> KitView:
    """The kit as of today; a stored READY / INCOMPLETE that time has changed is corrected."""
    row = await uow.repo.kit_row(label)
    if row is None:
        raise NotFound("kit", label)
    contents = (await uow.repo.kit_contents([row.id]))[row.id]
    assessment = assess(to_template(row.template).lines, contents, today)
    state = _assessed_state(row.state, assessment)
    if state != row.state or row.state_valid_until != assessment.valid_until:
        uow.repo.set_kit_state(row, state, assessment.valid_until)
        await uow.commit()
    return KitView(to_kit(row), contents, assessment)


async def reassess_due_kits(uow: UnitOfWork, today: date) -> int:
    """Re-assess the kits that an expiry or inspection date has reached; returns how many."""
    rows = await uow.repo.kits_to_reassess(today)
    if not rows:
        return 0
    contents = await uow.repo.kit_contents([r.id for r in rows])
    for row in rows:
        assessment = assess(to_template(row.template).lines, contents[row.id], today)
        uow.repo.set_kit_state(row, _assessed_state(row.state, assessment), assessment.valid_until)
    await uow.commit()
    return len(rows)


async def list_kits(
    page: Page,
    uow: UnitOfWork,
    today: date,
    depot_code: str | None = None,
    category: Category | None = None,
    template_code: str | None = None,
    state: KitState | None = None,
) -> PageOf[model.Kit]:
    await reassess_due_kits(uow, today)
    depot_id = (await _depot_row(uow, depot_code)).id if depot_code else None
    return await uow.repo.list_kits(page, depot_id, category, template_code, state)


# ------------------------------------------------------------------ standards


async def set_reserve_standard(
    cmd: commands.SetReserveStandard, uow: UnitOfWork
) -> model.ReserveStandard:
    std = cmd.standard
    if not await uow.repo.template_code_exists(std.template_code):
        raise NotFound("kit template", std.template_code)
    depot = await _depot_row(uow, std.depot_code) if std.depot_code else None
    await uow.repo.lock(f"standard:{std.template_code}:{std.tier or std.depot_code}")
    row = await uow.repo.set_standard(std, depot)
    uow.movements.change(kind="STANDARD", key=std.template_code, depot_code=std.depot_code or "")
    return to_standard(row)


async def list_reserve_standards(
    template_code: str | None, uow: UnitOfWork
) -> list[model.ReserveStandard]:
    return await uow.repo.list_standards(template_code)


# ------------------------------------------------------------------ loose stock


async def add_loose_stock(
    depot_code: str,
    units: Sequence[model.Unit],
    lots: Sequence[model.Lot],
    uow: UnitOfWork,
    location_label: str | None = None,
) -> None:
    """Units and lots held at a depot outside any kit (spares)."""
    depot = await _depot_row(uow, depot_code)
    location = None
    if location_label:
        location = await uow.repo.location_row(depot.id, location_label)
        if location is None:
            raise NotFound("bin", f"{location_label} at {depot_code}")
    items = await uow.repo.item_type_rows(
        {u.item_type_code for u in units} | {lot.item_type_code for lot in lots}
    )
    await _refuse_taken_serials(uow, units, items)
    contents = _with_item_dates(model.KitContents(tuple(units), tuple(lots)), items)
    await uow.repo.add_stock(contents, items, depot, location)
