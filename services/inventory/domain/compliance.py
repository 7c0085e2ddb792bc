"""Depot floor area against the plan's minimum for its tier."""

from __future__ import annotations

from dataclasses import dataclass

from services.inventory.domain.model import Depot, Tier

# Jilin 14th Five-Year fire protection plan, chapter 4 section 7.
MINIMUM_AREA_M2: dict[Tier, float] = {
    Tier.PROVINCIAL: 2000.0,
    Tier.REGIONAL: 1500.0,
    Tier.TRAINING_SUPPORT: 1500.0,
    Tier.CITY: 1000.0,
    Tier.DISTRIBUTION_CENTER: 0.0,
}

AREA_BELOW_STANDARD = "DEPOT_AREA_BELOW_STANDARD"


@dataclass(frozen=True)
class AreaCompliance:
    depot: Depot
    minimum_m2: float

    @property
    def compliant(self) -> bool:
        return self.depot.floor_area_m2 >= self.minimum_m2

    @property
    def reason(self) -> str:
        return "" if self.compliant else AREA_BELOW_STANDARD


def area_compliance(depot: Depot) -> AreaCompliance:
    return AreaCompliance(depot, MINIMUM_AREA_M2[depot.tier])
