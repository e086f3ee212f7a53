"""`sitoo-bloomreach quarantine …`: malformed webhook bodies kept for inspection."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from cli.admin import ADMIN_DEADLINE_SECONDS, call_admin, print_message
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

_DEADLINE = ADMIN_DEADLINE_SECONDS


def list_(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.ListQuarantineRequest(integration=args.integration or "", limit=args.limit)
    listed = call_admin(
        settings, lambda stub, md: stub.ListQuarantine(request, metadata=md, timeout=_DEADLINE)
    )
    if args.json:
        print_message(listed, True, lambda d: "")
        return 0
    for payload in listed.payloads:
        print(f"{payload.id}\t{payload.integration}\t{payload.received_at}\t{payload.reason}")
    if not listed.payloads:
        print("quarantine is empty")
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.GetQuarantinedRequest(id=args.id)
    shown = call_admin(
        settings, lambda stub, md: stub.GetQuarantined(request, metadata=md, timeout=_DEADLINE)
    )
    print(f"id:          {shown.id}\nintegration: {shown.integration}")
    print(f"received_at: {shown.received_at}\nrequest_id:  {shown.request_id}")
    print(f"reason:      {shown.reason}\nbody:")
    sys.stdout.write(shown.raw_body.decode("utf-8", errors="replace") + "\n")
    return 0


def add_quarantine_parser(commands: Any) -> None:
    parser = commands.add_parser("quarantine", help="malformed webhook bodies kept for inspection")
    actions = parser.add_subparsers(dest="quarantine_action", required=True)
    listing = actions.add_parser("list")
    listing.add_argument("--integration")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=list_)
    show_p = actions.add_parser("show")
    show_p.add_argument("id", type=int)
    show_p.set_defaults(handler=show)
