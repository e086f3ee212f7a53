"""Admin commands over the core's AdminService: integrations, outbox, quarantine."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from edge.core_client import open_channel
from runtime.settings import Settings, read_secret
from sitoo_bloomreach.v1 import admin_pb2 as pb
from sitoo_bloomreach.v1 import admin_pb2_grpc

if TYPE_CHECKING:
    from sitoo_bloomreach.v1.admin_pb2_grpc import AdminServiceAsyncStub

T = TypeVar("T")
ADMIN_DEADLINE_SECONDS = 30.0


class CommandError(Exception):
    """A failed command; the message is for the operator, the code for scripts."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def call_admin(
    settings: Settings, action: Callable[[AdminServiceAsyncStub, Any], Awaitable[T]]
) -> T:
    token = read_secret(settings.admin_token, settings.admin_token_file, "ADMIN_TOKEN")
    metadata = (("authorization", f"Bearer {token}"),)

    async def go() -> T:
        channel = open_channel(settings)
        try:
            return await action(admin_pb2_grpc.AdminServiceStub(channel), metadata)
        finally:
            await channel.close(None)

    try:
        return asyncio.run(go())
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise CommandError(
                f"cannot reach the core at {settings.core_target} ({exc.details()}); is it "
                "running? (`sitoo-bloomreach run` or `sitoo-bloomreach core`)",
                exit_code=69,
            ) from exc
        if code == grpc.StatusCode.UNAUTHENTICATED:
            raise CommandError(
                "the core refused the admin token; set SITOO_BR_ADMIN_TOKEN or "
                "SITOO_BR_ADMIN_TOKEN_FILE to the core's admin token",
                exit_code=77,
            ) from exc
        if code == grpc.StatusCode.PERMISSION_DENIED and "scope" in (exc.details() or ""):
            raise CommandError(
                f"the core refused the call: {exc.details()}; use the admin token or a "
                "client with the admin scope",
                exit_code=77,
            ) from exc
        raise CommandError(f"{code.name.lower()}: {exc.details()}") from exc


def _secret_arg(args: argparse.Namespace, name: str) -> str | None:
    value: str | None = getattr(args, name)
    file: Path | None = getattr(args, f"{name}_file")
    if value is not None and file is not None:
        raise CommandError(f"give --{name.replace('_', '-')} or its -file form, not both", 2)
    if file is not None:
        try:
            return file.read_text().strip()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}", 2) from exc
    return value


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    result = []
    for value in values or ():
        left, sep, right = value.partition("=")
        if not sep or not left or not right:
            raise CommandError(f"{option} takes NAME=VALUE, got {value!r}", 2)
        result.append((left.strip(), right.strip()))
    return result


def _consent(value: str) -> pb.ConsentType:
    # ID=CATEGORY[,default=true][,label=...][,description=...]
    head, *options = value.split(",")
    consent_id, sep, category = head.partition("=")
    if not sep or not consent_id or not category:
        raise CommandError(
            f"--consent takes ID=CATEGORY[,default=yes][,label=TEXT], got {value!r}", 2
        )
    consent = pb.ConsentType(consent_id=consent_id, category=category)
    for option in options:
        key, _, text = option.partition("=")
        if key == "default":
            consent.default_value = text.lower() in ("1", "true", "yes", "on")
        elif key == "label":
            consent.label = text
        elif key == "description":
            consent.description = text
        else:
            raise CommandError(f"unknown --consent option {key!r}", 2)
    return consent


_ENRICH_OPTIONS = {
    "color": "status_color",
    "text": "status_text",
    "section": "section_title",
    "title": "value_title",
}


def _enrichment(value: str) -> pb.EnrichmentRule:
    # SEGMENTATION_ID=SEGMENT[,color=..][,text=..][,voucher=..][,section=..][,title=..]
    # aggregate:AGGREGATE_ID[,section=..][,title=..]
    head, *options = value.split(",")
    rule = pb.EnrichmentRule()
    if head.startswith("aggregate:"):
        rule.aggregate_id = head.removeprefix("aggregate:")
    else:
        rule.segmentation_id, _, rule.segment = head.partition("=")
    if not (rule.aggregate_id or (rule.segmentation_id and rule.segment)):
        raise CommandError(
            f"--enrich takes SEGMENTATION=SEGMENT[,...] or aggregate:ID[,...], got {value!r}", 2
        )
    for option in options:
        key, _, text = option.partition("=")
        if key == "voucher":
            rule.voucher_passwords.append(text)
        elif key in _ENRICH_OPTIONS:
            setattr(rule, _ENRICH_OPTIONS[key], text)
        else:
            raise CommandError(f"unknown --enrich option {key!r}", 2)
    return rule


