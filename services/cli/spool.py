"""A durable spool for scans: nothing a scanner read is lost while inventory is away.

The spool is a folder (by default `~/.local/share/muster/spool/<depot>`, under
`$XDG_DATA_HOME` when that is set) holding append-only journals, JSON lines:

    pending.jsonl    every scan, appended and fsynced BEFORE it is sent:
                     {"scan_id", "queued_at", "scan": the pb.Scan as protobuf JSON}
    acked.jsonl      the scan_id of every scan the server answered, appended
                     and fsynced AFTER the answer arrived
    outcomes.jsonl   the refused answers (reason and message), for the person
    lock             held (flock) by the one `muster scan` writing this spool

A scan is waiting while its id is in pending and not in acked; the waiting
scans, in file order, are the order they were read, and they are sent in that
order. An accepted and a refused answer are both final: the scan is acked
either way (a refusal is written to outcomes first).

Crashes:
- during an append: the torn last line was never fsynced, so its scan was
  never sent; opening the spool cuts it off;
- between send and ack: the scan is still waiting and is sent again. That is
  safe because the server is exactly-once on scan_id: a scan_id it has
  recorded answers its first result and changes nothing;
- during compaction: pending is replaced first (temp file, fsync, os.replace,
  fsync of the folder), then acked is emptied the same way; a crash in between
  leaves acked naming ids no longer pending, which is harmless.

Compaction runs whenever nothing is waiting any more, so the journals stay
small on a handheld that is mostly online.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from google.protobuf import json_format
from muster.inventory.v1 import inventory_service_pb2 as pb

PENDING = "pending.jsonl"
ACKED = "acked.jsonl"
OUTCOMES = "outcomes.jsonl"
LOCK = "lock"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SpoolError(RuntimeError):
    """The spool cannot be used (in use by another process, or a bad name)."""


@dataclass(frozen=True)
class Waiting:
    """A scan in the spool that has no answer yet."""

    scan: pb.Scan
    queued_at: datetime

    @property
    def scan_id(self) -> str:
        return self.scan.scan_id


@dataclass(frozen=True)
class Refusal:
    """A refused answer, as kept in the outcome log."""

    scan_id: str
    answered_at: datetime
    action: str
    code: str
    status: str
    reason: str
    message: str


def spool_root() -> Path:
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "muster" / "spool"


def default_folder(depot_code: str) -> Path:
    if not _SAFE_NAME.match(depot_code):
        raise SpoolError(f"{depot_code!r} cannot name a spool folder; pass --spool PATH")
    return spool_root() / depot_code


def now() -> datetime:
    return datetime.now(UTC)


# ------------------------------------------------------------------ reading (no lock)


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """The complete JSON lines of a journal; a torn last line is skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    for line in complete.splitlines():
        if line.strip():
            yield json.loads(line)


def _decode(entry: dict[str, Any]) -> Waiting:
    scan = json_format.ParseDict(entry["scan"], pb.Scan())
    return Waiting(scan, datetime.fromisoformat(entry["queued_at"]))


def read_waiting(folder: Path) -> list[Waiting]:
    """The scans waiting in a spool, oldest first, without taking its lock."""
    acked = {entry["scan_id"] for entry in _lines(folder / ACKED)}
    return [_decode(e) for e in _lines(folder / PENDING) if e["scan_id"] not in acked]


def read_refusals(folder: Path) -> list[Refusal]:
    return [
        Refusal(
            scan_id=e["scan_id"],
            answered_at=datetime.fromisoformat(e["answered_at"]),
            action=e["action"],
            code=e["code"],
            status=e["status"],
            reason=e["reason"],
            message=e["message"],
        )
        for e in _lines(folder / OUTCOMES)
    ]


# ------------------------------------------------------------------ writing


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline: it was never fsynced, so never sent."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())


def _replace(path: Path, lines: Iterable[str]) -> None:
    """Atomically make `path` hold `lines`: temp file, fsync, os.replace, fsync folder."""
    temp = path.with_name(path.name + ".tmp")
    with temp.open("w", encoding="utf-8") as f:
        f.writelines(lines)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)
    _fsync_folder(path.parent)


class Spool:
    """The writer of one spool folder; one process at a time (an flock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = (folder / LOCK).open("a")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolError(f"{folder} is in use by another `muster scan`") from None
        for name in (PENDING, ACKED, OUTCOMES):
            _cut_torn_tail(folder / name)
        self._waiting = {w.scan_id: w for w in read_waiting(folder)}
        self._compact_if_idle()
        self._pending: IO[str] = (folder / PENDING).open("a", encoding="utf-8")
        self._acked: IO[str] = (folder / ACKED).open("a", encoding="utf-8")
        _fsync_folder(folder)

    def close(self) -> None:
        for f in (self._pending, self._acked, self._lock):
            f.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def waiting(self) -> list[Waiting]:
        """Scans without an answer, oldest first."""
        return list(self._waiting.values())

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, scan: pb.Scan) -> Waiting:
        """Journal a scan durably; call before sending it."""
        entry = Waiting(scan, now())
        record = {
            "scan_id": scan.scan_id,
            "queued_at": entry.queued_at.isoformat(),
            "scan": json_format.MessageToDict(scan, preserving_proto_field_name=True),
        }
        _append(self._pending, [record])
        self._waiting[scan.scan_id] = entry
        return entry

    def answered(self, results: Iterable[pb.ScanResult], refusals: Iterable[Refusal]) -> None:
        """Mark scans answered: refusals to the outcome log first, then the acks."""
        refused = list(refusals)
        if refused:
            with (self.folder / OUTCOMES).open("a", encoding="utf-8") as outcomes:
                _append(outcomes, [_refusal_record(r) for r in refused])
        ids = [r.scan_id for r in results if r.scan_id in self._waiting]
        stamp = now().isoformat()
        _append(self._acked, [{"scan_id": i, "acked_at": stamp} for i in ids])
        for scan_id in ids:
            del self._waiting[scan_id]
        if not self._waiting:
            self._compact()

    def _compact_if_idle(self) -> None:
        journals = [self.folder / PENDING, self.folder / ACKED]
        if not self._waiting and any(p.exists() and p.stat().st_size for p in journals):
            for path in journals:
                _replace(path, [])

    def _compact(self) -> None:
        """Nothing waits: empty pending, then acked, each atomically."""
        self._pending.close()
        self._acked.close()
        _replace(self.folder / PENDING, [])
        _replace(self.folder / ACKED, [])
        self._pending = (self.folder / PENDING).open("a", encoding="utf-8")
        self._acked = (self.folder / ACKED).open("a", encoding="utf-8")


def _append(f: IO[str], records: list[dict[str, Any]]) -> None:
    if not records:
        return
    f.write("".join(json.dumps(r, ensure_ascii=True) + "\n" for r in records))
    f.flush()
    os.fsync(f.fileno())


def _refusal_record(r: Refusal) -> dict[str, Any]:
    return {
        "scan_id": r.scan_id,
        "answered_at": r.answered_at.isoformat(),
        "action": r.action,
        "code": r.code,
        "status": r.status,
        "reason": r.reason,
        "message": r.message,
    }
