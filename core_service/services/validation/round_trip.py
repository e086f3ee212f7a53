"""The round trip on a test customer (see the package's docstring)."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from core_service.domain.bloomreach_api import BloomreachError
from core_service.domain.customer import CustomerInput, Origin
from core_service.domain.errors import DomainError
from core_service.domain.integration import Integration
from core_service.domain.validation import Check
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from core_service.services.ports import ValidationStore
from core_service.services.upstream_ports import BloomreachApi
from core_service.services.validation.checks import (
    CALL_TIMEOUT_S,
    VALIDATION_STORE,
    WRITE_EVENTS,
    TestCustomer,
    fail,
    ok,
    request_id_note,
    skip,
)
from core_service.services.validation.remedies import (
    bloomreach_remedy,
    delivery_remedy,
    domain_remedy,
    permission_remedy,
)
from core_service.services.validation.test_order import test_order_payload
from runtime.settings import Settings


class RoundTrip:
    """Writes on a marked test customer: create, look up, write permissions, a test order
    through the outbox and a relay, and anonymization at the end."""

    def __init__(
        self, customers: CustomerService, repository: ValidationStore, settings: Settings
    ) -> None:
        self._customers = customers
        self._repo = repository
        self._settings = settings

    async def customer_creation(self, integration: Integration, customer: TestCustomer) -> Check:
        name = "customer_creation"
        source = integration.hard_id_source_field
        data = CustomerInput(
            fields={source: customer.source_value, "name_first": "Validation"},
            consents=[],
        )
        data.fields.setdefault("name_last", "sitoo-bloomreach test customer")
        origin = Origin(store_id=VALIDATION_STORE)
        try:
            created = await self._customers.create(
                integration, data, origin, Deadline.after(CALL_TIMEOUT_S * 2)
            )
        except DomainError as exc:
            return fail(name, str(exc), domain_remedy(integration, str(exc)))
        customer.created = True
        customer.customer_id = created.customer_id
        customer.customer_ids = self._customers.mapping(integration).customer_ids(
            created.customer_id
        )
        return ok(name, f"created test customer {created.customer_id} (Add customer, CRM SPI)")

    async def customer_lookup(self, integration: Integration, customer: TestCustomer) -> Check:
        name = "customer_lookup"
        source = integration.hard_id_source_field
        found: list[Any] = []
        try:
            for _ in range(10):  # Bloomreach may take a moment to make a new profile readable
                found = await self._customers.search(
                    integration, source, customer.source_value, Deadline.after(CALL_TIMEOUT_S)
                )
                if found:
                    break
                await asyncio.sleep(1.0)
            if not found or found[0].customer_id != customer.customer_id:
                return fail(
                    name,
                    f"search by {source} did not find the test customer just created",
                    "check the hard ID settings (`--hard-id-name`, `--hard-id-field`) and the "
                    "mapping of that field; Bloomreach must hold it as the hard ID",
                )
            card = await self._customers.get(
                integration, customer.customer_id, Deadline.after(CALL_TIMEOUT_S)
            )
        except DomainError as exc:
            return fail(name, str(exc), domain_remedy(integration, str(exc)))
        return ok(
            name,
            f"search by {source} and Get customer found {card.customer_id} (the CRM SPI's "
            "search and customer card)",
        )

    async def write_permissions(
        self, integration: Integration, client: BloomreachApi, customer: TestCustomer
    ) -> Check:
        name = "bloomreach_write_permissions"
        now = int(time.time())
        tag = f"validation:{customer.customer_id}"
        properties = {
            m.name: "sitoo-bloomreach validation"
            for m in integration.field_mappings
            if m.namespace == "properties" and m.sitoo_field != integration.hard_id_source_field
        }
        commands: list[dict[str, Any]] = []
        if properties:
            commands.append(
                {
                    "name": "customers",
                    "command_id": f"{tag}:properties",
                    "data": {
                        "customer_ids": customer.customer_ids,
                        "properties": properties,
                        "update_timestamp": now,
                    },
                }
            )
        categories = [c.category for c in integration.consent_types] or list(
            integration.channel_categories.values()
        )
        for event_type in WRITE_EVENTS:
            props: dict[str, Any] = {"validation": True, "purchase_id": f"{tag}:probe"}
            if event_type == "consent":
                if not categories:
                    continue
                props = {
                    "action": "reject",
                    "category": categories[0],
                    "timestamp": now,
                    "source": VALIDATION_STORE,
                    "message": "sitoo-bloomreach integration validation",
                }
            commands.append(
                {
                    "name": "customers/events",
                    "command_id": f"{tag}:{event_type}",
                    "data": {
                        "customer_ids": customer.customer_ids,
                        "event_type": event_type,
                        "timestamp": now,
                        "properties": props,
                    },
                }
            )
        try:
            results = await client.batch(commands, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            return fail(name, f"{exc}{request_id_note(exc)}", bloomreach_remedy(integration, exc))
        missing: list[str] = []
        other: list[str] = []
        for command, result in zip(commands, results, strict=True):
            if result.success:
                continue
            errors = "; ".join(result.errors) or "refused"
            if command["name"] == "customers":
                missing.append(f"Customer properties > Set for {', '.join(sorted(properties))}")
            elif "not authorized" in errors.lower():
                missing.append(f"Events > Set for '{command['data']['event_type']}'")
            else:
                other.append(f"{command['data'].get('event_type', 'properties')}: {errors}")
        if missing:
            return fail(
                name,
                f"the API group cannot write: {'; '.join(missing)}",
                permission_remedy(integration, missing),
            )
        if other:
            return fail(name, "; ".join(other), "see the consent_categories check")
        written = ", ".join(
            (["customer properties"] if properties else [])
            + [f"'{c['data']['event_type']}' events" for c in commands if c["name"] != "customers"]
        )
        return ok(name, f"the API group may write {written}")

    async def order_tracking(
        self, integration: Integration, client: BloomreachApi, customer: TestCustomer
    ) -> Check:
        name = "order_tracking"
        nonce = secrets.token_hex(4)
        purchase_id = f"sitoo-bloomreach-validation-{nonce}"
        payload = test_order_payload(integration, customer, purchase_id)
        message_id = await self._repo.enqueue(
            integration.id, f"validation:{nonce}", payload, time.time()
        )
        limit = self._settings.validation_delivery_timeout_seconds
        waited = 0.0
        fate = None
        while waited < limit:
            fate = await self._repo.fate(message_id)
            if fate is not None and fate.state not in ("pending", "in_flight"):
                break
            await asyncio.sleep(0.25)
            waited += 0.25
        if fate is None or fate.state in ("pending", "in_flight"):
            return fail(
                name,
                f"test order message {message_id} is still {fate.state if fate else 'missing'} "
                f"after {limit:.0f} s",
                "no relay delivered it: start one (`sitoo-bloomreach relay`, or `run`) against "
                "this database and check its log",
            )
        if fate.state != "delivered":
            return fail(
                name,
                f"the relay could not deliver test order message {message_id}: {fate.state} "
                f"({fate.last_error})",
                delivery_remedy(integration, fate.last_error),
            )
        try:
            events = await client.export_events(
                customer.customer_ids, ["purchase"], CALL_TIMEOUT_S, limit=20
            )
        except BloomreachError as exc:
            return fail(
                name,
                f"delivered, but the purchase cannot be read back: {exc}",
                bloomreach_remedy(integration, exc),
            )
        landed = [
            e for e in events or [] if (e.get("properties") or {}).get("purchase_id") == purchase_id
        ]
        if not landed:
            return fail(
                name,
                f"the relay delivered purchase {purchase_id} but Bloomreach does not show it on "
                f"the test customer",
                "check that the relay and this core use the same integration settings, and "
                "Bloomreach's event limits (Data manager > Events)",
            )
        return ok(
            name,
            f"purchase {purchase_id} went through the outbox (message {message_id}) and a relay, "
            "and is on the test customer in Bloomreach",
        )

    async def anonymize(
        self, integration: Integration, client: BloomreachApi, customer: TestCustomer
    ) -> Check:
        name = "test_customer_anonymized"
        if not customer.created:
            return skip(name, "no test customer was created")
        try:
            found = await client.anonymize(customer.customer_ids, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            remedy = bloomreach_remedy(integration, exc)
            if "permission" in str(exc).lower():
                remedy = permission_remedy(integration, ["GDPR > Anonymize customer"])
            return fail(
                name,
                f"test customer {customer.customer_id} was NOT anonymized: {exc}",
                f"{remedy}; then anonymize {customer.customer_id} in Bloomreach by hand",
            )
        if not found:
            return fail(
                name,
                f"Bloomreach does not know test customer {customer.customer_id} any more",
                "nothing to clean up; if this repeats, check the hard ID settings",
            )
        return ok(name, f"test customer {customer.customer_id} anonymized")
