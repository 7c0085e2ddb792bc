"""Parsers for the VRPTW benchmark files in shared/benchmarks/vrptw (see its README).

- Solomon and Gehring-Homberger 200 (`*.txt`): the original Solomon text layout,
  a name line, `VEHICLE` / `NUMBER CAPACITY`, then `CUSTOMER` rows
  `no x y demand ready due service` with the depot as customer 0. Distances are
  Euclidean in double precision; time = distance.
- Gehring-Homberger 1000 (`*.vrp`): VRPLIB (NAME, VEHICLES, CAPACITY,
  SERVICE_TIME, NODE_COORD_SECTION, DEMAND_SECTION, TIME_WINDOW_SECTION,
  DEPOT_SECTION), 1-based node ids, depot first. DIMACS convention: every arc
  truncated to one decimal, for distance and time alike.
- `bks.csv`: instance,bks_distance,bks_vehicles,source.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass
from pathlib import Path

from services.routing.domain.vrp import Location, Stop, TimeWindow, Vehicle, VrpProblem

DATA = Path(
    os.environ.get("MUSTER_VRPTW_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "vrptw"
)


@dataclass(frozen=True)
class Bks:
    distance: float
    vehicles: int
    source: str


@dataclass(frozen=True)
class Customer:
    x: float
    y: float
    demand: int
    ready: float
    due: float
    service: float


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    customers: tuple[Customer, ...]  # [0] is the depot
    truncate_one_decimal: bool = False  # DIMACS convention (GH1000)

    def distance_matrix(self) -> tuple[tuple[float, ...], ...] | None:
        if not self.truncate_one_decimal:
            return None
        pts = self.customers
        return tuple(
            tuple(math.floor(math.hypot(a.x - b.x, a.y - b.y) * 10) / 10 for b in pts) for a in pts
        )

    def to_problem(self) -> VrpProblem:
        depot = self.customers[0]
        shift = TimeWindow(depot.ready, depot.due)
        matrix = self.distance_matrix()
        return VrpProblem(
            locations=tuple(Location(str(i), c.x, c.y) for i, c in enumerate(self.customers)),
            vehicles=tuple(
                Vehicle(f"v{k}", 0, 0, (self.capacity,), shift) for k in range(self.vehicles)
            ),
            stops=tuple(
                Stop(str(i), i, (c.demand,), c.service, TimeWindow(c.ready, c.due))
                for i, c in enumerate(self.customers)
                if i > 0
            ),
            distance_matrix=matrix,
            time_matrix=matrix,
        )


def parse_solomon(path: Path) -> Instance:
    lines = [ln.split() for ln in path.read_text().splitlines()]
    name = lines[0][0]
    vehicles = capacity = 0
    customers: list[Customer] = []
    for k, fields in enumerate(lines):
        if fields[:2] == ["NUMBER", "CAPACITY"]:
            nums = next(f for f in lines[k + 1 :] if f)
            vehicles, capacity = int(nums[0]), int(nums[1])
        if len(fields) == 7 and all(_is_number(f) for f in fields):
            _, x, y, demand, ready, due, service = (float(f) for f in fields)
            customers.append(Customer(x, y, int(demand), ready, due, service))
    return Instance(name.upper(), vehicles, capacity, tuple(customers))


def parse_vrplib(path: Path) -> Instance:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = ""
    for raw in path.read_text().splitlines():
        fields = raw.split()
        if not fields or fields[0] == "EOF":
            continue
        if ":" in raw and not current.endswith("SECTION"):
            key, value = raw.split(":", 1)
            header[key.strip()] = value.strip()
        elif fields[0].endswith("_SECTION"):
            current = fields[0]
            sections[current] = []
        else:
            sections[current].append(fields)
    coords = {int(r[0]): (float(r[1]), float(r[2])) for r in sections["NODE_COORD_SECTION"]}
    demand = {int(r[0]): int(r[1]) for r in sections["DEMAND_SECTION"]}
    windows = {int(r[0]): (float(r[1]), float(r[2])) for r in sections["TIME_WINDOW_SECTION"]}
    depot = int(sections["DEPOT_SECTION"][0][0])
    service = float(header.get("SERVICE_TIME", "0"))
    order = [depot, *sorted(n for n in coords if n != depot)]
    customers = tuple(
        Customer(*coords[n], demand[n], *windows[n], 0.0 if n == depot else service) for n in order
    )
    return Instance(
        header["NAME"],
        int(header["VEHICLES"]),
        int(header["CAPACITY"]),
        customers,
        truncate_one_decimal=True,
    )


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def load_bks(path: Path = DATA / "bks.csv") -> dict[str, Bks]:
    with path.open() as f:
        return {
            row["instance"].upper(): Bks(
                float(row["bks_distance"]), int(row["bks_vehicles"]), row["source"]
            )
            for row in csv.DictReader(f)
        }


def solomon_paths(pattern: str = "*") -> list[Path]:
    """The instances matching `pattern`, globs separated by commas ('R1*,RC1*')."""
    return _matching(DATA / "solomon", pattern, "txt")


def gh1000_paths(pattern: str = "*") -> list[Path]:
    return _matching(DATA / "gehring_homberger_1000", pattern, "vrp")


def _matching(folder: Path, pattern: str, suffix: str) -> list[Path]:
    globs = [g.strip() for g in pattern.split(",") if g.strip()]
    return sorted({p for g in globs for p in folder.glob(f"{g}.{suffix}")})


def load(path: Path) -> Instance:
    return parse_vrplib(path) if path.suffix == ".vrp" else parse_solomon(path)
