"""Readiness of a category in a scope: four measures, each in a band, the level the worst band.

Pure: facts in, reports out. `ReadinessBook` keeps each kit's facts and each
depot's totals, so a change to one kit recomputes only the reports of the
scopes that hold its depot (its depot, city, region and the province).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from services.gateway.domain import reasons as r
from services.gateway.domain.config import ReadinessConfig
from services.gateway.domain.kits import KitFacts, assess_kit
from services.gateway.domain.model import Category, Estimate, Kit, Reference, Scope
from services.gateway.domain.reasons import Reason
from services.gateway.domain.scopes import ScopeIndex, build_scopes

ON_HAND, SERVICEABLE, SHELF_LIFE, TIME_TO_SCENE, PACING_ITEMS = (
    "ON_HAND",
    "SERVICEABLE",
    "SHELF_LIFE",
    "TIME_TO_SCENE",
    "PACING_ITEMS",
)
Key = tuple[Category, Scope]
EstimateKey = tuple[str, str, int]


@dataclass(frozen=True)
class Measure:
    kind: str
    known: bool
    value: float = 0.0
    unit: str = "percent"
    band: int = 0
    target: float = 0.0
    numerator: int = 0
    denominator: int = 0
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class Report:
    category: Category
    scope: Scope
    level: int
    measures: tuple[Measure, ...]
    computed_at: datetime | None = field(default=None, compare=False)


@dataclass
class DepotTotals:
    """One depot's contribution to one category's measures."""

    required: int = 0
    on_hand: int = 0
    good: int = 0
    quantity: int = 0
    lasting: int = 0
    consumables: int = 0
    held: int = 0
    # Serviceable pacing units in held kits, by item type.
    pacing_have: dict[str, int] = field(default_factory=dict)
    pacing: list[Reason] = field(default_factory=list)
    faults: list[Reason] = field(default_factory=list)
    shelf_life: list[Reason] = field(default_factory=list)


def _percent_measure(
    kind: str, config: ReadinessConfig, part: int, whole: int, found: Iterable[Reason]
) -> Measure:
    if whole == 0:
        return Measure(kind, known=False, target=config.percent_bands[0])
    percent = 100.0 * part / whole
    return Measure(
        kind,
        True,
        round(percent, 2),
        "percent",
        config.percent_band(percent),
        config.percent_bands[0],
        part,
        whole,
        tuple(found),
    )


class ReadinessBook:
    def __init__(self, reference: Reference, config: ReadinessConfig, today: date) -> None:
        self.reference = reference
        self.config = config
        self.today = today
        self.index: ScopeIndex = build_scopes(reference)
        self.categories = sorted(
            {t.category for t in reference.templates.values()}, key=list(Category).index
        )
        self._category_of = {t.code: t.category for t in reference.templates.values()}
        self._kits: dict[str, Kit] = {}
        self._facts: dict[str, KitFacts] = {}
        self._totals: dict[tuple[Category, str], DepotTotals] = {}
        # Each kit's facts by the place that holds it, to total a depot quickly.
        self._at: dict[tuple[Category, str], dict[str, KitFacts]] = {}
        self._required = self._required_kits()
        # None: routing could not be asked; the time to scene is unknown.
        self.estimates: dict[EstimateKey, Estimate] | None = None
        self.reports: dict[Key, Report] = {}

    # ---------------------------------------------------------------- inputs
    def _required_kits(self) -> dict[tuple[Category, str], int]:
        by_depot: dict[tuple[str, str], int] = {}
        by_tier: dict[tuple[str, str], int] = {}
        for s in self.reference.standards:
            if s.depot_code:
                by_depot[(s.template_code, s.depot_code)] = s.quantity
            else:
                by_tier[(s.template_code, s.tier)] = s.quantity
        required: dict[tuple[Category, str], int] = {}
        for template, category in self._category_of.items():
            for depot in self.reference.depots.values():
                n = by_depot.get((template, depot.code), by_tier.get((template, depot.tier), 0))
                key = (category, depot.code)
                required[key] = required.get(key, 0) + n
        return required

    def template_codes(self, category: Category) -> list[str]:
        return sorted(code for code, c in self._category_of.items() if c == category)

    def _assess(self, kit: Kit) -> KitFacts | None:
        template = self.reference.templates.get((kit.template_code, kit.template_version))
        if template is None or kit.depot_code not in self.reference.depots:
            return None
        return assess_kit(
            kit,
            template,
            self.reference.inspected_items,
            self.today,
            self.config.deployment_days,
        )

    def _keys_of(self, kit: Kit | None) -> set[Key]:
        if kit is None or kit.template_code not in self._category_of:
            return set()
        category = self._category_of[kit.template_code]
        return {(category, s) for s in self.index.scopes_of.get(kit.depot_code, [])}

    def put_kit(self, kit: Kit) -> set[Key]:
        """Takes a kit's new facts; answers the reports it touches (old and new place)."""
        touched = self._keys_of(self._kits.get(kit.label)) | self._keys_of(kit)
        self._drop(kit.label)
        facts = self._assess(kit)
        if facts is not None:
            place = (self._category_of[kit.template_code], kit.depot_code)
            self._kits[kit.label] = kit
            self._facts[kit.label] = facts
            self._at.setdefault(place, {})[kit.label] = facts
            self._totals.pop(place, None)
        return touched

    def remove_kit(self, label: str) -> set[Key]:
        touched = self._keys_of(self._kits.get(label))
        self._drop(label)
        return touched

    def _drop(self, label: str) -> None:
        old = self._kits.pop(label, None)
        self._facts.pop(label, None)
        if old is not None:
            place = (self._category_of[old.template_code], old.depot_code)
            self._at.get(place, {}).pop(label, None)
            self._totals.pop(place, None)

    def load(self, kits: Iterable[Kit]) -> None:
        for kit in kits:
            self.put_kit(kit)

    def set_today(self, today: date) -> None:
        """A new day: expiries and inspections fall due; every kit is assessed again."""
        self.today = today
        kits = list(self._kits.values())
        self._kits.clear()
        self._facts.clear()
        self._at.clear()
        self._totals.clear()
        self.load(kits)

    def set_estimates(self, estimates: Iterable[Estimate] | None) -> None:
        self.estimates = (
            None
            if estimates is None
            else {(e.template_code, e.city, e.kits_needed): e for e in estimates}
        )

    def kits_needed(self) -> list[int]:
        return sorted({t.kits_needed for t in self.config.targets.values()})

    def cities(self) -> list[str]:
        return sorted({d.city for d in self.reference.depots.values()})

    # ---------------------------------------------------------------- measures
    def _depot_totals(self, category: Category, depot: str) -> DepotTotals:
        key = (category, depot)
        found = self._totals.get(key)
        if found is not None:
            return found
        totals = DepotTotals(required=self._required.get(key, 0))
        for facts in self._at.get(key, {}).values():
            _add_kit(totals, facts)
        self._totals[key] = totals
        return totals

    def _on_hand(self, category: Category, depots: list[str], parts: list[DepotTotals]) -> Measure:
        counted = required = 0
        found: list[Reason] = []
        for code, t in zip(depots, parts, strict=True):
            counted += min(t.on_hand, t.required)
            required += t.required
            if t.on_hand < t.required:
                found.append(
                    Reason(
                        r.BELOW_STANDARD_COUNT,
                        f"{code} holds {t.on_hand} ready {category.lower()} kits of the "
                        f"{t.required} its standard requires",
                        code,
                    )
                )
            found.extend(t.pacing)
            shortfall = self.reference.depots[code].area_shortfall
            if shortfall and t.required:
                found.append(Reason(r.DEPOT_AREA_BELOW_STANDARD, shortfall, code))
        return _percent_measure(ON_HAND, self.config, counted, required, found)

    def _pacing_per_kit(self, category: Category) -> dict[str, int]:
        """Each pacing item of the category's templates, and how many one kit holds."""
        per_kit: dict[str, int] = {}
        for t in self.reference.templates.values():
            if t.category == category:
                for line in t.lines:
                    if line.pacing:
                        per_kit[line.item_type_code] = max(
                            per_kit.get(line.item_type_code, 0), line.quantity
                        )
        return per_kit

    def _pacing_items(
        self, category: Category, depots: list[str], parts: list[DepotTotals]
    ) -> Measure:
        """On hand per pacing item (AR 220-1): the scarcest pacing item's share of what the
        standard's kits need, counted in serviceable units in the kits held."""
        worst: tuple[float, int, int] | None = None
        found: list[Reason] = []
        for item, per_kit in sorted(self._pacing_per_kit(category).items()):
            have = need = 0
            for code, t in zip(depots, parts, strict=True):
                wanted = t.required * per_kit
                counted = min(t.pacing_have.get(item, 0), wanted)
                have += counted
                need += wanted
                if counted < wanted:
                    found.append(
                        Reason(
                            r.PACING_ITEM_SHORT,
                            f"{code} holds {counted} serviceable pacing {item} of the "
                            f"{wanted} its standard's kits need",
                            code,
                            item_type_code=item,
                        )
                    )
            if need and (worst is None or have / need < worst[0]):
                worst = (have / need, have, need)
        if worst is None:
            return _percent_measure(PACING_ITEMS, self.config, 0, 0, ())
        return _percent_measure(PACING_ITEMS, self.config, worst[1], worst[2], found)

    def _time_to_scene(self, category: Category, scope: Scope) -> Measure:
        target = self.config.targets[scope.kind]
        cities = self.index.cities_of[scope]
        if self.estimates is None:
            return Measure(
                TIME_TO_SCENE,
                False,
                unit="hours",
                target=target.target_hours,
                reasons=(
                    Reason(
                        r.DELIVERY_ESTIMATE_UNAVAILABLE,
                        "routing cannot be reached: the time to scene is unknown",
                    ),
                ),
            )
        worst = 0.0
        band = 1
        found: list[Reason] = []
        for template in self.template_codes(category):
            for city in cities:
                e = self.estimates.get((template, city, target.kits_needed))
                if e is None:
                    return Measure(
                        TIME_TO_SCENE,
                        False,
                        unit="hours",
                        target=target.target_hours,
                        reasons=(
                            Reason(
                                r.DELIVERY_ESTIMATE_UNAVAILABLE,
                                f"no estimate yet for {target.kits_needed} {template} to {city}",
                                city=city,
                            ),
                        ),
                    )
                if e.hours is None:
                    band = 4
                    found.append(
                        Reason(
                            r.DELIVERY_TOO_SLOW,
                            f"{target.kits_needed} {template} kits cannot all reach {city} "
                            f"({e.ready_kits} ready in the province)",
                            city=city,
                        )
                    )
                    continue
                worst = max(worst, e.hours)
                city_band = self.config.time_band(e.hours, target.target_hours)
                band = max(band, city_band)
                if city_band > 1:
                    found.append(
                        Reason(
                            r.DELIVERY_TOO_SLOW,
                            f"{target.kits_needed} {template} kits reach {city} in "
                            f"{e.hours:.1f} h; the target is {target.target_hours:g} h",
                            city=city,
                        )
                    )
        return Measure(
            TIME_TO_SCENE,
            True,
            round(worst, 2),
            "hours",
            band,
            target.target_hours,
            target.kits_needed,
            0,
            tuple(found),
        )

    def compute(self, category: Category, scope: Scope, now: datetime | None = None) -> Report:
        depots = self.index.depots_of[scope]
        parts = [self._depot_totals(category, d) for d in depots]
        held = sum(t.held for t in parts)
        measures = (
            self._on_hand(category, depots, parts),
            self._pacing_items(category, depots, parts),
            _percent_measure(
                SERVICEABLE,
                self.config,
                sum(t.good for t in parts),
                sum(t.quantity for t in parts) if held else 0,
                (f for t in parts for f in t.faults),
            ),
            _percent_measure(
                SHELF_LIFE,
                self.config,
                sum(t.lasting for t in parts),
                sum(t.consumables for t in parts),
                (f for t in parts for f in t.shelf_life),
            ),
            self._time_to_scene(category, scope),
        )
        level = max((m.band for m in measures if m.known), default=0)
        return Report(category, scope, level, measures, now)

    def recompute(self, keys: Iterable[Key], now: datetime) -> list[Report]:
        """Recomputes the given reports; answers those whose level or a measure changed."""
        changed = []
        for category, scope in sorted(keys, key=lambda k: (list(Category).index(k[0]), k[1])):
            if scope not in self.index.depots_of or category not in self.categories:
                continue
            report = self.compute(category, scope, now)
            if self.reports.get((category, scope)) != report:
                self.reports[(category, scope)] = report
                changed.append(report)
        return changed

    def all_keys(self) -> list[Key]:
        return [(c, s) for c in self.categories for s in self.index.scopes]

    def recompute_all(self, now: datetime) -> list[Report]:
        return self.recompute(self.all_keys(), now)


def _add_kit(totals: DepotTotals, facts: KitFacts) -> None:
    if facts.on_hand:
        totals.on_hand += 1
    if not facts.held:
        return
    totals.held += 1
    for item, count in facts.pacing_good:
        totals.pacing_have[item] = totals.pacing_have.get(item, 0) + count
    totals.good += facts.good
    totals.quantity += facts.required
    totals.lasting += facts.consumables_lasting
    totals.consumables += facts.consumables
    if not facts.on_hand:
        totals.pacing.extend(facts.pacing)
    totals.faults.extend(facts.faults)
    totals.shelf_life.extend(facts.shelf_life)
