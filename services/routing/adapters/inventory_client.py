"""What routing asks of inventory: depots' places, ready kits with their weights, transfers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.inventory.v1 import inventory_service_pb2_grpc as inv_grpc

from services.common.auth import TokenSource
from services.common.channels import ClientTls, aio_channel
from services.common.errors import PreconditionFailed, Unavailable
from services.routing.domain.assignment import ReadyKit
from services.routing.domain.network import Place
from services.routing.domain.plans import TransferSpec

DEADLINE_S = 5.0


class InventoryClient:
    """Calls inventory with the token of the request being served (so inventory checks and
    records the planner, not routing), or routing's own token outside a request."""

    def __init__(
        self, address: str, token: TokenSource | None = None, tls: ClientTls | None = None
    ) -> None:
        self.address = address
        self._channel = aio_channel(address, token, tls)
        self._stub = inv_grpc.InventoryServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    def _unreachable(self, error: grpc.aio.AioRpcError) -> Unavailable | None:
        if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return Unavailable(f"inventory at {self.address} is unreachable")
        return None

    async def _pages(self, call: Any, request: Any, field: str) -> AsyncIterator[Any]:
        token = ""
        while True:
            request.page_token = token
            try:
                answer = await call(request, timeout=DEADLINE_S)
            except grpc.aio.AioRpcError as error:
                raise (self._unreachable(error) or error) from error
            for item in getattr(answer, field):
                yield item
            token = answer.next_page_token
            if not token:
                return

    async def depots(self) -> dict[str, Place]:
        found = {}
        request = inv.ListDepotsRequest(page_size=500)
        async for d in self._pages(self._stub.ListDepots, request, "depots"):
            found[d.code] = Place(d.code, d.location.latitude, d.location.longitude, d.city)
        return found

    async def ready_kits(self) -> list[ReadyKit]:
        """Every READY kit, with its template's weight, volume and heaviest single item."""
        weights: dict[str, float] = {}
        async for it in self._pages(
            self._stub.ListItemTypes, inv.ListItemTypesRequest(page_size=500), "item_types"
        ):
            weights[it.code] = it.weight_kg
        templates: dict[tuple[str, int], tuple[float, float, float]] = {}
        request = inv.ListKitTemplatesRequest(page_size=500, all_versions=True)
        async for t in self._pages(self._stub.ListKitTemplates, request, "templates"):
            heaviest = max((weights.get(ln.item_type_code, 0.0) for ln in t.lines), default=0.0)
            templates[(t.code, t.version)] = (t.total_weight_kg, heaviest, t.total_volume_m3)
        kits = []
        ready = inv.ListKitsRequest(page_size=500, state=inv.Kit.STATE_READY)
        async for k in self._pages(self._stub.ListKits, ready, "kits"):
            weight, heaviest, volume = templates.get(
                (k.template_code, k.template_version), (0.0, 0.0, 0.0)
            )
            kits.append(ReadyKit(k.label, k.template_code, k.depot_code, weight, heaviest, volume))
        return kits

    async def open_transfer(self, spec: TransferSpec, reason: str) -> str:
        """Open the transfer (a retry with the same request id replays it); its SSCC."""
        request = inv.CreateTransferRequest(
            request_id=spec.request_id,
            from_depot_code=spec.from_depot,
            to_depot_code=spec.to_depot,
            kit_labels=spec.kit_labels,
            reason=reason,
        )
        try:
            answer = await self._stub.CreateTransfer(request, timeout=DEADLINE_S)
        except grpc.aio.AioRpcError as error:
            unreachable = self._unreachable(error)
            if unreachable is not None:
                raise unreachable from error
            if error.code() in (
                grpc.StatusCode.FAILED_PRECONDITION,
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.INVALID_ARGUMENT,
            ):
                raise PreconditionFailed(
                    "TRANSFER_REFUSED",
                    f"inventory refused the transfer {spec.from_depot} -> {spec.to_depot}: "
                    f"{error.details()}",
                    {"from_depot": spec.from_depot, "to_depot": spec.to_depot},
                ) from error
            raise
        return str(answer.transfer.sscc)
