"""Which token the CLI sends, and `muster token` to issue development tokens.

In order: `MUSTER_TOKEN` (what an operator is given); else, on a development
machine, a token minted on the spot for the role the command needs, signed
with the development key `make run` made (`var/auth/signing-key.pem`, or
`MUSTER_AUTH_SIGNING_KEY`). Production services never see a signing key.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

import grpc
from rich.console import Console

from services.common.auth import Role, TokenIssuer, TokenSource, load_private_key
from services.common.channels import client_tls, sync_channel
from services.common.settings import Env

DEV_KEY = Path("var/auth/signing-key.pem")


def signing_key_path() -> Path:
    return Path(os.environ.get("MUSTER_AUTH_SIGNING_KEY") or DEV_KEY)


def issue(
    role: Role, depots: Iterable[str] = (), subject: str = "", ttl: timedelta = timedelta(hours=12)
) -> str:
    path = signing_key_path()
    if not path.exists():
        raise SystemExit(
            f"no signing key at {path}: set MUSTER_TOKEN to a token you were given "
            "(or run `make run` once on a development machine)"
        )
    who = subject or f"{getpass.getuser()}@cli"
    return TokenIssuer(load_private_key(path)).issue(who, [role], depots, ttl)


def token_for(role: Role, depots: Iterable[str] = ()) -> TokenSource:
    given = os.environ.get("MUSTER_TOKEN")
    if given:
        return lambda: given
    minted = issue(role, depots)
    return lambda: minted


def channel(address: str, role: Role, depots: Iterable[str] = ()) -> grpc.Channel:
    return sync_channel(address, token_for(role, depots), client_tls(Env("cli", os.environ)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", required=True, choices=[r.value for r in Role])
    parser.add_argument("--depot", action="append", default=[], help="for depot_staff (repeat)")
    parser.add_argument("--subject", default="", help="who the token names (default: you)")
    parser.add_argument("--hours", type=float, default=12.0, help="valid for (default 12)")


def command(args: argparse.Namespace, console: Console) -> int:
    role = Role(args.role)
    if role is Role.DEPOT_STAFF and not args.depot:
        raise SystemExit("--role depot_staff needs at least one --depot CODE")
    token = issue(role, args.depot, args.subject, timedelta(hours=args.hours))
    print(token)
    return 0
