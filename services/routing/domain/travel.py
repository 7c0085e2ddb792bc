"""Road travel times behind one interface, so a real road-network matrix can replace them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

from services.routing.domain.network import Place

EARTH_RADIUS_KM = 6371.0088


def great_circle_km(a: Place, b: Place) -> float:
    """Haversine distance between two points (WGS-84 treated as a sphere)."""
    phi1, phi2 = math.radians(a.latitude), math.radians(b.latitude)
    dphi = phi2 - phi1
    dlmb = math.radians(b.longitude - a.longitude)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class TravelTimes(Protocol):
    def road_km(self, a: Place, b: Place) -> float: ...

    def road_minutes(
        self, a: Place, b: Place, *, winter: bool, speed_kmh: float | None = None
    ) -> int:
        """Whole minutes, rounded up, for a truck from a to b."""
        ...


@dataclass(frozen=True)
class GreatCircleRoads:
    """Great-circle distance x road factor / speed; slower in the mountains, slower in winter.

    Defaults from the reference network (shared/data/jilin): road factor 1.2,
    70 km/h on expressways, 45 km/h on mountain roads, winter x1.3 (all
    marked there as planning assumptions).
    """

    road_factor: float = 1.2
    speed_kmh: float = 70.0
    mountain_speed_kmh: float = 45.0
    winter_factor: float = 1.3
    mountain_cities: frozenset[str] = field(default_factory=frozenset)

    def road_km(self, a: Place, b: Place) -> float:
        return great_circle_km(a, b) * self.road_factor

    def road_minutes(
        self, a: Place, b: Place, *, winter: bool, speed_kmh: float | None = None
    ) -> int:
        speed = speed_kmh or self.speed_kmh
        if a.city in self.mountain_cities or b.city in self.mountain_cities:
            speed = min(speed, self.mountain_speed_kmh)
        hours = self.road_km(a, b) / speed
        if winter:
            hours *= self.winter_factor
        return math.ceil(hours * 60)
