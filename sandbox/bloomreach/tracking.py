"""Tracking API: ``/track/v2/projects/{token}/...`` (customers, events, batch, system/time).

Single endpoints and batch commands share :func:`track_customer` / :func:`track_event`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.bloomreach import validation
from sandbox.bloomreach.auth import authorize
from sandbox.bloomreach.config import ApiKey
from sandbox.bloomreach.consent import CONSENT_EVENT
from sandbox.bloomreach.responses import (
    INVALID_JSON,
    BodyError,
    errors_body,
    json_response,
    read_json,
)
from sandbox.bloomreach.state import STATE, EmulatorState
from sandbox.bloomreach.store import IdConflictError, ProjectStore
from sandbox.bloomreach.validation import ValidationError

EVENT_NOT_AUTHORIZED = "Not authorized to add event of specified type"
PROPERTIES_NOT_AUTHORIZED = "not authorized to update specified customer properties"
NO_COMMANDS = "No commands"
TOO_MANY_COMMANDS = "Too many commands (limit {limit})"  # [inferred] text, whole-batch 400
UNKNOWN_COMMAND = "Unknown command name"  # [inferred]
INVALID_COMMAND = "Invalid command"  # [inferred]
UNKNOWN_CATEGORY = "Unknown consent category"  # [inferred]
CATEGORY_SOURCE_REFUSED = "Consent category cannot be changed from this API"  # [inferred]


@dataclass(slots=True)
class Outcome:
    errors: list[str] | None = None  # None = success
    permission: bool = False  # a refused permission (always HTTP 200)


OK = Outcome()


@dataclass(slots=True)
class TrackContext:
    state: EmulatorState
    store: ProjectStore
    key: ApiKey
    received: float  # the server's receive time: default timestamps


def _fail(message: str, *, permission: bool = False) -> Outcome:
    return Outcome([message], permission)


def track_customer(ctx: TrackContext, data: dict[str, Any]) -> Outcome:
    limits = ctx.state.config.limits
    try:
        ids = validation.customer_ids(data, ctx.store.config)
        props = validation.properties(data, limits, event=False)
        ts = validation.timestamp(data, "update_timestamp", ctx.received)
    except ValidationError as exc:
        return _fail(exc.message)
    grant = ctx.key.permissions.customer_properties_set
    if not grant.all and not all(grant.allows(name) for name in props):
        return _fail(PROPERTIES_NOT_AUTHORIZED, permission=True)
    try:
        customer = ctx.store.resolve(ids)
    except IdConflictError as exc:
        return _fail(str(exc))
    ctx.store.update_properties(customer, props, ts)
    return OK


def _check_consent(ctx: TrackContext, props: dict[str, Any]) -> Outcome | None:
    category_id = props.get("category")
    if not ctx.state.config.strict_consent_categories or not isinstance(category_id, str):
        return None  # no category: stored, it cannot grant anything
    category = ctx.store.config.category(category_id)
    if category is None:
        return _fail(UNKNOWN_CATEGORY)
    source = "public_api" if ctx.key.public else "private_api"
    if not category.sources.get(source, False):
        return _fail(CATEGORY_SOURCE_REFUSED, permission=True)
    return None


def track_event(ctx: TrackContext, data: dict[str, Any]) -> Outcome:
    limits = ctx.state.config.limits
    try:
        ids = validation.customer_ids(data, ctx.store.config)
        event_type = validation.event_type(data)
    except ValidationError as exc:
        return _fail(exc.message)
    if not ctx.key.permissions.events_set.allows(event_type):
        return _fail(EVENT_NOT_AUTHORIZED, permission=True)
    try:
        props = validation.properties(data, limits, event=True)
        ts = validation.timestamp(data, "timestamp", ctx.received)
    except ValidationError as exc:
        return _fail(exc.message)
    if event_type == CONSENT_EVENT:
        refused = _check_consent(ctx, props)
        if refused is not None:
            return refused
    try:
        customer = ctx.store.resolve(ids)
    except IdConflictError as exc:
        return _fail(str(exc))
    ctx.store.add_event(customer, ids, event_type, ts, props)
    return OK


async def _single(request: web.Request, command: str) -> web.Response:
    state = request.app[STATE]
    store, key = authorize(request, state, public_ok=True)
    config = state.config
    status = config.validation_error_status
    try:
        data, size = await read_json(request, require_json_type=config.require_json_content_type)
    except BodyError:
        return errors_body(status, INVALID_JSON)
    if not isinstance(data, dict):
        return errors_body(status, INVALID_JSON)
    if size >= config.limits.max_message_bytes:
        return errors_body(status, validation.MESSAGE_TOO_LARGE)
    ctx = TrackContext(state, store, key, time.time())
    run = track_customer if command == "customers" else track_event
    outcome = run(ctx, data)
    if outcome.errors is None:
        return json_response({"success": True, "errors": []})
    return errors_body(200 if outcome.permission else status, *outcome.errors)


async def customers(request: web.Request) -> web.Response:
    return await _single(request, "customers")


async def events(request: web.Request) -> web.Response:
    return await _single(request, "customers/events")


async def system_time(request: web.Request) -> web.Response:
    authorize(request, request.app[STATE], public_ok=True)
    return json_response({"success": True, "time": time.time(), "errors": []})


def _run_command(ctx: TrackContext, command: Any, check_size: bool) -> dict[str, Any]:
    if not isinstance(command, dict):
        return {"success": False, "errors": [INVALID_COMMAND]}
    name = command.get("name")
    if name == "system/time":
        result: dict[str, Any] = {"success": True, "time": time.time()}
    elif name in ("customers", "customers/events"):
        data = command.get("data")
        if not isinstance(data, dict):
            outcome = _fail(INVALID_COMMAND)
        elif check_size and (
            validation.message_size(data) >= ctx.state.config.limits.max_message_bytes
        ):
            outcome = _fail(validation.MESSAGE_TOO_LARGE)
        else:
            outcome = (track_customer if name == "customers" else track_event)(ctx, data)
        if outcome.errors is None:
            result = {"success": True}
        else:
            result = {"success": False, "errors": outcome.errors}
    else:
        result = {"success": False, "errors": [UNKNOWN_COMMAND]}
    if "command_id" in command:
        result["command_id"] = command["command_id"]
    return result


async def batch(request: web.Request) -> web.Response:
    state = request.app[STATE]
    store, key = authorize(request, state, public_ok=True)
    config = state.config
    try:
        body, size = await read_json(request, require_json_type=config.require_json_content_type)
    except BodyError:
        return json_response({"success": False, "message": INVALID_JSON}, 400)
    if not isinstance(body, dict):
        return json_response({"success": False, "message": INVALID_JSON}, 400)
    commands = body.get("commands")  # other top-level keys (sdk, sdk_version...) are ignored
    if not isinstance(commands, list) or not commands:
        return json_response({"success": False, "message": NO_COMMANDS}, 400)
    limit = config.limits.max_batch_commands
    if len(commands) > limit:
        message = TOO_MANY_COMMANDS.format(limit=limit)
        return json_response({"success": False, "message": message}, 400)
    start = time.time()
    ctx = TrackContext(state, store, key, start)
    # Only when the whole body reaches the per-message limit can a single command reach it.
    check_size = size >= config.limits.max_message_bytes
    order = list(range(len(commands)))
    if config.shuffle_batch:
        state.rng.shuffle(order)  # [documented] commands are not executed sequentially
    results: list[dict[str, Any]] = [{}] * len(commands)
    for i in order:
        results[i] = _run_command(ctx, commands[i], check_size)
    return json_response(
        {"results": results, "start_time": start, "end_time": time.time(), "success": True}
    )