def settings_input(args: argparse.Namespace) -> pb.IntegrationInput:
    message = pb.IntegrationInput()
    plain = {
        "display_name": "display_name",
        "company": "company",
        "market": "market",
        "bloomreach_url": "bloomreach_api_base_url",
        "project_token": "bloomreach_project_token",
        "key_id": "bloomreach_api_key_id",
        "hard_id_name": "hard_id_name",
        "hard_id_field": "hard_id_source_field",
        "sitoo_account": "sitoo_account_id",
        "sitoo_url": "sitoo_api_base_url",
        "sitoo_api_id": "sitoo_api_id",
        "sitoo_site": "sitoo_site_id",
    }
    for arg, field in plain.items():
        value = getattr(args, arg)
        if value is not None:
            setattr(message, field, value)
    secret = _secret_arg(args, "bloomreach_secret")
    if secret is not None:
        message.bloomreach_api_secret = secret
    password = _secret_arg(args, "sitoo_password")
    if password is not None:
        message.sitoo_api_password = password
    if args.map is not None:
        message.set_field_mappings = True
        for sitoo_field, target in _pairs(args.map, "--map"):
            message.field_mappings.add(sitoo_field=sitoo_field, target=target)
    if args.consent is not None:
        message.set_consent_types = True
        message.consent_types.extend(_consent(v) for v in args.consent)
    if args.channel is not None:
        message.set_channel_categories = True
        message.channel_categories.update(dict(_pairs(args.channel, "--channel")))
    if args.enrich is not None:
        message.set_enrichment_rules = True
        message.enrichment_rules.extend(_enrichment(v) for v in args.enrich)
    if args.enabled is not None:
        message.enabled = args.enabled
    return message


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("integration settings")
    group.add_argument("--display-name")
    group.add_argument("--company")
    group.add_argument("--market", help="ISO country code, e.g. SE (default phone region)")
    group.add_argument("--bloomreach-url", help="Bloomreach API base URL")
    group.add_argument("--project-token", help="Bloomreach project token")
    group.add_argument("--key-id", help="Bloomreach API key ID")
    group.add_argument(
        "--bloomreach-secret", help="Bloomreach API secret (visible in `ps`; prefer -file)"
    )
    group.add_argument("--bloomreach-secret-file", type=Path)
    group.add_argument("--hard-id-name", help="Bloomreach hard ID name, e.g. registered")
    group.add_argument("--hard-id-field", help="Sitoo field feeding the hard ID, e.g. email")
    group.add_argument(
        "--map",
        action="append",
        metavar="SITOO_FIELD=TARGET",
        help="field mapping, e.g. mobile=ids.phone_id (repeat; replaces all mappings)",
    )
    group.add_argument(
        "--consent",
        action="append",
        metavar="ID=CATEGORY[,default=yes][,label=TEXT]",
        help="consent type offered in the POS (repeat; replaces all)",
    )
    group.add_argument(
        "--channel",
        action="append",
        metavar="CHANNEL=CATEGORY",
        help="accepts_communication channel -> consent category (repeat; replaces all)",
    )
    group.add_argument(
        "--enrich",
        action="append",
        metavar="SEGMENTATION=SEGMENT[,color=C][,text=T][,voucher=V][,section=S] | aggregate:ID",
        help="customer-card rule from a Bloomreach segmentation or aggregate (repeat; "
        "replaces all); aggregate rules take section=TITLE,title=LINE",
    )
    group.add_argument("--sitoo-account", type=int, help="Sitoo account id")
    group.add_argument("--sitoo-url", help="Sitoo REST API base URL")
    group.add_argument("--sitoo-api-id", help="Sitoo API id")
    group.add_argument("--sitoo-password", help="Sitoo API password (prefer -file)")
    group.add_argument("--sitoo-password-file", type=Path)
    group.add_argument("--sitoo-site", type=int, help="Sitoo site (eshop) id")
    enabled = group.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_true", default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_false")


def _print(message: Message, as_json: bool, text: Callable[[dict[str, Any]], str]) -> None:
    data = MessageToDict(message, preserving_proto_field_name=True)
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else text(data))


