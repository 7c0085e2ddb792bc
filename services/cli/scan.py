"""`muster scan`: a depot scanner client for a keyboard-wedge scanner.

A keyboard-wedge scanner types each code it reads followed by Enter, so the
client reads standard input line by line. Only CR and LF are stripped; GS1's
FNC1 separator arrives as the GS character (0x1D), and `{GS}` typed by hand is
read as GS too. A line `quantity N` sets the quantity of the next lot scan,
`override REASON` the reason recorded with the next ISSUE (needed for a kit
that is not READY), and `count ID` the open count that COUNT scans belong to
(or `--count ID`).

Fixed action:

    muster scan --depot D-CORPS --action receive --bin '414...254A-01'

sends every code as a RECEIVE into that bin.

Station mode (`--action station`, or as soon as an action barcode is read):

    MUSTER-ACTION:RECEIVE     the following codes are received ...
    414<GLN>254A-01           ... into bin A-01 (a bin label sets the bin)
    01<GTIN>21SN-1            RECEIVE of unit SN-1 into A-01
    MUSTER-ACTION:PACK        switch to packing
    8004<GIAI>                a kit label under PACK or UNPACK sets the kit ...
    01<GTIN>21SN-1            ... and the next items go into (or out of) it
    quantity 3
    01<GTIN>17<date>10L-7     3 of lot L-7 into the kit

Action barcodes, bin labels and kit labels that set the station are not sent;
every other code becomes one Scan (a fresh uuid4 scan_id, the device time,
the current action, bin and kit). Codes that are not GS1 labels are refused
at once, locally, without being sent.

Each scan is answered at once: green when accepted (what it named, the kit and
its state), red with a terminal bell when refused (the ErrorInfo reason and
the message), yellow when queued because inventory cannot be reached.

Durability and exactly-once: every scan is written to the spool (spool.py)
and fsynced BEFORE it is sent, and marked answered only AFTER the server
answered; accepted and refused are both final answers. UNAVAILABLE,
DEADLINE_EXCEEDED, ABORTED and RESOURCE_EXHAUSTED (and a refused connection,
which gRPC reports as UNAVAILABLE) leave it waiting. While anything waits, a
background loop resends all waiting scans in order, in RecordScans batches of
at most 500, backing off exponentially up to 5 s; a new scan is never sent
before an older waiting one (while the service is away new scans are queued
behind them). A scan may reach the server and the answer be lost (a deadline,
a crash between send and ack): it is sent again with the same scan_id, and
the server, exactly-once on scan_id, answers its first result and changes
nothing. So every scan counts exactly once.

`muster scan --status` lists what is waiting; `muster scan --flush` sends it
and exits. Exit status: 0 when nothing is left waiting, 3 when scans still
wait in the spool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import re
import socket
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.rpc import error_details_pb2, status_pb2
from muster.inventory.v1 import inventory_service_pb2 as pb
from muster.inventory.v1 import inventory_service_pb2_grpc as pb_grpc
from rich.console import Console
from rich.table import Table
from rich.text import Text

from services.cli import credentials
from services.cli.spool import (
    Refusal,
    Spool,
    SpoolError,
    Waiting,
    default_folder,
    now,
    read_refusals,
    read_waiting,
    spool_root,
)
from services.common.auth import Role
from services.common.channels import aio_channel, client_tls
from services.common.settings import Env
from services.inventory.domain import labels

DEADLINE_S = 5.0
DEADLINE_PER_SCAN_S = 0.02  # a batch of 500 gets 15 s
MAX_BATCH = 500
FIRST_RETRY_S = 0.25
MAX_RETRY_S = 5.0
STATION = "STATION"
WAITING_EXIT = 3
DETAILS_KEY = "grpc-status-details-bin"
TRANSIENT = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)
# Reconnect soon after the service is back; the retry loop does its own backoff.
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
]
_QUANTITY = re.compile(r"quantity\s+(\d{1,7})", re.IGNORECASE)
_COUNT = re.compile(r"count\s+([A-Za-z0-9_-]{1,32})", re.IGNORECASE)
_OVERRIDE = re.compile(r"override\s+(.{1,200})", re.IGNORECASE)
_WITH_BIN = {pb.SCAN_ACTION_RECEIVE, pb.SCAN_ACTION_PUTAWAY, pb.SCAN_ACTION_COUNT}
_WITH_KIT = {pb.SCAN_ACTION_PACK, pb.SCAN_ACTION_UNPACK}
_ACTION_NAMES = [n.removeprefix("SCAN_ACTION_") for n in pb.ScanAction.keys()[1:]]


def action_number(name: str) -> int:
    """`receive`, `transfer-out`, `PACK` -> the ScanAction; ValueError when unknown."""
    return pb.ScanAction.Value("SCAN_ACTION_" + name.strip().upper().replace("-", "_"))


def action_name(number: int) -> str:
    return pb.ScanAction.Name(number).removeprefix("SCAN_ACTION_")


def human(code: str) -> str:
    try:
        return labels.human_readable(code)
    except Exception:  # biip refuses some inputs by raising; show them as read
        return code.replace(labels.GS, "<GS>")


@dataclass(frozen=True)
class Options:
    depot: str
    action: str  # an action name, or STATION
    bin_code: str = ""
    kit_code: str = ""
    count_id: str = ""
    operator: str = field(default_factory=getpass.getuser)
    device: str = field(default_factory=socket.gethostname)


# ------------------------------------------------------------------ reading lines


@dataclass(frozen=True)
class Switched:
    """A line that changed what the next scans mean; nothing is sent."""

    text: str


@dataclass(frozen=True)
class Rejected:
    """A line refused here, before sending: not a label, or no action yet."""

    code: str
    reason: str
    message: str


def normalise(line: str) -> str:
    return line.strip("\r\n").replace("{GS}", labels.GS)


class Station:
    """What the next scan means: its action, bin, kit and lot quantity."""

    def __init__(self, options: Options) -> None:
        self.depot = options.depot
        self.station = options.action.upper() == STATION
        self.action = 0 if self.station else action_number(options.action)
        self.bin_code = options.bin_code
        self.kit_code = options.kit_code
        self.quantity = 0
        self.count_id = options.count_id
        self.override_reason = ""
        self.operator = options.operator
        self.device = options.device

    def read(self, line: str) -> pb.Scan | Switched | Rejected | None:
        code = normalise(line)
        if not code.strip():
            return None
        if match := _QUANTITY.fullmatch(code.strip()):
            self.quantity = int(match.group(1))
            return Switched(f"quantity {self.quantity} for the next lot")
        if match := _COUNT.fullmatch(code.strip()):
            self.count_id = match.group(1)
            return Switched(f"counting for count {self.count_id}")
        if match := _OVERRIDE.fullmatch(code.strip()):
            self.override_reason = match.group(1).strip()
            return Switched(f"override for the next issue: {self.override_reason}")
        try:
            label = labels.parse(code)
        except labels.LabelError as error:
            return Rejected(code, error.reason, error.message)
        return self._setting(code, label) or self._scan(code, label)

    def _setting(self, code: str, label: labels.Label) -> Switched | Rejected | None:
        match label:
            case labels.ActionLabel(action=name):
                try:
                    self.action = action_number(name)
                except ValueError:
                    return Rejected(code, "UNKNOWN_ACTION", f"{name!r} is not a scan action")
                self.station = True
                return Switched(f"action {action_name(self.action)}")
            case labels.BinLabel(extension=extension) if self.station:
                self.bin_code = code
                return Switched(f"bin {extension}")
            case labels.KitLabel(giai=giai) if self.action in _WITH_KIT:
                self.kit_code = code
                verb = "into" if self.action == pb.SCAN_ACTION_PACK else "out of"
                return Switched(f"next items go {verb} kit {giai}")
        return None

    def _scan(self, code: str, label: labels.Label) -> pb.Scan | Rejected:
        if not self.action:
            return Rejected(code, "NO_ACTION", "scan an action barcode first")
        quantity = 0
        if isinstance(label, labels.LotLabel):
            quantity, self.quantity = self.quantity, 0
        override = ""
        if self.action == pb.SCAN_ACTION_ISSUE:
            override, self.override_reason = self.override_reason, ""
        scan = pb.Scan(
            scan_id=str(uuid.uuid4()),
            code=code,
            action=self.action,
            depot_code=self.depot,
            bin_code=self.bin_code if self.action in _WITH_BIN else "",
            kit_code=self.kit_code if self.action in _WITH_KIT else "",
            quantity=quantity,
            count_id=self.count_id if self.action == pb.SCAN_ACTION_COUNT else "",
            override_reason=override,
            operator=self.operator,
            device=self.device,
        )
        scan.device_time.FromDatetime(now())
        return scan


# ------------------------------------------------------------------ sending


class ServiceAway(Exception):
    """The call got no per-scan answer; the scans stay waiting."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details

    @property
    def transient(self) -> bool:
        return self.code in TRANSIENT


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The google.rpc.Status a failed call carries in its trailing metadata."""
    for key, value in error.trailing_metadata() or ():
        if key == DETAILS_KEY and isinstance(value, bytes):
            return status_pb2.Status.FromString(value)
    return status_pb2.Status(code=error.code().value[0], message=error.details() or "")


class Sender:
    """RecordScan for one scan (its refusal is a failed call), RecordScans for more."""

    def __init__(self, stub: pb_grpc.InventoryServiceStub) -> None:
        self._stub = stub

    async def send(self, scans: Sequence[pb.Scan]) -> list[pb.ScanResult]:
        return [await self._one(scans[0])] if len(scans) == 1 else await self._batch(scans)

    async def _one(self, scan: pb.Scan) -> pb.ScanResult:
        try:
            answer = await self._stub.RecordScan(
                pb.RecordScanRequest(scan=scan), timeout=DEADLINE_S
            )
        except grpc.aio.AioRpcError as error:
            if error.code() in TRANSIENT:
                raise ServiceAway(error.code(), error.details() or "") from None
            return pb.ScanResult(scan_id=scan.scan_id, accepted=False, status=status_of(error))
        return answer.result

    async def _batch(self, scans: Sequence[pb.Scan]) -> list[pb.ScanResult]:
        deadline = DEADLINE_S + DEADLINE_PER_SCAN_S * len(scans)
        try:
            answer = await self._stub.RecordScans(
                pb.RecordScansRequest(scans=scans), timeout=deadline
            )
        except grpc.aio.AioRpcError as error:
            raise ServiceAway(error.code(), error.details() or "") from None
        return list(answer.results)


def refusal(scan: pb.Scan, result: pb.ScanResult) -> Refusal:
    """The reason (ErrorInfo, else the status code) and message of a refused answer."""
    status = result.status
    code_name = grpc.StatusCode.UNKNOWN.name
    for c in grpc.StatusCode:
        if c.value[0] == status.code:
            code_name = c.name
    reason, message = code_name, status.message
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            message = "; ".join(f"{v.field}: {v.description}" for v in bad.field_violations)
    return Refusal(
        scan_id=scan.scan_id,
        answered_at=now(),
        action=action_name(scan.action),
        code=scan.code,
        status=code_name,
        reason=reason,
        message=message,
    )


# ------------------------------------------------------------------ showing


class Screen:
    """One line per answer, at once; a bell with every refusal."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def bell(self) -> None:
        self.console.file.write("\a")
        self.console.file.flush()

    def accepted(self, scan: pb.Scan, result: pb.ScanResult, late: bool) -> None:
        subject = result.subject
        line = Text("sent from spool: " if late else "", style="green")
        line.append(f"OK {action_name(scan.action)} ", style="bold green")
        kind = pb.SubjectKind.Name(subject.kind).removeprefix("SUBJECT_KIND_").lower()
        line.append(f"{kind} {subject.key}", style="green")
        if result.kit_label:
            state = pb.Kit.State.Name(result.kit_state).removeprefix("STATE_")
            line.append(f"  kit {result.kit_label} {state}", style="green")
        line.append(f"  #{result.ledger_seq}", style="dim")
        self.console.print(line)

    def refused(self, r: Refusal, late: bool) -> None:
        line = Text("sent from spool: " if late else "", style="red")
        line.append(f"REFUSED {r.action} {human(r.code)}: {r.reason}", style="bold red")
        line.append(f" - {r.message}", style="red")
        self.console.print(line)
        self.bell()

    def rejected(self, r: Rejected) -> None:
        self.console.print(
            Text(f"REFUSED {human(r.code)}: {r.reason} - {r.message} (not sent)", style="bold red")
        )
        self.bell()

    def switched(self, s: Switched) -> None:
        self.console.print(Text(f"-> {s.text}", style="cyan"))

    def queued(self, waiting: int, away: ServiceAway) -> None:
        self.console.print(
            Text(f"queued ({waiting} waiting): inventory {away.code.name}", style="yellow")
        )

    def failed(self, waiting: int, away: ServiceAway) -> None:
        self.console.print(
            Text(f"inventory failed a batch: {away}; {waiting} waiting, will retry", style="red")
        )

    def note(self, text: str, style: str = "yellow") -> None:
        self.console.print(Text(text, style=style))


