"""`sitoo-bloomreach client …`: the named callers of the core's gRPC API, over the AdminService."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict

from cli.admin import ADMIN_DEADLINE_SECONDS, CommandError, call_admin
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

SCOPES = ("customers:read", "customers:write", "orders:ingest", "admin")
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DEADLINE = ADMIN_DEADLINE_SECONDS


def parse_grace(value: str) -> int:
    match = _DURATION.match(value.strip())
    if not match:
        raise CommandError(
            f"--grace takes seconds or a duration like 30m, 24h, 7d; got {value!r}", 2
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise CommandError("--grace must be positive (use `client revoke-old` to end it now)", 2)
    return seconds


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _client_text(client: pb.ApiClient) -> str:
    kind = "built-in" if client.builtin else "managed"
    lines = [f"{client.name}\t{kind}\tscopes: {' '.join(client.scopes)}"]
    if client.tls_subject:
        lines.append(f"  mTLS certificate CN: {client.tls_subject}")
    if client.builtin:
        setting = "SITOO_BR_SERVICE_TOKEN" if client.name == "edge" else "SITOO_BR_ADMIN_TOKEN"
        lines.append(f"  token: the process setting {setting}")
    for token in client.tokens:
        until = f"valid until {_when(token.expires_at)}" if token.expires_at else "current"
        lines.append(f"  token sbr_{token.key_id}_…  issued {_when(token.created_at)}  {until}")
    return "\n".join(lines)


def _issued(issued: pb.IssuedClientToken, as_json: bool, what: str) -> None:
    if as_json:
        print(json.dumps(MessageToDict(issued, preserving_proto_field_name=True), indent=2))
        return
    print(_client_text(issued.client))
    print(f"{what} (shown once; only its hash is stored; give it to the client now):")
    print(issued.token)


def create(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.CreateClientRequest(
        name=args.name, scopes=args.scope, tls_subject=args.tls_subject or ""
    )
    issued = call_admin(
        settings, lambda stub, md: stub.CreateClient(request, metadata=md, timeout=_DEADLINE)
    )
    _issued(issued, args.json, "Token")
    return 0


def list_(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.ListClientsRequest()
    listed = call_admin(
        settings, lambda stub, md: stub.ListClients(request, metadata=md, timeout=_DEADLINE)
    )
    if args.json:
        data: dict[str, Any] = MessageToDict(listed, preserving_proto_field_name=True)
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(_client_text(c) for c in listed.clients))
    return 0


def rotate(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.RotateClientTokenRequest(
        name=args.name, grace_seconds=parse_grace(args.grace) if args.grace else 0
    )
    issued = call_admin(
        settings, lambda stub, md: stub.RotateClientToken(request, metadata=md, timeout=_DEADLINE)
    )
    _issued(issued, args.json, "New token (the previous one works until the time above)")
    return 0


def revoke_old(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.RevokeOldClientTokensRequest(name=args.name)
    client = call_admin(
        settings,
        lambda stub, md: stub.RevokeOldClientTokens(request, metadata=md, timeout=_DEADLINE),
    )
    print(_client_text(client))
    return 0


def delete(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        raise CommandError(
            f"deleting client {args.name!r} refuses its tokens at once; add --yes to confirm",
            2,
        )
    request = pb.DeleteClientRequest(name=args.name)
    call_admin(
        settings, lambda stub, md: stub.DeleteClient(request, metadata=md, timeout=_DEADLINE)
    )
    print(f"deleted client {args.name}")
    return 0


def add_client_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "client", help="callers of the core's gRPC API: their tokens and scopes"
    )
    actions = parser.add_subparsers(dest="client_action", required=True)
    create_p = actions.add_parser("create", help="a new client; prints its token once")
    create_p.add_argument("name", help="lower-case letters, digits, '.', '_', '-'")
    create_p.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=SCOPES,
        help="what it may call (repeat for several)",
    )
    create_p.add_argument(
        "--tls-subject",
        metavar="CN",
        help="also identify it by this client-certificate common name (mTLS)",
    )
    listing = actions.add_parser("list", help="clients, scopes and token ids (never tokens)")
    rotate_p = actions.add_parser(
        "rotate", help="a new token; the previous one keeps working for the grace period"
    )
    rotate_p.add_argument("name")
    rotate_p.add_argument(
        "--grace",
        help="how long the previous token keeps working (seconds, or 30m, 24h, 7d; "
        "default: SITOO_BR_API_CLIENT_ROTATION_GRACE_SECONDS of the core)",
    )
    revoke = actions.add_parser(
        "revoke-old", help="end a rotation's overlap now: only the newest token works"
    )
    revoke.add_argument("name")
    delete_p = actions.add_parser("delete", help="remove a client; its tokens stop working")
    delete_p.add_argument("name")
    delete_p.add_argument("--yes", action="store_true", help="confirm")
    create_p.set_defaults(handler=create)
    listing.set_defaults(handler=list_)
    rotate_p.set_defaults(handler=rotate)
    revoke.set_defaults(handler=revoke_old)
    delete_p.set_defaults(handler=delete)
    for sub in (create_p, listing, rotate_p):
        sub.add_argument("--json", action="store_true", help="machine-readable output")
