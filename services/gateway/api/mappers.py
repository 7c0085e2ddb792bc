"""Readiness reports to protobuf, and requests to the engine's keys."""

from __future__ import annotations

from datetime import datetime

from muster.gateway.v1 import gateway_service_pb2 as pb

from services.common.errors import FieldViolation, InvalidArgument, NotFound
from services.gateway.domain.model import Category, Scope, ScopeKind
from services.gateway.domain.readiness import Key, Measure, Report
from services.gateway.domain.reasons import Reason
from services.gateway.domain.scopes import ScopeIndex

pb_scope = pb.Scope


def category_to_proto(category: Category) -> pb.Category.ValueType:
    return pb.Category.Value(f"CATEGORY_{category.value}")


# Read on every GetReadiness: looked up in a dict, not through the enum descriptors.
_CATEGORIES = {pb.Category.Value(f"CATEGORY_{c.value}"): c for c in Category}
_SCOPE_KINDS = {pb.Scope.Kind.Value(f"KIND_{k.value}"): k for k in ScopeKind}


def category_from_proto(value: int) -> Category | None:
    """The category, or None for CATEGORY_UNSPECIFIED or a number the enum does not have."""
    return _CATEGORIES.get(value)


def scope_kind_from_proto(value: int) -> ScopeKind | None:
    """The scope kind, or None for KIND_UNSPECIFIED or a number the enum does not have."""
    return _SCOPE_KINDS.get(value)


def scope_to_proto(scope: Scope, index: ScopeIndex) -> pb.Scope:
    return pb.Scope(
        kind=pb.Scope.Kind.Value(f"KIND_{scope.kind.value}"),
        code=scope.code,
        name=index.names.get(scope, scope.code),
    )


def _reason(x: Reason) -> pb.Reason:
    return pb.Reason(
        code=x.code,
        depot_code=x.depot_code,
        kit_label=x.kit_label,
        item_type_code=x.item_type_code,
        serial=x.serial,
        lot_number=x.lot_number,
        city=x.city,
        message=x.message,
    )


def _measure(m: Measure) -> pb.Measure:
    return pb.Measure(
        kind=pb.Measure.Kind.Value(f"KIND_{m.kind}"),
        known=m.known,
        value=m.value,
        unit=m.unit,
        band=m.band,
        target=m.target,
        numerator=m.numerator,
        denominator=m.denominator,
        reasons=[_reason(x) for x in m.reasons],
    )


def report_to_proto(
    report: Report, index: ScopeIndex, stale_since: datetime | None
) -> pb.ReadinessReport:
    message = pb.ReadinessReport(
        category=category_to_proto(report.category),
        scope=scope_to_proto(report.scope, index),
        level=report.level,
        measures=[_measure(m) for m in report.measures],
    )
    if report.computed_at is not None:
        message.computed_at.FromDatetime(report.computed_at)
    if stale_since is not None:
        message.stale_since.FromDatetime(stale_since)
    return message


def to_key(category: int, scope: pb.Scope, index: ScopeIndex) -> Key:
    found = category_from_proto(category)
    kind = scope_kind_from_proto(scope.kind)
    violations = []
    if found is None:
        violations.append(FieldViolation("category", "name one of the five categories"))
    if kind is None:
        violations.append(FieldViolation("scope.kind", "province, region, city or depot"))
    if violations:
        raise InvalidArgument(violations)
    assert found is not None and kind is not None
    code = scope.code.strip()
    if kind is ScopeKind.PROVINCE and not code:
        code = next(s.code for s in index.depots_of if s.kind is ScopeKind.PROVINCE)
    key = Scope(kind, code)
    if key not in index.depots_of:
        raise NotFound("scope", str(key))
    return found, key


def parse_scope(text: str) -> pb.Scope:
    """`city:changchun`, `region:yanbian`, `depot:D-DET-JILIN` or `province`."""
    kind, _, code = text.strip().partition(":")
    value = f"KIND_{kind.strip().upper()}"
    if value not in set(pb.Scope.Kind.keys()) or value == "KIND_UNSPECIFIED":
        raise InvalidArgument(
            [FieldViolation("scope", "write province, region:CODE, city:CODE or depot:CODE")]
        )
    return pb.Scope(kind=pb.Scope.Kind.Value(value), code=code.strip())


def parse_category(text: str) -> int:
    name = text.strip().upper().replace("-", "_").removeprefix("CATEGORY_")
    if f"CATEGORY_{name}" not in set(pb.Category.keys()) or name == "UNSPECIFIED":
        raise InvalidArgument(
            [FieldViolation("category", f"one of {', '.join(c.lower() for c in Category)}")]
        )
    return pb.Category.Value(f"CATEGORY_{name}")


def place_list(
    index: ScopeIndex, depots: dict[str, tuple[float, float, str, str]]
) -> list[pb.Place]:
    """Every scope; depots with their coordinates, city, region and tier."""
    places = []
    for scope in index.scopes:
        place = pb.Place(scope=scope_to_proto(scope, index))
        if scope.kind is ScopeKind.DEPOT:
            lat, lon, city, tier = depots[scope.code]
            place.latitude, place.longitude, place.city, place.tier = lat, lon, city, tier
            place.region = index.region.get(scope.code, "")
        places.append(place)
    return places
