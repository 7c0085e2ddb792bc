"""Degrade, never lie: with routing or inventory really stopped, the gateway still answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from muster.gateway.v1 import gateway_service_pb2 as pb

from tests.conftest import start_inventory
from tests.gateway.world import World, eventually, get, measure, start_world

WATER = pb.CATEGORY_WATER
CITY = pb.Scope.KIND_CITY
M = pb.Measure


@pytest.fixture(scope="module")
async def world(gateway_url: str) -> AsyncIterator[World]:
    started = await start_world(gateway_url)
    yield started
    await started.close()


def _jilin(world: World):
    return lambda: get(world, WATER, CITY, "jilin")


async def test_routing_down_makes_time_to_scene_unknown_and_inventory_down_marks_stale(
    world: World,
) -> None:
    before = await eventually(_jilin(world), lambda r: measure(r, M.KIND_TIME_TO_SCENE).known)
    assert before.level == 4  # Jilin's only water kit has an overdue boat inspection (seed)

    await world.routing.stop(0)
    degraded = await eventually(_jilin(world), lambda r: not measure(r, M.KIND_TIME_TO_SCENE).known)
    time_to_scene = measure(degraded, M.KIND_TIME_TO_SCENE)
    assert time_to_scene.band == 0
    assert [x.code for x in time_to_scene.reasons] == ["DELIVERY_ESTIMATE_UNAVAILABLE"]
    for kind in (M.KIND_ON_HAND, M.KIND_SERVICEABLE, M.KIND_SHELF_LIFE):
        assert measure(degraded, kind) == measure(before, kind)
    assert degraded.level == 4 and not degraded.HasField("stale_since")

    port = world.inventory.port
    await world.inventory.stop(0)
    stale = await eventually(_jilin(world), lambda r: r.HasField("stale_since"))
    assert stale.level == degraded.level
    assert measure(stale, M.KIND_ON_HAND) == measure(degraded, M.KIND_ON_HAND)
    listed = await world.readiness.ListReadiness(pb.ListReadinessRequest())
    assert listed.reports and all(r.HasField("stale_since") for r in listed.reports)

    world.inventory = await start_inventory(world.url, port=port)
    back = await eventually(_jilin(world), lambda r: not r.HasField("stale_since"), within_s=30)
    assert measure(back, M.KIND_ON_HAND) == measure(degraded, M.KIND_ON_HAND)
