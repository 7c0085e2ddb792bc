"""Scans between protobuf and commands; scan results to protobuf."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from google.rpc import status_pb2
from muster.inventory.v1 import inventory_service_pb2 as pb

from services.common import convert as c
from services.common.errors import DomainError, PreconditionFailed, Violations
from services.common.grpc_errors import to_status
from services.common.paging import Page
from services.inventory.adapters.scan_store import StoredRefusal, StoredScan
from services.inventory.adapters.stock_queries import LedgerEntry, StockItemView, parse_cursor
from services.inventory.domain import commands, model
from services.inventory.domain.model import ScanAction, TransferState
from services.inventory.domain.scanning import ScanOutcome, Subject
from services.inventory.service_layer.counts import Discrepancy
from services.inventory.service_layer.scanning import ScanAnswer, ScanRefused
from services.inventory.service_layer.scanning import reused as scanning_reused

ACTION = (pb.ScanAction, "SCAN_ACTION_")
STATE = (pb.Kit.State, "STATE_")
MAX_BATCH = 500
GS = "\x1d"


def _scanned(v: Violations, path: str, value: str, *, required: bool) -> str:
    """A code as read: GS (FNC1) allowed, other control characters not."""
    value = value.strip("\r\n")
    if required and not value:
        v.add(path, "must not be empty: nothing was read")
    elif len(value) > 200:
        v.add(path, f"must be at most 200 characters, not {len(value)}")
    elif any((ord(ch) < 32 and ch != GS) or ord(ch) == 127 for ch in value):
        v.add(path, "holds a control character other than GS (FNC1)")
    return value


def _scan_id(v: Violations, path: str, value: str) -> str:
    if not value:
        v.add(path, "is required: a client-generated id (a UUID)")
    elif len(value) > 64 or not (value.isascii() and value.isprintable()) or " " in value:
        v.add(path, "must be printable ASCII without spaces, at most 64 characters")
    return value


def _device_time(v: Violations, path: str, s: pb.Scan) -> datetime | None:
    if not s.HasField("device_time"):
        return None
    try:
        return s.device_time.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError):
        v.add(path, "is not a time a clock can show")
        return None


def to_scan(s: pb.Scan, path: str = "scan") -> commands.RecordScan:
    return _plain_scan(s) or _checked_scan(s, path)


# The domain action of each protobuf action number (those with one).
_ACTIONS = {
    number: ScanAction(name.removeprefix(ACTION[1]))
    for name, number in pb.ScanAction.items()
    if name.removeprefix(ACTION[1]) in ScanAction.__members__
}
_CODE = re.compile(r"[A-Za-z0-9_/.\-]+")  # c.code()'s characters (CODE_CHARACTERS)


def _plain_scan(s: pb.Scan) -> commands.RecordScan | None:
    """The command of a scan every one of whose fields is plainly valid, else None.

    Each test here passes only values that _checked_scan() accepts unchanged
    (printable text has no control character; a code of CODE_CHARACTERS
    needs no other check), so both give the same command (a test compares
    them on generated scans); anything else, and every refusal, goes to
    _checked_scan(), which names each violation. Its checks cost about 20 us
    a scan, character by character in Python: in a batch, more than the scan.
    """
    action = _ACTIONS.get(s.action)
    scan_id, code = s.scan_id, s.code.strip("\r\n")
    depot_code, count_id = s.depot_code.strip(), s.count_id.strip()
    bin_code, kit_code = s.bin_code.strip("\r\n"), s.kit_code.strip("\r\n")
    operator, device = s.operator.strip(), s.device.strip()
    override_reason = s.override_reason.strip()
    plain = (
        action is not None
        and 0 < len(scan_id) <= 64
        and scan_id.isascii()
        and scan_id.isprintable()
        and " " not in scan_id
        and 0 < len(code) <= 200
        and code.isprintable()
        and len(bin_code) <= 200
        and bin_code.isprintable()
        and len(kit_code) <= 200
        and kit_code.isprintable()
        and len(depot_code) <= 64
        and _CODE.fullmatch(depot_code) is not None
        and (not count_id or (len(count_id) <= 32 and _CODE.fullmatch(count_id) is not None))
        and 0 <= s.quantity <= 1_000_000
        and len(operator) <= 64
        and operator.isprintable()
        and len(device) <= 64
        and device.isprintable()
        and len(override_reason) <= c.MAX_TEXT
        and override_reason.isprintable()
    )
    if not plain:
        return None
    assert action is not None
    device_time = None
    if s.HasField("device_time"):
        try:
            device_time = s.device_time.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            return None
    return commands.RecordScan(
        scan_id=scan_id,
        code=code,
        action=action,
        depot_code=depot_code,
        bin_code=bin_code,
        kit_code=kit_code,
        quantity=s.quantity,
        operator=operator,
        device=device,
        device_time=device_time,
        override_reason=override_reason,
        count_id=count_id,
    )


def _checked_scan(s: pb.Scan, path: str) -> commands.RecordScan:
    v = Violations()
    action = c.enum_to_domain(v, f"{path}.action", ACTION[0], s.action, ScanAction, ACTION[1])
    cmd = commands.RecordScan(
        scan_id=_scan_id(v, f"{path}.scan_id", s.scan_id),
        code=_scanned(v, f"{path}.code", s.code, required=True),
        action=action or ScanAction.COUNT,
        depot_code=c.code(v, f"{path}.depot_code", s.depot_code),
        bin_code=_scanned(v, f"{path}.bin_code", s.bin_code, required=False),
        kit_code=_scanned(v, f"{path}.kit_code", s.kit_code, required=False),
        quantity=c.whole(v, f"{path}.quantity", s.quantity, minimum=0),
        operator=c.text(v, f"{path}.operator", s.operator, required=False, limit=64),
        device=c.text(v, f"{path}.device", s.device, required=False, limit=64),
        device_time=_device_time(v, f"{path}.device_time", s),
        override_reason=c.text(v, f"{path}.override_reason", s.override_reason, required=False),
        count_id=c.code(v, f"{path}.count_id", s.count_id, required=False, limit=32),
    )
    if s.quantity > 1_000_000:
        v.add(f"{path}.quantity", "must be at most 1,000,000")
    v.raise_if_any()
    return cmd


def batch_size(r: pb.RecordScansRequest) -> None:
    v = Violations()
    if not r.scans:
        v.add("scans", "send at least one scan")
    elif len(r.scans) > MAX_BATCH:
        v.add("scans", f"at most {MAX_BATCH} scans a batch, not {len(r.scans)}")
    v.raise_if_any()


# Protobuf numbers of the domain's values, looked up once (a scan's answer needs several).
_SUBJECT_KIND = {
    name.removeprefix("SUBJECT_KIND_"): number for name, number in pb.SubjectKind.items()
}
_ACTION_NUMBER = {action: c.enum_to_proto(ACTION[0], action, ACTION[1]) for action in ScanAction}
_STATE_NUMBER = {state: c.enum_to_proto(STATE[0], state, STATE[1]) for state in model.KitState}


def subject(s: Subject) -> pb.Subject:
    found = pb.Subject()
    _fill_subject(found, s)
    return found


def _fill_subject(out: pb.Subject, s: Subject) -> None:
    out.kind = _SUBJECT_KIND[s.kind]
    out.key = s.key
    out.item_type_code = s.item_type_code
    out.gtin = s.gtin
    if s.expires_on is not None:
        out.expiry_date.year = s.expires_on.year
        out.expiry_date.month = s.expires_on.month
        out.expiry_date.day = s.expires_on.day
    out.depot_code = s.depot_code
    if s.action is not None:
        out.action = _ACTION_NUMBER[s.action]


def encode(cmd: commands.RecordScan, outcome: ScanOutcome) -> bytes:
    """What is stored with the scan and replayed for a repeated scan_id."""
    result = pb.ScanResult(scan_id=cmd.scan_id, accepted=True, kit_label=outcome.kit_label)
    _fill_subject(result.subject, outcome.subject)
    if outcome.kit_state is not None:
        result.kit_state = _STATE_NUMBER[outcome.kit_state]
    result.status.code = 0
    return result.SerializeToString()


def recorded(stored: StoredScan) -> pb.ScanResult:
    result = pb.ScanResult.FromString(stored.payload)
    result.ledger_seq = stored.seq
    result.record_time.seconds, result.record_time.nanos = _seconds_and_nanos(stored.recorded_at)
    return result


@functools.lru_cache(maxsize=64)
def _seconds_and_nanos(at: datetime) -> tuple[int, int]:
    """A Timestamp's fields for a time (the scans of a batch share one: its transaction's)."""
    stamp = Timestamp()
    stamp.FromDatetime(at)
    return stamp.seconds, stamp.nanos


def refused(scan_id: str, error: DomainError) -> pb.ScanResult:
    _, status = to_status(error)
    return pb.ScanResult(scan_id=scan_id, accepted=False, status=status)


def answer(a: ScanAnswer) -> pb.ScanResult:
    if isinstance(a, ScanRefused):
        return refused(a.scan_id, a.error)
    if isinstance(a, StoredRefusal):
        return pb.ScanResult(
            scan_id=a.scan_id, accepted=False, status=status_pb2.Status.FromString(a.status)
        )
    return recorded(a)


def outcome(action: str, a: ScanAnswer) -> tuple[str, str]:
    """(action, result) for the scans metric: ACCEPTED, or the reason it was refused."""
    if isinstance(a, ScanRefused):
        error = a.error
        reason = error.reason if isinstance(error, PreconditionFailed) else None
        return action, reason or to_status(error)[0].name
    if isinstance(a, StoredRefusal):
        return action, "REFUSED_BEFORE"
    return action, "ACCEPTED"


def invalid_outcome(scan: pb.Scan) -> tuple[str, str]:
    """(action, result) for a scan refused before it reached the ledger, as malformed."""
    name = pb.ScanAction.Name(scan.action) if scan.action in pb.ScanAction.values() else ""
    return name.removeprefix("SCAN_ACTION_") or "UNSPECIFIED", "INVALID_ARGUMENT"


def reused(scan_id: str) -> pb.ScanResult:
    return answer(scanning_reused(scan_id))


def refusal_status(error: DomainError) -> bytes:
    """The google.rpc.Status a refusal is answered with, kept for re-sent copies."""
    return to_status(error)[1].SerializeToString()


def scanned_code(v: Violations, path: str, value: str) -> str:
    return _scanned(v, path, value, required=True)


# ------------------------------------------------------------------ transfers

TRANSFER_STATE = (pb.Transfer.State, "STATE_")


MAX_TRANSFER_KITS = MAX_BATCH


def to_create_transfer(r: pb.CreateTransferRequest) -> commands.CreateTransfer:
    v = Violations()
    if len(r.kit_labels) > MAX_TRANSFER_KITS:
        v.add("kit_labels", f"at most {MAX_TRANSFER_KITS} kits a transfer, not {len(r.kit_labels)}")
        v.raise_if_any()
    c.request_id(v, r.request_id)
    cmd = commands.CreateTransfer(
        from_depot_code=c.code(v, "from_depot_code", r.from_depot_code),
        to_depot_code=c.code(v, "to_depot_code", r.to_depot_code),
        kit_labels=tuple(
            c.code(v, f"kit_labels[{i}]", label, limit=128) for i, label in enumerate(r.kit_labels)
        ),
        reason=c.text(v, "reason", r.reason, required=False),
    )
    v.raise_if_any()
    return cmd


def transfer(t: model.Transfer) -> pb.Transfer:
    return pb.Transfer(
        sscc=t.sscc,
        from_depot_code=t.from_depot_code,
        to_depot_code=t.to_depot_code,
        state=c.enum_to_proto(TRANSFER_STATE[0], t.state, TRANSFER_STATE[1]),
        lines=[
            pb.Transfer.Line(kit_label=ln.kit_label, shipped=ln.shipped, received=ln.received)
            for ln in t.lines
        ],
        reason=t.reason,
        create_time=c.timestamp(t.created_at),
        close_time=c.timestamp(t.closed_at),
    )


def sscc(path: str, value: str) -> str:
    v = Violations()
    if not (value.isascii() and value.isdigit() and len(value) == 18):
        v.add(path, "is an SSCC: 18 digits")
    v.raise_if_any()
    return value


def to_list_transfers(
    r: pb.ListTransfersRequest,
) -> tuple[Page, str | None, TransferState | None]:
    v = Violations()
    page = c.page(v, r.page_size, r.page_token, "transfers", whole_key=c.INT32_MAX)
    depot = c.code(v, "depot_code", r.depot_code, required=False) or None
    state = c.enum_to_domain(
        v, "state", TRANSFER_STATE[0], r.state, TransferState, TRANSFER_STATE[1], required=False
    )
    v.raise_if_any()
    return page, depot, state


# ------------------------------------------------------------------ counts

DISCREPANCY = (pb.Discrepancy.Kind, "KIND_")


def to_start_count(r: pb.StartCountRequest) -> commands.StartCount:
    v = Violations()
    c.request_id(v, r.request_id)
    cmd = commands.StartCount(
        depot_code=c.code(v, "depot_code", r.depot_code),
        zone=c.code(v, "zone", r.zone, required=False, limit=32),
        operator=c.text(v, "operator", r.operator, limit=64),
    )
    v.raise_if_any()
    return cmd


def to_close_count(r: pb.CloseCountRequest) -> commands.CloseCount:
    v = Violations()
    c.request_id(v, r.request_id)
    cmd = commands.CloseCount(
        count_id=c.code(v, "count_id", r.count_id, limit=32),
        operator=c.text(v, "operator", r.operator, limit=64),
    )
    v.raise_if_any()
    return cmd


def stock_count(s: model.StockCount) -> pb.StockCount:
    return pb.StockCount(
        count_id=s.count_id,
        depot_code=s.depot_code,
        zone=s.zone,
        open=s.open,
        started_by=s.started_by,
        closed_by=s.closed_by,
        start_time=c.timestamp(s.started_at),
        close_time=c.timestamp(s.closed_at),
        scans=s.scans,
        counted_by=list(s.counted_by),
    )


def discrepancy(d: Discrepancy) -> pb.Discrepancy:
    return pb.Discrepancy(
        kind=c.enum_to_proto(DISCREPANCY[0], d.kind, DISCREPANCY[1]),
        subject=pb.Subject(
            kind=pb.SubjectKind.Value(f"SUBJECT_KIND_{d.subject_kind}"),
            key=d.key,
            item_type_code=d.item_type_code,
        ),
        expected_bin=d.expected_bin,
        counted_bin=d.counted_bin,
        adjustment=d.adjustment,
    )


# ------------------------------------------------------------------ queries

CONDITION = (pb.Condition, "CONDITION_")


def to_due_query(
    r: pb.ListExpiringRequest | pb.ListInspectionsDueRequest, kind: str
) -> tuple[str, int, Page]:
    v = Violations()
    depot = c.code(v, "depot_code", r.depot_code)
    within = c.whole(v, "within_days", r.within_days, minimum=0)
    if within > 3650:
        v.add("within_days", "must be at most 3650 (ten years)")
    page = c.page(v, r.page_size, r.page_token, kind, whole_key=c.INT64_MAX)
    v.raise_if_any()
    return depot, within, page


def stock_item(s: StockItemView) -> pb.StockItem:
    return pb.StockItem(
        subject=pb.Subject(
            kind=pb.SubjectKind.Value(f"SUBJECT_KIND_{s.kind}"),
            key=s.key,
            item_type_code=s.item_type_code,
            gtin=s.gtin,
            expiry_date=c.date_to_proto(s.expires_on),
            depot_code=s.depot_code,
        ),
        kit_label=s.kit_label,
        bin_label=s.bin_label,
        quantity=s.quantity,
        expiry_date=c.date_to_proto(s.expires_on),
        next_inspection_date=c.date_to_proto(s.next_inspection_on),
        condition=c.enum_to_proto(CONDITION[0], s.condition, CONDITION[1]),
    )


def to_history(r: pb.GetHistoryRequest) -> tuple[str, Page]:
    v = Violations()
    code = _scanned(v, "code", r.code, required=True)
    page = c.page(v, r.page_size, r.page_token, "history", whole_key=c.INT64_MAX)
    v.raise_if_any()
    return code, page


def ledger_entry(e: LedgerEntry) -> pb.ScanRecord:
    scan = pb.Scan(
        scan_id=e.scan_id,
        code=e.code,
        action=pb.ScanAction.Value(f"SCAN_ACTION_{e.action}"),
        depot_code=e.depot_code,
        quantity=e.quantity,
        operator=e.operator,
        device=e.device,
        override_reason=e.override_reason,
        count_id=e.count_id,
    )
    if e.bin_label:
        scan.bin_code = e.bin_label
    if e.device_time is not None:
        scan.device_time.FromDatetime(e.device_time)
    return pb.ScanRecord(
        scan=scan,
        result=recorded(StoredScan(e.scan_id, e.result, e.seq, e.recorded_at)),
        recorded_by=e.recorded_by,
        request_id=e.request_id,
    )


def audit_entry(e: model.AuditEntry) -> pb.AuditEntry:
    return pb.AuditEntry(
        time=c.timestamp(e.at),
        method=e.method,
        actor=e.actor,
        device=e.device,
        request_id=e.request_id,
        keys=e.keys,
    )


def change(ch: model.Change) -> pb.Change:
    out = pb.Change(
        cursor=ch.cursor,
        kind=_kind(ch.kind),
        key=ch.key,
        depot_code=ch.depot_code,
        scan_id=ch.scan_id,
        kit_label=ch.kit_label,
        time=c.timestamp(ch.created_at),
    )
    if ch.action:
        out.action = pb.ScanAction.Value(f"SCAN_ACTION_{ch.action}")
    if ch.kit_state:
        out.kit_state = pb.Kit.State.Value(f"STATE_{ch.kit_state}")
    return out


def _kind(name: str) -> int:
    """A change's kind; one this build does not know is UNSPECIFIED, never an error."""
    try:
        return pb.SubjectKind.Value(f"SUBJECT_KIND_{name}")
    except ValueError:
        return pb.SUBJECT_KIND_UNSPECIFIED


def cursor(value: str) -> str:
    v = Violations()
    if value and parse_cursor(value) is None:
        v.add("cursor", "is not a cursor this feed gave out; start without one")
    v.raise_if_any()
    return value
