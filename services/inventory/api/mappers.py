"""Protobuf requests to commands, domain results to protobuf responses.

Shape checks live here and name the request's own field paths; rules that
depend on stored state live in the service layer.
"""

from __future__ import annotations

from muster.inventory.v1 import inventory_service_pb2 as pb

from services.common import convert as c
from services.common.errors import Violations
from services.common.paging import Page
from services.inventory.domain import commands, labels, model
from services.inventory.domain.completeness import Assessment, Fault, Shortfall
from services.inventory.domain.compliance import AreaCompliance
from services.inventory.domain.model import (
    Category,
    Condition,
    KitState,
    Tier,
    TrackingMode,
)
from services.inventory.service_layer.handlers import KitView

TIER = (pb.Tier, "TIER_")
CATEGORY = (pb.Category, "CATEGORY_")
TRACKING = (pb.TrackingMode, "TRACKING_MODE_")
CONDITION = (pb.Condition, "CONDITION_")
STATE = (pb.Kit.State, "STATE_")
REASON = (pb.ShortfallReason, "SHORTFALL_REASON_")

DEPOT_FIELDS = {"name", "tier", "city", "location", "floor_area_m2", "parent_code"}


# ------------------------------------------------------------------ depots


def _depot_fields(v: Violations, d: pb.Depot, paths: set[str]) -> dict[str, object]:
    """The named fields of a Depot message, validated."""
    out: dict[str, object] = {}
    if "name" in paths:
        out["name"] = c.text(v, "depot.name", d.name)
    if "tier" in paths:
        out["tier"] = c.enum_to_domain(v, "depot.tier", TIER[0], d.tier, Tier, TIER[1])
    if "city" in paths:
        out["city"] = c.code(v, "depot.city", d.city)
    if "location" in paths:
        if not d.HasField("location"):
            v.add("depot.location", "is required: the depot's latitude and longitude")
        out["latitude"] = c.number(
            v, "depot.location.latitude", d.location.latitude, minimum=-90, maximum=90
        )
        out["longitude"] = c.number(
            v, "depot.location.longitude", d.location.longitude, minimum=-180, maximum=180
        )
    if "floor_area_m2" in paths:
        out["floor_area_m2"] = c.number(
            v, "depot.floor_area_m2", d.floor_area_m2, minimum=0, maximum=1_000_000
        )
    if "parent_code" in paths:
        out["parent_code"] = c.code(v, "depot.parent_code", d.parent_code, required=False) or None
    return out


def to_create_depot(r: pb.CreateDepotRequest) -> commands.CreateDepot:
    v = Violations()
    c.request_id(v, r.request_id)
    code = c.code(v, "depot.code", r.depot.code)
    if not r.HasField("depot"):
        v.add("depot", "is required")
    fields = _depot_fields(v, r.depot, DEPOT_FIELDS)
    gln = c.gln(v, "depot.gln", r.depot.gln)
    v.raise_if_any()
    return commands.CreateDepot(model.Depot(code=code, gln=gln, **fields))  # type: ignore[arg-type]


def to_update_depot(r: pb.UpdateDepotRequest) -> commands.UpdateDepot:
    v = Violations()
    c.request_id(v, r.request_id)
    code = c.code(v, "depot.code", r.depot.code)
    paths = set(r.update_mask.paths)
    if not paths:
        v.add("update_mask", f"name at least one of {', '.join(sorted(DEPOT_FIELDS))}")
    for path in sorted(paths - DEPOT_FIELDS):
        v.add(
            "update_mask", f"{path!r} cannot be changed; one of {', '.join(sorted(DEPOT_FIELDS))}"
        )
    changes = _depot_fields(v, r.depot, paths & DEPOT_FIELDS)
    v.raise_if_any()
    return commands.UpdateDepot(code, changes)


def depot(d: model.Depot) -> pb.Depot:
    return pb.Depot(
        code=d.code,
        name=d.name,
        tier=c.enum_to_proto(TIER[0], d.tier, TIER[1]),
        city=d.city,
        location=pb.GeoPoint(latitude=d.latitude, longitude=d.longitude),
        floor_area_m2=d.floor_area_m2,
        parent_code=d.parent_code or "",
        create_time=c.timestamp(d.created_at),
        update_time=c.timestamp(d.updated_at),
        gln=d.gln or "",
    )


def to_list_depots(r: pb.ListDepotsRequest) -> tuple[Page, Tier | None, str | None]:
    v = Violations()
    page = c.page(v, r.page_size, r.page_token, "depots")
    tier = c.enum_to_domain(v, "tier", TIER[0], r.tier, Tier, TIER[1], required=False)
    city = c.code(v, "city", r.city, required=False) or None
    v.raise_if_any()
    return page, tier, city


