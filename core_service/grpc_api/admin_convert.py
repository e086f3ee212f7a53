"""Admin proto messages <-> domain objects. Secrets only ever travel inward."""

from __future__ import annotations

import json

from core_service.domain.integration import ConsentType, EnrichmentRule, FieldMapping, Integration
from core_service.domain.loyalty_config import LoyaltyConfig
from core_service.domain.outbox import OutboxEntry, QuarantineEntry
from core_service.services.integrations import IntegrationSettings, IssuedCredentials
from sitoo_bloomreach.v1 import admin_pb2 as pb


def settings_from_proto(message: pb.IntegrationInput) -> IntegrationSettings:
    def opt(name: str) -> object:
        return getattr(message, name) if message.HasField(name) else None  # type: ignore[arg-type]

    settings = IntegrationSettings()
    for name in (
        "display_name",
        "company",
        "market",
        "bloomreach_api_base_url",
        "bloomreach_project_token",
        "bloomreach_api_key_id",
        "bloomreach_api_secret",
        "hard_id_name",
        "hard_id_source_field",
        "sitoo_account_id",
        "sitoo_api_base_url",
        "sitoo_api_id",
        "sitoo_api_password",
        "sitoo_site_id",
        "enabled",
        "cached_reads",
        "queued_writes",
        "card_cache_max_cards",
        "card_cache_ttl_seconds",
    ):
        setattr(settings, name, opt(name))
    if message.set_field_mappings:
        settings.field_mappings = [
            FieldMapping(m.sitoo_field, m.target) for m in message.field_mappings
        ]
    if message.set_consent_types:
        settings.consent_types = [
            ConsentType(c.consent_id, c.category, c.label, c.description, c.default_value)
            for c in message.consent_types
        ]
    if message.set_channel_categories:
        settings.channel_categories = dict(message.channel_categories)
    if message.set_enrichment_rules:
        settings.enrichment_rules = [
            EnrichmentRule(
                r.segmentation_id,
                r.segment,
                r.status_color,
                r.status_text,
                tuple(r.voucher_passwords),
                r.section_title,
                r.aggregate_id,
                r.value_title,
            )
            for r in message.enrichment_rules
        ]
    loyalty = {
        name: getattr(message, f"loyalty_{name}")
        for name in LoyaltyConfig.__dataclass_fields__
        if message.HasField(f"loyalty_{name}")  # type: ignore[arg-type]  # generated names
    }
    settings.loyalty = loyalty or None
    return settings


def loyalty_fields(config: LoyaltyConfig) -> dict[str, object]:
    """The Integration message's ``loyalty_*`` fields (admin.proto 60-69, 74-75)."""
    return {f"loyalty_{name}": getattr(config, name) for name in LoyaltyConfig.__dataclass_fields__}


def integration_to_proto(integration: Integration) -> pb.Integration:
    return pb.Integration(
        name=integration.name,
        display_name=integration.display_name,
        company=integration.company,
        market=integration.market,
        enabled=integration.enabled,
        bloomreach=pb.BloomreachSettings(
            api_base_url=integration.bloomreach.api_base_url,
            project_token=integration.bloomreach.project_token,
            api_key_id=integration.bloomreach.api_key_id,
            has_api_secret=integration.bloomreach.api_secret is not None,
        ),
        matching=pb.CustomerMatching(
            hard_id_name=integration.hard_id_name,
            hard_id_source_field=integration.hard_id_source_field,
        ),
        field_mappings=[
            pb.FieldMapping(sitoo_field=m.sitoo_field, target=m.target)
            for m in integration.field_mappings
        ],
        consent_types=[
            pb.ConsentType(
                consent_id=c.consent_id,
                category=c.category,
                label=c.label,
                description=c.description,
                default_value=c.default_value,
            )
            for c in integration.consent_types
        ],
        channel_categories=integration.channel_categories,
        enrichment_rules=[
            pb.EnrichmentRule(
                segmentation_id=r.segmentation_id,
                segment=r.segment,
                status_color=r.status_color,
                status_text=r.status_text,
                voucher_passwords=list(r.voucher_passwords),
                section_title=r.section_title,
                aggregate_id=r.aggregate_id,
                value_title=r.value_title,
            )
            for r in integration.enrichment_rules
        ],
        sitoo=pb.SitooSettings(
            account_id=integration.sitoo.account_id,
            api_base_url=integration.sitoo.api_base_url,
            api_id=integration.sitoo.api_id,
            has_api_password=integration.sitoo.api_password is not None,
            site_id=integration.sitoo.site_id,
        ),
        spi_username=integration.spi_username,
        webhook_username=integration.webhook_username,
        created_at=int(integration.created_at),
        updated_at=int(integration.updated_at),
        cached_reads=integration.cached_reads,
        queued_writes=integration.queued_writes,
        card_cache_max_cards=integration.card_cache_max_cards,
        card_cache_ttl_seconds=integration.card_cache_ttl_seconds,
        **loyalty_fields(integration.loyalty),  # type: ignore[arg-type]  # typed by the proto
    )


def credentials_to_proto(credentials: IssuedCredentials) -> pb.IssuedCredentials:
    return pb.IssuedCredentials(
        spi_username=credentials.spi_username,
        spi_password=credentials.spi_password or "",
        webhook_username=credentials.webhook_username,
        webhook_password=credentials.webhook_password or "",
    )


def outbox_to_proto(message: OutboxEntry) -> pb.OutboxMessage:
    return pb.OutboxMessage(
        id=message.id,
        integration=message.integration,
        order_key=message.order_key,
        state=message.state,
        attempts=message.attempts,
        next_attempt_at=int(message.available_at),
        last_error=message.last_error or "",
        skip_reason=message.skip_reason or "",
        created_at=int(message.created_at),
        updated_at=int(message.updated_at),
        payload_json=json.dumps(message.payload, sort_keys=True),
        kind=message.kind,
    )


def quarantined_to_proto(row: QuarantineEntry) -> pb.QuarantinedPayload:
    return pb.QuarantinedPayload(
        id=row.id,
        integration=row.integration,
        received_at=int(row.received_at),
        reason=row.reason,
        raw_body=row.raw_body,
        request_id=row.request_id,
    )
