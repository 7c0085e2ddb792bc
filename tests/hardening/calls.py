"""Calls any RPC of any service by its descriptor, and says which status came back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from muster.gateway.v1 import gateway_service_pb2 as gw
from muster.inventory.v1 import inventory_service_pb2 as inv
from muster.routing.v1 import routing_service_pb2 as rt

from tests.support import auth

SERVICES: dict[str, ServiceDescriptor] = {
    "inventory": inv.DESCRIPTOR.services_by_name["InventoryService"],
    "routing": rt.DESCRIPTOR.services_by_name["RoutingService"],
    "gateway": gw.DESCRIPTOR.services_by_name["ReadinessService"],
}
UNARY_TIMEOUT_S = 20.0
# A watch answers its first message at once when the request is good; a refusal comes sooner.
STREAM_TIMEOUT_S = 3.0


def every_rpc() -> list[tuple[str, str]]:
    """(service, method) for every RPC the protos declare."""
    return [(name, m.name) for name, service in SERVICES.items() for m in service.methods]


def method(service: str, name: str) -> MethodDescriptor:
    return SERVICES[service].methods_by_name[name]


def _identity(data: bytes) -> bytes:
    return data


@dataclass
class Answer:
    code: grpc.StatusCode
    details: str = ""
    response: bytes = b""


@dataclass
class Caller:
    """One channel per service, an admin token on every call."""

    addresses: dict[str, str]
    _channels: dict[str, grpc.aio.Channel] = field(default_factory=dict, repr=False)
    metadata: tuple[tuple[str, str], ...] = field(
        default=(("authorization", f"Bearer {auth.token()}"),), repr=False
    )

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = grpc.aio.insecure_channel(
                self.addresses[service],
                options=[("grpc.max_send_message_length", 64 * 1024 * 1024)],
            )
        return self._channels[service]

    async def call(
        self,
        service: str,
        name: str,
        request: Message | bytes,
        extra: tuple[tuple[str, str], ...] = (),
    ) -> Answer:
        """Send one request (a message, or raw bytes as the serialized request).

        `extra`: metadata sent beside the token (x-request-id, x-device, x-caller).
        """
        m = method(service, name)
        metadata = self.metadata + extra
        path = f"/{SERVICES[service].full_name}/{name}"
        data = request if isinstance(request, bytes) else request.SerializeToString()
        channel = self.channel(service)
        try:
            if m.server_streaming:
                call: Any = channel.unary_stream(
                    path, request_serializer=_identity, response_deserializer=_identity
                )(data, metadata=metadata, timeout=STREAM_TIMEOUT_S)
                async for first in call:
                    call.cancel()
                    return Answer(grpc.StatusCode.OK, response=first)
                return Answer(grpc.StatusCode.OK)
            answer = await channel.unary_unary(
                path, request_serializer=_identity, response_deserializer=_identity
            )(data, metadata=metadata, timeout=UNARY_TIMEOUT_S)
            return Answer(grpc.StatusCode.OK, response=answer)
        except grpc.aio.AioRpcError as error:
            return Answer(error.code(), error.details() or "")

    async def serving(self, service: str) -> bool:
        stub = health_pb2_grpc.HealthStub(self.channel(service))
        try:
            answer = await stub.Check(health_pb2.HealthCheckRequest(), timeout=5)
        except grpc.aio.AioRpcError:
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