def compliance(a: AreaCompliance) -> pb.DepotCompliance:
    return pb.DepotCompliance(
        depot_code=a.depot.code,
        tier=c.enum_to_proto(TIER[0], a.depot.tier, TIER[1]),
        floor_area_m2=a.depot.floor_area_m2,
        minimum_area_m2=a.minimum_m2,
        compliant=a.compliant,
        reason=a.reason,
    )


# ------------------------------------------------------------------ locations


def to_create_location(r: pb.CreateLocationRequest) -> commands.CreateLocation:
    v = Violations()
    c.request_id(v, r.request_id)
    loc = r.location
    result = model.Location(
        depot_code=c.code(v, "location.depot_code", loc.depot_code),
        label=c.code(v, "location.label", loc.label, limit=20),
        zone=c.text(v, "location.zone", loc.zone, required=False, limit=32),
        aisle=c.text(v, "location.aisle", loc.aisle, required=False, limit=32),
        shelf=c.text(v, "location.shelf", loc.shelf, required=False, limit=32),
    )
    v.raise_if_any()
    return commands.CreateLocation(result)


def location(loc: model.Location) -> pb.Location:
    return pb.Location(
        depot_code=loc.depot_code,
        label=loc.label,
        zone=loc.zone,
        aisle=loc.aisle,
        shelf=loc.shelf,
        code=loc.code,
    )


# ------------------------------------------------------------------ item types


def to_create_item_type(r: pb.CreateItemTypeRequest) -> commands.CreateItemType:
    v = Violations()
    c.request_id(v, r.request_id)
    it = r.item_type
    mode = c.enum_to_domain(
        v, "item_type.tracking_mode", TRACKING[0], it.tracking_mode, TrackingMode, TRACKING[1]
    )
    result = model.ItemType(
        code=c.code(v, "item_type.code", it.code),
        name=c.text(v, "item_type.name", it.name),
        tracking_mode=mode,  # type: ignore[arg-type]
        unit=c.text(v, "item_type.unit", it.unit, limit=16),
        weight_kg=c.number(v, "item_type.weight_kg", it.weight_kg, minimum=0, maximum=100_000),
        volume_m3=c.number(v, "item_type.volume_m3", it.volume_m3, minimum=0, maximum=1_000),
        shelf_life_days=c.optional_days(v, "item_type.shelf_life_days", it.shelf_life_days),
        inspection_interval_days=c.optional_days(
            v, "item_type.inspection_interval_days", it.inspection_interval_days
        ),
        retire_after_days=c.optional_days(v, "item_type.retire_after_days", it.retire_after_days),
        gtin=c.gtin(v, "item_type.gtin", it.gtin),
    )
    v.raise_if_any()
    return commands.CreateItemType(result)


def item_type(it: model.ItemType) -> pb.ItemType:
    return pb.ItemType(
        code=it.code,
        name=it.name,
        tracking_mode=c.enum_to_proto(TRACKING[0], it.tracking_mode, TRACKING[1]),
        unit=it.unit,
        weight_kg=it.weight_kg,
        volume_m3=it.volume_m3,
        shelf_life_days=it.shelf_life_days or 0,
        inspection_interval_days=it.inspection_interval_days or 0,
        retire_after_days=it.retire_after_days or 0,
        gtin=it.gtin or "",
    )


# ------------------------------------------------------------------ templates


MAX_TEMPLATE_LINES = 200


def to_publish_template(r: pb.CreateKitTemplateRequest) -> commands.PublishKitTemplate:
    v = Violations()
    c.request_id(v, r.request_id)
    t = r.template
    category = c.enum_to_domain(
        v, "template.category", CATEGORY[0], t.category, Category, CATEGORY[1]
    )
    if not t.lines:
        v.add("template.lines", "a template needs at least one line")
    elif len(t.lines) > MAX_TEMPLATE_LINES:
        v.add("template.lines", f"at most {MAX_TEMPLATE_LINES} lines, not {len(t.lines)}")
        v.raise_if_any()
    lines = []
    seen: set[str] = set()
    for i, ln in enumerate(t.lines):
        item = c.code(v, f"template.lines[{i}].item_type_code", ln.item_type_code)
        if item in seen:
            v.add(f"template.lines[{i}].item_type_code", f"{item} is on an earlier line already")
        seen.add(item)
        qty = c.whole(v, f"template.lines[{i}].quantity", ln.quantity, minimum=1)
        lines.append(model.TemplateLine(item, qty, ln.pacing))
    cmd = commands.PublishKitTemplate(
        code=c.code(v, "template.code", t.code),
        category=category,  # type: ignore[arg-type]
        name=c.text(v, "template.name", t.name),
        lines=tuple(lines),
    )
    v.raise_if_any()
    return cmd


