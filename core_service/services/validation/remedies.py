"""Remedies in plain words: which setting to change, which permission to grant, and where."""

from __future__ import annotations

from typing import Any

from core_service.domain.bloomreach_api import (
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachRateLimited,
    BloomreachUnavailable,
)
from core_service.domain.integration import Integration

API_SETTINGS = "Bloomreach > Project settings > Access management > API"


def key_remedy(integration: Integration) -> str:
    return (
        f"check the integration's Bloomreach API key ID ({integration.bloomreach.api_key_id!r}) "
        f"and its API secret (Bloomreach shows the secret once, in {API_SETTINGS}; set it with "
        f"`sitoo-bloomreach integration update {integration.name} --bloomreach-secret-file FILE`)"
    )


def bloomreach_remedy(integration: Integration, exc: BloomreachError) -> str:
    text = str(exc).lower()
    if isinstance(exc, BloomreachAuthFailed) and "project token" in text:
        return (
            f"the project token {integration.bloomreach.project_token!r} is not a project of "
            f"this Bloomreach instance: copy it from {API_SETTINGS} and run `sitoo-bloomreach "
            f"integration update {integration.name} --project-token TOKEN` (or fix "
            "--bloomreach-url)"
        )
    if isinstance(exc, BloomreachAuthFailed):
        return key_remedy(integration)
    if isinstance(exc, BloomreachUnavailable | BloomreachRateLimited):
        return (
            f"Bloomreach at {integration.bloomreach.api_base_url!r} did not answer usefully; "
            "check the API base URL (`--bloomreach-url`, the instance URL shown in "
            f"{API_SETTINGS}) and try again"
        )
    return f"Bloomreach refused the request: {exc}"


def permission_remedy(integration: Integration, grants: list[str]) -> str:
    return (
        f"in {API_SETTINGS}, open the group of API key {integration.bloomreach.api_key_id!r} > "
        f"Group permissions and allow: {'; '.join(grants)}"
    )


def grant_for_attribute(attribute: dict[str, Any]) -> str:
    kind = attribute.get("type")
    if kind == "property":
        return f"Customer properties > Get for '{attribute.get('property')}'"
    if kind == "consent":
        return "Events > Get for 'consent' (consent reads)"
    if kind == "segmentation":
        return f"read access to {kind} {attribute.get('id')!r} (customer-card enrichment)"
    if kind == "aggregate":
        return (
            f"read access to aggregate {attribute.get('id')!r} (customer-card enrichment or "
            "loyalty's offer-count gate)"
        )
    return f"read access to {kind} {attribute.get('id', '')!r}"


def domain_remedy(integration: Integration, message: str) -> str:
    lowered = message.lower()
    if "not authorized to add event" in lowered:
        return permission_remedy(
            integration, ["Events > Set for 'consent' (new customers get consent events)"]
        )
    if "not authorized to update" in lowered:
        return permission_remedy(integration, ["Customer properties > Set for mapped fields"])
    if "consent category" in lowered:
        return "see the consent_categories check"
    if "credentials" in lowered or "api key" in lowered:
        return key_remedy(integration)
    return "see the detail; the core's log has Bloomreach's x-request-id"


def delivery_remedy(integration: Integration, error: str) -> str:
    lowered = error.lower()
    if "not authorized to add event" in lowered:
        return permission_remedy(integration, ["Events > Set for 'purchase' and 'purchase_item'"])
    if "refused the api key" in lowered or "401" in lowered or "403" in lowered:
        return key_remedy(integration)
    return "see `sitoo-bloomreach outbox show ID` and the relay's log"
