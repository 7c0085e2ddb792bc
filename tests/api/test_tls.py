"""TLS and mutual TLS on a real server, with the development CA `make certs` makes."""

from pathlib import Path

import grpc
import pytest
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.cli.certs import make
from services.common.auth import Role
from services.common.channels import ClientTls, aio_channel
from tests.conftest import start_inventory
from tests.support import auth


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    make(folder, ["localhost", "127.0.0.1"])
    return folder


async def _list(address: str, tls: ClientTls | None) -> grpc.StatusCode:
    token = auth.token()
    async with aio_channel(address, lambda: token, tls) as channel:
        try:
            await pb_grpc.InventoryServiceStub(channel).ListDepots(
                pb.ListDepotsRequest(), timeout=5
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
    return grpc.StatusCode.OK


async def test_mutual_tls_lets_in_only_clients_with_a_certificate_from_the_ca(
    database_url: str, certs: Path
) -> None:
    server = await start_inventory(
        database_url,
        tls_cert=certs / "inventory.pem",
        tls_key=certs / "inventory-key.pem",
        tls_client_ca=certs / "ca.pem",
    )
    try:
        with_cert = ClientTls(certs / "ca.pem", certs / "routing.pem", certs / "routing-key.pem")
        assert await _list(server.address, with_cert) == grpc.StatusCode.OK
        assert await _list(server.address, ClientTls(certs / "ca.pem")) != grpc.StatusCode.OK
        assert await _list(server.address, None) != grpc.StatusCode.OK  # plaintext
    finally:
        await server.stop(0)


async def test_tls_without_client_certificates_still_needs_a_token(
    database_url: str, certs: Path
) -> None:
    server = await start_inventory(
        database_url, tls_cert=certs / "inventory.pem", tls_key=certs / "inventory-key.pem"
    )
    try:
        assert await _list(server.address, ClientTls(certs / "ca.pem")) == grpc.StatusCode.OK
        async with aio_channel(server.address, None, ClientTls(certs / "ca.pem")) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await pb_grpc.InventoryServiceStub(channel).ListDepots(pb.ListDepotsRequest())
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        await server.stop(0)


async def test_services_call_each_other_over_mutual_tls(database_url: str, certs: Path) -> None:
    """Routing reads inventory over mutual TLS with its own certificate; both serve TLS."""
    from muster.routing.v1 import routing_service_pb2 as rt
    from muster.routing.v1 import routing_service_pb2_grpc as rt_grpc

    from services.common.settings import ServerSettings
    from services.routing import server as routing_server

    inventory = await start_inventory(
        database_url,
        tls_cert=certs / "inventory.pem",
        tls_key=certs / "inventory-key.pem",
        tls_client_ca=certs / "ca.pem",
    )
    routing = await routing_server.start(
        ServerSettings(
            service="routing",
            database_url=database_url,
            auth_public_keys=auth.PUBLIC_KEYS,
            tls_cert=certs / "routing.pem",
            tls_key=certs / "routing-key.pem",
            tls_client_ca=certs / "ca.pem",
        ),
        inventory_address=f"localhost:{inventory.port}",
        solver_processes=1,
        inventory_tls=ClientTls(certs / "ca.pem", certs / "routing.pem", certs / "routing-key.pem"),
    )
    try:
        token = auth.token(Role.PLANNER)
        tls = ClientTls(certs / "ca.pem", certs / "client.pem", certs / "client-key.pem")
        async with aio_channel(f"localhost:{routing.port}", lambda: token, tls) as channel:
            # Estimates read depots and ready kits from inventory: the mutual-TLS hop.
            answer = await rt_grpc.RoutingServiceStub(channel).EstimateDeliveryTimes(
                rt.EstimateDeliveryTimesRequest(), timeout=30
            )
        assert answer.HasField("as_of")
    finally:
        await routing.stop(0)
        await inventory.stop(0)


async def test_the_gateways_json_and_dashboard_are_served_over_https_with_its_certificate(
    database_url: str, certs: Path
) -> None:
    import asyncio
    import ssl
    import urllib.request

    from services.gateway import server as gateway_server
    from services.gateway.settings import GatewaySettings
    from tests.gateway.world import FAST

    inventory = await start_inventory(database_url)
    gateway = await gateway_server.start(
        GatewaySettings(
            inventory_address=inventory.address,
            routing_address="127.0.0.1:9",  # unreachable: time to scene unknown, no matter here
            auth_public_keys=auth.PUBLIC_KEYS,
            token=auth.gateway_token(),
            tls_cert=certs / "gateway.pem",
            tls_key=certs / "gateway-key.pem",
        ),
        timings=FAST,
    )
    try:
        assert await gateway.keeper.wait_loaded(30)
        trust = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        request = urllib.request.Request(
            f"https://localhost:{gateway.http_port}/v1/scopes",
            headers={"Authorization": f"Bearer {auth.token(Role.COMMAND)}"},
        )

        def fetch() -> int:
            with urllib.request.urlopen(request, context=trust, timeout=10) as answer:
                return int(answer.status)

        assert await asyncio.to_thread(fetch) == 200
    finally:
        await gateway.stop(0)
        await inventory.stop(0)