def template(t: model.KitTemplate) -> pb.KitTemplate:
    return pb.KitTemplate(
        code=t.code,
        version=t.version,
        category=c.enum_to_proto(CATEGORY[0], t.category, CATEGORY[1]),
        name=t.name,
        lines=[
            pb.TemplateLine(
                item_type_code=ln.item_type_code, quantity=ln.quantity, pacing=ln.pacing
            )
            for ln in t.lines
        ],
        total_weight_kg=t.total_weight_kg,
        total_volume_m3=t.total_volume_m3,
        publish_time=c.timestamp(t.published_at),
    )


def to_get_template(r: pb.GetKitTemplateRequest) -> tuple[str, int]:
    v = Violations()
    code = c.code(v, "code", r.code)
    version = c.whole(v, "version", r.version, minimum=0)
    v.raise_if_any()
    return code, version


def to_list_templates(r: pb.ListKitTemplatesRequest) -> tuple[Page, Category | None, bool]:
    v = Violations()
    page = c.page(v, r.page_size, r.page_token, "templates")
    category = c.enum_to_domain(
        v, "category", CATEGORY[0], r.category, Category, CATEGORY[1], required=False
    )
    v.raise_if_any()
    return page, category, r.all_versions


# ------------------------------------------------------------------ kits


def _condition(v: Violations, path: str, value: int) -> Condition:
    found = c.enum_to_domain(v, path, CONDITION[0], value, Condition, CONDITION[1], required=False)
    return found or Condition.SERVICEABLE


def _unit(v: Violations, path: str, u: pb.Unit) -> model.Unit:
    return model.Unit(
        item_type_code=c.code(v, f"{path}.item_type_code", u.item_type_code),
        serial=c.code(v, f"{path}.serial", u.serial),
        condition=_condition(v, f"{path}.condition", u.condition),
        expires_on=c.date_to_domain(v, f"{path}.expiry_date", u.expiry_date),
        last_inspected_on=c.date_to_domain(
            v, f"{path}.last_inspection_date", u.last_inspection_date
        ),
        next_inspection_on=c.date_to_domain(
            v, f"{path}.next_inspection_date", u.next_inspection_date
        ),
    )


def _lot(v: Violations, path: str, lot: pb.Lot) -> model.Lot:
    return model.Lot(
        item_type_code=c.code(v, f"{path}.item_type_code", lot.item_type_code),
        quantity=c.whole(v, f"{path}.quantity", lot.quantity, minimum=1),
        lot_number=c.code(v, f"{path}.lot_number", lot.lot_number, required=False),
        expires_on=c.date_to_domain(v, f"{path}.expiry_date", lot.expiry_date),
        next_inspection_on=c.date_to_domain(
            v, f"{path}.next_inspection_date", lot.next_inspection_date
        ),
        condition=_condition(v, f"{path}.condition", lot.condition),
    )


MAX_KIT_CONTENTS = 2000


def to_create_kit(r: pb.CreateKitRequest) -> commands.CreateKit:
    v = Violations()
    c.request_id(v, r.request_id)
    if len(r.units) + len(r.lots) > MAX_KIT_CONTENTS:
        v.add("units", f"a kit holds at most {MAX_KIT_CONTENTS} units and lots")
        v.raise_if_any()
    cmd = commands.CreateKit(
        label=c.code(v, "label", r.label),
        template_code=c.code(v, "template_code", r.template_code),
        template_version=c.whole(v, "template_version", r.template_version, minimum=0),
        depot_code=c.code(v, "depot_code", r.depot_code),
        location_label=c.code(v, "location_label", r.location_label, required=False) or None,
        giai=c.giai(v, "giai", r.giai),
        units=tuple(_unit(v, f"units[{i}]", u) for i, u in enumerate(r.units)),
        lots=tuple(_lot(v, f"lots[{i}]", lot) for i, lot in enumerate(r.lots)),
    )
    v.raise_if_any()
    return cmd


def kit(k: model.Kit) -> pb.Kit:
    return pb.Kit(
        label=k.label,
        template_code=k.template_code,
        template_version=k.template_version,
        category=c.enum_to_proto(CATEGORY[0], k.category, CATEGORY[1]),
        depot_code=k.depot_code,
        location_label=k.location_label or "",
        state=c.enum_to_proto(STATE[0], k.state, STATE[1]),
        create_time=c.timestamp(k.created_at),
        giai=k.giai or "",
        code=labels.kit_code(k.giai) if k.giai else "",
    )


