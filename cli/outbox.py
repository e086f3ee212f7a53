"""`sitoo-bloomreach outbox …`: inspect and repair order delivery."""

from __future__ import annotations

import argparse
from typing import Any

from cli.admin import ADMIN_DEADLINE_SECONDS, CommandError, call_admin, print_message
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

_DEADLINE = ADMIN_DEADLINE_SECONDS


def _stats_text(data: dict[str, Any]) -> str:
    counts = sorted(data.get("counts_by_state", {}).items())
    return "\n".join(
        [f"{state:10} {count}" for state, count in counts]
        + [f"oldest pending: {data.get('oldest_pending_age_seconds', 0):.0f} s"]
    )


def _list_text(data: dict[str, Any]) -> str:
    rows = (
        f"{m['id']}\t{m.get('integration')}\t{m.get('kind') or 'order'}\t"
        f"{m.get('order_key')}\t{m.get('state')}\t"
        f"attempts={m.get('attempts', 0)}\t{m.get('last_error', '')}"
        for m in data.get("messages", [])
    )
    return "\n".join(rows) or "no messages"


def stats(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.GetOutboxStatsRequest(integration=args.integration or "")
    found = call_admin(
        settings, lambda stub, md: stub.GetOutboxStats(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(found, args.json, _stats_text)
    return 0


def list_(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.ListOutboxMessagesRequest(
        integration=args.integration or "", state=args.state or "", limit=args.limit
    )
    listed = call_admin(
        settings,
        lambda stub, md: stub.ListOutboxMessages(request, metadata=md, timeout=_DEADLINE),
    )
    print_message(listed, args.json, _list_text)
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.GetOutboxMessageRequest(id=args.id)
    shown = call_admin(
        settings, lambda stub, md: stub.GetOutboxMessage(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(shown, True, lambda d: "")
    return 0


def replay(settings: Settings, args: argparse.Namespace) -> int:
    if args.id is None and not args.all_dead:
        raise CommandError("give a message ID or --all-dead", 2)
    request = (
        pb.ReplayOutboxRequest(id=args.id)
        if args.id is not None
        else pb.ReplayOutboxRequest(all_dead=True, integration=args.integration or "")
    )
    replayed = call_admin(
        settings, lambda stub, md: stub.ReplayOutbox(request, metadata=md, timeout=_DEADLINE)
    )
    print(f"replayed {replayed.replayed} message(s)")
    return 0


def add_outbox_parser(commands: Any) -> None:
    parser = commands.add_parser("outbox", help="inspect and repair order delivery")
    actions = parser.add_subparsers(dest="outbox_action", required=True)
    stats_p = actions.add_parser("stats", help="counts by state, age of the oldest pending message")
    stats_p.set_defaults(handler=stats)
    listing = actions.add_parser("list", help="list messages")
    listing.add_argument(
        "--state", choices=("pending", "in_flight", "delivered", "skipped", "dead")
    )
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(handler=list_)
    show_p = actions.add_parser("show", help="one message with its payload and last error")
    show_p.add_argument("id", type=int)
    show_p.set_defaults(handler=show)
    replay_p = actions.add_parser("replay", help="send dead messages again")
    replay_p.add_argument("id", type=int, nargs="?")
    replay_p.add_argument("--all-dead", action="store_true")
    replay_p.set_defaults(handler=replay)
    for sub in (stats_p, listing, replay_p):
        sub.add_argument("--integration")
    for sub in (stats_p, listing, show_p, replay_p):
        sub.add_argument("--json", action="store_true")
