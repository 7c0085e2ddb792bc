"""The Jilin seed loads from one command and loading it again changes nothing."""

from sqlalchemy import func, select

from services.common.database import async_engine
from services.inventory.adapters import migrations
from services.inventory.adapters.orm import (
    DepotRow,
    ItemTypeRow,
    KitRow,
    KitTemplateRow,
    LotRow,
    ReserveStandardRow,
    UnitRow,
)
from services.inventory.domain.model import KitState
from services.inventory.seed import load as seed
from services.inventory.service_layer.unit_of_work import UnitOfWorkFactory
from tests.conftest import TODAY
from tests.support.database import PgServer

ROWS = [DepotRow, ItemTypeRow, KitTemplateRow, ReserveStandardRow, KitRow, UnitRow, LotRow]


async def _counts(factory: UnitOfWorkFactory) -> dict[str, int]:
    async with factory() as uow:
        return {
            row.__tablename__: (
                await uow.session.execute(select(func.count()).select_from(row))
            ).scalar_one()
            for row in ROWS
        }


async def test_loading_the_seed_twice_creates_nothing_the_second_time(pg: PgServer) -> None:
    url = pg.new_database("muster_seed")
    migrations.upgrade(url)
    engine = async_engine(url)
    factory = UnitOfWorkFactory(engine)
    try:
        first = await seed.load(factory, TODAY)
        counts = await _counts(factory)
        second = await seed.load(factory, TODAY)
        assert await _counts(factory) == counts
    finally:
        await engine.dispose()
    data = seed.read_seed()
    assert counts["depots"] == len(data["depots"]) == 20
    assert counts["kit_templates"] == 5
    assert counts["kits"] == sum(e["count"] for e in data["stock"]["kits_per_depot"])
    assert first.created["kits"] == counts["kits"]
    assert second.created == {}
    assert sum(second.skipped.values()) == sum(first.created.values())


async def test_seeded_network_is_not_uniformly_green(pg: PgServer) -> None:
    url = pg.new_database("muster_seed")
    migrations.upgrade(url)
    engine = async_engine(url)
    try:
        await seed.load(UnitOfWorkFactory(engine), TODAY)
        async with UnitOfWorkFactory(engine)() as uow:
            states = dict(
                (
                    await uow.session.execute(
                        select(KitRow.state, func.count()).group_by(KitRow.state)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    defective = {d["kit_label"] for d in seed.read_seed()["stock"]["defects"]}
    assert states[KitState.INCOMPLETE] == len(defective)
    assert states[KitState.READY] > 5 * states[KitState.INCOMPLETE]
