"""`sitoo-bloomreach integration …`: create, show, list, update, rotate and delete tenants."""

from __future__ import annotations

import argparse
from typing import Any

from cli.admin import ADMIN_DEADLINE_SECONDS, CommandError, as_dict, call_admin, print_message
from cli.integration_settings import add_settings_arguments, settings_input
from runtime.settings import Settings
from sitoo_bloomreach.v1 import admin_pb2 as pb

_DEADLINE = ADMIN_DEADLINE_SECONDS
_WHICH = {
    "spi": pb.RotateCredentialsRequest.SPI,
    "webhook": pb.RotateCredentialsRequest.WEBHOOK,
    "both": pb.RotateCredentialsRequest.BOTH,
}


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
        # Issue 15 (MessageToDict leaves out false booleans and zeros).
        f"  outage:          cached reads {'on' if data.get('cached_reads') else 'off'}, "
        f"queued writes {'on' if data.get('queued_writes') else 'off'}, "
        f"card cache {int(data.get('card_cache_max_cards', 0)):,} cards / "
        f"{int(data.get('card_cache_ttl_seconds', 0)):,} s",
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
    lines.append(_loyalty_text(data))
    return "\n".join(lines)


def _loyalty_text(data: dict[str, Any]) -> str:
    """Offer events and their property names (admin.proto loyalty_* fields)."""
    events = [
        f"{kind} <- {data.get(f'loyalty_{kind}_event_type') or 'off'}"
        for kind in ("promotion", "bonus_check")
    ]
    props = ", ".join(
        f"{name}={data.get(f'loyalty_{name}_property', '')}"
        for name in ("id", "name", "type", "value", "amount", "currency", "valid_until")
    )
    search = "yes" if data.get("loyalty_search_shows_offers") else "no"
    gate = ", ".join(
        f"{kind} <- {data.get(f'loyalty_{kind}_count_aggregate_id') or 'none'}"
        for kind in ("promotion", "bonus_check")
    )
    return (
        f"  loyalty:         {'; '.join(events)}; search shows offers: {search}\n"
        f"                   properties {props}\n"
        f"                   offer-count gate (aggregates): {gate}"
    )


def _credentials_text(data: dict[str, Any]) -> str:
    lines = ["Credentials (shown once; store them in Sitoo now):"]
    if data.get("spi_password"):
        lines.append(f"  CRM SPI:    user {data['spi_username']}  password {data['spi_password']}")
    if data.get("webhook_password"):
        lines.append(
            f"  Events SPI: user {data['webhook_username']}  password {data['webhook_password']}"
        )
    return "\n".join(lines)


def _list_text(data: dict[str, Any]) -> str:
    rows = (
        f"{i['name']}\t{i.get('company', '')}\t{i.get('market', '')}"
        for i in data.get("integrations", [])
    )
    return "\n".join(rows) or "no integrations"


def create(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.CreateIntegrationRequest(name=args.name, settings=settings_input(args))
    created = call_admin(
        settings, lambda stub, md: stub.CreateIntegration(request, metadata=md, timeout=_DEADLINE)
    )
    if args.json:
        print_message(created, True, _integration_text)
    else:
        print(_integration_text(as_dict(created.integration)))
        print(_credentials_text(as_dict(created.credentials)))
    return 0


def show(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.GetIntegrationRequest(name=args.name)
    found = call_admin(
        settings, lambda stub, md: stub.GetIntegration(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(found, args.json, _integration_text)
    return 0


def list_(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.ListIntegrationsRequest()
    listed = call_admin(
        settings, lambda stub, md: stub.ListIntegrations(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(listed, args.json, _list_text)
    return 0


def update(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.UpdateIntegrationRequest(name=args.name, settings=settings_input(args))
    updated = call_admin(
        settings, lambda stub, md: stub.UpdateIntegration(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(updated, args.json, _integration_text)
    return 0


def rotate_credentials(settings: Settings, args: argparse.Namespace) -> int:
    request = pb.RotateCredentialsRequest(name=args.name, which=_WHICH[args.which])
    rotated = call_admin(
        settings, lambda stub, md: stub.RotateCredentials(request, metadata=md, timeout=_DEADLINE)
    )
    print_message(rotated, args.json, _credentials_text)
    return 0


def delete(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        raise CommandError(
            f"deleting {args.name!r} removes its configuration, outbox and inbox; "
            "add --yes to confirm",
            2,
        )
    request = pb.DeleteIntegrationRequest(name=args.name)
    call_admin(
        settings, lambda stub, md: stub.DeleteIntegration(request, metadata=md, timeout=_DEADLINE)
    )
    print(f"deleted integration {args.name}")
    return 0


def add_integration_parser(commands: Any) -> Any:
    """Adds `integration ACTION`; returns the actions, for commands defined elsewhere."""
    parser = commands.add_parser("integration", help="manage integrations (tenants)")
    actions = parser.add_subparsers(dest="integration_action", required=True)
    create_p = actions.add_parser(
        "create", help="create an integration; prints its credentials once"
    )
    create_p.add_argument("name", help="URL name: /sitoo/NAME/...")
    add_settings_arguments(create_p)
    create_p.set_defaults(handler=create)
    show_p = actions.add_parser("show", help="show one integration (never its secrets)")
    show_p.add_argument("name")
    show_p.set_defaults(handler=show)
    list_p = actions.add_parser("list", help="list integrations")
    list_p.set_defaults(handler=list_)
    update_p = actions.add_parser("update", help="change settings; unspecified ones stay")
    update_p.add_argument("name")
    add_settings_arguments(update_p)
    update_p.set_defaults(handler=update)
    rotate = actions.add_parser(
        "rotate-credentials", help="issue new SPI/webhook credentials; the old stop working"
    )
    rotate.add_argument("name")
    rotate.add_argument("--which", choices=tuple(_WHICH), default="both")
    rotate.set_defaults(handler=rotate_credentials)
    delete_p = actions.add_parser("delete", help="delete an integration and its data")
    delete_p.add_argument("name")
    delete_p.add_argument("--yes", action="store_true", help="confirm")
    delete_p.set_defaults(handler=delete)
    for sub in (create_p, show_p, list_p, update_p, rotate, delete_p):
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    return actions
