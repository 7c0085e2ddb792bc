"""What readiness is computed from: plain values, copied from inventory and routing."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date


class Category(enum.StrEnum):
    GEOLOGICAL = "GEOLOGICAL"
    MOUNTAIN = "MOUNTAIN"
    WATER = "WATER"
    PETROCHEMICAL = "PETROCHEMICAL"
    BUILDING_FIRE = "BUILDING_FIRE"


class ScopeKind(enum.StrEnum):
    PROVINCE = "PROVINCE"
    REGION = "REGION"
    CITY = "CITY"
    DEPOT = "DEPOT"


@dataclass(frozen=True, order=True)
class Scope:
    kind: ScopeKind
    code: str

    def __str__(self) -> str:
        return f"{self.kind.lower()}:{self.code}"


# Kit states that keep a kit at its depot, counted for serviceability and shelf life.
HELD_STATES = frozenset({"READY", "INCOMPLETE", "IN_MAINTENANCE"})
# Unit and lot conditions other than serviceable; EXPIRED counts as expired.
SERVICEABLE = "SERVICEABLE"
EXPIRED = "EXPIRED"


@dataclass(frozen=True)
class Depot:
    code: str
    name: str
    tier: str
    city: str
    latitude: float
    longitude: float
    parent_code: str = ""
    # Empty when compliant, else DEPOT_AREA_BELOW_STANDARD with the figures.
    area_shortfall: str = ""


@dataclass(frozen=True)
class Line:
    item_type_code: str
    quantity: int
    pacing: bool = False


@dataclass(frozen=True)
class Template:
    code: str
    version: int
    category: Category
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Standard:
    """How many kits of a template a tier, or one named depot, must hold."""

    template_code: str
    quantity: int
    tier: str = ""
    depot_code: str = ""


@dataclass(frozen=True)
class Unit:
    item_type_code: str
    serial: str
    condition: str = SERVICEABLE
    expires_on: date | None = None
    next_inspection_on: date | None = None


@dataclass(frozen=True)
class Lot:
    item_type_code: str
    quantity: int
    lot_number: str = ""
    condition: str = SERVICEABLE
    expires_on: date | None = None
    next_inspection_on: date | None = None


@dataclass(frozen=True)
class Kit:
    label: str
    template_code: str
    template_version: int
    depot_code: str
    state: str
    units: tuple[Unit, ...] = ()
    lots: tuple[Lot, ...] = ()


@dataclass(frozen=True)
class Estimate:
    """When `kits_needed` kits of a template could all be at a city; hours None: cannot."""

    template_code: str
    city: str
    kits_needed: int
    hours: float | None
    ready_kits: int = 0


@dataclass(frozen=True)
class Reference:
    """What changes rarely: depots, templates (every version), item types, standards."""

    depots: dict[str, Depot]
    templates: dict[tuple[str, int], Template]
    # Item types that must be inspected (an interval is set): a unit never inspected is overdue.
    inspected_items: frozenset[str] = frozenset()
    standards: tuple[Standard, ...] = ()
    province: str = "jilin"
    city_names: dict[str, str] = field(default_factory=dict)
