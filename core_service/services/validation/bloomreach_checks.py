"""Bloomreach checks without writes: credentials, read permissions, consent categories."""

from __future__ import annotations

from core_service.domain.bloomreach_api import BloomreachAuthFailed, BloomreachError
from core_service.domain.integration import Integration
from core_service.domain.validation import Check
from core_service.services.customers import CustomerService
from core_service.services.upstream_ports import BloomreachApi
from core_service.services.validation.checks import (
    CALL_TIMEOUT_S,
    PURCHASE_EVENTS,
    fail,
    nonce,
    ok,
    request_id_note,
)
from core_service.services.validation.remedies import (
    bloomreach_remedy,
    grant_for_attribute,
    permission_remedy,
)

OFFER_GATE = "loyalty_offer_gate"  # a line of its own only where the gate is configured


class BloomreachChecks:
    """Read-only probes of the integration's Bloomreach project: nothing is written."""

    def __init__(self, customers: CustomerService) -> None:
        self._customers = customers

    async def bloomreach_credentials(
        self, integration: Integration, client: BloomreachApi | None
    ) -> Check:
        name = "bloomreach_credentials"
        access = integration.bloomreach
        if client is None or not access.api_secret:
            missing = [
                label
                for label, value in (
                    ("API base URL (--bloomreach-url)", access.api_base_url),
                    ("project token (--project-token)", access.project_token),
                    ("API key ID (--key-id)", access.api_key_id),
                    ("API secret (--bloomreach-secret-file)", access.api_secret),
                )
                if not value
            ]
            return fail(
                name,
                f"not configured: {', '.join(missing)}",
                f"set them with `sitoo-bloomreach integration update {integration.name}`",
            )
        probe = {integration.hard_id_name: f"sitoo-bloomreach-probe-{nonce()}"}
        try:
            results = await client.attributes(
                probe, [{"type": "id", "id": integration.hard_id_name}], CALL_TIMEOUT_S
            )
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        if results is not None and not results[0].success:
            return fail(
                name,
                f"Bloomreach does not know the hard ID {integration.hard_id_name!r} "
                f"({results[0].error})",
                "set the integration's hard ID to the project's hard ID name "
                f"(`integration update {integration.name} --hard-id-name NAME`; Bloomreach: "
                "Data & Assets > Data manager > Customer IDs)",
            )
        return ok(
            name,
            f"{access.api_base_url} accepted API key {access.api_key_id!r} for project "
            f"{access.project_token}",
        )

    async def read_permissions(self, integration: Integration, client: BloomreachApi) -> Check:
        name = "bloomreach_read_permissions"
        mapping = self._customers.mapping(integration)
        probe = {integration.hard_id_name: f"sitoo-bloomreach-probe-{nonce()}"}
        attributes = list(mapping.attributes)
        try:
            results = await client.attributes(probe, attributes, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        missing: list[str] = []
        for attribute, result in zip(attributes, results or [], strict=False):
            if not result.success and "permission" in result.error.lower():
                missing.append(grant_for_attribute(attribute))
        try:
            await client.export_events(probe, PURCHASE_EVENTS, CALL_TIMEOUT_S, limit=1)
        except BloomreachAuthFailed as exc:
            if "permission" not in str(exc).lower():
                return fail(name, str(exc), bloomreach_remedy(integration, exc))
            missing.append(
                "Events > Get for 'purchase' and 'purchase_item' (the POS purchase history)"
            )
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        offers = integration.loyalty.event_types
        if offers:  # loyalty offers on the card (issue 14); the card shows none without them
            try:
                await client.export_events(probe, offers, CALL_TIMEOUT_S, limit=1)
            except BloomreachAuthFailed as exc:
                if "permission" not in str(exc).lower():
                    return fail(name, str(exc), bloomreach_remedy(integration, exc))
                names = " and ".join(f"'{t}'" for t in offers)
                missing.append(f"Events > Get for {names} (loyalty offers on the customer card)")
        if missing:
            unique = list(dict.fromkeys(missing))
            return fail(
                name,
                f"the API group cannot read: {'; '.join(unique)}",
                permission_remedy(integration, unique),
            )
        return ok(
            name,
            f"{len(attributes)} mapped attributes (properties, ids, consents, enrichment) and "
            "purchase events are readable",
        )

    async def offer_gate(self, integration: Integration, client: BloomreachApi) -> Check:
        """Loyalty's offer-count gate (domain/loyalty.py): on only when every kind of offer
        that is on has its aggregate, and useful only when Bloomreach answers them with a
        number. A gate that cannot be read costs nothing but the saving: cards export."""
        name = OFFER_GATE
        loyalty = integration.loyalty
        gate = loyalty.gate_aggregates
        if not loyalty.enabled:
            return ok(name, "loyalty offers are off: the card reads no offers, nothing to gate")
        if not gate:
            missing = [
                f"loyalty_{kind}_count_aggregate_id"
                for kind, event_type, aggregate in (
                    (
                        "promotion",
                        loyalty.promotion_event_type,
                        loyalty.promotion_count_aggregate_id,
                    ),
                    (
                        "bonus_check",
                        loyalty.bonus_check_event_type,
                        loyalty.bonus_check_count_aggregate_id,
                    ),
                )
                if event_type and not aggregate
            ]
            flag = missing[0].removeprefix("loyalty_").replace("_", "-")
            return fail(
                name,
                f"the offer-count gate is off: {', '.join(missing)} is not set; every card reads "
                "the offer events",
                f"set it (`integration update {integration.name} --loyalty {flag}=ID`), or "
                "clear the other to go without the gate",
            )
        probe = {integration.hard_id_name: f"sitoo-bloomreach-probe-{nonce()}"}
        attributes = [{"type": "aggregate", "id": aggregate} for aggregate in gate]
        try:
            results = await client.attributes(probe, attributes, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        if results is None:  # Bloomreach answered the made-up customer with 404
            return ok(name, f"aggregates {', '.join(gate)} configured (not probed: no customer)")
        problems = []
        for aggregate, result in zip(gate, results, strict=False):
            if not result.success:
                problems.append(f"{aggregate!r} cannot be read ({result.error})")
            elif isinstance(result.value, bool) or not isinstance(result.value, int | float):
                problems.append(f"{aggregate!r} is not a count ({result.value!r})")
        if problems:
            return fail(
                name,
                f"offer-count gate: {'; '.join(problems)}; until fixed every card reads the "
                "offer events (offers still show)",
                "create each aggregate in Bloomreach (an Aggregate analysis: count of the "
                "offer event type) and let the API group read it "
                f"({permission_remedy(integration, ['read access to the aggregates'])}), or "
                "clear the setting",
            )
        return ok(
            name,
            f"aggregates {', '.join(gate)} are readable: a card of a customer without offers "
            "costs one Bloomreach call",
        )

    async def consent_categories(self, integration: Integration, client: BloomreachApi) -> Check:
        name = "consent_categories"
        wanted = dict.fromkeys(
            [c.category for c in integration.consent_types]
            + list(integration.channel_categories.values())
        )
        if not wanted:
            return ok(name, "no consent categories configured")
        try:
            categories = await client.consent_categories(CALL_TIMEOUT_S)
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        by_id = {str(c.get("id")): c for c in categories}
        unknown = [c for c in wanted if c not in by_id]
        refused = [
            c
            for c in wanted
            if c in by_id and not (by_id[c].get("sources") or {}).get("private_api", False)
        ]
        problems: list[str] = []
        remedies: list[str] = []
        if unknown:
            problems.append(f"unknown in Bloomreach: {', '.join(unknown)}")
            remedies.append(
                "create the categor(ies) in Bloomreach > Project settings > Privacy management > "
                "Consents, or point the consent types at existing category IDs "
                f"(`integration update {integration.name} --consent ID=CATEGORY ...`; known: "
                f"{', '.join(sorted(by_id)) or 'none'})"
            )
        if refused:
            problems.append(f"do not accept changes from the private API: {', '.join(refused)}")
            remedies.append(
                "in Bloomreach > Project settings > Privacy management > Consents, edit each "
                "category and allow the source 'Private API'"
            )
        if problems:
            return fail(name, "; ".join(problems), "; and ".join(remedies))
        return ok(name, f"{', '.join(wanted)} exist and accept private-API changes")
