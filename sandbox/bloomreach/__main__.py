"""Command line: ``python -m sandbox.bloomreach [--port 9300] ...``.

Prints ``bloomreach emulator listening on http://HOST:PORT`` once it serves (scripts wait for
that line) and exits with 0 on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
from pathlib import Path

from aiohttp import web

from sandbox.bloomreach.app import create_app
from sandbox.bloomreach.config import (
    DEFAULT_CONSENT_CATEGORIES,
    DEFAULT_KEY_ID,
    DEFAULT_PROJECT_TOKEN,
    DEFAULT_PUBLIC_TOKEN,
    DEFAULT_SECRET,
    ApiKey,
    BloomreachConfig,
    ConsentCategory,
    Permissions,
    ProjectConfig,
)
from sandbox.faults import Fault


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sandbox.bloomreach", description="Bloomreach Engagement API emulator"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9300, help="0 picks a free port")
    p.add_argument("--project-token", action="append", help=f"default {DEFAULT_PROJECT_TOKEN}")
    p.add_argument("--key-id", action="append", help=f"private API key id ({DEFAULT_KEY_ID})")
    p.add_argument("--secret", action="append", help="its secret, paired with --key-id by order")
    p.add_argument("--public-token", action="append", help=f"default {DEFAULT_PUBLIC_TOKEN}")
    p.add_argument(
        "--permissions",
        action="append",
        default=[],
        metavar="KEY_ID=JSON",
        help='restrict a key, e.g. \'k={"events_set": ["purchase"], "export_customer": false}\'',
    )
    p.add_argument("--hard-id", action="append", help="hard ID names (default registered)")
    p.add_argument(
        "--soft-id", action="append", help="soft ID names (default cookie, email_id, phone_id)"
    )
    p.add_argument("--consent-category", action="append", help="consent category ids")
    p.add_argument("--requests-per-second", type=float, default=None)
    p.add_argument(
        "--rate-limit-retry-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="send Retry-After on rate-limit 429s (off by default)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="ENDPOINT=JSON",
        help='e.g. \'batch={"error_rate": 1, "error_status": 503}\'',
    )
    p.add_argument("--state-file", type=Path, default=None)
    p.add_argument("--save-interval", type=float, default=1.0, help="seconds between saves")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--validation-error-status", type=int, choices=(200, 400), default=400)
    p.add_argument("--attributes-unknown-404", action="store_true")
    p.add_argument("--no-shuffle-batch", action="store_true")
    return p


def _split(item: str, flag: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise ValueError(f"{flag} expects NAME=JSON, got {item!r}")
    return name, value


def config_from_args(args: argparse.Namespace) -> BloomreachConfig:
    key_ids: list[str] = args.key_id or [DEFAULT_KEY_ID]
    secrets: list[str] = args.secret or [DEFAULT_SECRET]
    if len(key_ids) != len(secrets):
        raise ValueError("give one --secret per --key-id")
    permissions: dict[str, Permissions] = {}
    for item in args.permissions:
        key_id, raw = _split(item, "--permissions")
        permissions[key_id] = Permissions.from_json(json.loads(raw))
    keys = [ApiKey(k, s) for k, s in zip(key_ids, secrets, strict=True)]
    keys += [ApiKey(t, None) for t in (args.public_token or [DEFAULT_PUBLIC_TOKEN])]
    keys = [
        dataclasses.replace(k, permissions=permissions[k.key_id]) if k.key_id in permissions else k
        for k in keys
    ]
    faults: dict[str, Fault] = {}
    for item in args.fault:
        endpoint, raw = _split(item, "--fault")
        faults[endpoint] = Fault.from_json(json.loads(raw))
    categories = tuple(
        ConsentCategory(c) for c in (args.consent_category or DEFAULT_CONSENT_CATEGORIES)
    )
    base = ProjectConfig(token="", consent_categories=categories)
    if args.hard_id:
        base = dataclasses.replace(base, hard_ids=tuple(args.hard_id))
    if args.soft_id:
        base = dataclasses.replace(base, soft_ids=tuple(args.soft_id))
    tokens = args.project_token or [DEFAULT_PROJECT_TOKEN]
    return BloomreachConfig(
        projects={t: dataclasses.replace(base, token=t) for t in tokens},
        api_keys=tuple(keys),
        state_file=args.state_file,
        save_interval_s=args.save_interval,
        requests_per_second=args.requests_per_second,
        rate_limit_retry_after_s=args.rate_limit_retry_after,
        faults=faults,
        seed=args.seed,
        validation_error_status=args.validation_error_status,
        attributes_unknown_customer_404=args.attributes_unknown_404,
        shuffle_batch=not args.no_shuffle_batch,
    )


async def serve(config: BloomreachConfig, host: str, port: int) -> None:
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"bloomreach emulator listening on http://{host}:{bound}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
