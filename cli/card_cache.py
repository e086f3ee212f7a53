"""`sitoo-bloomreach cache stats|purge --integration NAME`: the card cache (issue 15)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from cli.admin import ADMIN_DEADLINE_SECONDS, call_admin, print_message
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

_DEADLINE = ADMIN_DEADLINE_SECONDS


def _age(stored_at: float, now: float) -> str:
    if not stored_at:
        return "-"
    seconds = max(0, int(now - stored_at))
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h {seconds % 3600 // 60}m"


def stats(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.CardCacheRequest(integration=args.integration)
    found = call_admin(
        settings, lambda stub, md: stub.GetCardCacheStats(request, metadata=md, timeout=_DEADLINE)
    )
    now = time.time()

    def text(_: dict[str, Any]) -> str:
        return "\n".join(
            (
                f"integration:   {found.integration}",
                f"cached reads:  {'on' if found.cached_reads else 'off'}",
                f"cards:         {found.cards:,} of at most {found.max_cards:,}",
                f"expired:       {found.expired:,} (deleted by the retention purge)",
                f"ttl:           {found.ttl_seconds:,} s",
                f"oldest card:   {_age(found.oldest_stored_at, now)}",
                f"newest card:   {_age(found.newest_stored_at, now)}",
            )
        )

    print_message(found, args.json, text)
    return 0


def purge(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.CardCacheRequest(integration=args.integration)
    done = call_admin(
        settings, lambda stub, md: stub.PurgeCardCache(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(done, args.json, lambda _: f"purged {done.purged:,} cached card(s)")
    return 0


def add_cache_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "cache",
        help="the card cache: customer cards answered when Bloomreach fails",
    )
    actions = parser.add_subparsers(dest="cache_action", required=True)
    for name, handler, text in (
        ("stats", stats, "how many cards, how old, the bounds"),
        ("purge", purge, "forget every cached card of the integration"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("--integration", required=True)
        action.add_argument("--json", action="store_true")
        action.set_defaults(handler=handler)
