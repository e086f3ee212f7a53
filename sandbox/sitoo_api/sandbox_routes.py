"""Sandbox-only helpers under ``/_sandbox/`` (no auth, no faults, not rate limited).

* ``POST /_sandbox/reset`` → ``{"ok": true}``: forget all orders and stats, restore the
  configured faults, rate limit and settings.
* ``GET /_sandbox/stats`` → ``{"requests": {route: n}, "responses": {"200": n},
  "ignored_params": {name: n}, "orders": {"1500": n}, "next_orderid": {"1500": n},
  "faults": {"rate_limited": n, "dropped": n, "injected_errors": n, ...}}``.
* ``GET|PUT /_sandbox/settings`` ``{"max_num": n, "not_found_reads": n}`` (PUT: any subset).
* ``POST /_sandbox/accounts/{account}/orders`` seeds orders fast, either
  ``{"orders": [<order body>, ...], "site": 1}`` (each body as for ``POST …/orders.json``; a
  refund may reference an order earlier in the list) or
  ``{"template": <order body>, "count": N, "orderdate": ts, "orderdate_step": s, "site": 1,
  "email_pattern": "customer{n}@example.com"}`` (``orderdate`` of order n is
  ``orderdate + n * orderdate_step``; ``{n}`` counts from 0). Answers
  ``{"orderids": [...], "first_orderid": a, "last_orderid": b}``.
* ``GET /_sandbox/accounts/{account}/orders/{orderid}`` → the stored order (ignores hidden reads).
* ``GET /_sandbox/state`` → the whole store, in the state file's format.
* ``/_sandbox/faults`` (GET / PUT / DELETE) comes from :mod:`sandbox.faults`.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from sandbox.faults import FAULT_STATE, RateLimiter
from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.handlers import _json, read_json
from sandbox.sitoo_api.models import JsonObject, new_order
from sandbox.sitoo_api.state import STATE, SitooState, Stats
from sandbox.sitoo_api.store import AccountOrders

MAX_SEED = 1_000_000


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.store.reset()
    state.stats = Stats()
    state.settings = SitooState.initial_settings(state.config)
    faults = request.app[FAULT_STATE]
    faults.faults = dict(state.config.faults)
    faults.limiter = RateLimiter(requests_per_second=state.config.requests_per_second)
    faults.counters.clear()
    return _json({"ok": True})


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    accounts = state.store.accounts
    return _json(
        {
            "requests": state.stats.requests,
            "responses": state.stats.responses,
            "ignored_params": state.stats.ignored_params,
            "orders": {str(k): len(v.ids) for k, v in accounts.items()},
            "next_orderid": {str(k): v.next_orderid for k, v in accounts.items()},
            "faults": request.app[FAULT_STATE].counters,
        }
    )


def _settings_json(state: SitooState) -> dict[str, int]:
    return {
        "max_num": state.settings.max_num,
        "not_found_reads": state.settings.not_found_reads,
    }


async def get_settings(request: web.Request) -> web.Response:
    return _json(_settings_json(request.app[STATE]))


async def put_settings(request: web.Request) -> web.Response:
    state = request.app[STATE]
    body = await read_json(request)
    if not isinstance(body, dict) or set(body) - {"max_num", "not_found_reads"}:
        raise ApiError(400, "Expected an object with max_num and/or not_found_reads")
    for name, minimum in (("max_num", 1), ("not_found_reads", 0)):
        if name in body:
            value = body[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ApiError(400, f"Invalid value for field '{name}'")
            setattr(state.settings, name, value)
    return _json(_settings_json(state))


def _account(request: web.Request) -> AccountOrders:
    state = request.app[STATE]
    account_id = int(request.match_info["account"])
    if account_id not in state.store.accounts:
        raise ApiError(404, f"Account {account_id} not found")
    return state.store.account(account_id)


def _int_field(body: dict[str, Any], name: str, default: int | None, minimum: int = 0) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ApiError(400, f"Invalid value for field '{name}': expected an integer >= {minimum}")
    return value


def _clone(base: JsonObject, orderid: int, orderdate: int) -> JsonObject:
    """A copy of a template order with its own id and date (faster than ``deepcopy``)."""
    logs = [{**log, "orderid": orderid} for log in base["orderlogitems"]]
    logs[0]["datelog"] = orderdate
    return {
        **base,
        "orderid": orderid,
        "orderdate": orderdate,
        "additionaldata": dict(base["additionaldata"]),
        "orderitems": [
            {
                **item,
                "additionaldata": dict(item["additionaldata"]),
                "salestaxes": [dict(tax) for tax in item["salestaxes"]],
            }
            for item in base["orderitems"]
        ],
        "payments": [{**p, "additionaldata": dict(p["additionaldata"])} for p in base["payments"]],
        "reservedpayments": [
            {**p, "additionaldata": dict(p["additionaldata"])} for p in base["reservedpayments"]
        ],
        "orderlogitems": logs,
    }


# Two body shapes (explicit orders, or a template repeated) validated field by field, each
# with the 400 naming the field; the branches are those checks.
async def seed_orders(request: web.Request) -> web.Response:  # noqa: C901
    state = request.app[STATE]
    orders = _account(request)
    account = state.config.account(orders.account_id)
    assert account is not None
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "Expected an object")
    site = _int_field(body, "site", account.site_ids[0], minimum=1)
    if site not in account.site_ids:
        raise ApiError(400, f"Site {site} not found")
    now = int(time.time())

    def build(order_body: object) -> JsonObject:
        order = new_order(
            order_body,
            orderid=orders.next_orderid,
            eshopid=site,
            now=now,
            currency_code=account.currency_code,
        )
        orders.check_links(order)
        return order

    added: list[int] = []
    if "orders" in body:
        if not isinstance(body["orders"], list):
            raise ApiError(400, "Invalid value for field 'orders': expected an array")
        for order_body in body["orders"]:
            order = build(order_body)
            orders.allocate_id()
            orders.add(order)
            added.append(order["orderid"])
    elif "template" in body:
        count = _int_field(body, "count", None, minimum=1)
        if count > MAX_SEED:
            raise ApiError(400, f"Invalid value for field 'count': at most {MAX_SEED}")
        first_date = _int_field(body, "orderdate", now)
        step = _int_field(body, "orderdate_step", 0)
        pattern = body.get("email_pattern")
        if pattern is not None and not isinstance(pattern, str):
            raise ApiError(400, "Invalid value for field 'email_pattern'")
        template = body["template"]
        if isinstance(template, dict) and template.get("externalid") is not None:
            raise ApiError(400, "The template must not set 'externalid' (it must be unique)")
        base = build(template)
        for n in range(count):
            orderid = orders.allocate_id()
            orderdate = first_date + n * step
            order = _clone(base, orderid, orderdate)
            if pattern is not None:
                order["email"] = pattern.format(n=n)
            orders.add(order)
            added.append(orderid)
    else:
        raise ApiError(400, "Expected 'orders' or 'template'")
    return _json(
        {
            "orderids": added,
            "first_orderid": added[0] if added else None,
            "last_orderid": added[-1] if added else None,
        }
    )


async def raw_order(request: web.Request) -> web.Response:
    orders = _account(request)
    orderid = int(request.match_info["orderid"])
    order = orders.orders.get(orderid)
    if order is None:
        raise ApiError(404, f"Order {orderid} not found")
    return _json(order)


async def dump_state(request: web.Request) -> web.Response:
    return _json(request.app[STATE].store.to_json())


def add_sandbox_routes(app: web.Application) -> None:
    router = app.router
    router.add_post("/_sandbox/reset", reset, name="sandbox_reset")
    router.add_get("/_sandbox/stats", stats, name="sandbox_stats")
    router.add_get("/_sandbox/settings", get_settings, name="sandbox_get_settings")
    router.add_put("/_sandbox/settings", put_settings, name="sandbox_put_settings")
    router.add_get("/_sandbox/state", dump_state, name="sandbox_state")
    router.add_post(
        r"/_sandbox/accounts/{account:\d+}/orders", seed_orders, name="sandbox_seed_orders"
    )
    router.add_get(
        r"/_sandbox/accounts/{account:\d+}/orders/{orderid:\d+}",
        raw_order,
        name="sandbox_raw_order",
    )
