"""`sitoo-bloomreach`: run the services, migrate, and administer integrations.

Exit codes: 0 success, 1 the operation failed, 2 usage, 69 the core is unreachable,
77 refused credentials, 78 configuration error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

from cli import admin, clients, migrate, operations, rekey, serve
from cli.embedded import with_existing_local_admin_token
from core_service.adapters.db.engine import SchemaNotCurrentError
from core_service.adapters.db.startup import DatabaseUnreachableError
from core_service.crypto import MasterKeyError
from runtime.logs import configure_logging
from runtime.settings import ConfigurationError, load_settings

EX_CONFIG = 78
SANDBOX_MODULES = {
    "bloomreach": "sandbox.bloomreach.__main__",
    "sitoo": "sandbox.sitoo_api.__main__",
    "driver": "sandbox.driver.__main__",
}
SANDBOX_HELP = {
    "bloomreach": "emulator of the Bloomreach Engagement API (tracking, customers, consents)",
    "sitoo": "emulator of the Sitoo REST API (orders, the account's sites)",
    "driver": "plays Sitoo toward the edge: POS calls, webhooks, a whole store day "
    "(`driver store-day` with no flags plays against `sitoo-bloomreach run` here)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sitoo-bloomreach",
        description="Middleware between Sitoo POS and Bloomreach Engagement. Settings come "
        "from SITOO_BR_* environment variables (see README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "run", help="everything in one process on the embedded default (SQLite, local secrets)"
    )
    commands.add_parser("core", help="the core gRPC service (production)")
    commands.add_parser("edge", help="the HTTP edge facing Sitoo (production)")
    commands.add_parser(
        "relay", help="the outbox relay: Sitoo orders to Bloomreach (production; run 1 or more)"
    )
    commands.add_parser(
        "console", help="the setup and operations web console (ops only; loopback by default)"
    )
    commands.add_parser(
        "rekey",
        help="reseal every stored secret under the current master key (after a key change)",
    )
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("--to", default="head", help="target revision (default: head)")
    migrate_parser.add_argument(
        "--downgrade", action="store_true", help="move down to --to instead of up"
    )
    operations.add_validate_parser(admin.add_integration_parser(commands))
    admin.add_outbox_parser(commands)
    admin.add_quarantine_parser(commands)
    clients.add_client_parser(commands)
    operations.add_operations_parsers(commands)
    sandbox = commands.add_parser(
        "sandbox",
        help="local emulators of Bloomreach and Sitoo, and a driver playing Sitoo",
        description="Local stand-ins for Sitoo and Bloomreach (`run` starts both emulators). "
        "Each tool has its own --help: sitoo-bloomreach sandbox TOOL --help",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="tools:\n"
        + "\n".join(f"  {name:<11} {SANDBOX_HELP[name]}" for name in SANDBOX_MODULES),
    )
    sandbox.add_argument(
        "sandbox_tool", choices=list(SANDBOX_MODULES), metavar="TOOL", help="one of the tools below"
    )
    sandbox.add_argument(
        "sandbox_args", nargs=argparse.REMAINDER, metavar="ARGS", help="the tool's own arguments"
    )
    return parser


def _run_sandbox(tool: str, args: Sequence[str]) -> int:
    module = importlib.import_module(SANDBOX_MODULES[tool])
    main: Callable[[list[str] | None], int] = module.main
    return main(list(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"] and len(argv) >= 2 and argv[1] in SANDBOX_MODULES:
        # The emulators own their flags (and their --help).
        return _run_sandbox(argv[1], argv[2:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(args.command, settings.log_level)
        if args.command == "run":
            return serve.run_embedded(settings)
        if args.command == "core":
            return serve.run_core(settings)
        if args.command == "edge":
            return serve.run_edge(settings)
        if args.command == "relay":
            return serve.run_relay(settings)
        if args.command == "migrate":
            url = settings.resolved_database_url
            migrate.wait_for_database(url, settings.database_startup_timeout_seconds)
            if args.downgrade:
                migrate.downgrade(url, args.to)
            else:
                migrate.upgrade(url, args.to)
            print(f"database at revision {args.to}")
            return 0
        if args.command == "rekey":
            return rekey.rekey_command(settings)
        settings = with_existing_local_admin_token(settings)
        if args.command == "console":
            return serve.run_console(settings)
        if args.command == "integration" and args.integration_action == "validate":
            return operations.validate_command(settings, args)
        if args.command == "backfill":
            return operations.backfill_command(settings, args)
        if args.command == "reconcile":
            return operations.reconcile_command(settings, args)
        if args.command == "retention":
            return operations.retention_command(settings, args)
        if args.command == "integration":
            return admin.integration_command(settings, args)
        if args.command == "outbox":
            return admin.outbox_command(settings, args)
        if args.command == "quarantine":
            return admin.quarantine_command(settings, args)
        if args.command == "client":
            return clients.client_command(settings, args)
        if args.command == "sandbox":
            return _run_sandbox(args.sandbox_tool, args.sandbox_args)
    except admin.CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (
        ConfigurationError,
        MasterKeyError,
        SchemaNotCurrentError,
        DatabaseUnreachableError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command}")
    return 2


def run() -> None:
    logging.captureWarnings(True)
    raise SystemExit(main())


if __name__ == "__main__":
    run()