# ------------------------------------------------------------------ the session


class ScanSession:
    """Reads lines, spools and sends scans, and resends what waits in the background."""

    def __init__(
        self, station: Station | None, spool: Spool, sender: Sender, console: Console
    ) -> None:
        self.station = station
        self.spool = spool
        self.sender = sender
        self.screen = Screen(console)
        self.away: ServiceAway | None = None
        self._lock = asyncio.Lock()
        self._backlog = asyncio.Event()
        self._idle = asyncio.Event()
        self._retrier: asyncio.Task[None] | None = None
        if not len(spool):
            self._idle.set()

    async def __aenter__(self) -> ScanSession:
        self._retrier = asyncio.create_task(self._retry())
        if len(self.spool):
            self.screen.note(f"{len(self.spool)} scans waiting from before; sending them first")
            await self.flush(late=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._retrier is not None:
            self._retrier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retrier

    async def handle(self, line: str) -> None:
        assert self.station is not None, "a flush-only session reads no lines"
        read = self.station.read(line)
        match read:
            case None:
                return
            case Switched():
                self.screen.switched(read)
            case Rejected():
                self.screen.rejected(read)
            case pb.Scan():
                self.spool.add(read)
                self._idle.clear()
                if self.away is not None:  # never overtake older waiting scans
                    self.screen.queued(len(self.spool), self.away)
                else:
                    await self.flush(late=False)

    async def flush(self, late: bool = True, quiet: bool = False) -> bool:
        """Send every waiting scan, oldest first; True when nothing waits any more."""
        async with self._lock:
            while waiting := self.spool.waiting()[:MAX_BATCH]:
                try:
                    results = await self.sender.send([w.scan for w in waiting])
                except ServiceAway as away:
                    self._went_away(away, quiet)
                    return False
                self.away = None
                self._answered(waiting, results, late or len(waiting) > 1)
            self._idle.set()
            return True

    def _went_away(self, away: ServiceAway, quiet: bool) -> None:
        repeated = self.away is not None and str(self.away) == str(away)
        self.away = away
        self._backlog.set()
        if quiet and repeated:
            return
        if away.transient:
            self.screen.queued(len(self.spool), away)
        else:
            self.screen.failed(len(self.spool), away)

    def _answered(
        self, waiting: Sequence[Waiting], results: Sequence[pb.ScanResult], late: bool
    ) -> None:
        scans = {w.scan_id: w.scan for w in waiting}
        answered = [r for r in results if r.scan_id in scans]
        refused = [refusal(scans[r.scan_id], r) for r in answered if not r.accepted]
        self.spool.answered(answered, refused)
        by_id = {r.scan_id: r for r in refused}
        for r in answered:
            if r.accepted:
                self.screen.accepted(scans[r.scan_id], r, late)
            else:
                self.screen.refused(by_id[r.scan_id], late)

    async def _retry(self) -> None:
        delay = FIRST_RETRY_S
        while True:
            await self._backlog.wait()
            await asyncio.sleep(delay)
            if await self.flush(late=True, quiet=True):
                self._backlog.clear()
                delay = FIRST_RETRY_S
            else:
                delay = min(delay * 2, MAX_RETRY_S)

    async def settle(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the background loop to empty the spool."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        return not len(self.spool)


@contextlib.asynccontextmanager
async def session(
    address: str, folder: Path, console: Console, options: Options | None = None
) -> AsyncIterator[ScanSession]:
    """A session on a spool folder and a channel to inventory at `address`."""
    station = Station(options) if options is not None else None
    with Spool(folder) as spool:
        # Depot staff at the depot scanned at, and at every depot a waiting scan names.
        depots = {w.scan.depot_code for w in spool.waiting()} | (
            {options.depot} if options is not None else set()
        )
        token = credentials.token_for(Role.DEPOT_STAFF, sorted(depots))
        async with aio_channel(
            address, token, client_tls(Env("cli", os.environ)), CHANNEL_OPTIONS
        ) as channel:
            sender = Sender(pb_grpc.InventoryServiceStub(channel))
            async with ScanSession(station, spool, sender, console) as s:
                yield s


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read in a daemon thread so Ctrl-C never waits for it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


async def _scan(address: str, folder: Path, options: Options, console: Console) -> int:
    async with session(address, folder, console, options) as s:
        mode = "station" if s.station and s.station.station else options.action.upper()
        s.screen.note(f"scanning at {options.depot} ({mode}); spool {folder}", style="dim")
        async for line in _stdin_lines():
            await s.handle(line)
        return _finish(s, await s.flush(quiet=True), folder)


async def _flush(address: str, folder: Path, console: Console) -> int:
    async with session(address, folder, console) as s:
        return _finish(s, await s.flush(quiet=True), folder)


def _finish(s: ScanSession, done: bool, folder: Path) -> int:
    if done:
        return 0
    s.screen.note(
        f"{len(s.spool)} scans wait in {folder}; the next `muster scan` "
        "(or `muster scan --flush`) sends them"
    )
    return WAITING_EXIT


def scan(address: str, folder: Path, options: Options, console: Console) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(_scan(address, folder, options, console))
    return WAITING_EXIT if read_waiting(folder) else 0


def flush(address: str, folder: Path, console: Console) -> int:
    return asyncio.run(_flush(address, folder, console))


# ------------------------------------------------------------------ --status


def status(folders: Sequence[Path], console: Console) -> int:
    """What waits in each spool folder, and the refusals kept in its outcome log."""
    waiting_total = 0
    for folder in folders:
        waiting = read_waiting(folder)
        waiting_total += len(waiting)
        if waiting:
            console.print(_waiting_table(folder, waiting))
        refusals = read_refusals(folder)
        if refusals:
            console.print(_refusal_table(folder, refusals))
    if waiting_total:
        console.print(f"[yellow]{waiting_total} waiting[/]")
    else:
        console.print("[green]nothing waiting[/]")
    return 0


def _waiting_table(folder: Path, waiting: Sequence[Waiting]) -> Table:
    table = Table(title=f"waiting in {folder}", title_justify="left")
    for column in ("#", "scan id", "action", "code", "bin", "kit", "qty", "queued"):
        table.add_column(column, overflow="fold")
    for i, w in enumerate(waiting, 1):
        s = w.scan
        table.add_row(
            str(i),
            s.scan_id,
            action_name(s.action),
            human(s.code),
            human(s.bin_code) if s.bin_code else "",
            human(s.kit_code) if s.kit_code else "",
            str(s.quantity or ""),
            f"{w.queued_at.astimezone():%Y-%m-%d %H:%M:%S}",
        )
    return table


def _refusal_table(folder: Path, refusals: Sequence[Refusal]) -> Table:
    table = Table(title=f"refused (outcome log of {folder})", title_justify="left")
    for column in ("answered", "action", "code", "reason", "message"):
        table.add_column(column, overflow="fold")
    for r in refusals[-20:]:
        table.add_row(
            f"{r.answered_at.astimezone():%Y-%m-%d %H:%M:%S}",
            r.action,
            human(r.code),
            Text(r.reason, style="red"),
            r.message,
        )
    return table


# ------------------------------------------------------------------ the command line


def add_arguments(parser: argparse.ArgumentParser, default_address: str) -> None:
    parser.add_argument("--depot", help="the depot's code (names the default spool)")
    parser.add_argument("--action", help="receive, putaway, pack, unpack, issue, ... or station")
    parser.add_argument("--bin", default="", help="the bin's label (GS1 414+254)")
    parser.add_argument("--kit", default="", help="the kit's label (GS1 8004) for pack/unpack")
    parser.add_argument("--count", default="", help="the open count's id, for count scans")
    parser.add_argument("--operator", default=None, help="who scans (default: the login)")
    parser.add_argument("--device", default=None, help="this scanner's id (default: hostname)")
    parser.add_argument("--spool", type=Path, default=None, help="the spool folder")
    parser.add_argument("--address", default=default_address, help="inventory HOST:PORT")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--status", action="store_true", help="show what waits, then exit")
    what.add_argument("--flush", action="store_true", help="send what waits, then exit")


def command(args: argparse.Namespace, console: Console) -> int:
    try:
        if args.status:
            return status(_status_folders(args), console)
        folder = args.spool or _require_depot_folder(args)
        if args.flush:
            return flush(args.address, folder, console)
        return scan(args.address, folder, _options(args), console)
    except SpoolError as error:
        console.print(f"[red]{error}[/]")
        return 1


def _require_depot_folder(args: argparse.Namespace) -> Path:
    if not args.depot:
        raise SpoolError("pass --depot CODE (or --spool PATH)")
    return default_folder(args.depot)


def _status_folders(args: argparse.Namespace) -> list[Path]:
    if args.spool or args.depot:
        return [args.spool or default_folder(args.depot)]
    root = spool_root()
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _options(args: argparse.Namespace) -> Options:
    if not args.depot or not args.action:
        raise SpoolError("scanning needs --depot CODE and --action ACTION (or station)")
    if args.action.upper() != STATION:
        try:
            action_number(args.action)
        except ValueError:
            names = ", ".join(a.lower() for a in _ACTION_NAMES)
            raise SpoolError(f"--action {args.action!r}: one of {names}, station") from None
    found = {
        "operator": args.operator,
        "device": args.device,
    }
    return Options(
        depot=args.depot,
        action=args.action,
        bin_code=normalise(args.bin),
        kit_code=normalise(args.kit),
        count_id=args.count,
        **{k: v for k, v in found.items() if v is not None},
    )
