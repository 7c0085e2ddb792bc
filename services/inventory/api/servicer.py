"""InventoryService: each method maps the request, runs a handler, maps the answer."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date
from functools import partial
from typing import TypeVar

import grpc
from google.protobuf.message import Message
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc

from services.common import auth, convert, metrics
from services.common.auth import Role, allow
from services.common.clock import Today
from services.common.errors import InvalidArgument, ReplayedRefusal, Violations
from services.inventory.adapters.scan_store import StoredRefusal
from services.inventory.api import export_mappers, mappers, scan_mappers
from services.inventory.domain import commands
from services.inventory.service_layer import counts, export, handlers, queries, scanning, transfers
from services.inventory.service_layer.idempotency import run_once
from services.inventory.service_layer.scan_coalescing import ScanCoalescer
from services.inventory.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

M = TypeVar("M", bound=Message)
CHANGE_BATCH = 500
EXPORT_BATCH = 200
HEARTBEAT_S = 10.0
R = TypeVar("R")


def _depot(request: object) -> list[str]:
    """A list call's depot filter; none means every depot."""
    code = getattr(request, "depot_code", "")
    return [code] if code else []


def fingerprint(request: Message) -> str:
    """A digest of the request without its request id, to spot a reused id."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


# Fields whose values name what a change touched, for its audit record.
AUDIT_KEY_FIELDS = frozenset(
    {"code", "label", "sscc", "count_id", "depot_code", "kit_label", "template_code"}
)


def audit_keys(message: Message) -> list[str]:
    """The identifying values in a mutation's answer (and in the messages it holds)."""
    found: list[str] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            if field.name in AUDIT_KEY_FIELDS and isinstance(value, str):
                found.append(value)
        elif field.is_repeated:
            for item in value:
                found += audit_keys(item)
        else:
            found += audit_keys(value)
    return sorted(set(found))


