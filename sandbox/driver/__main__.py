"""Command line for the Sitoo-side driver (wired as ``sitoo-bloomreach sandbox driver ARGS``).

Subcommands print JSON on stdout. Exit codes: ``0`` success, ``1`` the call was made but failed
(non-200, contract problems, dropped events, a store-day step refused or the Sitoo API
unreachable), ``2`` usage errors and an unreachable edge on ``search`` / ``create``.

Credentials can come from the environment instead of flags: ``SITOO_DRIVER_SPI_USER``,
``SITOO_DRIVER_SPI_PASSWORD``, ``SITOO_DRIVER_WEBHOOK_USER``, ``SITOO_DRIVER_WEBHOOK_PASSWORD``,
``SITOO_DRIVER_SITOO_API_ID``, ``SITOO_DRIVER_SITOO_API_PASSWORD``; also
``SITOO_DRIVER_EDGE_URL``, ``SITOO_DRIVER_INTEGRATION`` and ``SITOO_DRIVER_SITOO_URL``.

With no edge named (no ``--edge-url``, no ``SITOO_DRIVER_EDGE_URL``) the driver plays against
the sandbox of ``sitoo-bloomreach run`` in this directory: every value not given comes from
the file that run wrote in its data directory (``sandbox.driver.local_run``), so
``sitoo-bloomreach sandbox driver store-day`` needs no flags at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sandbox.bloomreach.offers import OfferTracker
from sandbox.driver.local_run import LocalRunError, defaults_path, load_local_run
from sandbox.driver.pos_client import POS_TIMEOUT_S, Origin, PosClient, SpiConnectionError
from sandbox.driver.scenario import (
    ScenarioError,
    SitooOrdersClient,
    StoreDayConfig,
    run_store_day,
    summarize,
)
from sandbox.driver.sitoo_contract import SEARCH_KEY_TYPES
from sandbox.driver.webhooks import (
    ORDER_EVENT_TYPES,
    ORDER_STATES,
    WEBHOOK_TIMEOUT_S,
    Event,
    EventSender,
    Outcome,
    RetryRule,
    order_event,
)

PROG = "sitoo-bloomreach sandbox driver"
DEFAULT_EDGE_URL = "http://127.0.0.1:8080"
DEFAULT_SITOO_URL = "http://127.0.0.1:8082"
DEFAULT_SITOO_ACCOUNT = 1500


class UsageError(Exception):
    pass


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"SITOO_DRIVER_{name}", default)


def _edge_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("edge")
    group.add_argument(
        "--edge-url",
        default=_env("EDGE_URL"),
        help="edge root URL (default: the sandbox of `sitoo-bloomreach run` in this directory, "
        f"whose settings and credentials are read from {defaults_path()}; else "
        f"{DEFAULT_EDGE_URL})",
    )
    group.add_argument(
        "--integration",
        default=_env("INTEGRATION"),
        help="integration name: routes are /sitoo/{integration}/...",
    )
    return parent


def _spi_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("CRM SPI (POS)")
    group.add_argument("--spi-user", default=_env("SPI_USER"))
    group.add_argument("--spi-password", default=_env("SPI_PASSWORD"))
    group.add_argument("--store-id", help="Store-ID header (store externalid)")
    group.add_argument("--staff-id", help="Staff-ID header (staff externalid)")
    group.add_argument("--register-id", help="Register-ID header")
    group.add_argument("--spi-timeout", type=float, default=POS_TIMEOUT_S, metavar="S")
    return parent


def _webhook_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("Events SPI (webhooks)")
    group.add_argument("--webhook-user", default=_env("WEBHOOK_USER"))
    group.add_argument("--webhook-password", default=_env("WEBHOOK_PASSWORD"))
    group.add_argument("--rule", choices=[r.value for r in RetryRule], default="current")
    group.add_argument(
        "--compression",
        type=float,
        default=1.0,
        help="divide Sitoo's retry delays by this factor (e.g. 3600: an hour takes a second)",
    )
    group.add_argument("--webhook-timeout", type=float, default=WEBHOOK_TIMEOUT_S, metavar="S")
    group.add_argument("--duplicate-probability", type=float, default=0.0, metavar="P")
    group.add_argument("--seed", type=int, default=0)
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Play Sitoo toward the middleware's edge (POS calls, webhooks)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    edge, spi, hooks = _edge_options(), _spi_options(), _webhook_options()

    search = sub.add_parser(
        "search", parents=[edge, spi], help="GET /customers?key_type=&key= like the POS"
    )
    search.add_argument(
        "--key-type", required=True, help=f"known: {', '.join(SEARCH_KEY_TYPES)} (not enforced)"
    )
    search.add_argument("--key", required=True)

    create = sub.add_parser("create", parents=[edge, spi], help="POST /customers like the POS")
    create.add_argument("--json", dest="body", help="the whole customer object as JSON")
    create.add_argument("--email")
    create.add_argument("--first-name")
    create.add_argument("--last-name")
    create.add_argument("--mobile")
    create.add_argument("--member-number")

    send = sub.add_parser(
        "send-events", parents=[edge, hooks], help="deliver order events like Sitoo's queue"
    )
    send.add_argument("--account-id", type=int, help="Sitoo account id")
    send.add_argument("--eshop-id", type=int, default=1)
    send.add_argument("--order-id", type=int, action="append", default=[], dest="order_ids")
    send.add_argument("--order-event-type", choices=ORDER_EVENT_TYPES, default="add")
    send.add_argument("--state", choices=ORDER_STATES, help="order_state_changed")
    send.add_argument("--warehouse-id", type=int)
    send.add_argument("--event-date", type=int, help="Unix seconds (default: now)")
    send.add_argument(
        "--events-file", type=Path, help="JSON array of event envelopes to send instead"
    )

    day = sub.add_parser(
        "store-day", parents=[edge, spi, hooks], help="customers, sales, refunds, events"
    )
    day.add_argument("--customers", type=int, default=5)
    day.add_argument("--sales", type=int, default=10)
    day.add_argument("--refunds", type=int, default=2)
    day.add_argument("--anonymous", type=int, default=3)
    day.add_argument("--offline", type=int, help="offline sales (default: sales // 5)")
    day.add_argument("--run-tag", help="makes e-mails unique; fixed tag = repeatable run")
    day.add_argument("--day-start", type=int, help="Unix seconds (default: yesterday 08:00 UTC)")
    day.add_argument("--no-close-events", action="store_true", help="only 'add' events")
    day.add_argument("--sitoo-url", default=_env("SITOO_URL"), help=f"default {DEFAULT_SITOO_URL}")
    day.add_argument("--sitoo-account", type=int, help=f"default {DEFAULT_SITOO_ACCOUNT}")
    day.add_argument("--sitoo-site", type=int, default=1)
    day.add_argument("--sitoo-api-id", default=_env("SITOO_API_ID"))
    day.add_argument("--sitoo-api-password", default=_env("SITOO_API_PASSWORD"))
    day.add_argument("--warehouse-id", type=int, default=3)
    day.add_argument("--loyalty-members", type=int, default=0, help="members redeeming offers")
    day.add_argument("--bloomreach-url", default=_env("BLOOMREACH_URL"), help="gives the offers")
    day.add_argument("--output", type=Path, help="also write the full outcome JSON here")
    day.add_argument("--summary", action="store_true", help="print counts, not the outcome")
    return parser


def _fill_defaults(args: argparse.Namespace) -> None:
    """No edge named: play against the local `run` sandbox, if there is one."""
    if args.edge_url is None:
        local = load_local_run()
        if local is not None:
            for name, value in local.values.items():
                if hasattr(args, name) and getattr(args, name) is None:
                    setattr(args, name, value)
    for name, value in (
        ("edge_url", DEFAULT_EDGE_URL),
        ("sitoo_url", DEFAULT_SITOO_URL),
        ("sitoo_account", DEFAULT_SITOO_ACCOUNT),
    ):
        if hasattr(args, name) and getattr(args, name) is None:
            setattr(args, name, value)


def _require(args: argparse.Namespace, *names: str) -> None:
    missing = [n for n in names if getattr(args, n) in (None, "")]
    if missing:
        flags = ", ".join("--" + n.replace("_", "-") for n in missing)
        raise UsageError(
            f"missing {flags} (or the SITOO_DRIVER_* environment variable; against the "
            "sandbox, start `sitoo-bloomreach run` in this directory first)"
        )


def _pos(args: argparse.Namespace) -> PosClient:
    _require(args, "integration", "spi_user", "spi_password")
    return PosClient(
        args.edge_url,
        args.integration,
        args.spi_user,
        args.spi_password,
        origin=Origin(args.store_id, args.staff_id, args.register_id),
        timeout_s=args.spi_timeout,
    )


def _sender(args: argparse.Namespace) -> EventSender:
    _require(args, "integration")
    if (args.webhook_user is None) != (args.webhook_password is None):
        raise UsageError("give both --webhook-user and --webhook-password, or neither")
    return EventSender.for_integration(
        args.edge_url,
        args.integration,
        username=args.webhook_user,
        password=args.webhook_password,
        rule=RetryRule(args.rule),
        compression=args.compression,
        timeout_s=args.webhook_timeout,
        duplicate_probability=args.duplicate_probability,
        seed=args.seed,
    )


def _print(payload: Any) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


async def _search(args: argparse.Namespace) -> int:
    async with _pos(args) as pos:
        result = await pos.search(args.key_type, args.key)
    _print(result.to_json())
    return 0 if result.ok and result.conforms else 1


async def _create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.body:
        try:
            parsed = json.loads(args.body)
        except ValueError as exc:
            raise UsageError(f"--json is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise UsageError("--json must be a JSON object")
        body.update(parsed)
    for flag, key in (
        ("email", "email"),
        ("first_name", "name_first"),
        ("last_name", "name_last"),
        ("mobile", "mobile"),
        ("member_number", "member_number"),
    ):
        if getattr(args, flag) is not None:
            body[key] = getattr(args, flag)
    if not body:
        raise UsageError("give --json or at least one of --email/--first-name/--mobile/...")
    async with _pos(args) as pos:
        result = await pos.create(body)
    _print(result.to_json())
    return 0 if result.ok and result.conforms else 1


def _load_events(path: Path) -> list[Event]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"{path} must hold a non-empty JSON array of events")
    try:
        return [
            Event(e["event_id"], e["event_type"], e["event_date"], e["account_id"], e["data"])
            for e in raw
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: invalid event: {exc}") from exc


async def _send_events(args: argparse.Namespace) -> int:
    if args.events_file is not None:
        events = _load_events(args.events_file)
    else:
        _require(args, "account_id")
        if not args.order_ids:
            raise UsageError("give --order-id (repeatable) or --events-file")
        date = args.event_date if args.event_date is not None else int(time.time())
        events = [
            order_event(
                account_id=args.account_id,
                eshop_id=args.eshop_id,
                order_id=order_id,
                event_date=date,
                order_event_type=args.order_event_type,
                warehouse_id=args.warehouse_id,
                order_state_changed=args.state,
            )
            for order_id in args.order_ids
        ]
    async with _sender(args) as sender:
        results = await sender.send(events)
    _print(
        {
            "summary": sender.summary(),
            "batches": [r.to_json() for r in results],
            "log": [a.to_json() for a in sender.log],
        }
    )
    return 0 if all(r.outcome is Outcome.DELIVERED for r in results) else 1


async def _store_day(args: argparse.Namespace) -> int:
    _require(args, "sitoo_api_id", "sitoo_api_password")
    if args.loyalty_members:
        _require(args, "bloomreach_url")
    try:
        config = StoreDayConfig(
            customers=args.customers,
            sales=args.sales,
            refunds=args.refunds,
            anonymous=args.anonymous,
            offline=args.offline,
            seed=args.seed,
            run_tag=args.run_tag,
            day_start=args.day_start,
            close_events=not args.no_close_events,
            account_id=args.sitoo_account,
            site_id=args.sitoo_site,
            loyalty_members=args.loyalty_members,
        )
        offers = OfferTracker(args.bloomreach_url) if args.loyalty_members else None
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.warehouse_id != config.store.warehouse_id:
        config = replace(config, store=replace(config.store, warehouse_id=args.warehouse_id))
    pos = _pos(args)
    sender = _sender(args)
    sitoo = SitooOrdersClient(
        args.sitoo_url, args.sitoo_account, args.sitoo_api_id, args.sitoo_api_password
    )
    try:
        outcome = await run_store_day(config, pos, sitoo, sender, offers=offers)
    finally:
        if offers is not None:
            await offers.close()
        await pos.close()
        await sender.close()
        await sitoo.close()
    full = outcome.to_json()
    if args.output is not None:
        args.output.write_text(json.dumps(full, indent=2, ensure_ascii=False), encoding="utf-8")
    _print({**summarize(outcome), "delivery": dict(outcome.delivery)} if args.summary else full)
    mismatches = outcome.loyalty.mismatches() if outcome.loyalty else []
    return 0 if outcome.delivery.get("dropped_batches", 0) == 0 and not mismatches else 1


_COMMANDS = {
    "search": _search,
    "create": _create,
    "send-events": _send_events,
    "store-day": _store_day,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        _fill_defaults(args)
        return asyncio.run(_COMMANDS[args.command](args))
    except (UsageError, LocalRunError) as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SpiConnectionError as exc:
        print(f"{PROG} {args.command}: error: edge unreachable: {exc}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
