"""What Sitoo sends and expects, as the Sitoo-side driver understands it — on its own.

The driver plays Sitoo, so it must not learn Sitoo's contract from the code it tests: this
module states it again, from the vendor specs (``/work/shared/spec/sitoo-crm-spi-v2.md``,
``sitoo-events-and-orders.md``), without importing the edge. Each entry says where it comes
from:

* ``DOCUMENTED`` — Sitoo's own documentation says so (section of the spec given);
* ``THIRD_PARTY`` — seen in a third-party document or public code;
* ``INFERRED`` — a choice the public docs leave open. The edge makes the same choices in
  ``edge/spi_contract.py``; they are written down here a *second* time, independently, so the
  two can be compared side by side (``tests/sandbox/driver/test_driver_contract.py`` names every
  difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Source(StrEnum):
    DOCUMENTED = "documented"
    THIRD_PARTY = "third-party"
    INFERRED = "inferred"


@dataclass(frozen=True)
class Route:
    """One SPI operation Sitoo calls: method and path below the configured base URL."""

    name: str
    method: str
    path: str
    source: Source
    where: str  # the spec section that says so


# --- CRM SPI v2 (sitoo-crm-spi-v2.md §5) ---------------------------------------------------

SEARCH_CUSTOMERS: Final = Route("search_customers", "GET", "/customers", Source.DOCUMENTED, "§5.1")
ADD_CUSTOMER: Final = Route("add_customer", "POST", "/customers", Source.DOCUMENTED, "§5.2")
GET_CUSTOMER: Final = Route(
    "get_customer", "GET", "/customers/{customer_id}", Source.INFERRED, "§5.4"
)
UPDATE_CUSTOMER: Final = Route(
    "update_customer", "PUT", "/customers/{customer_id}", Source.INFERRED, "§5.5"
)
# §5.5: "accept PATCH as an alias" of the update.
PATCH_CUSTOMER: Final = Route(
    "patch_customer", "PATCH", "/customers/{customer_id}", Source.INFERRED, "§5.5"
)
CUSTOMER_TRANSACTIONS: Final = Route(
    "customer_transactions",
    "GET",
    "/customers/{customer_id}/transactions",
    Source.INFERRED,
    "§5.6",
)
LOOKUP: Final = Route("lookup", "GET", "/lookup", Source.INFERRED, "§5.3")
CONSENTS: Final = Route("consents", "GET", "/consents", Source.INFERRED, "§7")
REDEEM: Final = Route("redeem", "POST", "/customers/{customer_id}/redeem", Source.INFERRED, "§5.7")
UNDO_REDEEM: Final = Route(
    "undo_redeem", "POST", "/customers/{customer_id}/undo-redeem", Source.INFERRED, "§5.8"
)

# --- Events SPI (sitoo-events-and-orders.md §1-§3) -----------------------------------------

EVENTS: Final = Route("events", "POST", "/events", Source.DOCUMENTED, "events §1")

#: Every operation the Sitoo POS / event queue may call, CRM first.
CRM_ROUTES: Final = (
    SEARCH_CUSTOMERS,
    ADD_CUSTOMER,
    GET_CUSTOMER,
    UPDATE_CUSTOMER,
    PATCH_CUSTOMER,
    CUSTOMER_TRANSACTIONS,
    LOOKUP,
    CONSENTS,
    REDEEM,
    UNDO_REDEEM,
)
ALL_ROUTES: Final = (*CRM_ROUTES, EVENTS)

#: Where our middleware mounts one integration's SPIs (DESIGN §3: "the edge routes per
#: integration, e.g. /sitoo/{integration}/customers"); Sitoo is given this as its base URL.
INTEGRATION_MOUNT: Final = "/sitoo/{integration}"

# --- Requests (CRM §3, events §2) ----------------------------------------------------------

#: [DOCUMENTED] optional origin headers, values URL-encoded (percent-encoded UTF-8).
ORIGIN_HEADERS: Final = ("Store-ID", "Staff-ID", "Register-ID")
STORE_ID_HEADER, STAFF_ID_HEADER, REGISTER_ID_HEADER = ORIGIN_HEADERS

#: [DOCUMENTED] ``member_number`` (§5.1). [INFERRED] the rest: ``email`` and ``mobile``
#: (Omnium searches "by mobile or email"), ``personal_id`` (Sitoo's Voyado integration),
#: ``customer_id`` (the CRM's own id). ``phone`` is named as possible in §5.1 and not chosen.
SEARCH_KEY_TYPES_DOCUMENTED: Final = ("member_number",)
SEARCH_KEY_TYPES_INFERRED: Final = ("email", "mobile", "customer_id", "personal_id")
SEARCH_KEY_TYPES: Final = (*SEARCH_KEY_TYPES_DOCUMENTED, *SEARCH_KEY_TYPES_INFERRED)

#: [DOCUMENTED] an Events SPI batch is a JSON array of 1..10 events, in chronological order.
MAX_EVENTS_PER_BATCH: Final = 10
#: [DOCUMENTED] Sitoo gives up on a webhook after 15 s; the POS aborts a CRM call after 10 s
#: (v1 doc, [INFERRED] for v2) and wants answers under 1 s.
WEBHOOK_TIMEOUT_S: Final = 15.0
POS_TIMEOUT_S: Final = 10.0
POS_BUDGET_S: Final = 1.0
#: [DOCUMENTED] ``429``, ``503`` and ``504`` are the temporary codes Sitoo retries (current
#: rule); ``200`` removes the batch; anything else drops it.
WEBHOOK_RETRY_STATUSES: Final = frozenset({429, 503, 504})

# --- Answers (CRM §4, §6, §7) --------------------------------------------------------------

#: [DOCUMENTED] the status codes Sitoo lists for CRM SPI v2.
ALLOWED_STATUSES: Final = frozenset({200, 400, 401, 403, 404, 429, 500, 502, 503, 504})

#: [DOCUMENTED, sibling SPIs] the error object's keys; [INFERRED] that CRM v2 uses it.
ERROR_BODY_KEYS: Final = ("request_id", "error_code", "error_data")
ERROR_DATA_KEYS: Final = ("message",)
#: [INFERRED] status -> ``error_code`` (the sibling SPIs' code list, §4); others are "other".
ERROR_CODES: Final = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    429: "too-many-requests",
    502: "bad-gateway",
}
OTHER_ERROR_CODE: Final = "other"

#: [DOCUMENTED] the v2 customer example's fields, in the docs' order (§6.1).
CUSTOMER_FIELDS: Final = (
    "customer_id",
    "member_number",
    "email",
    "name_first",
    "name_last",
    "mobile",
    "invoice_address",
    "gender",
    "accepts_communication",
    "consents",
    "additional_options",
    "status",
    "promotions",
    "bonus_checks",
    "voucher_passwords",
    "store_id_home",
    "sections",
)
#: [INFERRED] what the POS does not write (§5.2 names customer_id and "probably" promotions,
#: bonus_checks, status, sections); ``voucher_passwords`` too, because campaign access is granted
#: by the CRM, not typed in at the till.
SERVER_OWNED_FIELDS: Final = frozenset(
    {"customer_id", "status", "promotions", "bonus_checks", "sections", "voucher_passwords"}
)
#: [DOCUMENTED] address, city, zip, country_id; [INFERRED] address2, state (v1 had them).
ADDRESS_FIELDS: Final = ("address", "address2", "city", "zip", "state", "country_id")
#: [DOCUMENTED] email, mail, sms; [INFERRED] phone.
CHANNELS: Final = ("email", "mail", "sms", "phone")
#: [INFERRED] a lookup answers prefill objects without ``customer_id`` (§5.3).
LOOKUP_OMITS_CUSTOMER_ID: Final = True
#: [INFERRED] consent definition keys, v1's ``consentid`` renamed v2-style (§7).
CONSENT_KEYS: Final = ("consent_id", "name", "description", "value")

# --- Redeem / Undo Redeem (CRM §5.7, §5.8) -------------------------------------------------

#: [INFERRED] §5.7: "a list of items, each {"bonus_check_id": …} or {"promotion_id": …}"; we
#: send the list as ``{"items": [...]}`` ("Redeem Items"). Undo Redeem takes the same body.
REDEEM_ITEMS_KEY: Final = "items"
#: [DOCUMENTED] the ids the customer card carries (§6.2: ``promotion_id``; [INFERRED]
#: ``bonus_check_id``, v1's bonus check id renamed v2-style).
REDEEM_ITEM_KEYS: Final = ("promotion_id", "bonus_check_id")
#: [INFERRED] §5.7: redeeming an already-redeemed item "fails with 400"; §5.8: after an undo
#: "the item is redeemable again". The answer is the customer card with ``redeemed`` updated.
REDEEM_TWICE_STATUS: Final = 400
#: [THIRD_PARTY] order item ``additionaldata`` keys naming what a sale line used (§9).
ORDER_ITEM_PROMOTION_KEY: Final = "crm-promotionid"
ORDER_ITEM_BONUS_CHECK_KEY: Final = "crm-bonuscheckid"


def redeem_body(items: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """The Redeem / Undo Redeem body for ``(key, id)`` pairs."""
    return {REDEEM_ITEMS_KEY: [{key: value} for key, value in items]}


def error_code_for(status: int) -> str:
    return ERROR_CODES.get(status, OTHER_ERROR_CODE)


def integration_path(integration: str, route: Route, **params: str) -> str:
    """``/sitoo/{integration}`` + the route's path with ``params`` filled in."""
    return INTEGRATION_MOUNT.format(integration=integration) + route.path.format(**params)
