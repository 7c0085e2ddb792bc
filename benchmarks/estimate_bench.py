"""How fast routing estimates delivery times for readiness (target: <= 200 ms for 10 x 5).

Run: .venv/bin/python -m benchmarks.estimate_bench
Every city of the reference network x every kit template, on the seeded
transport network with the seeded stock (all kits counted as ready), in winter.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from services.routing.domain.assignment import ReadyKit
from services.routing.domain.network import Place
from services.routing.seed.load import parse, read_network
from services.routing.service_layer.estimates import EstimateRequest, estimate

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT.parent / "shared" / "data" / "jilin" / "scenario.json"
TARGET_MS = 200.0


def main() -> None:
    seed = parse(read_network())
    network = seed.network()
    inventory = json.loads((ROOT / "services/inventory/seed/jilin.json").read_text())
    places = {
        d["code"]: Place(d["code"], d["latitude"], d["longitude"], d["city"])
        for d in inventory["depots"]
    }
    cities = json.loads(SCENARIO.read_text())["cities"]
    places |= {c["id"]: Place(c["id"], c["lat"], c["lon"], c["id"]) for c in cities}
    kits = [
        ReadyKit(
            f"{e['depot_code']}/{e['template_code']}/{n}",
            e["template_code"],
            e["depot_code"],
            800,
            85,
        )
        for e in inventory["stock"]["kits_per_depot"]
        for n in range(1, e["count"] + 1)
    ]
    requests = [
        EstimateRequest(t["code"], c["id"], 2) for t in inventory["kit_templates"] for c in cities
    ]
    now = datetime(2026, 12, 2, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        estimate(requests, kits, places, now, network, seed.roads, winter=True)
        timings.append((time.perf_counter() - started) * 1000)
    table = Table(title="EstimateDeliveryTimes core (20 runs)", title_justify="left")
    for column in ("estimates", "ready kits", "median ms", "worst ms", "target", ""):
        table.add_column(column)
    median, worst = statistics.median(timings), max(timings)
    table.add_row(
        str(len(requests)),
        str(len(kits)),
        f"{median:.1f}",
        f"{worst:.1f}",
        f"<= {TARGET_MS:.0f} ms",
        "PASS" if worst <= TARGET_MS else "FAIL",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
