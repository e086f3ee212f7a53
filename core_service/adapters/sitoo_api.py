"""Sitoo REST API v2 client: fetching one order (spec sitoo-events-and-orders.md Part B).

Like the Bloomreach client it speaks HTTP and classifies failures; the relay decides what a
failure means for an outbox message.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import aiohttp

from core_service.adapters.http_client import HttpClients
from core_service.domain.sitoo_api import (
    LIST_FIELDS,
    OrderPage,
    SitooAccount,
    SitooAuthFailed,
    SitooError,
    SitooNotFound,
    SitooRateLimited,
    SitooRejected,
    SitooTimeout,
    SitooUnavailable,
)

# The values and failures live in the domain (services catch them without importing this
# adapter); they stay importable from here.
__all__ = [
    "LIST_FIELDS",
    "OrderPage",
    "SitooAccount",
    "SitooAuthFailed",
    "SitooClient",
    "SitooError",
    "SitooNotFound",
    "SitooOrderLister",
    "SitooRateLimited",
    "SitooRejected",
    "SitooTimeout",
    "SitooUnavailable",
]


def _retry_after(headers: Any) -> float | None:
    for name in ("Retry-After", "X-Rate-Limit-Reset-After"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


def _error_text(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(body, dict) and isinstance(body.get("errortext"), str):
        return str(body["errortext"])[:200]
    return text[:200]


class SitooClient:
    """Satisfies ``services.upstream_ports.SitooOrderSource``."""

    def __init__(self, http: HttpClients, account: SitooAccount) -> None:
        self._session = http.session(account.base_url)
        self._authorization = _authorization(account.api_id, account.password)
        self._base = f"{account.base_url.rstrip('/')}/v2/accounts/{account.account_id}"

    async def get_order(self, site_id: int, order_id: int, timeout: float) -> dict[str, Any]:
        url = f"{self._base}/sites/{site_id}/orders/{order_id}.json"
        headers = {"Accept": "application/json", "Authorization": self._authorization}
        try:
            async with self._session.get(
                url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                status = response.status
                text = await response.text()
                retry_after = _retry_after(response.headers)
        except TimeoutError as exc:
            raise SitooTimeout(f"Sitoo did not answer within {timeout:.1f} s") from exc
        except aiohttp.ClientError as exc:
            raise SitooUnavailable(f"cannot reach Sitoo: {type(exc).__name__}") from exc
        if status == HTTPStatus.OK:
            try:
                order = json.loads(text)
            except ValueError as exc:
                raise SitooUnavailable("Sitoo answered 200 with a body that is not JSON") from exc
            if not isinstance(order, dict) or order.get("orderid") != order_id:
                raise SitooRejected(f"Sitoo answered 200 without order {order_id}")
            return order
        message = f"Sitoo answered {status}: {_error_text(text)}"
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise SitooRateLimited(message, retry_after_s=retry_after)
        if status == HTTPStatus.NOT_FOUND:
            raise SitooNotFound(message, status=status)
        if status in (401, 403):
            raise SitooAuthFailed(message, status=status)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise SitooUnavailable(message, status=status)
        raise SitooRejected(message, status=status)


def _authorization(api_id: str, password: str) -> str:
    """The guide's "Sitoo API token" may be given as ``API_ID:password`` in the id field with
    no password, or as a pre-encoded Basic value; both are accepted here (spec §4.2)."""
    if not password and api_id.lower().startswith("basic "):
        return api_id
    if not password and ":" in api_id:
        api_id, password = api_id.split(":", 1)
    return aiohttp.encode_basic_auth(api_id, password)


def _raise_for(status: int, text: str, retry_after: float | None) -> None:
    message = f"Sitoo answered {status}: {_error_text(text)}"
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        raise SitooRateLimited(message, retry_after_s=retry_after)
    if status == HTTPStatus.NOT_FOUND:
        raise SitooNotFound(message, status=status)
    if status in (401, 403):
        raise SitooAuthFailed(message, status=status)
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise SitooUnavailable(message, status=status)
    raise SitooRejected(message, status=status)


class SitooOrderLister:
    """``GET /v2/accounts/{a}/orders.json`` with the documented filters and ``start``/``num``
    paging (spec sitoo-events-and-orders.md §4.3, §5.2): backfill and reconcile. Satisfies
    ``services.upstream_ports.SitooOrderListing``."""

    def __init__(self, http: HttpClients, account: SitooAccount) -> None:
        self._session = http.session(account.base_url)
        self._authorization = _authorization(account.api_id, account.password)
        self._url = f"{account.base_url.rstrip('/')}/v2/accounts/{account.account_id}/orders.json"

    async def list_orders(
        self,
        *,
        date_from: int,
        date_to: int,
        order_id_from: int,
        start: int,
        num: int,
        timeout: float,
        fields: str = LIST_FIELDS,
    ) -> OrderPage:
        params = {
            "orderdatefrom": str(date_from),
            "orderdateto": str(date_to),
            "orderidfrom": str(order_id_from),
            "sort": "orderid",
            "start": str(start),
            "num": str(num),
        }
        if fields:
            params["fields"] = fields
        headers = {"Accept": "application/json", "Authorization": self._authorization}
        try:
            async with self._session.get(
                self._url,
                params=params,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                status = response.status
                text = await response.text()
                retry_after = _retry_after(response.headers)
        except TimeoutError as exc:
            raise SitooTimeout(f"Sitoo did not answer within {timeout:.1f} s") from exc
        except aiohttp.ClientError as exc:
            raise SitooUnavailable(f"cannot reach Sitoo: {type(exc).__name__}") from exc
        if status != HTTPStatus.OK:
            _raise_for(status, text, retry_after)
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise SitooUnavailable("Sitoo answered 200 with a body that is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise SitooRejected("Sitoo answered 200 without an order list")
        items = [o for o in body["items"] if isinstance(o, dict) and "orderid" in o]
        return OrderPage(int(body.get("totalcount") or 0), items)
