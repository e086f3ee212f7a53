"""The OpenAPI 3 document of every route the edge serves, built from ``edge.spi_contract``
so that it cannot drift from the router. Served at ``GET /openapi.json``."""

from __future__ import annotations

import functools
from typing import Any, Final

from aiohttp import web

from edge import customer_schema as fields
from edge import spi_contract as spi
from sitoo_bloomreach.v1 import customers_pb2 as pb

_STR: Final = {"type": "string"}
_STRINGS: Final = {"type": "array", "items": _STR}
_ERROR_STATUSES: Final = (400, 401, 403, 404, 429, 500, 502, 503, 504)
_DESCRIPTIONS: Final = {
    200: "Success",
    400: "Bad request: invalid input (the message names the field)",
    401: "Unauthorized: HTTP Basic credentials missing or wrong",
    403: "Forbidden",
    404: "Not found",
    429: "Too many requests (Bloomreach rate limit)",
    500: "Internal server error",
    502: "Bad gateway: Bloomreach refused the integration's configuration",
    503: "Service unavailable: retry later",
    504: "Gateway timeout: Bloomreach did not answer in time",
}


def _obj(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _schemas() -> dict[str, Any]:
    # Shapes come from the protos (edge.customer_schema); limits and enums from the contract.
    option = _obj({"id": _STR, "enum_values": _STRINGS}, ("id",))
    customer_props: dict[str, Any] = fields.json_schema(pb.Customer.DESCRIPTOR)["properties"]
    customer_props["additional_options"] = {"type": "array", "items": option}

    def limited(name: str) -> dict[str, Any]:
        return {"type": "string", "maxLength": spi.FIELD_MAX_LENGTHS.get(name, spi.MAX_TEXT_LENGTH)}

    writable = {name: limited(name) for name in fields.WRITABLE_TEXT_FIELDS}
    writable["invoice_address"] = _obj(
        {sub: limited(f"invoice_address.{sub}") for sub in fields.ADDRESS_FIELDS}
    )
    writable["accepts_communication"] = {
        "type": "array",
        "items": {"type": "string", "enum": list(spi.CHANNELS)},
        "maxItems": spi.MAX_LIST_ITEMS,
    }
    writable["consents"] = {"type": "array", "items": _STR, "maxItems": spi.MAX_LIST_ITEMS}
    writable["additional_options"] = {
        "type": "array",
        "items": option,
        "maxItems": spi.MAX_LIST_ITEMS,
    }
    consent_id, name, description, value = spi.CONSENT_KEYS
    return {
        **_redeem_schemas(),
        "Customer": _obj(customer_props, ("customer_id",)),
        "CustomerPrefill": _obj({k: v for k, v in customer_props.items() if k != "customer_id"}),
        "CustomerInput": {**_obj(writable), "description": "Unknown fields are ignored."},
        "ConsentDefinition": _obj(
            {consent_id: _STR, name: _STR, description: _STR, value: {"type": "boolean"}},
            (consent_id, value),
        ),
        "Purchase": {
            **fields.json_schema(pb.Purchase.DESCRIPTOR),
            "required": ["purchase_id"],
        },
        "Error": _obj(
            {
                "request_id": _STR,
                "error_code": {
                    "type": "string",
                    "enum": sorted({spi.error_code_for(s) for s in _ERROR_STATUSES}),
                },
                "error_data": _obj({"message": _STR}, ("message",)),
            },
            ("request_id", "error_code", "error_data"),
        ),
    }


def _redeem_schemas() -> dict[str, Any]:
    """Redeem / Undo Redeem bodies (spec §5.7, §5.8; our reading in edge.spi_contract)."""
    offer_id = {"type": "string", "minLength": 1, "maxLength": spi.MAX_OFFER_ID_LENGTH}
    item = {
        "type": "object",
        "properties": {key: offer_id for key in spi.REDEEM_ITEM_KEYS},
        "oneOf": [{"required": [key]} for key in spi.REDEEM_ITEM_KEYS],
        "description": "Exactly one of " + " or ".join(spi.REDEEM_ITEM_KEYS) + ".",
    }
    items = {
        "type": "array",
        "items": _ref("RedeemItem"),
        "minItems": 1,
        "maxItems": spi.MAX_REDEEM_ITEMS,
        "uniqueItems": True,
        "description": "The same id twice in one call is a 400.",
    }
    body: dict[str, Any] = _obj({spi.REDEEM_ITEMS_KEY: items}, (spi.REDEEM_ITEMS_KEY,))
    if spi.REDEEM_ACCEPTS_BARE_LIST:
        body = {"oneOf": [body, items], "description": "An object with items, or the array."}
    return {"RedeemItem": item, "RedeemRequest": body}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: dict[str, Any] | None, statuses: tuple[int, ...]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if ok is not None:
        responses["200"] = {"description": _DESCRIPTIONS[200], "content": _json(ok)}
    for status in statuses:
        responses[str(status)] = {
            "description": _DESCRIPTIONS[status],
            "content": _json(_ref("Error")),
        }
    return responses


def _param(name: str, where: str, *, required: bool, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}


_INTEGRATION = _param(
    "integration",
    "path",
    required=True,
    schema={"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"},
)
_CUSTOMER_ID = _param("customer_id", "path", required=True, schema=_STR)
_ORIGIN = [
    {
        **_param(h, "header", required=False, schema=_STR),
        "description": "URL-encoded (documented); after decoding at most "
        f"{spi.MAX_ORIGIN_HEADER_LENGTH} characters, no control characters, else a 400.",
    }
    for h in (spi.STORE_ID_HEADER, spi.STAFF_ID_HEADER, spi.REGISTER_ID_HEADER)
]
_KEY = _param("key", "query", required=True, schema={"type": "string", "minLength": 1})


def _key_type(required: bool) -> dict[str, Any]:
    return _param(
        "key_type",
        "query",
        required=required,
        schema={"type": "string", "enum": list(spi.SEARCH_KEY_TYPES)},
    )


# Issue 15: answers given from the core's card cache while Bloomreach fails say so.
_CACHED_ROUTES = (spi.SEARCH_CUSTOMERS.name, spi.GET_CUSTOMER.name, spi.LOOKUP.name)
_CACHE_HEADER = {
    "description": "Ours, not Sitoo's: present only when Bloomreach failed and the answer came "
    "from the card cache; `hit; age=<seconds since the card was stored>`.",
    "schema": {"type": "string", "pattern": "^hit; age=[0-9]+$"},
}


def _operation(route: spi.SpiRoute) -> dict[str, Any]:
    customer = _ref("Customer")
    body = {"required": True, "content": _json(_ref("CustomerInput"))}
    redeem = {"required": True, "content": _json(_ref("RedeemRequest"))}
    errors = _ERROR_STATUSES
    ops: dict[str, dict[str, Any]] = {
        spi.SEARCH_CUSTOMERS.name: {
            "summary": "Search customer: one customer or []",
            "parameters": [_key_type(True), _KEY],
            "responses": _responses({"type": "array", "items": customer, "maxItems": 1}, errors),
        },
        spi.ADD_CUSTOMER.name: {
            "summary": "Add customer (an existing identity is a 400)",
            "requestBody": body,
            "responses": _responses(customer, errors),
        },
        spi.GET_CUSTOMER.name: {
            "summary": "Get customer (the customer card)",
            "parameters": [_CUSTOMER_ID],
            "responses": _responses(customer, errors),
        },
        spi.UPDATE_CUSTOMER.name: {
            "summary": "Update customer: absent fields are left unchanged",
            "parameters": [_CUSTOMER_ID],
            "requestBody": body,
            "responses": _responses(customer, errors),
        },
        spi.PATCH_CUSTOMER.name: {
            "summary": "Update customer (PATCH alias of PUT)",
            "parameters": [_CUSTOMER_ID],
            "requestBody": body,
            "responses": _responses(customer, errors),
        },
        spi.CUSTOMER_TRANSACTIONS.name: {
            "summary": "Purchase history, newest first",
            "parameters": [
                _CUSTOMER_ID,
                _param(
                    "limit",
                    "query",
                    required=False,
                    schema={
                        "type": "integer",
                        "minimum": 0,
                        "maximum": spi.TRANSACTIONS_MAX_LIMIT,
                    },
                ),
            ],
            "responses": _responses({"type": "array", "items": _ref("Purchase")}, errors),
        },
        spi.LOOKUP.name: {
            "summary": "Lookup for prefilling Add customer: 0 or 1 objects without customer_id",
            "parameters": [_key_type(False), _KEY],
            "responses": _responses(
                {"type": "array", "items": _ref("CustomerPrefill"), "maxItems": 1}, errors
            ),
        },
        spi.CONSENTS.name: {
            "summary": "The consent types offered in the POS, with their defaults",
            "responses": _responses({"type": "array", "items": _ref("ConsentDefinition")}, errors),
        },
        spi.REDEEM.name: {
            "summary": "Redeem promotions and bonus checks; answers the customer card",
            "parameters": [_CUSTOMER_ID],
            "requestBody": redeem,
            "responses": _responses(customer, errors),
        },
        spi.UNDO_REDEEM.name: {
            "summary": "Undo a redemption: the items are redeemable again; answers the card",
            "parameters": [_CUSTOMER_ID],
            "requestBody": redeem,
            "responses": _responses(customer, errors),
        },
        spi.EVENTS.name: {
            "summary": "Events SPI webhook: 1 to 10 events",
            "requestBody": {
                "required": True,
                "content": _json(
                    {
                        "type": "array",
                        "items": {"type": "object"},
                        "minItems": 1,
                        "maxItems": spi.MAX_EVENTS_PER_BATCH,
                    }
                ),
            },
            "responses": _responses({}, (400, 401, 429, 503, 504)),
        },
    }
    operation = {"operationId": route.name, **ops[route.name]}
    if route.name in _CACHED_ROUTES:
        operation["responses"]["200"]["headers"] = {spi.CARD_CACHE_HEADER: _CACHE_HEADER}
    operation["parameters"] = [_INTEGRATION, *operation.get("parameters", []), *_ORIGIN]
    operation["security"] = [{"basic": []}]
    operation["x-confidence"] = route.confidence.value
    return operation


def _probe(summary: str, content_type: str, statuses: tuple[int, ...]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": summary.split()[0].lower(),
            "summary": summary,
            "responses": {
                str(s): {"description": _DESCRIPTIONS.get(s, "OK"), "content": {content_type: {}}}
                for s in statuses
            },
        }
    }


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in spi.ALL_ROUTES:
        path = paths.setdefault(spi.INTEGRATION_PREFIX + route.path, {})
        path[route.method.lower()] = _operation(route)
    paths["/healthz"] = _probe("Healthz: the edge is alive", "application/json", (200,))
    paths["/readyz"] = _probe("Readyz: the core can take work", "application/json", (200, 503))
    paths["/metrics"] = _probe("Metrics in Prometheus text format", "text/plain", (200,))
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "sitoo-bloomreach edge: Sitoo CRM SPI v2 and Events SPI",
            "version": "1",
            "description": "Routes marked x-confidence: inferred follow our reading of "
            "Sitoo's public docs (README: CRM SPI compatibility).",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
        },
    }


async def serve(_request: web.Request) -> web.Response:
    return web.json_response(document())
