"""The product guide's step 7, "Validate the setup", against the integration's real endpoints.

Every check is a function returning a :class:`Check` (passed, detail, remedy in plain words:
which setting, which permission). Nothing is assumed: permissions are probed with real calls.

- Reads (mapped properties, ids, consents, purchase events) are probed on a customer that does
  not exist: Bloomreach answers each attribute with a value or "No permission", and checks the
  events permission before it looks the customer up. Nothing is written.
- Writes (customer properties, ``purchase``, ``purchase_item``, ``consent`` events) can only be
  probed by writing. They run on a clearly marked test customer
  (``sitoo-bloomreach-validation-<nonce>@example.com``) that the round trip creates through the
  same ``CustomerService`` the CRM SPI uses, and that is anonymized at the end, whatever failed.
- The test order travels through the real outbox and a real relay: a message with prepared
  commands (built by the order path's own ``build_purchase`` from a synthetic POS sale, with a
  marked ``purchase_id``) is enqueued; a relay sends it as it sends any prepared message, with
  no Sitoo fetch (so a real Sitoo account never gets test orders); then the ``purchase`` event is
  looked up in Bloomreach.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from core_service.adapters.bloomreach import (
    BloomreachAuthFailed,
    BloomreachClient,
    BloomreachError,
    BloomreachProject,
    BloomreachRateLimited,
    BloomreachUnavailable,
)
from core_service.adapters.db.validation_repo import ValidationRepository
from core_service.adapters.http_client import HttpClients
from core_service.adapters.sitoo_api import (
    SitooAccount,
    SitooAuthFailed,
    SitooError,
    SitooOrderLister,
)
from core_service.domain.customer import CustomerInput, Origin
from core_service.domain.errors import DomainError
from core_service.domain.integration import Integration
from core_service.domain.orders import CustomerRule, OrderRef, build_purchase
from core_service.domain.validation import Check, Report
from core_service.metrics import CoreMetrics
from core_service.services.customers import CustomerService
from core_service.services.deadline import Deadline
from runtime.settings import Settings

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0
PURCHASE_EVENTS = ("purchase", "purchase_item")
WRITE_EVENTS = ("purchase", "purchase_item", "consent")
VALIDATION_STORE = "sitoo-bloomreach-validation"
API_SETTINGS = "Bloomreach > Project settings > Access management > API"


def ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def fail(name: str, detail: str, remedy: str) -> Check:
    return Check(name, False, detail, remedy)


def skip(name: str, why: str) -> Check:
    return Check(name, False, f"skipped: {why}", "", skipped=True)


@dataclass
class TestCustomer:
    source_value: str  # the value of the hard ID's Sitoo field (e-mail, member number...)
    customer_id: str = ""
    created: bool = False
    customer_ids: dict[str, str] = field(default_factory=dict)


def _nonce() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _test_value(source_field: str, nonce: str) -> str:
    if source_field == "email":
        return f"sitoo-bloomreach-validation-{nonce}@example.com"
    if source_field == "mobile":
        # Sweden reserves 070-1740605..699 for fiction: never a real subscriber.
        return f"+4670174{secrets.randbelow(95) + 605:03d}"
    return f"sitoo-bloomreach-validation-{nonce}"


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


def _permission_remedy(integration: Integration, grants: list[str]) -> str:
    return (
        f"in {API_SETTINGS}, open the group of API key {integration.bloomreach.api_key_id!r} > "
        f"Group permissions and allow: {'; '.join(grants)}"
    )


class ValidationService:
    def __init__(
        self,
        customers: CustomerService,
        repository: ValidationRepository,
        http: HttpClients,
        settings: Settings,
        metrics: CoreMetrics,
    ) -> None:
        self._customers = customers
        self._repo = repository
        self._http = http
        self._settings = settings
        self._metrics = metrics

    async def validate(self, integration: Integration, *, skip_round_trip: bool) -> Report:
        """Run every check and keep the outcome as the integration's last validation."""
        ran_at = time.time()
        checks = await self._checks(integration, skip_round_trip=skip_round_trip)
        report = Report(ran_at, all(c.passed or c.skipped for c in checks), tuple(checks))
        await self._repo.record_run(integration.id, report.ran_at, report.passed, report.checks)
        return report

    async def last_report(self, integration: Integration) -> Report | None:
        return await self._repo.last_run(integration.id)

    async def _checks(self, integration: Integration, *, skip_round_trip: bool) -> list[Check]:
        checks: list[Check] = []
        client = self._bloomreach(integration)

        async def run(name: str, check: Callable[[], Awaitable[Check]]) -> Check:
            try:
                result = await check()
            except Exception as exc:  # a check that breaks is a failed check, not a crash
                log.exception("validation check %s failed unexpectedly", name)
                result = fail(name, f"{type(exc).__name__}: {exc}", "see the core's log")
            checks.append(result)
            outcome = "skipped" if result.skipped else ("pass" if result.passed else "fail")
            self._metrics.validation_checks.labels(name, outcome).inc()
            return result

        credentials = await run(
            "bloomreach_credentials", lambda: self.bloomreach_credentials(integration, client)
        )
        if credentials.passed and client is not None:
            await run(
                "bloomreach_read_permissions", lambda: self.read_permissions(integration, client)
            )
            await run("consent_categories", lambda: self.consent_categories(integration, client))
        else:
            for name in ("bloomreach_read_permissions", "consent_categories"):
                await run(name, _skipped(name, "Bloomreach credentials failed"))
        await run("sitoo_credentials", lambda: self.sitoo_credentials(integration))
        await run("edge_reachable", self.edge_reachable)
        round_trip = (
            "customer_creation",
            "customer_lookup",
            "bloomreach_write_permissions",
            "order_tracking",
            "test_customer_anonymized",
        )
        if skip_round_trip or not credentials.passed or client is None:
            why = "--skip-round-trip" if skip_round_trip else "Bloomreach credentials failed"
            for name in round_trip:
                await run(name, _skipped(name, why))
            return checks
        source = integration.hard_id_source_field
        customer = TestCustomer(_test_value(source, _nonce()))
        try:
            created = await run(
                "customer_creation", lambda: self.customer_creation(integration, customer)
            )
            if created.passed:
                await run("customer_lookup", lambda: self.customer_lookup(integration, customer))
                await run(
                    "bloomreach_write_permissions",
                    lambda: self.write_permissions(integration, client, customer),
                )
                await run(
                    "order_tracking", lambda: self.order_tracking(integration, client, customer)
                )
            else:
                for name in round_trip[1:4]:
                    await run(name, _skipped(name, "the test customer could not be created"))
        finally:
            await run(
                "test_customer_anonymized", lambda: self.anonymize(integration, client, customer)
            )
        return checks

    def _bloomreach(self, integration: Integration) -> BloomreachClient | None:
        access = integration.bloomreach
        if not (access.api_base_url and access.project_token and access.api_key_id):
            return None
        project = BloomreachProject(
            access.api_base_url, access.project_token, access.api_key_id, access.api_secret or ""
        )
        return BloomreachClient(self._http, project)

    # ---- Bloomreach, read-only ----

    async def bloomreach_credentials(
        self, integration: Integration, client: BloomreachClient | None
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
        probe = {integration.hard_id_name: f"sitoo-bloomreach-probe-{_nonce()}"}
        try:
            results = await client.attributes(
                probe, [{"type": "id", "id": integration.hard_id_name}], CALL_TIMEOUT_S
            )
        except BloomreachError as exc:
            return fail(name, f"{exc}{_request_id(exc)}", bloomreach_remedy(integration, exc))
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

    async def read_permissions(self, integration: Integration, client: BloomreachClient) -> Check:
        name = "bloomreach_read_permissions"
        mapping = self._customers.mapping(integration)
        probe = {integration.hard_id_name: f"sitoo-bloomreach-probe-{_nonce()}"}
        attributes = list(mapping.attributes)
        try:
            results = await client.attributes(probe, attributes, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            return fail(name, f"{exc}{_request_id(exc)}", bloomreach_remedy(integration, exc))
        missing: list[str] = []
        for attribute, result in zip(attributes, results or [], strict=False):
            if not result.success and "permission" in result.error.lower():
                missing.append(_grant_for_attribute(attribute))
        try:
            await client.export_events(probe, PURCHASE_EVENTS, CALL_TIMEOUT_S, limit=1)
        except BloomreachAuthFailed as exc:
            if "permission" not in str(exc).lower():
                return fail(name, str(exc), bloomreach_remedy(integration, exc))
            missing.append(
                "Events > Get for 'purchase' and 'purchase_item' (the POS purchase history)"
            )
        except BloomreachError as exc:
            return fail(name, f"{exc}{_request_id(exc)}", bloomreach_remedy(integration, exc))
        if missing:
            unique = list(dict.fromkeys(missing))
            return fail(
                name,
                f"the API group cannot read: {'; '.join(unique)}",
                _permission_remedy(integration, unique),
            )
        return ok(
            name,
            f"{len(attributes)} mapped attributes (properties, ids, consents, enrichment) and "
            "purchase events are readable",
        )

    async def consent_categories(self, integration: Integration, client: BloomreachClient) -> Check:
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
            return fail(name, f"{exc}{_request_id(exc)}", bloomreach_remedy(integration, exc))
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

    # ---- Sitoo and the edge ----

    async def sitoo_credentials(self, integration: Integration) -> Check:
        name = "sitoo_credentials"
        sitoo = integration.sitoo
        if not (sitoo.api_base_url and sitoo.account_id and sitoo.api_id):
            return fail(
                name,
                "the Sitoo REST API URL, account or API id is not configured",
                f"`sitoo-bloomreach integration update {integration.name} --sitoo-url URL "
                "--sitoo-account N --sitoo-api-id ID --sitoo-password-file FILE`",
            )
        account = SitooAccount(
            sitoo.api_base_url, sitoo.account_id, sitoo.api_id, sitoo.api_password or ""
        )
        now = int(time.time())
        try:
            page = await SitooOrderLister(self._http, account).list_orders(
                date_from=now - 86400,
                date_to=now + 60,
                order_id_from=1,
                start=0,
                num=1,
                timeout=CALL_TIMEOUT_S,
                fields="orderid",
            )
        except SitooAuthFailed as exc:
            return fail(
                name,
                str(exc),
                f"Sitoo refused API id {sitoo.api_id!r} on account {sitoo.account_id}: create or "
                "reset its password in Sitoo Back Office > Settings > Sitoo REST API and run "
                f"`sitoo-bloomreach integration update {integration.name} "
                "--sitoo-password-file FILE` (the API id's prefix must be the account number)",
            )
        except SitooError as exc:
            return fail(
                name,
                str(exc),
                f"check the Sitoo REST API base URL ({sitoo.api_base_url!r}, shown in Back "
                "Office > Settings > Sitoo REST API) and the account number",
            )
        return ok(
            name,
            f"account {sitoo.account_id} accepted API id {sitoo.api_id!r} "
            f"({page.totalcount} orders in the last 24 h)",
        )

    async def edge_reachable(self) -> Check:
        name = "edge_reachable"
        url = (self._settings.edge_public_url or "").rstrip("/")
        if not url:
            return skip(name, "SITOO_BR_EDGE_PUBLIC_URL is not set")
        try:
            session = self._http.session(url)
            async with session.get(
                f"{url}/readyz", timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S)
            ) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            return fail(
                name,
                f"{url}/readyz: {type(exc).__name__}",
                "Sitoo calls the edge at this URL: check DNS, TLS and the load balancer, or "
                "fix SITOO_BR_EDGE_PUBLIC_URL",
            )
        if status != 200:
            return fail(
                name,
                f"{url}/readyz answered {status}",
                "the edge cannot reach the core or its database: check the edge's "
                "SITOO_BR_CORE_TARGET, the service token and the core's health",
            )
        return ok(name, f"{url} is ready")

    # ---- the round trip ----

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
            return fail(name, str(exc), _domain_remedy(integration, str(exc)))
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
            return fail(name, str(exc), _domain_remedy(integration, str(exc)))
        return ok(
            name,
            f"search by {source} and Get customer found {card.customer_id} (the CRM SPI's "
            "search and customer card)",
        )

    async def write_permissions(
        self, integration: Integration, client: BloomreachClient, customer: TestCustomer
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
            return fail(name, f"{exc}{_request_id(exc)}", bloomreach_remedy(integration, exc))
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
                _permission_remedy(integration, missing),
            )
        if other:
            return fail(name, "; ".join(other), "see the consent_categories check")
        written = ", ".join(
            (["customer properties"] if properties else [])
            + [f"'{c['data']['event_type']}' events" for c in commands if c["name"] != "customers"]
        )
        return ok(name, f"the API group may write {written}")

    async def order_tracking(
        self, integration: Integration, client: BloomreachClient, customer: TestCustomer
    ) -> Check:
        name = "order_tracking"
        nonce = secrets.token_hex(4)
        purchase_id = f"sitoo-bloomreach-validation-{nonce}"
        payload = _test_order_payload(integration, customer, purchase_id)
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
                _delivery_remedy(integration, fate.last_error),
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
        self, integration: Integration, client: BloomreachClient, customer: TestCustomer
    ) -> Check:
        name = "test_customer_anonymized"
        if not customer.created:
            return skip(name, "no test customer was created")
        try:
            found = await client.anonymize(customer.customer_ids, CALL_TIMEOUT_S)
        except BloomreachError as exc:
            remedy = bloomreach_remedy(integration, exc)
            if "permission" in str(exc).lower():
                remedy = _permission_remedy(integration, ["GDPR > Anonymize customer"])
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