def _integration_text(data: dict[str, Any]) -> str:
    br = data.get("bloomreach", {})
    sitoo = data.get("sitoo", {})
    matching = data.get("matching", {})
    secret = "set" if br.get("has_api_secret") else "NOT SET"
    password = "set" if sitoo.get("has_api_password") else "NOT SET"
    mappings = ", ".join(
        f"{m['sitoo_field']}->{m['target']}" for m in data.get("field_mappings", [])
    )
    lines = [
        f"integration {data.get('name')} ({'enabled' if data.get('enabled') else 'disabled'})",
        f"  company/market:  {data.get('company', '')} / {data.get('market', '')}",
        f"  bloomreach:      {br.get('api_base_url', '-')} project {br.get('project_token', '-')}",
        f"                   key {br.get('api_key_id', '-')} secret {secret}",
        f"  hard id:         {matching.get('hard_id_name')} <- "
        f"{matching.get('hard_id_source_field')}",
        f"  sitoo:           {sitoo.get('api_base_url', '-')} "
        f"account {sitoo.get('account_id', '-')}",
        f"                   api id {sitoo.get('api_id', '-')} password {password}",
        f"  spi user:        {data.get('spi_username')}",
        f"  webhook user:    {data.get('webhook_username')}",
        f"  mappings:        {mappings}",
    ]
    consents = data.get("consent_types", [])
    if consents:
        lines.append(
            "  consents:        "
            + ", ".join(
                f"{c['consent_id']}->{c['category']}"
                + (" (default on)" if c.get("default_value") else "")
                for c in consents
            )
        )
    return "\n".join(lines)


def _credentials_text(data: dict[str, Any]) -> str:
    lines = ["Credentials (shown once; store them in Sitoo now):"]
    if data.get("spi_password"):
        lines.append(f"  CRM SPI:    user {data['spi_username']}  password {data['spi_password']}")
    if data.get("webhook_password"):
        lines.append(
            f"  Events SPI: user {data['webhook_username']}  password {data['webhook_password']}"
        )
    return "\n".join(lines)


def integration_command(settings: Settings, args: argparse.Namespace) -> int:
    action = args.integration_action
    deadline = ADMIN_DEADLINE_SECONDS
    if action == "create":
        request = pb.CreateIntegrationRequest(name=args.name, settings=settings_input(args))
        created = call_admin(
            settings,
            lambda stub, md: stub.CreateIntegration(request, metadata=md, timeout=deadline),
        )
        if args.json:
            _print(created, True, _integration_text)
        else:
            print(
                _integration_text(
                    MessageToDict(created.integration, preserving_proto_field_name=True)
                )
            )
            print(
                _credentials_text(
                    MessageToDict(created.credentials, preserving_proto_field_name=True)
                )
            )
        return 0
    if action == "show":
        found = call_admin(
            settings,
            lambda stub, md: stub.GetIntegration(
                pb.GetIntegrationRequest(name=args.name), metadata=md, timeout=deadline
            ),
        )
        _print(found, args.json, _integration_text)
        return 0
    if action == "list":
        listed = call_admin(
            settings,
            lambda stub, md: stub.ListIntegrations(
                pb.ListIntegrationsRequest(), metadata=md, timeout=deadline
            ),
        )
        _print(
            listed,
            args.json,
            lambda d: (
                "\n".join(
                    f"{i['name']}\t{i.get('company', '')}\t{i.get('market', '')}"
                    for i in d.get("integrations", [])
                )
                or "no integrations"
            ),
        )
        return 0
    if action == "update":
        update = pb.UpdateIntegrationRequest(name=args.name, settings=settings_input(args))
        updated = call_admin(
            settings, lambda stub, md: stub.UpdateIntegration(update, metadata=md, timeout=deadline)
        )
        _print(updated, args.json, _integration_text)
        return 0
    if action == "rotate-credentials":
        which = {
            "spi": pb.RotateCredentialsRequest.SPI,
            "webhook": pb.RotateCredentialsRequest.WEBHOOK,
            "both": pb.RotateCredentialsRequest.BOTH,
        }[args.which]
        rotated = call_admin(
            settings,
            lambda stub, md: stub.RotateCredentials(
                pb.RotateCredentialsRequest(name=args.name, which=which),
                metadata=md,
                timeout=deadline,
            ),
        )
        _print(rotated, args.json, _credentials_text)
        return 0
    if action == "delete":
        if not args.yes:
            raise CommandError(
                f"deleting {args.name!r} removes its configuration, outbox and inbox; "
                "add --yes to confirm",
                2,
            )
        call_admin(
            settings,
            lambda stub, md: stub.DeleteIntegration(
                pb.DeleteIntegrationRequest(name=args.name), metadata=md, timeout=deadline
            ),
        )
        print(f"deleted integration {args.name}")
        return 0
    raise CommandError(f"unknown integration action {action!r}", 2)


def add_integration_parser(commands: Any) -> Any:
    """Adds `integration ACTION`; returns the actions, for commands defined elsewhere."""
    parser = commands.add_parser("integration", help="manage integrations (tenants)")
    actions = parser.add_subparsers(dest="integration_action", required=True)
    create = actions.add_parser("create", help="create an integration; prints its credentials once")
    create.add_argument("name", help="URL name: /sitoo/NAME/...")
    add_settings_arguments(create)
    show = actions.add_parser("show", help="show one integration (never its secrets)")
    show.add_argument("name")
    actions.add_parser("list", help="list integrations")
    update = actions.add_parser("update", help="change settings; unspecified ones stay")
    update.add_argument("name")
    add_settings_arguments(update)
    rotate = actions.add_parser(
        "rotate-credentials", help="issue new SPI/webhook credentials; the old stop working"
    )
    rotate.add_argument("name")
    rotate.add_argument("--which", choices=("spi", "webhook", "both"), default="both")
    delete = actions.add_parser("delete", help="delete an integration and its data")
    delete.add_argument("name")
    delete.add_argument("--yes", action="store_true", help="confirm")
    for sub in (create, show, actions.choices["list"], update, rotate, delete):
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    return actions


