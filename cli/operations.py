"""Operations commands: `integration validate`, `backfill`, `reconcile`, `retention run`."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict

from cli.admin import CommandError, call_admin
from cli.progress import ProgressDisplay
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

# Validation's round trip waits for a relay to deliver the test order.
VALIDATE_DEADLINE_SECONDS = 180.0
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_time(value: str, *, now: float | None = None) -> int:
    """Unix seconds from `2024-05-01`, `2024-05-01T12:00:00[+02:00]` (UTC unless given), an
    integer of Unix seconds, or a duration ago (`26h`, `90m`, `7d`)."""
    now = time.time() if now is None else now
    text = value.strip()
    if text.isdigit():
        return int(text)
    match = _DURATION.match(text)
    if match:
        return int(now - float(match.group(1)) * _UNITS[match.group(2)])
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"cannot read {value!r} as a date: use 2024-05-01, 2024-05-01T12:00:00, "
            "Unix seconds, or a duration ago like 26h",
            2,
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def _when(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---- validate ----


def report_text(report: pb.ValidationReport) -> str:
    lines = [f"Validating integration {report.integration}"]
    for check in report.checks:
        mark = "SKIP" if check.skipped else ("PASS" if check.passed else "FAIL")
        lines.append(f"[{mark}] {check.name}: {check.detail}")
        if not check.passed and not check.skipped and check.remedy:
            lines.append(f"       fix: {check.remedy}")
    failed = sum(1 for c in report.checks if not c.passed and not c.skipped)
    lines.append(
        "All checks passed." if report.passed else f"{failed} check(s) failed: see 'fix' above."
    )
    return "\n".join(lines)


def validate_command(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.ValidateIntegrationRequest(name=args.name, skip_round_trip=args.skip_round_trip)
    report = call_admin(
        settings,
        lambda stub, md: stub.ValidateIntegration(
            request, metadata=md, timeout=VALIDATE_DEADLINE_SECONDS
        ),
    )
    if args.json:
        data = MessageToDict(
            report, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(report_text(report))
    return 0 if report.passed else 1


# ---- backfill and reconcile ----


def _stream(settings: Settings, request: pb.BackfillRequest, label: str, quiet: bool) -> Any:
    display = None if quiet else ProgressDisplay(label)
    missed: list[int] = []

    async def go(stub: Any, metadata: Any) -> pb.BackfillProgress:
        last = pb.BackfillProgress()
        async for progress in stub.Backfill(request, metadata=metadata):
            last = progress
            missed.extend(progress.missed_order_ids)
            if display is not None:
                display.update(
                    progress.scanned,
                    progress.total,
                    f"enqueued={progress.enqueued} known={progress.already_known}",
                    final=progress.done,
                )
        return last

    final = call_admin(settings, go)
    return final, missed


def backfill_command(settings: Settings, args: argparse.Namespace) -> int:
    date_from = parse_time(args.date_from)
    date_to = parse_time(args.date_to) if args.date_to else int(time.time())
    request = pb.BackfillRequest(
        integration=args.integration, from_date=date_from, to_date=date_to, dry_run=args.dry_run
    )
    final, _ = _stream(settings, request, "backfill", args.json)
    return _summary(final, args, "backfill", window=(date_from, date_to), missed=None)


def reconcile_command(settings: Settings, args: argparse.Namespace) -> int:
    now = time.time()
    since = args.since or f"{settings.reconcile_window_hours:g}h"
    date_from = parse_time(since, now=now)
    date_to = parse_time(args.until, now=now) if args.until else int(now)
    request = pb.BackfillRequest(
        integration=args.integration,
        from_date=date_from,
        to_date=date_to,
        dry_run=args.dry_run,
        reconcile=True,
    )
    final, missed = _stream(settings, request, "reconcile", args.json)
    return _summary(final, args, "reconcile", window=(date_from, date_to), missed=missed)


def _summary(
    final: pb.BackfillProgress,
    args: argparse.Namespace,
    kind: str,
    *,
    window: tuple[int, int],
    missed: list[int] | None,
) -> int:
    date_from, date_to = window
    if not final.done:
        raise CommandError(f"{kind} ended before it was done; run it again to continue")
    verb = "would enqueue" if args.dry_run else "enqueued"
    if args.json:
        data: dict[str, Any] = {
            "kind": kind,
            "integration": args.integration,
            "from": date_from,
            "to": date_to,
            "dry_run": args.dry_run,
            "scanned": final.scanned,
            "enqueued": final.enqueued,
            "already_known": final.already_known,
            "resumed": final.resumed,
            "job": final.job_key,
        }
        if missed is not None:
            data["missed_order_ids"] = missed
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    resumed = " (continued an interrupted run)" if final.resumed else ""
    print(
        f"{kind} {args.integration} {_when(date_from)} .. {_when(date_to)}{resumed}: "
        f"{final.scanned} orders scanned, {final.enqueued} {verb}, "
        f"{final.already_known} already known"
    )
    if missed is not None:
        if missed:
            print(f"the webhooks missed {len(missed)} order(s): {', '.join(map(str, missed))}")
        else:
            print("the webhooks missed nothing")
    return 0


# ---- retention ----

_RETENTION_WHAT = {
    "inbox_events": "webhook events received",
    "outbox_messages": "delivered/skipped messages finished",
    "quarantine": "quarantined bodies received",
    "card_cache": "cached customer cards expired",
}
# A long first purge shows it is alive on stderr this often.
RETENTION_PROGRESS_EVERY_S = 5.0


def retention_text(progress: pb.RetentionProgress) -> str:
    verb = "would be deleted (dry run)" if progress.dry_run else "deleted"
    lines = [f"retention: rows {verb}"]
    for t in progress.tables:
        what = _RETENTION_WHAT.get(t.table, "rows")
        # Cached cards (issue 15) go at their own expiry (the integration's TTL).
        kept = "per integration TTL" if t.table == "card_cache" else f"kept {t.keep_days} days"
        lines.append(
            f"  {t.table:<16} {t.deleted:>10}  {what} before {_when(int(t.cutoff))} ({kept})"
        )
    total = sum(t.deleted for t in progress.tables)
    lines.append(f"  {'total':<16} {total:>10}  in {progress.elapsed_seconds:.1f} s")
    return "\n".join(lines)


def retention_command(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.RunRetentionRequest(dry_run=args.dry_run)

    async def go(stub: Any, metadata: Any) -> pb.RetentionProgress:
        last = pb.RetentionProgress()
        shown = time.monotonic()
        # No deadline: a first purge of a large database takes minutes; Ctrl-C cancels the
        # call and the core stops after the chunk in hand.
        async for progress in stub.RunRetention(request, metadata=metadata):
            last = progress
            if not args.json and time.monotonic() - shown >= RETENTION_PROGRESS_EVERY_S:
                shown = time.monotonic()
                deleted = sum(t.deleted for t in progress.tables)
                print(f"retention: {deleted} rows deleted so far", file=sys.stderr, flush=True)
        return last

    final = call_admin(settings, go)
    if not final.done:
        raise CommandError("retention ended before it was done; run it again to continue")
    if args.json:
        data = {
            "dry_run": final.dry_run,
            "elapsed_seconds": final.elapsed_seconds,
            "tables": {
                t.table: {"deleted": t.deleted, "cutoff": t.cutoff, "keep_days": t.keep_days}
                for t in final.tables
            },
        }
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(retention_text(final))
    return 0


def add_validate_parser(integration_actions: Any) -> None:
    validate = integration_actions.add_parser(
        "validate",
        help="the guide's step 7: credentials, permissions, consents, Sitoo, and a live "
        "round trip (test customer and test order, anonymized afterwards)",
    )
    validate.add_argument("name")
    validate.add_argument("--json", action="store_true", help="machine-readable output")
    validate.add_argument(
        "--skip-round-trip",
        action="store_true",
        help="only read-only checks: no test customer, no test order, nothing written",
    )
    validate.set_defaults(handler=validate_command)


def add_operations_parsers(commands: Any) -> None:
    backfill = commands.add_parser(
        "backfill",
        help="enqueue historical Sitoo orders (resumable; dedupes against tracked orders)",
    )
    backfill.add_argument("--integration", required=True)
    backfill.add_argument(
        "--from", dest="date_from", required=True, help="2024-05-01, ISO time, Unix s, or 30d"
    )
    backfill.add_argument("--to", dest="date_to", help="exclusive; default now")
    backfill.add_argument("--dry-run", action="store_true", help="count only, enqueue nothing")
    backfill.add_argument("--json", action="store_true", help="no progress bar; JSON summary")
    backfill.set_defaults(handler=backfill_command)
    reconcile = commands.add_parser(
        "reconcile", help="find and enqueue recent orders whose webhooks never arrived"
    )
    reconcile.add_argument("--integration", required=True)
    reconcile.add_argument("--since", help="start of the window (default: 26h ago)")
    reconcile.add_argument("--until", help="end of the window (default: now)")
    reconcile.add_argument("--dry-run", action="store_true", help="report only, enqueue nothing")
    reconcile.add_argument("--json", action="store_true")
    reconcile.set_defaults(handler=reconcile_command)
    retention = commands.add_parser(
        "retention",
        help="delete old inbox events, finished outbox messages and quarantined bodies "
        "(the relay does it every SITOO_BR_RETENTION_INTERVAL_SECONDS)",
    )
    retention_actions = retention.add_subparsers(
        dest="retention_action", required=True, metavar="ACTION"
    )
    run = retention_actions.add_parser(
        "run", help="purge now, by the core's SITOO_BR_RETENTION_* settings"
    )
    run.add_argument("--dry-run", action="store_true", help="count only, delete nothing")
    run.add_argument("--json", action="store_true", help="machine-readable summary")
    run.set_defaults(handler=retention_command)
