"""Delivery-time estimates from routing, as the gateway's domain values."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from muster.routing.v1 import routing_service_pb2 as rpb
from muster.routing.v1 import routing_service_pb2_grpc as rpb_grpc

from services.common.channels import ClientTls, aio_channel
from services.common.errors import Unavailable
from services.gateway.domain.model import Estimate

DEADLINE_S = 15.0


class RoutingSource:
    def __init__(self, address: str, token: str = "", tls: ClientTls | None = None) -> None:
        self.address = address
        self._channel = aio_channel(address, (lambda: token) if token else None, tls)
        self._stub = rpb_grpc.RoutingServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    async def estimates(
        self, templates: Sequence[str], kits_needed: int, winter: bool
    ) -> list[Estimate]:
        """Every city of routing's network; raises Unavailable for any failure to get them."""
        request = rpb.EstimateDeliveryTimesRequest(
            template_codes=list(templates), kits_needed=kits_needed, winter=winter
        )
        try:
            answer = await self._stub.EstimateDeliveryTimes(request, timeout=DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            raise Unavailable(
                f"routing at {self.address} gave no estimates: {error.code().name}"
            ) from error
        return [
            Estimate(
                e.template_code,
                e.city,
                e.kits_needed,
                e.hours if e.reachable else None,
                e.ready_kits,
            )
            for e in answer.estimates
        ]
