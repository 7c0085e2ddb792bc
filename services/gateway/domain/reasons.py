"""Why a measure is below band 1, named down to the depot, kit and unit or lot."""

from __future__ import annotations

from dataclasses import dataclass

BELOW_STANDARD_COUNT = "BELOW_STANDARD_COUNT"
PACING_ITEM_MISSING = "PACING_ITEM_MISSING"
PACING_ITEM_SHORT = "PACING_ITEM_SHORT"
ITEM_MISSING = "ITEM_MISSING"
UNIT_EXPIRED = "UNIT_EXPIRED"
UNIT_UNSERVICEABLE = "UNIT_UNSERVICEABLE"
INSPECTION_OVERDUE = "INSPECTION_OVERDUE"
SHELF_LIFE_SHORT = "SHELF_LIFE_SHORT"
DELIVERY_TOO_SLOW = "DELIVERY_TOO_SLOW"
DELIVERY_ESTIMATE_UNAVAILABLE = "DELIVERY_ESTIMATE_UNAVAILABLE"
DEPOT_AREA_BELOW_STANDARD = "DEPOT_AREA_BELOW_STANDARD"


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    depot_code: str = ""
    kit_label: str = ""
    item_type_code: str = ""
    serial: str = ""
    lot_number: str = ""
    city: str = ""
