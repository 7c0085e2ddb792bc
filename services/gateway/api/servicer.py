"""ReadinessService: answers from the keeper's memory; never touches inventory or routing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
from muster.gateway.v1 import gateway_service_pb2 as pb
from muster.gateway.v1 import gateway_service_pb2_grpc as pb_grpc

from services.common.auth import Role, allow
from services.gateway.api.reports import ReportCache


class ReadinessServicer(pb_grpc.ReadinessServiceServicer):
    def __init__(self, reports: ReportCache) -> None:
        self._reports = reports

    @allow(Role.COMMAND, Role.PLANNER)
    async def GetReadiness(
        self, request: pb.GetReadinessRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetReadinessResponse:
        return self._reports.get(request.category, request.scope)

    @allow(Role.COMMAND, Role.PLANNER)
    async def ListReadiness(
        self, request: pb.ListReadinessRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReadinessResponse:
        return self._reports.list_reports(request.category, request.scope_kind)

    @allow(Role.COMMAND, Role.PLANNER)
    async def ListScopes(
        self, request: pb.ListScopesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListScopesResponse:
        return self._reports.scopes()

    @allow(Role.COMMAND, Role.PLANNER)
    async def WatchReadiness(
        self, request: pb.WatchReadinessRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchReadinessResponse]:
        wanted = self._reports.filter(request.category, request.scope)
        async for reports in self._reports.watch(wanted):
            yield pb.WatchReadinessResponse(reports=reports)