def _skipped(name: str, why: str) -> Callable[[], Awaitable[Check]]:
    async def check() -> Check:
        return skip(name, why)

    return check


def _request_id(exc: BloomreachError) -> str:
    return f" (Bloomreach x-request-id {exc.request_id})" if exc.request_id else ""


def _grant_for_attribute(attribute: dict[str, Any]) -> str:
    kind = attribute.get("type")
    if kind == "property":
        return f"Customer properties > Get for '{attribute.get('property')}'"
    if kind == "consent":
        return "Events > Get for 'consent' (consent reads)"
    if kind in ("segmentation", "aggregate"):
        return f"read access to {kind} {attribute.get('id')!r} (customer-card enrichment)"
    return f"read access to {kind} {attribute.get('id', '')!r}"


def _domain_remedy(integration: Integration, message: str) -> str:
    lowered = message.lower()
    if "not authorized to add event" in lowered:
        return _permission_remedy(
            integration, ["Events > Set for 'consent' (new customers get consent events)"]
        )
    if "not authorized to update" in lowered:
        return _permission_remedy(integration, ["Customer properties > Set for mapped fields"])
    if "consent category" in lowered:
        return "see the consent_categories check"
    if "credentials" in lowered or "api key" in lowered:
        return key_remedy(integration)
    return "see the detail; the core's log has Bloomreach's x-request-id"


