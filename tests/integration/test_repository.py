"""Repository and unit of work against PostgreSQL with the migrations applied."""

from datetime import date, timedelta

import pytest

from services.common.errors import AlreadyExists
from services.common.paging import Page
from services.inventory.domain import commands, model
from services.inventory.domain.model import Category, KitState, Tier, TrackingMode
from services.inventory.service_layer import handlers
from tests.factories import unique

TODAY = date(2026, 11, 29)


async def _depot(uow) -> model.Depot:
    depot = model.Depot(unique("D"), "Depot", Tier.CITY, "jilin", 43.8, 126.5, 1000)
    return await handlers.create_depot(commands.CreateDepot(depot), uow)


async def _item(uow, mode=TrackingMode.SERIAL, **kw) -> model.ItemType:
    item = model.ItemType(unique("IT"), "Item", mode, "ea", 1.0, 0.01, **kw)
    return await handlers.create_item_type(commands.CreateItemType(item), uow)


async def _template(uow, item: model.ItemType, code: str | None = None, qty: int = 1):
    cmd = commands.PublishKitTemplate(
        code or unique("T"), Category.MOUNTAIN, "Rope", (model.TemplateLine(item.code, qty, True),)
    )
    return await handlers.publish_kit_template(cmd, uow)


async def test_unit_of_work_without_commit_leaves_nothing(uow_factory) -> None:
    depot = model.Depot(unique("D"), "Depot", Tier.CITY, "jilin", 43.8, 126.5, 1000)
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await handlers.create_depot(commands.CreateDepot(depot), uow)
            raise RuntimeError("failure after the write, before the commit")
    async with uow_factory() as uow:
        assert await uow.repo.depot_row(depot.code) is None


async def test_kits_are_reassessed_when_a_date_reaches_them(uow_factory) -> None:
    async with uow_factory() as uow:
        depot = await _depot(uow)
        item = await _item(uow, inspection_interval_days=30)
        template = await _template(uow, item)
        unit = model.Unit(item.code, unique("S"), next_inspection_on=TODAY + timedelta(days=5))
        cmd = commands.CreateKit(unique("K"), template.code, 0, depot.code, units=(unit,))
        view = await handlers.create_kit(cmd, uow, TODAY)
        await uow.commit()
    assert view.kit.state is KitState.READY
    assert view.assessment.valid_until == TODAY + timedelta(days=6)

    later = TODAY + timedelta(days=10)
    async with uow_factory() as uow:
        listed = await handlers.list_kits(
            Page(50), uow, later, depot_code=depot.code, state=KitState.INCOMPLETE
        )
    assert [k.label for k in listed.items] == [cmd.label]
    async with uow_factory() as uow:
        assert await handlers.reassess_due_kits(uow, later) == 0  # already done, and stored


async def test_templates_list_latest_versions_unless_asked_for_all(uow_factory) -> None:
    async with uow_factory() as uow:
        item = await _item(uow)
        code = unique("T")
        for qty in (1, 2, 3):
            await _template(uow, item, code, qty)
        await uow.commit()
    async with uow_factory() as uow:
        latest = await uow.repo.list_templates(Page(500), Category.MOUNTAIN, all_versions=False)
        every = []
        page = Page(1)
        while True:
            found = await uow.repo.list_templates(page, Category.MOUNTAIN, all_versions=True)
            every.extend(found.items)
            if not found.next_key:
                break
            page = Page(1, found.next_key)
    assert [(t.version, t.lines[0].quantity) for t in latest.items if t.code == code] == [(3, 3)]
    assert [t.version for t in every if t.code == code] == [1, 2, 3]


async def test_loose_stock_is_held_outside_kits(uow_factory) -> None:
    async with uow_factory() as uow:
        depot = await _depot(uow)
        item = await _item(uow, TrackingMode.LOT, shelf_life_days=365)
        lot = model.Lot(item.code, 40, "L9", expires_on=TODAY + timedelta(days=200))
        await handlers.add_loose_stock(depot.code, [], [lot], uow)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.repo.loose_stock_exists(depot.code, item.code)
        assert not await uow.repo.loose_stock_exists(depot.code, "NO-SUCH")


async def test_a_serial_is_unique_per_item_type(uow_factory) -> None:
    async with uow_factory() as uow:
        depot = await _depot(uow)
        item = await _item(uow)
        unit = model.Unit(item.code, "SN-1")
        await handlers.add_loose_stock(depot.code, [unit], [], uow)
        with pytest.raises(AlreadyExists):
            await handlers.add_loose_stock(depot.code, [unit], [], uow)
