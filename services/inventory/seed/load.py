"""Load the Jilin reference network (seed/jilin.json) through the service layer.

Idempotent: every record is keyed by its code, label or serial and skipped
when present, so loading twice changes nothing. Dates are placed relative to
the seed day, so a fresh demo is in date; `stock.defects` puts the known
faults (an expired lot, an overdue inspection, a missing pacing unit, an
unserviceable unit) just before that day.
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from services.common.errors import AlreadyExists
from services.inventory.domain import commands, model
from services.inventory.domain.model import Condition, TrackingMode
from services.inventory.service_layer import handlers
from services.inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

JILIN = Path(__file__).with_name("jilin.json")


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, created: bool) -> None:
        target = self.created if created else self.skipped
        target[kind] = target.get(kind, 0) + 1


def read_seed(path: Path = JILIN) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _rng(*parts: str) -> random.Random:
    return random.Random(zlib.crc32("|".join(parts).encode()))


def _serial(prefix: str, item: str, n: int) -> str:
    """Short enough for a GS1 serial (AI 21, at most 20 characters): K017-W01-03."""
    return f"{prefix}-{item}-{n:02d}"


KIT_ZONE, LOOSE_ZONE = "A", "B"
LOOSE_BIN = "B-01"


def kit_bin(n: int) -> str:
    return f"{KIT_ZONE}-{n:02d}"


@dataclass(frozen=True)
class StockMaker:
    """Makes in-date, inspected contents for an item, deterministic per label."""

    items: dict[str, dict[str, Any]]
    today: date

    def units(self, label: str, prefix: str, code: str, count: int) -> list[model.Unit]:
        item = self.items[code]
        out = []
        for n in range(1, count + 1):
            rng = _rng(label, code, str(n))
            retire = item["retire_after_days"]
            interval = item["inspection_interval_days"]
            last = self.today - timedelta(days=rng.randint(0, (interval or 30) // 2))
            out.append(
                model.Unit(
                    item_type_code=code,
                    serial=_serial(prefix, code, n),
                    expires_on=self.today + timedelta(days=rng.randint(retire // 3, retire))
                    if retire
                    else None,
                    last_inspected_on=last if interval else None,
                    next_inspection_on=last + timedelta(days=interval) if interval else None,
                )
            )
        return out

    def lot(self, label: str, code: str, quantity: int) -> model.Lot:
        item = self.items[code]
        rng = _rng(label, code)
        life = item["shelf_life_days"]
        interval = item["inspection_interval_days"]
        bulk = item["tracking_mode"] == TrackingMode.BULK
        return model.Lot(
            item_type_code=code,
            quantity=quantity,
            lot_number="" if bulk else f"L{rng.randint(10_000, 99_999)}",
            expires_on=self.today + timedelta(days=rng.randint(life // 2, life)) if life else None,
            next_inspection_on=self.today + timedelta(days=rng.randint(7, interval))
            if interval
            else None,
        )


def _apply_defect(
    defect: dict[str, Any], units: list[model.Unit], lots: list[model.Lot], today: date
) -> None:
    code, kind = defect["item_type_code"], defect["kind"]
    if kind == "EXPIRED_LOT":
        i = next(i for i, lt in enumerate(lots) if lt.item_type_code == code)
        lots[i] = replace(lots[i], expires_on=today - timedelta(days=12))
        return
    i = next(i for i, u in enumerate(units) if u.item_type_code == code)
    if kind == "OVERDUE_INSPECTION":
        units[i] = replace(
            units[i],
            last_inspected_on=today - timedelta(days=400),
            next_inspection_on=today - timedelta(days=9),
        )
    elif kind == "MISSING_PACING_UNIT":
        del units[i]
    elif kind == "UNSERVICEABLE_UNIT":
        units[i] = replace(units[i], condition=Condition.UNSERVICEABLE)
    else:
        raise ValueError(f"unknown defect kind {kind!r}")


def kit_commands(seed: dict[str, Any], today: date) -> Iterator[commands.CreateKit]:
    """Every seeded kit with its contents, as CreateKit commands."""
    items = {it["code"]: it for it in seed["item_types"]}
    templates = {t["code"]: t for t in seed["kit_templates"]}
    defects: dict[str, list[dict[str, Any]]] = {}
    for d in seed["stock"]["defects"]:
        defects.setdefault(d["kit_label"], []).append(d)
    maker = StockMaker(items, today)
    at_depot: dict[str, int] = {}
    index = 0
    for entry in seed["stock"]["kits_per_depot"]:
        template = templates[entry["template_code"]]
        for n in range(1, entry["count"] + 1):
            label = f"{entry['depot_code']}/{template['code']}/{n}"
            index += 1
            at_depot[entry["depot_code"]] = shelf = at_depot.get(entry["depot_code"], 0) + 1
            units: list[model.Unit] = []
            lots: list[model.Lot] = []
            for line in template["lines"]:
                code, qty = line["item_type_code"], line["quantity"]
                if items[code]["tracking_mode"] == TrackingMode.SERIAL:
                    units.extend(maker.units(label, f"K{index:03d}", code, qty))
                else:
                    lots.append(maker.lot(label, code, qty))
            for defect in defects.get(label, []):
                _apply_defect(defect, units, lots, today)
            yield commands.CreateKit(
                label=label,
                template_code=template["code"],
                template_version=1,
                depot_code=entry["depot_code"],
                location_label=kit_bin(shelf),
                units=tuple(units),
                lots=tuple(lots),
            )


async def _each(
    uow_factory: UnitOfWorkFactory,
    report: SeedReport,
    kind: str,
    records: list[Any],
    apply: Callable[[Any, UnitOfWork], Any],
) -> None:
    for record in records:
        async with uow_factory() as uow:
            try:
                await apply(record, uow)
                await uow.commit()
                report.count(kind, created=True)
            except AlreadyExists:
                report.count(kind, created=False)


def _depot(d: dict[str, Any]) -> model.Depot:
    return model.Depot(
        code=d["code"],
        name=d["name"],
        tier=model.Tier(d["tier"]),
        city=d["city"],
        latitude=d["latitude"],
        longitude=d["longitude"],
        floor_area_m2=float(d["floor_area_m2"]),
        parent_code=d["parent_code"],
    )


def _item_type(it: dict[str, Any]) -> model.ItemType:
    return model.ItemType(
        code=it["code"],
        name=it["name"],
        tracking_mode=TrackingMode(it["tracking_mode"]),
        unit=it["unit"],
        weight_kg=float(it["weight_kg"]),
        volume_m3=float(it["volume_m3"]),
        shelf_life_days=it["shelf_life_days"],
        inspection_interval_days=it["inspection_interval_days"],
        retire_after_days=it["retire_after_days"],
        gtin=it["gtin"],
    )


async def _publish_once(t: dict[str, Any], uow: UnitOfWork) -> None:
    if await uow.repo.template_code_exists(t["code"]):
        raise AlreadyExists("kit template", t["code"])
    lines = tuple(
        model.TemplateLine(ln["item_type_code"], ln["quantity"], ln["pacing"]) for ln in t["lines"]
    )
    await handlers.publish_kit_template(
        commands.PublishKitTemplate(t["code"], model.Category(t["category"]), t["name"], lines), uow
    )


async def _set_standard_once(s: dict[str, Any], uow: UnitOfWork) -> None:
    tier = model.Tier(s["tier"]) if s.get("tier") else None
    depot = (await uow.repo.depot_row(s["depot_code"])) if s.get("depot_code") else None
    if await uow.repo.standard_row(s["template_code"], tier, depot.id if depot else None):
        raise AlreadyExists("reserve standard", s["template_code"])
    standard = model.ReserveStandard(
        s["template_code"], s["quantity"], tier=tier, depot_code=s.get("depot_code")
    )
    await handlers.set_reserve_standard(commands.SetReserveStandard(standard), uow)


def bin_locations(seed: dict[str, Any]) -> list[model.Location]:
    """A shelf per kit in zone A and a spares bin in zone B, at each depot that holds stock."""
    kits: dict[str, int] = {}
    for entry in seed["stock"]["kits_per_depot"]:
        kits[entry["depot_code"]] = kits.get(entry["depot_code"], 0) + entry["count"]
    bins = [
        model.Location(depot, kit_bin(n), KIT_ZONE, "01", f"{n:02d}")
        for depot, count in kits.items()
        for n in range(1, count + 1)
    ]
    loose = dict.fromkeys(e["depot_code"] for e in seed["stock"]["loose"])
    bins += [model.Location(depot, LOOSE_BIN, LOOSE_ZONE, "01", "01") for depot in loose]
    return bins


async def _loose_once(
    entry: dict[str, Any], index: int, uow: UnitOfWork, maker: StockMaker
) -> None:
    label = f"{entry['depot_code']}/LOOSE"
    code, qty = entry["item_type_code"], entry["quantity"]
    if maker.items[code]["tracking_mode"] == TrackingMode.SERIAL:
        units, lots = maker.units(label, f"L{index:02d}", code, qty), []
    else:
        units, lots = [], [maker.lot(label, code, qty)]
    if await uow.repo.loose_stock_exists(entry["depot_code"], code):
        raise AlreadyExists("loose stock", f"{entry['depot_code']} {code}")
    await handlers.add_loose_stock(entry["depot_code"], units, lots, uow, LOOSE_BIN)


async def load(uow_factory: UnitOfWorkFactory, today: date, path: Path = JILIN) -> SeedReport:
    seed = read_seed(path)
    report = SeedReport()
    depots = sorted(seed["depots"], key=lambda d: list(model.Tier).index(model.Tier(d["tier"])))
    await _each(
        uow_factory,
        report,
        "depots",
        [_depot(d) for d in depots],
        lambda d, uow: handlers.create_depot(commands.CreateDepot(d), uow),
    )
    await _each(
        uow_factory,
        report,
        "item types",
        [_item_type(i) for i in seed["item_types"]],
        lambda i, uow: handlers.create_item_type(commands.CreateItemType(i), uow),
    )
    await _each(
        uow_factory,
        report,
        "bins",
        bin_locations(seed),
        lambda loc, uow: handlers.create_location(commands.CreateLocation(loc), uow),
    )
    await _each(uow_factory, report, "kit templates", seed["kit_templates"], _publish_once)
    await _each(
        uow_factory, report, "reserve standards", seed["reserve_standards"], _set_standard_once
    )
    await _each(
        uow_factory,
        report,
        "kits",
        list(kit_commands(seed, today)),
        lambda cmd, uow: handlers.create_kit(cmd, uow, today),
    )
    maker = StockMaker({it["code"]: it for it in seed["item_types"]}, today)
    await _each(
        uow_factory,
        report,
        "loose stock entries",
        list(enumerate(seed["stock"]["loose"], start=1)),
        lambda entry, uow: _loose_once(entry[1], entry[0], uow, maker),
    )
    return report