def _delivery_remedy(integration: Integration, error: str) -> str:
    lowered = error.lower()
    if "not authorized to add event" in lowered:
        return _permission_remedy(integration, ["Events > Set for 'purchase' and 'purchase_item'"])
    if "refused the api key" in lowered or "401" in lowered or "403" in lowered:
        return key_remedy(integration)
    return "see `sitoo-bloomreach outbox show ID` and the relay's log"


def _test_order_payload(
    integration: Integration, customer: TestCustomer, purchase_id: str
) -> dict[str, Any]:
    """A synthetic, clearly marked POS sale for the test customer, through the order path's
    own command builder; ids are then marked so nothing can mistake it for a real order."""
    now = int(time.time())
    order = {
        "orderid": 0,
        "ordertypeid": 10,
        "orderstateid": 10,
        "paymentstateid": 20,
        "orderdate": now,
        "currencycode": "SEK",
        "moneytotal_gross_all": "0.00",
        "moneyfinal_net": "0.00",
        "moneyfinal_vat": "0.00",
        "additionaldata": {
            "crm-customerid": customer.customer_id,
            "store-name": VALIDATION_STORE,
            "store-externalid": VALIDATION_STORE,
        },
        "orderitems": [
            {
                "orderitemid": 1,
                "sku": "SITOO-BLOOMREACH-VALIDATION",
                "productname": "sitoo-bloomreach validation (not a sale)",
                "quantity": 1,
                "moneyitemtotal_net": "0.00",
                "moneyitemtotal_vat": "0.00",
                "moneynetpriceperunit": "0.00",
                "vatvalue": 0,
            }
        ],
        "payments": [],
    }
    ref = OrderRef(integration.sitoo.account_id, integration.sitoo.site_id, 0)
    rule = CustomerRule(integration.hard_id_name, integration.hard_id_source_field)
    purchase = build_purchase(order, ref, rule, "sale", customer.customer_id)
    commands = []
    for command in purchase.commands:
        data = dict(command["data"])
        properties = {**data["properties"], "purchase_id": purchase_id, "validation": True}
        suffix = str(command["command_id"]).split(":", 3)[-1]
        commands.append(
            {
                **command,
                "command_id": f"{purchase_id}:{suffix}",
                "data": {**data, "customer_ids": customer.customer_ids, "properties": properties},
            }
        )
    return {
        "validation": True,
        "purchase": {"purchase_id": purchase_id, "kind": "sale"},
        "commands": commands,
    }
