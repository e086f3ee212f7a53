"""Everything about Sitoo's SPIs that the public docs leave open, in one place.

Each entry says whether it is *documented* by Sitoo or *inferred* by us (see
``../shared/spec/sitoo-crm-spi-v2.md`` §5.0 and §12). When Sitoo confirms or corrects an
inferred choice, this module is the one place to change; the edge's router and the Sitoo-side
driver in ``sandbox`` both read it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Confidence(StrEnum):
    DOCUMENTED = "documented"
    THIRD_PARTY = "third-party"
    INFERRED = "inferred"


@dataclass(frozen=True)
class SpiRoute:
    name: str
    method: str
    # Relative to the integration's base, ``/sitoo/{integration}``.
    path: str
    confidence: Confidence


# CRM SPI v2 route table (spec §5.0).
SEARCH_CUSTOMERS: Final = SpiRoute("search_customers", "GET", "/customers", Confidence.DOCUMENTED)
ADD_CUSTOMER: Final = SpiRoute("add_customer", "POST", "/customers", Confidence.DOCUMENTED)
GET_CUSTOMER: Final = SpiRoute(
    "get_customer", "GET", "/customers/{customer_id}", Confidence.INFERRED
)
UPDATE_CUSTOMER: Final = SpiRoute(
    "update_customer", "PUT", "/customers/{customer_id}", Confidence.INFERRED
)
PATCH_CUSTOMER: Final = SpiRoute(
    "patch_customer", "PATCH", "/customers/{customer_id}", Confidence.INFERRED
)
CUSTOMER_TRANSACTIONS: Final = SpiRoute(
    "customer_transactions", "GET", "/customers/{customer_id}/transactions", Confidence.INFERRED
)
LOOKUP: Final = SpiRoute("lookup", "GET", "/lookup", Confidence.INFERRED)
CONSENTS: Final = SpiRoute("consents", "GET", "/consents", Confidence.INFERRED)
# Redeem / Undo Redeem (spec §5.7, §5.8): the operations are documented POS interactions, the
# paths and bodies are ours; see "Redeem and Undo Redeem" below.
REDEEM: Final = SpiRoute("redeem", "POST", "/customers/{customer_id}/redeem", Confidence.INFERRED)
UNDO_REDEEM: Final = SpiRoute(
    "undo_redeem", "POST", "/customers/{customer_id}/undo-redeem", Confidence.INFERRED
)

# Events SPI (documented: POST {base}/events).
EVENTS: Final = SpiRoute("events", "POST", "/events", Confidence.DOCUMENTED)

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

# Prefix under which the edge serves one integration's SPIs.
INTEGRATION_PREFIX: Final = "/sitoo/{integration}"

# Optional origin headers; their values are URL-encoded by Sitoo (documented).
STORE_ID_HEADER: Final = "Store-ID"
STAFF_ID_HEADER: Final = "Staff-ID"
REGISTER_ID_HEADER: Final = "Register-ID"

# SearchKeyType: `member_number` is documented; the rest are inferred (spec §5.1).
SEARCH_KEY_TYPES: Final = ("member_number", "email", "mobile", "customer_id", "personal_id")

# Events SPI batch bound (documented): 1..10 events per POST.
MAX_EVENTS_PER_BATCH: Final = 10

# Error body: inferred from Sitoo's sibling SPIs (spec §4). Status -> error_code.
_ERROR_CODES: Final = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    429: "too-many-requests",
    502: "bad-gateway",
}

# The status codes Sitoo lists for CRM SPI v2 (documented, spec §4).
ALLOWED_STATUSES: Final = frozenset({200, 400, 401, 403, 404, 429, 500, 502, 503, 504})


def error_code_for(status: int) -> str:
    return _ERROR_CODES.get(status, "other")


def error_body(status: int, message: str, request_id: str | None = None) -> dict[str, object]:
    """The Sitoo error object: ``{request_id, error_code, error_data: {message}}``."""
    return {
        "request_id": request_id or str(uuid.uuid4()),
        "error_code": error_code_for(status),
        "error_data": {"message": message},
    }


def integration_path(integration: str, route: SpiRoute, **params: str) -> str:
    """The concrete path of ``route`` for ``integration`` (used by clients and tests)."""
    return "/sitoo/" + integration + route.path.format(**params)


# ---- Customer object (spec §6) ---------------------------------------------------------

# The documented customer fields, in the docs' order; every response carries all of them.
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
# [inferred] Fields the CRM owns: ignored when the POS sends them on add/update (spec §5.2).
SERVER_OWNED_FIELDS: Final = frozenset(
    {"customer_id", "status", "promotions", "bonus_checks", "voucher_passwords", "sections"}
)
# [documented] sub-fields address/city/zip/country_id; [inferred] address2/state (v1 had them).
ADDRESS_FIELDS: Final = ("address", "address2", "city", "zip", "state", "country_id")
# [documented] channels email/mail/sms; [inferred] phone.
CHANNELS: Final = ("email", "mail", "sms", "phone")

# [inferred] Size limits of what the POS may write (Sitoo documents none; Bloomreach caps a
# property value at 16 KB, we keep far below). Exceeding one is a 400 naming the field.
MAX_TEXT_LENGTH: Final = 255
FIELD_MAX_LENGTHS: Final = {
    "email": 254,
    "mobile": 32,
    "member_number": 64,
    "gender": 32,
    "store_id_home": 64,
    "invoice_address.zip": 32,
    "invoice_address.country_id": 2,
}
MAX_LIST_ITEMS: Final = 50
MAX_KEY_LENGTH: Final = 254

# [inferred] Lookup (spec §5.3) answers customer-shaped prefill objects without customer_id.
LOOKUP_OMITS_CUSTOMER_ID: Final = True
# [inferred] Consent definition keys (spec §7): v1's `consentid`/`value` renamed v2-style.
CONSENT_KEYS: Final = ("consent_id", "name", "description", "value")
# [inferred] Transactions (spec §5.6): newest first, no paging; `limit` query caps the count.
TRANSACTIONS_MAX_LIMIT: Final = 100

# ---- Input bounds at the edge (edge/input_guard.py) -------------------------------------
# [inferred] Sitoo documents none of these; they are far above anything a POS or the Events
# SPI sends and far below what could hurt a parser or the core. Exceeding one is a 400.
# JSON nesting: a customer is 3 levels deep, an event batch 3 plus its `data` object.
MAX_JSON_DEPTH: Final = 32
# Characters of one JSON number: 64-bit ids have 19 digits; anything longer is not data.
MAX_JSON_NUMBER_LENGTH: Final = 40
# The Authorization header: `Basic ` and base64 of a name (<= 63) and a generated password.
MAX_AUTHORIZATION_LENGTH: Final = 1024
# Store-ID / Staff-ID / Register-ID after URL-decoding (documented as URL-encoded ids).
MAX_ORIGIN_HEADER_LENGTH: Final = 200
# Digits of an integer query parameter (e.g. transactions' `limit`), ASCII 0-9 only.
MAX_QUERY_INT_DIGITS: Final = 6

# ---- Redeem and Undo Redeem (spec §5.7, §5.8) ----------------------------------------------
# [inferred] Sitoo publishes no schema for these calls. Our reading:
# * The body names what the cashier redeems: ``{"items": [<item>, ...]}``. "Redeem Items"
#   (Omnium's name for the feature) and one call per cart suggest a list; the spec's design
#   choice is "a list of items". A bare JSON array of items is accepted as the same request,
#   so either reading of "a list" works.
# * An item is an object holding exactly one of ``promotion_id`` / ``bonus_check_id`` (the ids
#   the customer card shows, spec §6.2), a non-empty string. Other keys in an item are ignored
#   (spec §12.6: tolerate unknown fields); an item with both ids, neither, or an empty one is
#   a 400 naming the item (``items[2].promotion_id``).
# * The same id twice in one call is a 400 (a cashier cannot use one offer twice in a cart).
# * The answer is the customer card (the Customer object) after the call, so the POS sees
#   ``redeemed`` flip without another Get Customer.
# * Redeeming an already-redeemed item, or undoing one that is not redeemed, is a 400 with the
#   core's message naming the item (spec §5.7 "fails with 400"); nothing of that call is applied.
# * Undo Redeem takes the same body and gives the same answer (spec §5.8).
REDEEM_ITEMS_KEY: Final = "items"
REDEEM_ACCEPTS_BARE_LIST: Final = True
REDEEM_ITEM_KEYS: Final = ("promotion_id", "bonus_check_id")
# Bounds: a cart holds a handful of offers; ids are UUIDs or event ids from Bloomreach.
MAX_REDEEM_ITEMS: Final = 20
MAX_OFFER_ID_LENGTH: Final = 128
# ---- Our own response headers (not Sitoo's) --------------------------------------------
# [ours] Issue 15: a customer answer (search, get, lookup) given from the card cache because
# Bloomreach failed carries `X-Sitoo-Bloomreach-Cache: hit; age=<seconds>` (the card's age).
# The body keeps Sitoo's shape; Sitoo ignores headers it does not know. Fresh answers carry
# no such header.
CARD_CACHE_HEADER: Final = "X-Sitoo-Bloomreach-Cache"
# ---- Loyalty offers, core side (issue 14; core_service/domain/loyalty.py) ----------------
# The core cannot import this module; tests/unit/test_loyalty.py holds the two equal.
# [inferred] Promotions and bonus checks are customer events in Bloomreach (a marketer's
# scenario tracks them); event types and property names are per-integration settings.
LOYALTY_DEFAULT_EVENT_TYPES: Final = {
    "promotion": "sitoo_promotion",
    "bonus_check": "sitoo_bonus_check",
}
# [inferred] The ledger's changes reach Bloomreach as one customer event per item and change.
LOYALTY_CHANGE_EVENT_TYPES: Final = (
    "sitoo_promotion_redeemed",
    "sitoo_promotion_undone",
    "sitoo_bonus_check_redeemed",
    "sitoo_bonus_check_undone",
)
# [inferred] Offer events one card reads (one export, newest first; the newest per id wins).
LOYALTY_MAX_OFFER_EVENTS: Final = 100
# [inferred] Sitoo sends no idempotency key. A repeat of the same call (action, item set) from
# the same store and Register-ID within this many seconds is a POS retry: it answers as the
# first did and changes nothing. Without a Register-ID a repeat is another till's press (400
# "already redeemed"), so that two tills can never both redeem one offer.
LOYALTY_RETRY_WINDOW_SECONDS: Final = 120.0
# [inferred] Redeem is all or nothing; the 400 names the first refused item, e.g.
# "bonus_check_id 'b-50' is already redeemed" / "... is not an offer of this customer" /
# "... has expired"; undo: "... is not redeemed". An expired but redeemed offer can be undone.
LOYALTY_REFUSALS: Final = (
    "is already redeemed",
    "is not an offer",
    "has expired",
    "is not redeemed",
)
# [documented] Promotion: name, promotion_id, promotion_type{type, value_int}, redeemed.
# [inferred] valid_until (unix seconds, 0 = none), value (decimal string: percent for
# cart_percent, money for cart_amount) and currency; value_int = the value when whole, else 0.
# Bonus check [inferred, v1-like]: bonus_check_id, name, value (the event's amount, else its
# value), redeemed, description, valid_until, currency. Expired offers are not shown.
LOYALTY_PROMOTION_EXTRA_FIELDS: Final = ("valid_until", "value", "currency")
LOYALTY_BONUS_CHECK_EXTRA_FIELDS: Final = ("description", "valid_until", "currency")
# [inferred] An order line's additionaldata crm-promotionid / crm-bonuscheckid becomes the
# purchase_item's promotion_id / bonus_check_id; orders (sales or refunds) never change the
# ledger: only Undo Redeem makes an offer redeemable again.
LOYALTY_ORDER_ITEM_KEYS: Final = {
    "crm-promotionid": "promotion_id",
    "crm-bonuscheckid": "bonus_check_id",
}
