"""The routing service's network over gRPC on a real port, seeded from the Jilin network."""

from collections.abc import AsyncIterator

import grpc
import pytest
from muster.routing.v1 import routing_service_pb2 as pb
from muster.routing.v1 import routing_service_pb2_grpc as pb_grpc

from services.common.database import async_engine
from services.common.settings import ServerSettings
from services.routing import server as routing_server
from services.routing.adapters import migrations
from services.routing.seed import load as network_seed
from services.routing.service_layer.unit_of_work import UnitOfWorkFactory
from tests.api.helpers import fails, violations
from tests.support import auth
from tests.support.database import PgServer

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="session")
async def routing(database_url: str) -> AsyncIterator[pb_grpc.RoutingServiceStub]:
    engine = async_engine(database_url)
    first = await network_seed.load(UnitOfWorkFactory(engine))
    second = await network_seed.load(UnitOfWorkFactory(engine))
    await engine.dispose()
    assert first == second
    running = await routing_server.start(
        ServerSettings(
            service="routing", auth_public_keys=auth.PUBLIC_KEYS, database_url=database_url, port=0
        ),
        inventory_address="127.0.0.1:9",  # not used by the network RPCs
    )
    async with auth.channel(running.address) as channel:
        yield pb_grpc.RoutingServiceStub(channel)
    await running.stop(0)


async def test_the_seeded_network_is_served_once_however_often_it_is_loaded(routing) -> None:
    data = network_seed.read_network()
    network = await routing.GetNetwork(pb.GetNetworkRequest())
    assert len(network.hubs) == len(data["hubs"])
    assert len(network.services) == len(data["flights"]) + len(data["trains"])
    assert len(network.fleet) == len(data["fleet"])
    kinds = {h.kind for h in network.hubs}
    assert kinds == {pb.HUB_KIND_AIRPORT, pb.HUB_KIND_RAIL_HUB, pb.HUB_KIND_DISTRIBUTION_CENTER}
    assert all(s.basis for s in network.services)


async def test_services_filter_by_mode_and_origin(routing) -> None:
    flights = await routing.ListPartnerServices(
        pb.ListPartnerServicesRequest(mode=pb.MODE_AIR, origin_hub="CGQ")
    )
    assert flights.services and all(
        s.mode == pb.MODE_AIR and s.origin_hub == "CGQ" for s in flights.services
    )


async def test_a_flight_between_rail_hubs_is_refused_naming_the_fields(routing) -> None:
    bad = pb.PartnerService(
        service_code="MX9999",
        partner_code="AIR",
        mode=pb.MODE_AIR,
        origin_hub="rail_changchun",
        destination_hub="NOWHERE",
        days=[1],
        departure=pb.TimeOfDay(hours=9),
        arrival=pb.TimeOfDay(hours=10),
        cutoff_minutes=120,
        payload_kg=1000,
        max_piece_kg=80,
    )
    error = await fails(
        routing.UpsertPartnerService(pb.UpsertPartnerServiceRequest(service=bad)), INVALID
    )
    assert set(violations(error)) == {"service.origin_hub", "service.destination_hub"}


async def test_an_overnight_flight_needs_its_day_offset_and_then_is_kept(routing) -> None:
    late = pb.PartnerService(
        service_code="MX9998",
        partner_code="AIR",
        mode=pb.MODE_AIR,
        origin_hub="CGQ",
        destination_hub="YNJ",
        days=[5],
        departure=pb.TimeOfDay(hours=23, minutes=30),
        arrival=pb.TimeOfDay(hours=0, minutes=40),
        cutoff_minutes=120,
        payload_kg=1200,
        max_piece_kg=80,
    )
    error = await fails(
        routing.UpsertPartnerService(pb.UpsertPartnerServiceRequest(service=late)), INVALID
    )
    assert "service.arrival" in violations(error)
    late.arrival_day_offset = 1
    kept = await routing.UpsertPartnerService(pb.UpsertPartnerServiceRequest(service=late))
    assert kept.service.arrival_day_offset == 1
    listed = await routing.ListPartnerServices(pb.ListPartnerServicesRequest(origin_hub="CGQ"))
    assert "MX9998" in {s.service_code for s in listed.services}


async def test_fleet_by_depot_and_upsert(routing) -> None:
    corps = await routing.ListFleet(pb.ListFleetRequest(depot_code="D-CORPS"))
    assert corps.vehicles and all(v.depot_code == "D-CORPS" for v in corps.vehicles)
    truck = pb.Vehicle(
        vehicle_id="D-TEST/TRUCK", depot_code="D-TEST", payload_kg=5000, volume_m3=30, count=2
    )
    await routing.UpsertVehicle(pb.UpsertVehicleRequest(vehicle=truck))
    truck.count = 3
    await routing.UpsertVehicle(pb.UpsertVehicleRequest(vehicle=truck))
    found = await routing.ListFleet(pb.ListFleetRequest(depot_code="D-TEST"))
    assert [(v.vehicle_id, v.count) for v in found.vehicles] == [("D-TEST/TRUCK", 3)]


def test_routing_migrations_go_down_to_base_and_up_again(pg: PgServer) -> None:
    url = pg.new_database("muster_routing")
    migrations.upgrade(url)
    migrations.downgrade(url, "base")
    migrations.upgrade(url)
