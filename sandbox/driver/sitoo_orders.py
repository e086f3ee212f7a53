"""The driver's client of the Sitoo REST API (orders) and the order bodies it posts, written as
Sitoo's ``addOrder`` example writes them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import aiohttp
from yarl import URL

from sandbox.driver.pos_client import basic_auth
from sandbox.driver.store_plan import (
    PlannedCustomer,
    PlannedOrder,
    ScenarioError,
    StoreDayConfig,
    money,
)
from sandbox.sitoo_api.orders import OrderLine, refund_order, sale_order

# --- Sitoo REST API ------------------------------------------------------------------------


#: Attempts of :meth:`SitooOrdersClient.get_order`. A read of a fresh order fails when fewer
#: than two of them pass the fault layer: with the e2e tests' 30% injected ``503``s and one
#: not-found read that is ~1.6e-7 (6 attempts: ~1.1e-2, and the refund's read of its original
#: comes right after the original was added, before the relay has looked at it).
GET_ORDER_ATTEMPTS = 16
#: Cap of the exponential backoff between those attempts (a read that fails waits ~7 s).
GET_ORDER_MAX_DELAY_S = 0.5


class SitooOrdersClient:
    """The small part of the Sitoo REST API the driver needs: adding orders."""

    def __init__(
        self,
        base_url: str,
        account_id: int,
        api_id: str,
        password: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.authorization = basic_auth(api_id, password)
        self.timeout_s = timeout_s
        self._session = session
        self._own_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def orders_url(self, site_id: int) -> URL:
        return URL(f"{self.base_url}/v2/accounts/{self.account_id}/sites/{site_id}/orders.json")

    def order_url(self, site_id: int, orderid: int) -> URL:
        return URL(
            f"{self.base_url}/v2/accounts/{self.account_id}/sites/{site_id}/orders/{orderid}.json"
        )

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.authorization, "Accept": "application/json"}

    async def get_order(
        self, site_id: int, orderid: int, *, attempts: int = GET_ORDER_ATTEMPTS
    ) -> dict[str, Any]:
        """``GET …/orders/{orderid}.json``; a fresh order may ``404`` briefly, so retry.

        The budget must outlast the fault rates the tests give the emulator: a ``5xx`` the
        fault layer injects never reaches the store, so it does not use up the order's
        not-found read, and the read needs two answers that get past the faults. With 6
        attempts and 30% ``503``s that failed ~1 read in 90 (see :data:`GET_ORDER_ATTEMPTS`).
        """
        last = ""
        for attempt in range(attempts):
            try:
                async with self.session.get(
                    self.order_url(site_id, orderid),
                    headers=self._headers(),
                    timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                ) as response:
                    text = await response.text()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = f"{exc.__class__.__name__}: {exc}"
            else:
                if status == HTTPStatus.OK:
                    order = json.loads(text)
                    if not isinstance(order, dict):
                        raise ScenarioError(f"Sitoo API: order {orderid} is not an object")
                    return order
                last = f"{status} {text[:300]}"
                if status not in (404, 429) and status < HTTPStatus.INTERNAL_SERVER_ERROR:
                    break
            await asyncio.sleep(min(0.05 * 2**attempt, GET_ORDER_MAX_DELAY_S))
        raise ScenarioError(f"Sitoo API: get order {orderid} failed: {last}")

    async def add_order(self, site_id: int, body: Mapping[str, Any], *, attempts: int = 5) -> int:
        """``POST …/orders.json``; returns the new ``orderid``. Retries ``429`` / ``5xx``."""
        last = ""
        for attempt in range(attempts):
            try:
                async with self.session.post(
                    self.orders_url(site_id),
                    data=json.dumps(body).encode("utf-8"),
                    headers={**self._headers(), "Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                ) as response:
                    text = await response.text()
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
            except (TimeoutError, aiohttp.ClientError) as exc:
                # A lost answer may have created the order; for a sandbox run we accept that.
                last = f"{exc.__class__.__name__}: {exc}"
                await asyncio.sleep(0.05 * 2**attempt)
                continue
            if status == HTTPStatus.OK:
                try:
                    orderid = json.loads(text)
                except ValueError:
                    orderid = None
                if isinstance(orderid, int) and not isinstance(orderid, bool):
                    return orderid
                raise ScenarioError(f"Sitoo API: add order answered 200 with {text!r}")
            last = f"{status} {text[:300]}"
            if status != HTTPStatus.TOO_MANY_REQUESTS and status < HTTPStatus.INTERNAL_SERVER_ERROR:
                break
            delay = 0.05 * 2**attempt
            if retry_after is not None:
                with contextlib.suppress(ValueError):
                    delay = min(float(retry_after), 5.0)
            await asyncio.sleep(delay)
        raise ScenarioError(f"Sitoo API: add order failed: {last}")


def sale_order_body(
    order: PlannedOrder,
    config: StoreDayConfig,
    customer_id: str | None,
    customer: PlannedCustomer | None,
    member_number: str | None = None,
    *,
    line_data: Mapping[int, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """A POS sale (built with the emulator's :func:`sandbox.sitoo_api.orders.sale_order`);
    ``line_data`` is extra item ``additionaldata`` by line index (e.g. ``crm-promotionid``)."""
    store = config.store
    identified = customer_id is not None and customer is not None
    return sale_order(
        [
            OrderLine(
                line.product.sku,
                line.quantity,
                money(line.product.net_price),
                line.product.vat_percent,
                name=line.product.name,
                product_id=line.product.productid,
                row_price=money(line.gross_before) if line.discounted else None,
                row_discount=money(line.manual_discount) if line.manual_discount else None,
                voucher=line.voucher,
                additionaldata=(line_data or {}).get(index),
            )
            for index, line in enumerate(order.lines)
        ],
        orderdate=order.order_date,
        customer_id=customer_id if identified else None,
        member_number=member_number if identified else None,
        email=customer.email if customer is not None and identified else "",
        namefirst=str(customer.body["name_first"]) if customer is not None and identified else "",
        namelast=str(customer.body["name_last"]) if customer is not None and identified else "",
        receipt_id=f"{store.register_serial}{order.receipt_no}",
        store_external_id=store.store_externalid,
        store_name=store.store_name,
        staff_external_id=store.staff_externalid,
        warehouseid=store.warehouse_id,
        registerid=store.register_id,
        currency=store.currency_code,
        additionaldata={"pos-timezone": store.timezone},
    )


def refund_order_body(
    order: PlannedOrder, config: StoreDayConfig, original: Mapping[str, Any]
) -> dict[str, Any]:
    """A validated POS return of ``original`` (the order as the Sitoo API returned it).

    Built with :func:`sandbox.sitoo_api.orders.refund_order`: negative quantities,
    ``creditorderid`` and ``pos-originalsales-orderid``, each line's
    ``pos-originalsales-orderitemid`` = the original line's ``orderitemid``; customer, store
    and staff references are inherited from the original.
    """
    items = original["orderitems"]
    lines = []
    for line in order.lines:
        assert line.original_line is not None
        lines.append((int(items[line.original_line]["orderitemid"]), -line.quantity))
    return refund_order(
        original,
        lines,
        orderdate=order.order_date,
        receipt_id=f"{config.store.register_serial}{order.receipt_no}",
        additionaldata={"pos-timezone": config.store.timezone},
    )
