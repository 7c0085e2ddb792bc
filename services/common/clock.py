"""What day it is for the reserve: dates (expiry, inspection) are the province's local dates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

Today = Callable[[], date]

PROVINCE_TZ = ZoneInfo("Asia/Shanghai")


def province_today() -> date:
    return datetime.now(PROVINCE_TZ).date()
