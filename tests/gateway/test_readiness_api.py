"""The gateway over gRPC and JSON on the seeded reserve, against real inventory and routing.

Siping by hand: its only water kit, D-DET-SIPING/WATER-FLOOD/1, is seeded
whole (no defect), and the city standard asks for one. On hand 1 of 1 =
100 %; serviceable 107 of 107 units and lot quantities; every consumable
lot outlasts 14 days (the seed dates them at least half a shelf life out);
the kit is in the city, so one kit arrives within the 3 h city target.
Every band is 1: level 1. Failing the inspection of one boat (W01, a pacing
line of 2) quarantines it: the kit is INCOMPLETE, on hand 0 of 1 = band 4,
level 4, serviceable 106 of 107 = 99.07 %, band 1.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2 as inv

from services.common.auth import Role
from tests.gateway.world import World, eventually, get, inspect, measure, start_world, unit_code
from tests.support import auth

WATER = pb.CATEGORY_WATER
CITY = pb.Scope.KIND_CITY
SIPING_KIT = "D-DET-SIPING/WATER-FLOOD/1"
M = pb.Measure


@pytest.fixture(scope="module")
async def world(gateway_url: str) -> AsyncIterator[World]:
    started = await start_world(gateway_url)
    yield started
    await started.close()


def _siping(world: World):
    return lambda: get(world, WATER, CITY, "siping")


def _with_estimate(report: pb.ReadinessReport) -> bool:
    return measure(report, M.KIND_TIME_TO_SCENE).known


def _fetch_json(world: World, path: str) -> tuple[int, Any]:
    try:
        request = urllib.request.Request(
            world.gateway.http_url + path,
            headers={"Authorization": f"Bearer {auth.token(Role.COMMAND)}"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def http_json(world: World, path: str) -> tuple[int, Any]:
    return await asyncio.to_thread(_fetch_json, world, path)


async def test_siping_water_is_level_one_as_computed_by_hand(world: World) -> None:
    report = await eventually(_siping(world), _with_estimate)
    on_hand = measure(report, M.KIND_ON_HAND)
    serviceable = measure(report, M.KIND_SERVICEABLE)
    shelf = measure(report, M.KIND_SHELF_LIFE)
    time_to_scene = measure(report, M.KIND_TIME_TO_SCENE)
    assert (on_hand.numerator, on_hand.denominator, on_hand.value, on_hand.band) == (1, 1, 100, 1)
    assert (serviceable.numerator, serviceable.denominator, serviceable.band) == (107, 107, 1)
    assert (shelf.value, shelf.band) == (100, 1)
    assert time_to_scene.value <= time_to_scene.target == 3 and time_to_scene.band == 1
    assert report.level == 1
    assert not report.HasField("stale_since")
    assert report.scope.name == "Siping"


async def test_a_failed_pacing_inspection_drops_the_level_and_a_pass_restores_it(
    world: World,
) -> None:
    await eventually(_siping(world), _with_estimate)
    code, serial = await unit_code(world, SIPING_KIT, "W01")
    watch = world.readiness.WatchReadiness(
        pb.WatchReadinessRequest(category=WATER, scope=pb.Scope(kind=CITY, code="siping"))
    )
    first = await watch.read()
    assert [r.level for r in first.reports] == [1]

    await inspect(world, code, "D-DET-SIPING", passed=False)
    dropped = await eventually(_siping(world), lambda r: r.level == 4)
    on_hand = measure(dropped, M.KIND_ON_HAND)
    assert (on_hand.value, on_hand.band) == (0, 4)
    pacing = [x for x in on_hand.reasons if x.code == "PACING_ITEM_MISSING"]
    assert [(x.kit_label, x.item_type_code, x.serial) for x in pacing] == [
        (SIPING_KIT, "W01", serial)
    ]
    assert "BELOW_STANDARD_COUNT" in {x.code for x in on_hand.reasons}
    serviceable = measure(dropped, M.KIND_SERVICEABLE)
    assert (serviceable.numerator, serviceable.denominator) == (106, 107)
    assert [(x.code, x.serial) for x in serviceable.reasons] == [("UNIT_UNSERVICEABLE", serial)]
    async with asyncio.timeout(15):
        while True:
            pushed = (await watch.read()).reports
            if pushed and pushed[-1].level == 4:
                break
    assert any(x.serial == serial for x in measure(pushed[-1], M.KIND_ON_HAND).reasons)

    await inspect(world, code, "D-DET-SIPING", passed=True)
    restored = await eventually(_siping(world), lambda r: r.level == 1)
    assert measure(restored, M.KIND_ON_HAND).reasons == []
    async with asyncio.timeout(15):
        while (await watch.read()).reports[-1].level != 1:
            pass
    watch.cancel()


async def test_the_json_endpoint_and_the_grpc_answer_agree_on_every_field(world: World) -> None:
    await eventually(_siping(world), _with_estimate)
    for category, scope, path in (
        (WATER, pb.Scope(kind=CITY, code="siping"), "/v1/readiness/water?scope=city:siping"),
        (
            pb.CATEGORY_MOUNTAIN,
            pb.Scope(kind=pb.Scope.KIND_DEPOT, code="D-DET-CHANGBAISHAN"),
            "/v1/readiness/MOUNTAIN?scope=depot:D-DET-CHANGBAISHAN",
        ),
        (pb.CATEGORY_GEOLOGICAL, pb.Scope(kind=pb.Scope.KIND_PROVINCE), "/v1/readiness/geological"),
    ):
        answer = await world.readiness.GetReadiness(
            pb.GetReadinessRequest(category=category, scope=scope)
        )
        status, body = await http_json(world, path)
        assert status == 200
        assert json_format.ParseDict(body, pb.GetReadinessResponse()) == answer
        assert body == json_format.MessageToDict(answer, always_print_fields_with_no_presence=True)
    listed = await world.readiness.ListReadiness(pb.ListReadinessRequest())
    status, body = await http_json(world, "/v1/readiness")
    assert status == 200 and len(body["reports"]) == len(listed.reports) == 5 * 35
    assert {r["scope"]["kind"] for r in body["reports"]} == {
        "KIND_PROVINCE",
        "KIND_REGION",
        "KIND_CITY",
        "KIND_DEPOT",
    }


async def test_changbaishan_mountain_names_its_faults_and_its_small_depot(world: World) -> None:
    report = await get(world, pb.CATEGORY_MOUNTAIN, pb.Scope.KIND_DEPOT, "D-DET-CHANGBAISHAN")
    on_hand = measure(report, M.KIND_ON_HAND)
    codes = {x.code for x in on_hand.reasons}
    assert {"BELOW_STANDARD_COUNT", "PACING_ITEM_MISSING", "DEPOT_AREA_BELOW_STANDARD"} <= codes
    assert (on_hand.numerator, on_hand.denominator) == (0, 2)
    overdue = [x for x in measure(report, M.KIND_SERVICEABLE).reasons]
    assert [(x.code, x.item_type_code) for x in overdue] == [("INSPECTION_OVERDUE", "M02")]
    assert report.level == 4


async def test_unknown_scopes_and_categories_are_refused_the_same_way_on_both_sides(
    world: World,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await get(world, WATER, CITY, "atlantis")
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await get(world, pb.CATEGORY_UNSPECIFIED, CITY, "siping")
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (await http_json(world, "/v1/readiness/water?scope=city:atlantis"))[0] == 404
    status, body = await http_json(world, "/v1/readiness/volcano")
    assert status == 400 and body["error"]["code"] == "INVALID_ARGUMENT"
    assert (await http_json(world, "/v1/readiness/water?scope=planet:mars"))[0] == 400


async def test_an_openapi_document_describes_the_json_endpoints(world: World) -> None:
    status, doc = await http_json(world, "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {"/v1/readiness", "/v1/readiness/{category}"} <= set(doc["paths"])
    report = doc["components"]["schemas"]["ReadinessReport"]["properties"]
    assert {"category", "scope", "level", "measures", "computedAt", "staleSince"} == set(report)


async def test_muster_readiness_prints_the_matrix_and_one_cells_reasons(world: World) -> None:
    from rich.console import Console

    from services.cli.main import _parser
    from services.cli.readiness import command

    def run(*argv: str) -> str:
        console = Console(record=True, width=200)
        args = _parser().parse_args(["readiness", "--address", world.gateway.address, *argv])
        assert command(args, console) == 0
        return console.export_text()

    shown = await asyncio.to_thread(run)
    assert "Jilin province" in shown and "Changbaishan" in shown and "petrochemical" in shown
    cell = await asyncio.to_thread(run, "--category", "mountain", "--scope", "city:changbaishan")
    assert "level  4" in cell
    assert "PACING_ITEM_MISSING" in cell and "DEPOT_AREA_BELOW_STANDARD" in cell


async def test_a_new_reserve_standard_moves_readiness_without_a_restart(world: World) -> None:
    """Siping's standard raised to two water kits: one on hand is 50 %, band 4; back to one."""
    await eventually(_siping(world), lambda r: r.level == 1)

    async def standard(quantity: int) -> None:
        await world.stock.SetReserveStandard(
            inv.SetReserveStandardRequest(
                standard=inv.ReserveStandard(
                    template_code="WATER-FLOOD", depot_code="D-DET-SIPING", quantity=quantity
                )
            ),
            timeout=10,
        )

    await standard(2)
    raised = await eventually(_siping(world), lambda r: measure(r, M.KIND_ON_HAND).denominator == 2)
    on_hand = measure(raised, M.KIND_ON_HAND)
    assert (on_hand.numerator, on_hand.value, on_hand.band, raised.level) == (1, 50, 4, 4)
    assert "BELOW_STANDARD_COUNT" in {x.code for x in on_hand.reasons}
    await standard(1)
    restored = await eventually(_siping(world), lambda r: r.level == 1)
    assert measure(restored, M.KIND_ON_HAND).denominator == 1
