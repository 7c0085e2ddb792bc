"""The migrations build the schema the models describe, and come back down cleanly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import exc, inspect, text

from services.common.database import sync_engine
from services.inventory.adapters import migrations
from services.inventory.adapters.orm import SCHEMA, Base
from services.routing.adapters.orm import SCHEMA as ROUTING_SCHEMA
from services.routing.adapters.orm import Base as RoutingBase
from tests.support.database import PgServer

TABLES = {
    "depots",
    "locations",
    "item_types",
    "kit_templates",
    "template_lines",
    "kits",
    "units",
    "lots",
    "reserve_standards",
    "requests",
    "scans",
    "changes",
    "transfers",
    "transfer_lines",
    "stock_counts",
    "count_discrepancies",
    "scan_refusals",
    "audit_log",
}
FIRST_REVISION = "e0aed5029b2d"


def _tables(url: str) -> set[str]:
    engine = sync_engine(url)
    try:
        return set(inspect(engine).get_table_names(schema=SCHEMA)) - {"alembic_version"}
    finally:
        engine.dispose()


def _enum_types(url: str) -> set[str]:
    engine = sync_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = :schema AND t.typtype = 'e'"
            ),
            {"schema": SCHEMA},
        )
        found = {r[0] for r in rows}
    engine.dispose()
    return found


def test_upgrade_downgrade_to_base_and_upgrade_again_on_an_empty_database(pg: PgServer) -> None:
    url = pg.new_database("muster_migrate")
    migrations.upgrade(url)
    assert _tables(url) == TABLES
    migrations.downgrade(url, "base")
    assert _tables(url) == set()
    assert _enum_types(url) == set()
    migrations.upgrade(url)
    assert _tables(url) == TABLES


@pytest.mark.parametrize(
    ("schema", "metadata"),
    [(SCHEMA, Base.metadata), (ROUTING_SCHEMA, RoutingBase.metadata)],
    ids=["inventory", "routing"],
)
def test_models_and_migrations_agree(database_url: str, schema: str, metadata: object) -> None:
    engine = sync_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "compare_type": True,
                "version_table_schema": schema,
                "include_name": lambda name, type_, _: type_ != "schema" or name == schema,
            },
        )
        differences = compare_metadata(context, metadata)  # type: ignore[arg-type]
    engine.dispose()
    assert differences == []


def test_upgrade_gives_existing_depots_and_kits_their_gs1_identifiers(pg: PgServer) -> None:
    url = pg.new_database("muster_migrate")
    migrations.upgrade(url, FIRST_REVISION)
    engine = sync_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO inventory.depots (code, name, tier, city, latitude, longitude, "
                "floor_area_m2) VALUES ('D1', 'd', 'CITY', 'jilin', 43, 126, 1000)"
            )
        )
    migrations.upgrade(url)
    with engine.connect() as conn:
        gln = conn.execute(text("SELECT gln FROM inventory.depots")).scalar_one()
    engine.dispose()
    from services.inventory.domain import labels

    assert labels.parse(labels.bin_code(gln, "A")) == labels.BinLabel(gln, "A")


def test_the_scan_ledger_refuses_update_and_delete(database_url: str) -> None:
    engine = sync_engine(database_url)
    with engine.begin() as conn:
        depot_id = conn.execute(
            text(
                "INSERT INTO inventory.depots (code, name, tier, city, latitude, longitude, "
                "floor_area_m2) VALUES ('LEDGER-' || gen_random_uuid(), 'd', 'CITY', 'jilin', "
                "43, 126, 1000) RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO inventory.scans (scan_id, action, code, depot_id, quantity, "
                "operator, device, override_reason, result) "
                "VALUES (gen_random_uuid()::text, 'COUNT', 'x', :d, 0, '', '', '', '')"
            ),
            {"d": depot_id},
        )
    for statement in ("UPDATE inventory.scans SET code = 'y'", "DELETE FROM inventory.scans"):
        with pytest.raises(exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    engine.dispose()
