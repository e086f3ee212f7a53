"""Customer, GDPR and consent API: ``/data/v2/projects/{token}/...``.

All endpoints except ``consent/categories`` are private-only (Basic auth). Lookups never create
or merge customers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.bloomreach import validation
from sandbox.bloomreach.analyses import aggregate_value
from sandbox.bloomreach.auth import authorize
from sandbox.bloomreach.config import ApiKey
from sandbox.bloomreach.consent import CONSENT_EVENT, MODES, attribute_value
from sandbox.bloomreach.responses import (
    CUSTOMER_NOT_FOUND,
    INVALID_JSON,
    ApiError,
    BodyError,
    customer_not_found,
    error_body,
    errors_body,
    json_response,
    read_json,
)
from sandbox.bloomreach.state import STATE, EmulatorState
from sandbox.bloomreach.store import Customer, ProjectStore
from sandbox.bloomreach.validation import ValidationError

NO_PERMISSION = "No permission"
NO_EXPORT_PERMISSION = "No permission to export customer"
NO_EVENTS_PERMISSION = "No permission to export events of specified type"  # [inferred] text
NO_ANONYMIZE_PERMISSION = "No permission to anonymize customer"  # [inferred] text
INVALID_ATTRIBUTE = "Invalid attribute"  # [inferred]
UNSUPPORTED_ATTRIBUTE = "Attribute type not supported by the emulator"
NOT_FOUND_ANALYSIS = "{kind} not found"  # [inferred]
NO_ATTRIBUTES = "At least one attribute should be specified"  # [inferred]
UNSUPPORTED_TYPES = ("expression", "prediction", "recommendation")


async def _request(
    request: web.Request,
) -> tuple[EmulatorState, ProjectStore, ApiKey, dict[str, Any], dict[str, str]]:
    """Authorize (private only), read the body and validate its ``customer_ids``."""
    state = request.app[STATE]
    store, key = authorize(request, state, public_ok=False)
    status = state.config.validation_error_status
    try:
        data, _ = await read_json(request, require_json_type=state.config.require_json_content_type)
    except BodyError as exc:
        raise ApiError(errors_body(status, INVALID_JSON)) from exc
    if not isinstance(data, dict):
        raise ApiError(errors_body(status, INVALID_JSON))
    try:
        ids = validation.customer_ids(data, store.config)
    except ValidationError as exc:
        raise ApiError(errors_body(status, exc.message)) from exc
    return state, store, key, data, ids


class _Refused(Exception):
    """One attribute's ``{"success": false, "error": …}``; the others still answer."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class _Lookup:
    store: ProjectStore
    key: ApiKey
    customer: Customer | None
    now: float


def _property(q: _Lookup, attr: dict[str, Any]) -> Any:
    name = attr.get("property")
    if not isinstance(name, str):
        raise _Refused(INVALID_ATTRIBUTE)
    if not q.key.permissions.customer_properties_get.allows(name):
        raise _Refused(NO_PERMISSION)
    return q.customer.properties.get(name) if q.customer else None


def _id(q: _Lookup, attr: dict[str, Any]) -> Any:  # needs no permission [documented]
    name = attr.get("id")
    if not isinstance(name, str) or (
        name not in q.store.hard_names and name not in q.store.soft_names
    ):
        raise _Refused(INVALID_ATTRIBUTE)
    if q.customer is None:
        return None
    if name in q.store.hard_names:
        return q.customer.hard_ids.get(name)
    values = q.customer.soft_ids.get(name)
    return list(values) if values else None  # [inferred] no values -> null


def _consent(q: _Lookup, attr: dict[str, Any]) -> Any:
    category = attr.get("category")
    mode = attr.get("mode", "valid")
    if not isinstance(category, str) or mode not in MODES:
        raise _Refused(INVALID_ATTRIBUTE)
    if not q.key.permissions.events_get.allows(CONSENT_EVENT):
        raise _Refused(NO_PERMISSION)
    last = q.customer.consents.get(category) if q.customer else None
    if last is None:
        return attribute_value(None, None, mode, q.now)
    return attribute_value(last.properties, last.timestamp, mode, q.now)


def _analysis_id(q: _Lookup, attr: dict[str, Any]) -> str:
    analysis_id = attr.get("id")
    if not isinstance(analysis_id, str):
        raise _Refused(INVALID_ATTRIBUTE)
    if not q.key.permissions.analyses_get:
        raise _Refused(NO_PERMISSION)
    return analysis_id


def _segmentation(q: _Lookup, attr: dict[str, Any]) -> Any:
    analysis_id = _analysis_id(q, attr)
    if analysis_id not in q.store.segmentations:
        raise _Refused(NOT_FOUND_ANALYSIS.format(kind="Segmentation"))
    default = q.store.segmentations[analysis_id]
    return q.customer.segments.get(analysis_id, default) if q.customer else None


def _aggregate(q: _Lookup, attr: dict[str, Any]) -> Any:
    definition = q.store.aggregates.get(_analysis_id(q, attr))
    if definition is None:
        raise _Refused(NOT_FOUND_ANALYSIS.format(kind="Aggregate"))
    return aggregate_value(definition, q.customer)


_READERS: dict[str, Callable[[_Lookup, dict[str, Any]], Any]] = {
    "property": _property,
    "id": _id,
    "consent": _consent,
    "segmentation": _segmentation,
    "aggregate": _aggregate,
}