def unit(u: model.Unit) -> pb.Unit:
    return pb.Unit(
        item_type_code=u.item_type_code,
        serial=u.serial,
        expiry_date=c.date_to_proto(u.expires_on),
        last_inspection_date=c.date_to_proto(u.last_inspected_on),
        next_inspection_date=c.date_to_proto(u.next_inspection_on),
        condition=c.enum_to_proto(CONDITION[0], u.condition, CONDITION[1]),
    )


def lot(lt: model.Lot) -> pb.Lot:
    return pb.Lot(
        item_type_code=lt.item_type_code,
        lot_number=lt.lot_number,
        expiry_date=c.date_to_proto(lt.expires_on),
        quantity=lt.quantity,
        next_inspection_date=c.date_to_proto(lt.next_inspection_on),
        condition=c.enum_to_proto(CONDITION[0], lt.condition, CONDITION[1]),
    )


def _fault(f: Fault) -> pb.Shortfall.Fault:
    return pb.Shortfall.Fault(
        serial=f.serial,
        lot_number=f.lot_number,
        reason=c.enum_to_proto(REASON[0], f.reason, REASON[1]),
        quantity=f.quantity,
    )


def shortfall(s: Shortfall) -> pb.Shortfall:
    return pb.Shortfall(
        item_type_code=s.item_type_code,
        required_quantity=s.required,
        missing_quantity=s.missing,
        pacing=s.pacing,
        reason=c.enum_to_proto(REASON[0], s.reason, REASON[1]),
        faults=[_fault(f) for f in s.faults],
    )


def _shortfalls(a: Assessment) -> list[pb.Shortfall]:
    return [shortfall(s) for s in a.shortfalls]


def kit_created(view: KitView) -> pb.CreateKitResponse:
    return pb.CreateKitResponse(kit=kit(view.kit), shortfalls=_shortfalls(view.assessment))


def kit_view(view: KitView) -> pb.GetKitResponse:
    return pb.GetKitResponse(
        kit=kit(view.kit),
        units=[unit(u) for u in view.contents.units],
        lots=[lot(lt) for lt in view.contents.lots],
        shortfalls=_shortfalls(view.assessment),
    )


def to_list_kits(
    r: pb.ListKitsRequest,
) -> tuple[Page, str | None, Category | None, str | None, KitState | None]:
    v = Violations()
    page = c.page(v, r.page_size, r.page_token, "kits")
    depot_code = c.code(v, "depot_code", r.depot_code, required=False) or None
    category = c.enum_to_domain(
        v, "category", CATEGORY[0], r.category, Category, CATEGORY[1], required=False
    )
    template_code = c.code(v, "template_code", r.template_code, required=False) or None
    state = c.enum_to_domain(v, "state", STATE[0], r.state, KitState, STATE[1], required=False)
    v.raise_if_any()
    return page, depot_code, category, template_code, state


def label(r: pb.GetKitRequest) -> str:
    v = Violations()
    value = c.code(v, "label", r.label)
    v.raise_if_any()
    return value


# ------------------------------------------------------------------ standards


def to_set_standard(r: pb.SetReserveStandardRequest) -> commands.SetReserveStandard:
    v = Violations()
    c.request_id(v, r.request_id)
    s = r.standard
    template_code = c.code(v, "standard.template_code", s.template_code)
    quantity = c.whole(v, "standard.quantity", s.quantity, minimum=0)
    which = s.WhichOneof("applies_to")
    tier = depot_code = None
    if which is None:
        v.add("standard.applies_to", "set either tier or depot_code")
    elif which == "tier":
        tier = c.enum_to_domain(v, "standard.tier", TIER[0], s.tier, Tier, TIER[1])
    else:
        depot_code = c.code(v, "standard.depot_code", s.depot_code)
    v.raise_if_any()
    return commands.SetReserveStandard(
        model.ReserveStandard(template_code, quantity, tier=tier, depot_code=depot_code)
    )


def standard(s: model.ReserveStandard) -> pb.ReserveStandard:
    if s.tier is not None:
        return pb.ReserveStandard(
            template_code=s.template_code,
            tier=c.enum_to_proto(TIER[0], s.tier, TIER[1]),
            quantity=s.quantity,
        )
    return pb.ReserveStandard(
        template_code=s.template_code, depot_code=s.depot_code or "", quantity=s.quantity
    )


def optional_code(path: str, value: str) -> str | None:
    v = Violations()
    found = c.code(v, path, value, required=False) or None
    v.raise_if_any()
    return found


def required_code(path: str, value: str) -> str:
    v = Violations()
    found = c.code(v, path, value)
    v.raise_if_any()
    return found


def page_of(r: pb.ListLocationsRequest | pb.ListItemTypesRequest, kind: str) -> Page:
    v = Violations()
    page = c.page(v, r.page_size, r.page_token, kind)
    v.raise_if_any()
    return page