class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, uow: UnitOfWorkFactory, today: Today, change_poll_s: float = 0.2) -> None:
        self._uow = uow
        self._today = today
        self._change_poll_s = change_poll_s
        self._lone_scans = ScanCoalescer(self._record_scans)

    async def _once(
        self,
        request: Message,
        response_type: type[M],
        work: Callable[[UnitOfWork], Awaitable[R]],
        to_response: Callable[[R], M],
    ) -> M:
        answer = await run_once(
            self._uow,
            method=type(request).__name__.removesuffix("Request"),
            request_id=request.request_id,  # type: ignore[attr-defined]
            fingerprint=fingerprint(request),
            work=work,
            encode=lambda result: to_response(result).SerializeToString(),
            touched=lambda result: audit_keys(to_response(result)),
        )
        return response_type.FromString(answer)

    async def _record_scans(
        self, cmds: Sequence[commands.RecordScan], today: date
    ) -> list[scanning.ScanAnswer]:
        return await scanning.record_scans(
            cmds, self._uow, today, scan_mappers.encode, scan_mappers.refusal_status
        )

    async def _read(self, work: Callable[[UnitOfWork], Awaitable[R]]) -> R:
        async with self._uow() as uow:
            return await work(uow)

    # ---------------------------------------------------------------- depots
    @allow()
    async def CreateDepot(
        self, request: pb.CreateDepotRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateDepotResponse:
        cmd = mappers.to_create_depot(request)
        return await self._once(
            request,
            pb.CreateDepotResponse,
            lambda uow: handlers.create_depot(cmd, uow),
            lambda d: pb.CreateDepotResponse(depot=mappers.depot(d)),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def GetDepot(
        self, request: pb.GetDepotRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDepotResponse:
        code = mappers.required_code("code", request.code)
        found = await self._read(lambda uow: handlers.get_depot(code, uow))
        return pb.GetDepotResponse(depot=mappers.depot(found))

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ListDepots(
        self, request: pb.ListDepotsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDepotsResponse:
        page, tier, city = mappers.to_list_depots(request)
        found = await self._read(lambda uow: handlers.list_depots(page, tier, city, uow))
        return pb.ListDepotsResponse(
            depots=[mappers.depot(d) for d in found.items],
            next_page_token=convert.page_token(found.next_key, "depots"),
        )

    @allow()
    async def UpdateDepot(
        self, request: pb.UpdateDepotRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateDepotResponse:
        cmd = mappers.to_update_depot(request)
        return await self._once(
            request,
            pb.UpdateDepotResponse,
            lambda uow: handlers.update_depot(cmd, uow),
            lambda d: pb.UpdateDepotResponse(depot=mappers.depot(d)),
        )

    @allow(Role.COMMAND, Role.PLANNER)
    async def GetDepotCompliance(
        self, request: pb.GetDepotComplianceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDepotComplianceResponse:
        code = mappers.optional_code("depot_code", request.depot_code)
        found = await self._read(lambda uow: handlers.depot_compliance(code, uow))
        return pb.GetDepotComplianceResponse(depots=[mappers.compliance(a) for a in found])

    # ---------------------------------------------------------------- locations
    @allow()
    async def CreateLocation(
        self, request: pb.CreateLocationRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateLocationResponse:
        cmd = mappers.to_create_location(request)
        return await self._once(
            request,
            pb.CreateLocationResponse,
            lambda uow: handlers.create_location(cmd, uow),
            lambda loc: pb.CreateLocationResponse(location=mappers.location(loc)),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ListLocations(
        self, request: pb.ListLocationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListLocationsResponse:
        depot_code = mappers.optional_code("depot_code", request.depot_code)
        page = mappers.page_of(request, "locations")
        found = await self._read(lambda uow: handlers.list_locations(depot_code, page, uow))
        return pb.ListLocationsResponse(
            locations=[mappers.location(loc) for loc in found.items],
            next_page_token=convert.page_token(found.next_key, "locations"),
        )

    # ---------------------------------------------------------------- item types
    @allow()
    async def CreateItemType(
        self, request: pb.CreateItemTypeRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateItemTypeResponse:
        cmd = mappers.to_create_item_type(request)
        return await self._once(
            request,
            pb.CreateItemTypeResponse,
            lambda uow: handlers.create_item_type(cmd, uow),
            lambda it: pb.CreateItemTypeResponse(item_type=mappers.item_type(it)),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ListItemTypes(
        self, request: pb.ListItemTypesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListItemTypesResponse:
        page = mappers.page_of(request, "item_types")
        found = await self._read(lambda uow: handlers.list_item_types(page, uow))
        return pb.ListItemTypesResponse(
            item_types=[mappers.item_type(it) for it in found.items],
            next_page_token=convert.page_token(found.next_key, "item_types"),
        )

    # ---------------------------------------------------------------- templates
    @allow()
    async def CreateKitTemplate(
        self, request: pb.CreateKitTemplateRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateKitTemplateResponse:
        cmd = mappers.to_publish_template(request)
        return await self._once(
            request,
            pb.CreateKitTemplateResponse,
            lambda uow: handlers.publish_kit_template(cmd, uow),
            lambda t: pb.CreateKitTemplateResponse(template=mappers.template(t)),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def GetKitTemplate(
        self, request: pb.GetKitTemplateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetKitTemplateResponse:
        code, version = mappers.to_get_template(request)
        found = await self._read(lambda uow: handlers.get_kit_template(code, version, uow))
        return pb.GetKitTemplateResponse(template=mappers.template(found))

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ListKitTemplates(
        self, request: pb.ListKitTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKitTemplatesResponse:
        page, category, all_versions = mappers.to_list_templates(request)
        found = await self._read(
            lambda uow: handlers.list_kit_templates(page, category, all_versions, uow)
        )
        return pb.ListKitTemplatesResponse(
            templates=[mappers.template(t) for t in found.items],
            next_page_token=convert.page_token(found.next_key, "templates"),
        )

    # ---------------------------------------------------------------- kits
    @allow(Role.DEPOT_STAFF, depots=lambda r: [r.depot_code])
    async def CreateKit(
        self, request: pb.CreateKitRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateKitResponse:
        cmd = mappers.to_create_kit(request)
        return await self._once(
            request,
            pb.CreateKitResponse,
            lambda uow: handlers.create_kit(cmd, uow, self._today()),
            mappers.kit_created,
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def GetKit(
        self, request: pb.GetKitRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetKitResponse:
        label = mappers.label(request)
        found = await self._read(lambda uow: handlers.get_kit(label, uow, self._today()))
        auth.act_at(found.kit.depot_code)
        return mappers.kit_view(found)

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF, depots=_depot)
    async def ListKits(
        self, request: pb.ListKitsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListKitsResponse:
        page, depot_code, category, template_code, state = mappers.to_list_kits(request)
        found = await self._read(
            lambda uow: handlers.list_kits(
                page, uow, self._today(), depot_code, category, template_code, state
            )
        )
        return pb.ListKitsResponse(
            kits=[mappers.kit(k) for k in found.items],
            next_page_token=convert.page_token(found.next_key, "kits"),
        )

    # ---------------------------------------------------------------- standards
    @allow()
    async def SetReserveStandard(
        self, request: pb.SetReserveStandardRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetReserveStandardResponse:
        cmd = mappers.to_set_standard(request)
        return await self._once(
            request,
            pb.SetReserveStandardResponse,
            lambda uow: handlers.set_reserve_standard(cmd, uow),
            lambda s: pb.SetReserveStandardResponse(standard=mappers.standard(s)),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ListReserveStandards(
        self, request: pb.ListReserveStandardsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListReserveStandardsResponse:
        code = mappers.optional_code("template_code", request.template_code)
        found = await self._read(lambda uow: handlers.list_reserve_standards(code, uow))
        return pb.ListReserveStandardsResponse(standards=[mappers.standard(s) for s in found])

    # ---------------------------------------------------------------- scans
    @allow(Role.DEPOT_STAFF, depots=lambda r: [r.scan.depot_code])
    async def RecordScan(
        self, request: pb.RecordScanRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordScanResponse:
        cmd = scan_mappers.to_scan(request.scan)
        answer = await self._lone_scans.record(cmd, self._today())
        metrics.scans_answered([scan_mappers.outcome(cmd.action, answer)])
        if isinstance(answer, scanning.ScanRefused):
            raise answer.error
        if isinstance(answer, StoredRefusal):
            raise ReplayedRefusal(answer.status)
        return pb.RecordScanResponse(result=scan_mappers.recorded(answer))

    @allow(Role.DEPOT_STAFF, depots=lambda r: [s.depot_code for s in r.scans])
    async def RecordScans(
        self, request: pb.RecordScansRequest, context: grpc.aio.ServicerContext
    ) -> pb.RecordScansResponse:
        scan_mappers.batch_size(request)
        results: list[pb.ScanResult | None] = [None] * len(request.scans)
        first: dict[str, int] = {}  # scan_id -> where it first appears in this batch
        valid = []
        for i, scan in enumerate(request.scans):
            if scan.scan_id in first:
                continue  # answered below, from its first copy
            first[scan.scan_id] = i
            try:
                valid.append((i, scan_mappers.to_scan(scan, f"scans[{i}]")))
            except InvalidArgument as error:
                results[i] = scan_mappers.refused(scan.scan_id, error)
                metrics.scans_answered([scan_mappers.invalid_outcome(scan)])
        answers = await scanning.record_scans(
            [cmd for _, cmd in valid],
            self._uow,
            self._today(),
            scan_mappers.encode,
            scan_mappers.refusal_status,
        )
        for (i, _), answer in zip(valid, answers, strict=True):
            results[i] = scan_mappers.answer(answer)
        metrics.scans_answered(
            scan_mappers.outcome(cmd.action, a) for (_, cmd), a in zip(valid, answers, strict=True)
        )
        for i, scan in enumerate(request.scans):
            j = first[scan.scan_id]
            if i != j:
                same = scan.SerializeToString() == request.scans[j].SerializeToString()
                results[i] = results[j] if same else scan_mappers.reused(scan.scan_id)
        return pb.RecordScansResponse(results=results)

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF)
    async def ResolveCode(
        self, request: pb.ResolveCodeRequest, context: grpc.aio.ServicerContext
    ) -> pb.ResolveCodeResponse:
        v = Violations()
        code = scan_mappers.scanned_code(v, "code", request.code)
        v.raise_if_any()
        found = await self._read(lambda uow: scanning.resolve(code, uow))
        return pb.ResolveCodeResponse(subject=scan_mappers.subject(found))

    # ---------------------------------------------------------------- transfers
    @allow(Role.PLANNER, Role.DEPOT_STAFF, depots=lambda r: [r.from_depot_code])
    async def CreateTransfer(
        self, request: pb.CreateTransferRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateTransferResponse:
        cmd = scan_mappers.to_create_transfer(request)
        transfers.unique_labels(cmd.kit_labels)
        return await self._once(
            request,
            pb.CreateTransferResponse,
            lambda uow: transfers.create_transfer(cmd, uow),
            lambda t: pb.CreateTransferResponse(transfer=scan_mappers.transfer(t)),
        )

    @allow(Role.COMMAND, Role.PLANNER)
    async def GetTransfer(
        self, request: pb.GetTransferRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTransferResponse:
        sscc = scan_mappers.sscc("sscc", request.sscc)
        found = await self._read(lambda uow: transfers.get_transfer(sscc, uow))
        return pb.GetTransferResponse(transfer=scan_mappers.transfer(found))

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF, depots=_depot)
    async def ListTransfers(
        self, request: pb.ListTransfersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTransfersResponse:
        page, depot, state = scan_mappers.to_list_transfers(request)
        found = await self._read(lambda uow: transfers.list_transfers(page, depot, state, uow))
        return pb.ListTransfersResponse(
            transfers=[scan_mappers.transfer(t) for t in found.items],
            next_page_token=convert.page_token(found.next_key, "transfers"),
        )

    # ---------------------------------------------------------------- counts
    @allow(Role.DEPOT_STAFF, depots=lambda r: [r.depot_code])
    async def StartCount(
        self, request: pb.StartCountRequest, context: grpc.aio.ServicerContext
    ) -> pb.StartCountResponse:
        cmd = scan_mappers.to_start_count(request)
        return await self._once(
            request,
            pb.StartCountResponse,
            lambda uow: counts.start_count(cmd, uow),
            lambda found: pb.StartCountResponse(count=scan_mappers.stock_count(found)),
        )

    @allow(Role.DEPOT_STAFF)
    async def CloseCount(
        self, request: pb.CloseCountRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseCountResponse:
        cmd = scan_mappers.to_close_count(request)
        return await self._once(
            request,
            pb.CloseCountResponse,
            lambda uow: counts.close_count(cmd, uow),
            lambda found: pb.CloseCountResponse(
                count=scan_mappers.stock_count(found[0]),
                discrepancies=[scan_mappers.discrepancy(d) for d in found[1]],
            ),
        )

    # ---------------------------------------------------------------- queries
    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF, depots=_depot)
    async def ListExpiring(
        self, request: pb.ListExpiringRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListExpiringResponse:
        depot, within, page = scan_mappers.to_due_query(request, "expiring")
        found = await self._read(
            lambda uow: queries.list_expiring(depot, within, page, self._today(), uow)
        )
        return pb.ListExpiringResponse(
            items=[scan_mappers.stock_item(i) for i in found.items],
            next_page_token=convert.page_token(found.next_key, "expiring"),
        )

    @allow(Role.COMMAND, Role.PLANNER, Role.DEPOT_STAFF, depots=_depot)
    async def ListInspectionsDue(
        self, request: pb.ListInspectionsDueRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInspectionsDueResponse:
        depot, within, page = scan_mappers.to_due_query(request, "inspections")
        found = await self._read(
            lambda uow: queries.list_inspections_due(depot, within, page, self._today(), uow)
        )
        return pb.ListInspectionsDueResponse(
            items=[scan_mappers.stock_item(i) for i in found.items],
            next_page_token=convert.page_token(found.next_key, "inspections"),
        )

    @allow(Role.COMMAND, Role.PLANNER)
    async def GetHistory(
        self, request: pb.GetHistoryRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetHistoryResponse:
        code, page = scan_mappers.to_history(request)
        subject, found, audit = await self._read(lambda uow: queries.get_history(code, page, uow))
        return pb.GetHistoryResponse(
            subject=scan_mappers.subject(subject),
            records=[scan_mappers.ledger_entry(e) for e in found.items],
            next_page_token=convert.page_token(found.next_key, "history"),
            audit=[scan_mappers.audit_entry(e) for e in audit],
        )

    # ---------------------------------------------------------------- change feed
    @allow(Role.COMMAND)
    async def WatchChanges(
        self, request: pb.WatchChangesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchChangesResponse]:
        cursor = scan_mappers.cursor(request.cursor)
        if not cursor and request.from_now:
            cursor = await self._read(queries.head)
        # Say at once that the watch is live, and from where.
        yield pb.WatchChangesResponse(cursor=cursor)
        quiet_since = time.monotonic()
        while True:
            changes = await self._read(partial(queries.changes_after, cursor, CHANGE_BATCH))
            if changes:
                cursor = changes[-1].cursor
                quiet_since = time.monotonic()
                yield pb.WatchChangesResponse(
                    changes=[scan_mappers.change(ch) for ch in changes], cursor=cursor
                )
                continue
            if time.monotonic() - quiet_since > HEARTBEAT_S:
                quiet_since = time.monotonic()
                yield pb.WatchChangesResponse(cursor=cursor)
            await asyncio.sleep(self._change_poll_s)

    # ---------------------------------------------------------------- export
    @allow(Role.COMMAND)
    async def ExportKits(
        self, request: pb.ExportKitsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportKitsResponse]:
        found = await self._read(export.export)
        for batch in export.batches(found.kits, EXPORT_BATCH):
            yield export_mappers.export_batch(found.cursor, batch)
