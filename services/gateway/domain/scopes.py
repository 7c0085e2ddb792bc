"""Which depots and cities each scope holds: the province, its regions, cities and depots.

A region is a regional sub-depot with every depot that reports to it, however
indirectly; it is named by the sub-depot's city. Depots that report straight
to the corps (the corps depot, the training-support depot) belong to the
province and their city only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.gateway.domain.model import Depot, Reference, Scope, ScopeKind

REGIONAL_TIER = "REGIONAL"


def region_of(depot: Depot, depots: dict[str, Depot]) -> str:
    """The city of the regional sub-depot above the depot (or the depot itself), or ""."""
    seen: set[str] = set()
    current: Depot | None = depot
    while current is not None and current.code not in seen:
        if current.tier == REGIONAL_TIER:
            return current.city
        seen.add(current.code)
        current = depots.get(current.parent_code)
    return ""


@dataclass
class ScopeIndex:
    depots_of: dict[Scope, list[str]] = field(default_factory=dict)
    cities_of: dict[Scope, list[str]] = field(default_factory=dict)
    scopes_of: dict[str, list[Scope]] = field(default_factory=dict)
    region: dict[str, str] = field(default_factory=dict)
    names: dict[Scope, str] = field(default_factory=dict)

    @property
    def scopes(self) -> list[Scope]:
        return list(self.depots_of)


def _title(code: str) -> str:
    return code.replace("-", " ").replace("_", " ").title()


def build_scopes(reference: Reference) -> ScopeIndex:
    index = ScopeIndex()
    depots = sorted(reference.depots.values(), key=lambda d: d.code)
    province = Scope(ScopeKind.PROVINCE, reference.province)
    index.names[province] = f"{_title(reference.province)} province"
    regions = sorted({region_of(d, reference.depots) for d in depots} - {""})
    cities = sorted({d.city for d in depots})
    index.depots_of[province] = []
    for code in regions:
        scope = Scope(ScopeKind.REGION, code)
        index.depots_of[scope] = []
        index.names[scope] = f"{_title(reference.city_names.get(code, code))} region"
    for city in cities:
        scope = Scope(ScopeKind.CITY, city)
        index.depots_of[scope] = []
        index.names[scope] = _title(reference.city_names.get(city, city))
    for depot in depots:
        region = region_of(depot, reference.depots)
        index.region[depot.code] = region
        own = Scope(ScopeKind.DEPOT, depot.code)
        index.names[own] = depot.name
        holding = [province, Scope(ScopeKind.CITY, depot.city), own]
        if region:
            holding.insert(1, Scope(ScopeKind.REGION, region))
        index.scopes_of[depot.code] = holding
        index.depots_of[own] = []
        for scope in holding:
            index.depots_of[scope].append(depot.code)
    for scope, codes in index.depots_of.items():
        index.cities_of[scope] = sorted({reference.depots[c].city for c in codes})
    return index
