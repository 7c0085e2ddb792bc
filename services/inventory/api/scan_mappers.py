"""Scans between protobuf and commands; scan results to protobuf."""

from __future__ import annotations

from datetime import UTC

from muster.inventory.v1 import inventory_service_pb2 as pb

from services.common.errors import DomainError, InvalidArgument, Violations
from services.common.grpc_errors import to_status
from services.inventory.adapters.scan_repository import StoredScan
from services.inventory.api import convert as c
from services.inventory.domain import commands
from services.inventory.domain.model import ScanAction
from services.inventory.domain.scanning import ScanOutcome, Subject
from services.inventory.service_layer.scanning import ScanAnswer, ScanRefused

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


def to_scan(s: pb.Scan, path: str = "scan") -> commands.RecordScan:
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
        device_time=s.device_time.ToDatetime(tzinfo=UTC) if s.HasField("device_time") else None,
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


def subject(s: Subject) -> pb.Subject:
    kind = pb.SubjectKind.Value(f"SUBJECT_KIND_{s.kind}")
    return pb.Subject(
        kind=kind,
        key=s.key,
        item_type_code=s.item_type_code,
        gtin=s.gtin,
        expiry_date=c.date_to_proto(s.expires_on),
        depot_code=s.depot_code,
        action=c.enum_to_proto(ACTION[0], s.action, ACTION[1]),
    )


def encode(cmd: commands.RecordScan, outcome: ScanOutcome) -> bytes:
    """What is stored with the scan and replayed for a repeated scan_id."""
    result = pb.ScanResult(
        scan_id=cmd.scan_id,
        accepted=True,
        subject=subject(outcome.subject),
        kit_label=outcome.kit_label,
        kit_state=c.enum_to_proto(STATE[0], outcome.kit_state, STATE[1]),
    )
    result.status.code = 0
    return result.SerializeToString()


def recorded(stored: StoredScan) -> pb.ScanResult:
    result = pb.ScanResult.FromString(stored.payload)
    result.ledger_seq = stored.seq
    result.record_time.FromDatetime(stored.recorded_at)
    return result


def refused(scan_id: str, error: DomainError) -> pb.ScanResult:
    _, status = to_status(error)
    return pb.ScanResult(scan_id=scan_id, accepted=False, status=status)


def answer(a: ScanAnswer) -> pb.ScanResult:
    return refused(a.scan_id, a.error) if isinstance(a, ScanRefused) else recorded(a)


def invalid(scan_id: str, error: InvalidArgument) -> pb.ScanResult:
    return refused(scan_id, error)


def scanned_code(v: Violations, path: str, value: str) -> str:
    return _scanned(v, path, value, required=True)
