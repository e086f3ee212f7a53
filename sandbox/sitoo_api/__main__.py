"""``python -m sandbox.sitoo_api``: run the Sitoo REST API (orders) emulator.

Prints ``sitoo emulator listening on http://HOST:PORT`` once it accepts connections and exits 0
on SIGTERM / SIGINT (saving the state file, if one is configured).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from aiohttp import web

from sandbox.faults import Fault
from sandbox.sitoo_api.app import create_app
from sandbox.sitoo_api.config import SitooAccount, SitooApiConfig


def _fault(text: str) -> tuple[str, Fault]:
    endpoint, sep, raw = text.partition("=")
    if not sep or not endpoint:
        raise argparse.ArgumentTypeError("expected ENDPOINT=JSON, e.g. get_order={...}")
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the fault must be a JSON object")
        return endpoint, Fault.from_json(data)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"bad fault for {endpoint}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitoo-bloomreach sandbox sitoo",
        description="Emulator of the Sitoo REST API v2 order endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9400, help="0 picks a free port")
    parser.add_argument("--account", type=int, default=1500, help="Sitoo account id")
    parser.add_argument("--api-id", default=None, help="API id, default '{account}-1'")
    parser.add_argument("--password", default=SitooAccount.password, help="API password")
    parser.add_argument("--site", type=int, action="append", dest="sites", help="eshop id(s)")
    parser.add_argument("--currency", default="SEK")
    parser.add_argument("--max-num", type=int, default=1000)
    parser.add_argument("--requests-per-second", type=float, default=None)
    parser.add_argument("--not-found-reads", type=int, default=0)
    parser.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="ENDPOINT=JSON",
        help='e.g. get_order={"error_rate": 0.5, "error_status": 503}; "*" = every route',
    )
    parser.add_argument("--state-file", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")
    return parser


async def serve(config: SitooApiConfig, host: str, port: int) -> None:
    app = create_app(config)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = port
        for address in runner.addresses:
            if isinstance(address, tuple):
                bound_port = int(address[1])
                break
        print(f"sitoo emulator listening on http://{host}:{bound_port}", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        account = SitooAccount(
            account_id=args.account,
            api_id=args.api_id or f"{args.account}-1",
            password=args.password,
            site_ids=tuple(args.sites or [1]),
            currency_code=args.currency,
        )
        config = SitooApiConfig(
            accounts=(account,),
            max_num=args.max_num,
            requests_per_second=args.requests_per_second,
            faults=dict(args.fault),
            state_file=args.state_file,
            seed=args.seed,
            not_found_reads=args.not_found_reads,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
