"""Sandbox-only inspection and seeding endpoints under ``/_sandbox/`` (no Bloomreach auth).

They exist only on the emulator, so end-to-end tests can assert exactly what landed.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from sandbox.bloomreach import persistence, validation
from sandbox.bloomreach.analyses import validate_aggregate
from sandbox.bloomreach.consent import is_valid
from sandbox.bloomreach.responses import json_response
from sandbox.bloomreach.state import STATE
from sandbox.bloomreach.store import STAT_NAMES, Customer, IdConflictError, ProjectStore
from sandbox.bloomreach.validation import ValidationError


def _bad(message: str, status: int = 400) -> web.Response:
    return json_response({"success": False, "error": message}, status)


def _project(request: web.Request) -> ProjectStore:
    store = request.app[STATE].projects.get(request.match_info["token"])
    if store is None:
        raise web.HTTPNotFound(text="unknown project")
    return store


def customer_json(customer: Customer, now: float) -> dict[str, Any]:
    return {
        "internal_id": customer.cid,
        "ids": customer.ids_json(),
        "properties": customer.properties,
        "property_timestamps": customer.property_ts,
        "consents": {
            category: {
                "valid": is_valid(event.properties, now),
                "action": event.properties.get("action"),
                "valid_until": event.properties.get("valid_until"),
                "timestamp": event.timestamp,
            }
            for category, event in customer.consents.items()
        },
        "segments": customer.segments,
        "events": [e.to_json() for e in customer.sorted_events()],
    }


async def list_customers(request: web.Request) -> web.Response:
    """``?<id_name>=<value>`` narrows to the customer holding that ID."""
    store = _project(request)
    now = time.time()
    customers: list[Customer] = list(store.customers.values())
    for name, value in request.query.items():
        match = store.index.get((name, value))
        customers = [c for c in customers if c is match]
    return json_response({"customers": [customer_json(c, now) for c in customers]})


async def list_events(request: web.Request) -> web.Response:
    """Stored events in arrival order; ``?event_type=`` filters."""
    store = _project(request)
    wanted = request.query.get("event_type")
    rows = [
        (event, customer.cid)
        for customer in store.customers.values()
        for event in customer.events
        if wanted is None or event.type == wanted
    ]
    rows.sort(key=lambda row: row[0].seq)
    return json_response(
        {
            "events": [
                {"internal_id": cid, "customer_ids": e.customer_ids, **e.to_json()}
                for e, cid in rows
            ]
        }
    )


def _project_stats(store: ProjectStore) -> dict[str, Any]:
    return {
        "customers": len(store.customers),
        "events": sum(len(c.events) for c in store.customers.values()),
        **store.stats,
        "requests": dict(store.requests),
    }


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    projects = {t: _project_stats(s) for t, s in state.projects.items()}
    totals = {
        key: sum(p[key] for p in projects.values()) for key in ("customers", "events", *STAT_NAMES)
    }
    return json_response({"projects": projects, "totals": totals})


async def reset(request: web.Request) -> web.Response:
    """Forget all customers, events, segmentations and counters (every project)."""
    request.app[STATE].reset()
    return json_response({"success": True})


async def save(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.config.state_file is None:
        return _bad("no state file configured")
    persistence.save(state, state.config.state_file)
    return json_response({"success": True})


async def put_segmentation(request: web.Request) -> web.Response:
    """Body ``{"default": any, "values": [{"customer_ids": {...}, "value": any}, ...]}``.

    Customers named in ``values`` are created when unknown (like tracking would).
    """
    store = _project(request)
    try:
        body = await request.json()
    except ValueError:
        return _bad("invalid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("values", []), list):
        return _bad("expected {default, values: [{customer_ids, value}]}")
    assignments: list[tuple[dict[str, str], Any]] = []
    try:
        for item in body.get("values", []):
            if not isinstance(item, dict):
                return _bad("each value must be an object")
            ids = validation.customer_ids(item, store.config)
            assignments.append((ids, item.get("value")))
        seg_id = request.match_info["segmentation_id"]
        store.segmentations[seg_id] = body.get("default")
        for ids, value in assignments:
            store.resolve(ids).segments[seg_id] = value
    except (ValidationError, IdConflictError) as exc:
        return _bad(str(exc))
    store.version += 1
    return json_response({"success": True, "id": seg_id, "customers": len(assignments)})


async def put_aggregate(request: web.Request) -> web.Response:
    """Body ``{"event_type": "purchase", "function": "count|sum|min|max|avg|first|last",
    "property": "total_price"}``."""
    store = _project(request)
    try:
        definition = validate_aggregate(await request.json())
    except ValueError as exc:
        return _bad(str(exc))
    agg_id = request.match_info["aggregate_id"]
    store.aggregates[agg_id] = definition
    store.version += 1
    return json_response({"success": True, "id": agg_id, **definition})


def add_admin_routes(app: web.Application) -> None:
    prefix = "/_sandbox/projects/{token}"
    app.router.add_get("/_sandbox/stats", stats, name="sandbox_stats")
    app.router.add_post("/_sandbox/reset", reset, name="sandbox_reset")
    app.router.add_post("/_sandbox/save", save, name="sandbox_save")
    app.router.add_get(f"{prefix}/customers", list_customers, name="sandbox_customers")
    app.router.add_get(f"{prefix}/events", list_events, name="sandbox_events")
    app.router.add_put(
        prefix + "/segmentations/{segmentation_id}", put_segmentation, name="sandbox_segmentation"
    )
    app.router.add_put(
        prefix + "/aggregates/{aggregate_id}", put_aggregate, name="sandbox_aggregate"
    )