def outbox_command(settings: Settings, args: argparse.Namespace) -> int:
    deadline = ADMIN_DEADLINE_SECONDS
    action = args.outbox_action
    if action == "stats":
        stats = call_admin(
            settings,
            lambda stub, md: stub.GetOutboxStats(
                pb.GetOutboxStatsRequest(integration=args.integration or ""),
                metadata=md,
                timeout=deadline,
            ),
        )
        _print(
            stats,
            args.json,
            lambda d: "\n".join(
                [
                    f"{state:10} {count}"
                    for state, count in sorted(d.get("counts_by_state", {}).items())
                ]
                + [f"oldest pending: {d.get('oldest_pending_age_seconds', 0):.0f} s"]
            ),
        )
        return 0
    if action == "list":
        listed = call_admin(
            settings,
            lambda stub, md: stub.ListOutboxMessages(
                pb.ListOutboxMessagesRequest(
                    integration=args.integration or "",
                    state=args.state or "",
                    limit=args.limit,
                ),
                metadata=md,
                timeout=deadline,
            ),
        )
        _print(
            listed,
            args.json,
            lambda d: (
                "\n".join(
                    f"{m['id']}\t{m.get('integration')}\t{m.get('order_key')}\t{m.get('state')}\t"
                    f"attempts={m.get('attempts', 0)}\t{m.get('last_error', '')}"
                    for m in d.get("messages", [])
                )
                or "no messages"
            ),
        )
        return 0
    if action == "show":
        shown = call_admin(
            settings,
            lambda stub, md: stub.GetOutboxMessage(
                pb.GetOutboxMessageRequest(id=args.id), metadata=md, timeout=deadline
            ),
        )
        _print(shown, True, lambda d: "")
        return 0
    if action == "replay":
        if args.id is None and not args.all_dead:
            raise CommandError("give a message ID or --all-dead", 2)
        request = (
            pb.ReplayOutboxRequest(id=args.id)
            if args.id is not None
            else pb.ReplayOutboxRequest(all_dead=True, integration=args.integration or "")
        )
        replayed = call_admin(
            settings, lambda stub, md: stub.ReplayOutbox(request, metadata=md, timeout=deadline)
        )
        print(f"replayed {replayed.replayed} message(s)")
        return 0
    raise CommandError(f"unknown outbox action {action!r}", 2)


def add_outbox_parser(commands: Any) -> None:
    parser = commands.add_parser("outbox", help="inspect and repair order delivery")
    actions = parser.add_subparsers(dest="outbox_action", required=True)
    stats = actions.add_parser("stats", help="counts by state, age of the oldest pending message")
    listing = actions.add_parser("list", help="list messages")
    listing.add_argument(
        "--state", choices=("pending", "in_flight", "delivered", "skipped", "dead")
    )
    listing.add_argument("--limit", type=int, default=100)
    show = actions.add_parser("show", help="one message with its payload and last error")
    show.add_argument("id", type=int)
    replay = actions.add_parser("replay", help="send dead messages again")
    replay.add_argument("id", type=int, nargs="?")
    replay.add_argument("--all-dead", action="store_true")
    for sub in (stats, listing, replay):
        sub.add_argument("--integration")
    for sub in (stats, listing, show, replay):
        sub.add_argument("--json", action="store_true")


def quarantine_command(settings: Settings, args: argparse.Namespace) -> int:
    deadline = ADMIN_DEADLINE_SECONDS
    if args.quarantine_action == "list":
        listed = call_admin(
            settings,
            lambda stub, md: stub.ListQuarantine(
                pb.ListQuarantineRequest(integration=args.integration or "", limit=args.limit),
                metadata=md,
                timeout=deadline,
            ),
        )
        if args.json:
            _print(listed, True, lambda d: "")
        else:
            for payload in listed.payloads:
                print(
                    f"{payload.id}\t{payload.integration}\t{payload.received_at}\t{payload.reason}"
                )
            if not listed.payloads:
                print("quarantine is empty")
        return 0
    shown = call_admin(
        settings,
        lambda stub, md: stub.GetQuarantined(
            pb.GetQuarantinedRequest(id=args.id), metadata=md, timeout=deadline
        ),
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
    show = actions.add_parser("show")
    show.add_argument("id", type=int)
