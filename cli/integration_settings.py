"""The integration settings flags (`integration create|update`) and the message they build."""

from __future__ import annotations

import argparse
from pathlib import Path

from cli.admin import CommandError
from sitoo_bloomreach.v1 import admin_pb2 as pb


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
        # Issue 15: outage behaviour.
        "cached_reads": "cached_reads",
        "queued_writes": "queued_writes",
        "card_cache_max_cards": "card_cache_max_cards",
        "card_cache_ttl_seconds": "card_cache_ttl_seconds",
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
    for name, value in _pairs(args.loyalty, "--loyalty"):
        _loyalty(message, name, value)
    return message


# --loyalty NAME=VALUE: admin.proto's loyalty_* fields, named without the prefix and with
# dashes (promotion-event-type=sitoo_promotion, search-shows-offers=yes).
_LOYALTY = {
    name.removeprefix("loyalty_").replace("_", "-"): name
    for name in pb.IntegrationInput.DESCRIPTOR.fields_by_name
    if name.startswith("loyalty_")
}


def _loyalty(message: pb.IntegrationInput, name: str, value: str) -> None:
    field = _LOYALTY.get(name)
    if field is None:
        raise CommandError(f"--loyalty: unknown setting {name!r}; one of {', '.join(_LOYALTY)}", 2)
    if field == "loyalty_search_shows_offers":
        setattr(message, field, value.lower() in ("1", "true", "yes", "on"))
    else:
        setattr(message, field, "" if value in ("-", "off") else value)


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
    group.add_argument(
        "--loyalty",
        action="append",
        metavar="SETTING=VALUE",
        help="loyalty offers (repeat; others unchanged): promotion-event-type, "
        "bonus-check-event-type (off: none), id-property, name-property, type-property, "
        "value-property, amount-property, currency-property, valid-until-property, "
        "search-shows-offers=yes|no, promotion-count-aggregate-id, "
        "bonus-check-count-aggregate-id (the offer-count gate; off: none)",
    )
    enabled = group.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_true", default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_false")
    outage = parser.add_argument_group(
        "Bloomreach outage (issue 15): what the till may do while Bloomreach fails"
    )
    outage.add_argument(
        "--cached-reads",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="answer searches from the card cache when Bloomreach fails (default: on)",
    )
    outage.add_argument(
        "--queued-writes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="queue creates and updates when Bloomreach fails (default: on)",
    )
    outage.add_argument(
        "--card-cache-max-cards", type=int, help="cards kept, oldest go first (default 100000)"
    )
    outage.add_argument(
        "--card-cache-ttl-seconds",
        type=int,
        help="how long a cached card may be answered (default 2592000, 30 days)",
    )
