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

from cli import (
    admin,
    card_cache,
    clients,
    integration,
    migrate,
    operations,
    outbox,
    quarantine,
    rekey,
    serve,
)
from cli.embedded import with_existing_local_admin_token
from core_service.adapters.db.schema_version import SchemaNotCurrentError
from core_service.adapters.db.startup import DatabaseUnreachableError
from core_service.crypto import MasterKeyError
from runtime.logs import configure_logging
from runtime.settings import ConfigurationError, Settings, load_settings

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
    # Processes that never call the AdminService: they take the settings as they are.
    services: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
        "run": (
            "everything in one process on the embedded default (SQLite, local secrets)",
            lambda settings, _: serve.run_embedded(settings),
        ),
        "core": (
            "the core gRPC service (production)",
            lambda settings, _: serve.run_core(settings),
        ),
        "edge": (
            "the HTTP edge facing Sitoo (production)",
            lambda settings, _: serve.run_edge(settings),
        ),
        "relay": (
            "the outbox relay: Sitoo orders to Bloomreach (production; run 1 or more)",
            lambda settings, _: serve.run_relay(settings),
        ),
    }
    for name, (text, handler) in services.items():
        commands.add_parser(name, help=text).set_defaults(handler=handler, admin_api=False)
    commands.add_parser(
        "console", help="the setup and operations web console (ops only; loopback by default)"
    ).set_defaults(handler=lambda settings, _: serve.run_console(settings))
    commands.add_parser(
        "rekey",
        help="reseal every stored secret under the current master key (after a key change)",
    ).set_defaults(handler=lambda settings, _: rekey.rekey_command(settings), admin_api=False)
    migrate_parser = commands.add_parser("migrate", help="apply database migrations")
    migrate_parser.add_argument("--to", default="head", help="target revision (default: head)")
    migrate_parser.add_argument(
        "--downgrade", action="store_true", help="move down to --to instead of up"
    )
    migrate_parser.set_defaults(handler=_migrate, admin_api=False)
    operations.add_validate_parser(integration.add_integration_parser(commands))
    outbox.add_outbox_parser(commands)
    quarantine.add_quarantine_parser(commands)
    clients.add_client_parser(commands)
    card_cache.add_cache_parser(commands)
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
    sandbox.set_defaults(handler=lambda _, args: _run_sandbox(args.sandbox_tool, args.sandbox_args))
    return parser


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    url = settings.resolved_database_url
    migrate.wait_for_database(url, settings.database_startup_timeout_seconds)
    if args.downgrade:
        migrate.downgrade(url, args.to)
    else:
        migrate.upgrade(url, args.to)
    print(f"database at revision {args.to}")
    return 0


def _run_sandbox(tool: str, args: Sequence[str]) -> int:
    module = importlib.import_module(SANDBOX_MODULES[tool])
    main: Callable[[list[str] | None], int] = module.main
    return main(list(args))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["sandbox"] and argv[1:2] and argv[1] in SANDBOX_MODULES:
        # The emulators own their flags (and their --help).
        return _run_sandbox(argv[1], argv[2:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(args.command, settings.log_level)
        if getattr(args, "admin_api", True):
            # Commands that may call the AdminService find `run`'s local admin token.
            settings = with_existing_local_admin_token(settings)
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
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


def run() -> None:
    logging.captureWarnings(True)
    raise SystemExit(main())


if __name__ == "__main__":
    run()
