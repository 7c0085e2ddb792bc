"""Readiness thresholds and targets: configuration, not code (services/gateway/readiness.toml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.gateway.domain.model import ScopeKind


@dataclass(frozen=True)
class TimeTarget:
    """The plan's three-level response: how many kits must arrive, within how many hours."""

    kits_needed: int
    target_hours: float


@dataclass(frozen=True)
class ReadinessConfig:
    # Lower bounds, in percent, of bands 1, 2 and 3; below the last is band 4.
    percent_bands: tuple[float, float, float] = (90.0, 80.0, 65.0)
    # Time to scene: band 1 within target x 1, band 2 within x 1.5, band 3 within x 2.
    time_band_factors: tuple[float, float, float] = (1.0, 1.5, 2.0)
    deployment_days: int = 14
    targets: dict[ScopeKind, TimeTarget] = field(
        default_factory=lambda: {
            ScopeKind.DEPOT: TimeTarget(1, 3.0),
            ScopeKind.CITY: TimeTarget(1, 3.0),
            ScopeKind.REGION: TimeTarget(2, 8.0),
            ScopeKind.PROVINCE: TimeTarget(4, 16.0),
        }
    )
    # Months whose road times are winter's (routing's winter factor).
    winter_months: frozenset[int] = frozenset({11, 12, 1, 2, 3})

    def percent_band(self, percent: float) -> int:
        for band, floor in enumerate(self.percent_bands, start=1):
            if percent >= floor - 1e-9:
                return band
        return 4

    def time_band(self, hours: float, target: float) -> int:
        for band, factor in enumerate(self.time_band_factors, start=1):
            if hours <= target * factor + 1e-9:
                return band
        return 4


def _three(values: Any, name: str) -> tuple[float, float, float]:
    items = [float(v) for v in values]
    if len(items) != 3 or items != sorted(items, reverse=name == "percent_bands"):
        order = "falling" if name == "percent_bands" else "rising"
        raise ValueError(f"{name} must be three {order} numbers, not {values!r}")
    return items[0], items[1], items[2]


def config_from_dict(raw: dict[str, Any]) -> ReadinessConfig:
    """Builds the configuration from parsed TOML/JSON; missing keys keep the defaults."""
    default = ReadinessConfig()
    bands = raw.get("bands", {})
    targets = dict(default.targets)
    for kind, spec in raw.get("time_to_scene", {}).items():
        scope = ScopeKind(kind.upper())
        targets[scope] = TimeTarget(
            int(spec.get("kits_needed", targets[scope].kits_needed)),
            float(spec.get("target_hours", targets[scope].target_hours)),
        )
    return ReadinessConfig(
        percent_bands=_three(bands.get("percent", default.percent_bands), "percent_bands"),
        time_band_factors=_three(
            bands.get("time_factors", default.time_band_factors), "time_band_factors"
        ),
        deployment_days=int(raw.get("deployment_days", default.deployment_days)),
        targets=targets,
        winter_months=frozenset(int(m) for m in raw.get("winter_months", default.winter_months)),
    )
