"""The dashboard in headless Chromium (Debian's `chromium`, driven by Playwright).

`.ci/run` installs chromium when it is missing; elsewhere, without it, the
test is skipped with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.common.auth import Role
from tests.gateway.world import World, inspect, start_world, unit_code
from tests.support import auth

CHROMIUM = os.environ.get("MUSTER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SIPING_KIT = "D-DET-SIPING/WATER-FLOOD/1"
SCREENSHOT = os.environ.get("MUSTER_DASHBOARD_SCREENSHOT", "")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="no chromium: apt-get install chromium (.ci/run does), or set MUSTER_CHROMIUM",
)


@pytest.fixture(scope="module")
async def world(gateway_url: str) -> AsyncIterator[World]:
    started = await start_world(gateway_url)
    yield started
    await started.close()


def _cell(category: str, kind: str, code: str) -> str:
    return f'td.cell[data-category="{category}"][data-kind="{kind}"][data-code="{code}"]'


async def test_the_dashboard_shows_map_matrix_drill_down_and_a_scan_live(world: World) -> None:
    from playwright.async_api import async_playwright

    siping = _cell("CATEGORY_WATER", "KIND_CITY", "siping")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1400, "height": 900})
        # As `make run` prints it: the command role's token in the link's fragment.
        await page.goto(f"{world.gateway.http_url}/#token={auth.token(Role.COMMAND)}")
        await page.wait_for_selector("body[data-ready=true]", timeout=20_000)

        assert await page.locator("svg#map circle.depot").count() == 20
        assert await page.locator("td.cell").count() == 5 * (1 + 4 + 10)
        await page.wait_for_selector(f'{siping}[data-level="1"]', timeout=20_000)
        assert await page.get_attribute('circle[data-depot="D-DET-SIPING"]', "data-level") == "1"

        await page.click(_cell("CATEGORY_MOUNTAIN", "KIND_CITY", "changbaishan"))
        await page.wait_for_selector('#detail li.reason[data-code="PACING_ITEM_MISSING"]')
        assert "Changbaishan" in await page.inner_text("#detail-title")
        assert await page.locator("#detail .measure").count() == 5
        if SCREENSHOT:
            await page.screenshot(path=SCREENSHOT, full_page=True)

        await page.click(siping)
        code, serial = await unit_code(world, SIPING_KIT, "W01")
        await inspect(world, code, "D-DET-SIPING", passed=False)
        await page.wait_for_selector(f'{siping}[data-level="4"]', timeout=20_000)
        await page.wait_for_selector('#detail-level[data-level="4"]')
        reasons = await page.inner_text("#detail")
        assert "PACING_ITEM_MISSING" in reasons and serial in reasons
        await page.wait_for_selector('circle[data-depot="D-DET-SIPING"][data-level="4"]')

        await inspect(world, code, "D-DET-SIPING", passed=True)
        await page.wait_for_selector(f'{siping}[data-level="1"]', timeout=20_000)
        await browser.close()
