"""The Sitoo REST API v2 order endpoints (paths relative to ``/v2/accounts/{accountid}``)."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from sandbox.sitoo_api.auth import authenticate
from sandbox.sitoo_api.config import SitooAccount
from sandbox.sitoo_api.errors import ApiError
from sandbox.sitoo_api.models import (
    WRITABLE_LOG_TYPES,
    JsonObject,
    build_log_item,
    new_order,
    select_fields,
    updated_order,
    wire,
)
from sandbox.sitoo_api.query import parse_fields, parse_query
from sandbox.sitoo_api.state import STATE, SitooState
from sandbox.sitoo_api.store import AccountOrders

ACCOUNT = r"/v2/accounts/{account:\d+}"
SITE = ACCOUNT + r"/sites/{site:\d+}"
ORDER = SITE + r"/orders/{orderid:\d+}"

#: Route name → (method, path). Faults target endpoints by these names.
ROUTES: dict[str, tuple[str, str]] = {
    "list_all_orders": ("GET", ACCOUNT + "/orders.json"),
    "list_orders": ("GET", SITE + "/orders.json"),
    "add_order": ("POST", SITE + "/orders.json"),
    "get_order": ("GET", ORDER + ".json"),
    "update_order": ("PUT", ORDER + ".json"),
    "list_orderlogitems": ("GET", ORDER + "/orderlogitems.json"),
    "add_orderlogitem": ("POST", ORDER + "/orderlogitems.json"),
}


def _json(data: Any) -> web.Response:
    return web.json_response(data, dumps=lambda value: json.dumps(value, separators=(",", ":")))


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "Request body is not valid JSON") from None


def _context(request: web.Request) -> tuple[SitooState, SitooAccount, AccountOrders]:
    state = request.app[STATE]
    account = authenticate(request, state.config)
    return state, account, state.store.account(account.account_id)


def _site(request: web.Request, account: SitooAccount) -> int:
    site = int(request.match_info["site"])
    if site not in account.site_ids:
        raise ApiError(404, f"Site {site} not found")
    return site


def _order(request: web.Request, orders: AccountOrders, site: int) -> JsonObject:
    orderid = int(request.match_info["orderid"])
    order = orders.orders.get(orderid)
    if order is None or order["eshopid"] != site:
        raise ApiError(404, f"Order {orderid} not found")
    return order


async def _list(request: web.Request, site_level: bool) -> web.Response:
    state, account, orders = _context(request)
    site = _site(request, account) if site_level else None
    query, ignored = parse_query(request.query, max_num=state.settings.max_num, site_id=site)
    for name in ignored:
        state.stats.count(state.stats.ignored_params, name)
    total, page = orders.list(query)
    items = [select_fields(order, query.fields) for order in page]
    return _json({"totalcount": total, "items": items})


async def list_all_orders(request: web.Request) -> web.Response:
    """``GET /orders.json`` — all sites of the account; has the ``eshopid`` filter."""
    return await _list(request, site_level=False)


async def list_orders(request: web.Request) -> web.Response:
    """``GET /sites/{siteid}/orders.json`` (deprecated in Sitoo) — the site's orders only."""
    return await _list(request, site_level=True)


async def add_order(request: web.Request) -> web.Response:
    """``POST /sites/{siteid}/orders.json`` → the new order id as a JSON integer [inferred]."""
    state, account, orders = _context(request)
    site = _site(request, account)
    body = await read_json(request)
    order = new_order(
        body,
        orderid=orders.next_orderid,
        eshopid=site,
        now=int(time.time()),
        currency_code=account.currency_code,
    )
    orders.check_links(order)
    orders.allocate_id()
    orders.add(order, hidden_reads=state.settings.not_found_reads)
    return _json(order["orderid"])


async def get_order(request: web.Request) -> web.Response:
    """``GET /sites/{siteid}/orders/{orderid}.json`` — full order incl. ``orderlogitems``."""
    _, account, orders = _context(request)
    site = _site(request, account)
    fields = parse_fields(request.query.get("fields"))
    order = _order(request, orders, site)
    if orders.read(order["orderid"]) is None:  # not visible yet (eventual consistency)
        raise ApiError(404, f"Order {order['orderid']} not found")
    return _json(select_fields(order, fields))


async def update_order(request: web.Request) -> web.Response:
    """``PUT /sites/{siteid}/orders/{orderid}.json`` → ``true``."""
    _, account, orders = _context(request)
    site = _site(request, account)
    current = _order(request, orders, site)
    body = await read_json(request)
    order = updated_order(current, body)
    orders.check_links(order, replacing=order["orderid"])
    orders.replace(order)
    return _json(True)


async def list_orderlogitems(request: web.Request) -> web.Response:
    _, account, orders = _context(request)
    order = _order(request, orders, _site(request, account))
    items = wire(order)["orderlogitems"]
    return _json({"totalcount": len(items), "items": items})


async def add_orderlogitem(request: web.Request) -> web.Response:
    """Only types 900 (ReadyForPickup) and 910 (PickupRejected) are writable [third-party].

    Returns ``true`` [inferred].
    """
    _, account, orders = _context(request)
    order = _order(request, orders, _site(request, account))
    body = await read_json(request)
    log = build_log_item("", body, order["orderid"], int(time.time()))
    if log["orderlogtypeid"] not in WRITABLE_LOG_TYPES:
        raise ApiError(
            400,
            "Invalid value for field 'orderlogtypeid': only "
            f"{sorted(WRITABLE_LOG_TYPES)} can be written",
        )
    orders.replace({**order, "orderlogitems": [*order["orderlogitems"], log]})
    return _json(True)


HANDLERS = {
    "list_all_orders": list_all_orders,
    "list_orders": list_orders,
    "add_order": add_order,
    "get_order": get_order,
    "update_order": update_order,
    "list_orderlogitems": list_orderlogitems,
    "add_orderlogitem": add_orderlogitem,
}


def add_routes(app: web.Application) -> None:
    for name, (method, path) in ROUTES.items():
        app.router.add_route(method, path, HANDLERS[name], name=name)