def _attribute(
    store: ProjectStore, key: ApiKey, customer: Customer | None, attr: Any, now: float
) -> dict[str, Any]:
    if not isinstance(attr, dict):
        return {"success": False, "error": INVALID_ATTRIBUTE}
    kind = attr.get("type")
    reader = _READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        error = UNSUPPORTED_ATTRIBUTE if kind in UNSUPPORTED_TYPES else INVALID_ATTRIBUTE
        return {"success": False, "error": error}
    try:
        value = reader(_Lookup(store, key, customer, now), attr)
    except _Refused as refused:
        return {"success": False, "error": refused.error}
    return {"success": True, "value": value}


async def attributes(request: web.Request) -> web.Response:
    """Results in request order, each with its own ``success``.

    [inferred] Unknown customer: ``200`` with ``value: null`` (consent ``valid``: ``false``)
    unless ``attributes_unknown_customer_404`` is set.
    """
    state, store, key, data, ids = await _request(request)
    attrs = data.get("attributes")
    if not isinstance(attrs, list) or not attrs:
        return errors_body(state.config.validation_error_status, NO_ATTRIBUTES)
    customer = store.find(ids)
    if customer is None and state.config.attributes_unknown_customer_404:
        return customer_not_found()
    now = time.time()
    results = [_attribute(store, key, customer, attr, now) for attr in attrs]
    return json_response({"success": True, "results": results})


async def export_one(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _, key = authorize(request, state, public_ok=False)
    if not key.permissions.export_customer:
        return error_body(403, NO_EXPORT_PERMISSION)
    _, store, _, _, ids = await _request(request)
    customer = store.find(ids)
    if customer is None:
        return customer_not_found()
    return json_response(
        {
            "success": True,
            "ids": customer.ids_json(),
            "properties": customer.properties,
            "events": [e.to_json() for e in customer.sorted_events()],
        }
    )


def _paging(data: dict[str, Any]) -> tuple[list[str], str, int | None, int]:
    types = data.get("event_types")
    if not isinstance(types, list) or not types or not all(isinstance(t, str) for t in types):
        raise ValidationError("event_types must be a non-empty list of strings")  # [inferred]
    order = data.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ValidationError("order must be asc or desc")
    limit = data.get("limit")
    skip = data.get("skip", 0)
    for name, value in (("limit", limit), ("skip", skip)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValidationError(f"{name} must be an integer")
        if isinstance(value, int) and value < 0:
            raise ValidationError(f"{name} must not be negative")
    return types, order, limit, skip or 0


async def export_events(request: web.Request) -> web.Response:
    """[inferred, stricter] An unknown customer is ``404`` like export-one."""
    state, store, key, data, ids = await _request(request)
    try:
        types, order, limit, skip = _paging(data)
    except ValidationError as exc:
        return errors_body(state.config.validation_error_status, exc.message)
    if not all(key.permissions.events_get.allows(t) for t in types):
        return error_body(403, NO_EVENTS_PERMISSION)
    customer = store.find(ids)
    if customer is None:
        return customer_not_found()
    wanted = set(types)
    selected = [e for e in customer.sorted_events() if e.type in wanted]
    if order == "desc":
        selected.reverse()
    page = selected[skip:] if limit is None else selected[skip : skip + limit]
    return json_response({"success": True, "data": [e.to_json() for e in page]})


async def consent_categories(request: web.Request) -> web.Response:
    """No permission needed; public or private access [documented]."""
    store, _ = authorize(request, request.app[STATE], public_ok=True)
    return json_response({"results": [c.to_json() for c in store.config.consent_categories]})


async def anonymize(request: web.Request) -> web.Response:
    state = request.app[STATE]
    _, key = authorize(request, state, public_ok=False)
    if not key.permissions.anonymize_customer:
        return error_body(403, NO_ANONYMIZE_PERMISSION)
    _, store, _, _, ids = await _request(request)
    customer = store.find(ids)
    if customer is None:
        return customer_not_found()  # [inferred]
    store.anonymize(customer)
    return json_response({"success": True})


async def anonymize_bulk(request: web.Request) -> web.Response:
    """Body ``{"customers": [{<external ids>}, ...]}`` [documented].

    [inferred] Response ``{"success": true, "results": [{"success": bool}, ...]}`` in request
    order; an unknown customer is ``{"success": false, "error": "Customer does not exist"}``.
    Internal customer ids are not supported by the emulator.
    """
    state = request.app[STATE]
    store, key = authorize(request, state, public_ok=False)
    if not key.permissions.anonymize_customer:
        return error_body(403, NO_ANONYMIZE_PERMISSION)
    status = state.config.validation_error_status
    try:
        data, _ = await read_json(request, require_json_type=state.config.require_json_content_type)
    except BodyError:
        return errors_body(status, INVALID_JSON)
    customers = data.get("customers") if isinstance(data, dict) else None
    if not isinstance(customers, list) or not customers:
        return errors_body(status, "At least one customer should be specified")  # [inferred]
    results: list[dict[str, Any]] = []
    for ids_json in customers:
        try:
            ids = validation.customer_ids({"customer_ids": ids_json}, store.config)
        except ValidationError as exc:
            results.append({"success": False, "error": exc.message})
            continue
        customer = store.find(ids)
        if customer is None:
            results.append({"success": False, "error": CUSTOMER_NOT_FOUND})
            continue
        store.anonymize(customer)
        results.append({"success": True})
    return json_response({"success": True, "results": results})
