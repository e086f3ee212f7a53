"""A Sitoo POS calling the CRM SPI v2 on the edge (spec ``sitoo-crm-spi-v2.md`` §3, §4, §5, §14).

Every call goes through one pooled :class:`aiohttp.ClientSession`, carries HTTP Basic auth with
the integrator's SPI credential, optionally the ``Store-ID`` / ``Staff-ID`` / ``Register-ID``
origin headers (URL-encoded, as Sitoo does), and is aborted after 10 s like the POS. Each call
returns a :class:`SpiResult` holding the status, the parsed JSON, the latency and a list of
*problems*: the ways the answer departs from the documented (or, where marked, inferred)
contract. The driver never raises on an HTTP status; it raises :class:`SpiConnectionError` only
when no HTTP exchange happened at all (connection refused, reset before the answer)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from yarl import URL

from sandbox.driver.sitoo_contract import (
    ADD_CUSTOMER,
    ALLOWED_STATUSES,
    CONSENTS,
    CUSTOMER_TRANSACTIONS,
    GET_CUSTOMER,
    LOOKUP,
    PATCH_CUSTOMER,
    REDEEM,
    REGISTER_ID_HEADER,
    SEARCH_CUSTOMERS,
    STAFF_ID_HEADER,
    STORE_ID_HEADER,
    UNDO_REDEEM,
    UPDATE_CUSTOMER,
    Route,
    integration_path,
    redeem_body,
)
from sandbox.driver.spi_result import (
    SLOW_THRESHOLD_S,
    BodyShape,
    SpiConnectionError,
    SpiResult,
    error_body_problems,
    success_body_problems,
)

# POS hard timeout (documented for v1, inferred for v2); the "should never exceed" budget is
# spi_result.SLOW_THRESHOLD_S.
POS_TIMEOUT_S = 10.0

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def encode_header_value(value: str) -> str:
    """URL-encode an origin header value the way Sitoo documents it.

    The docs say non-alphanumeric characters are percent-encoded as UTF-8; we take that
    literally (``-``, ``_``, ``.`` and ``~`` are encoded too), which is the strictest input a
    decoder can get and still decodes to the same text with any URL decoder.
    """
    return "".join(
        chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in value.encode("utf-8")
    )


def encode_query(params: Mapping[str, str]) -> str:
    """A query string with every value percent-encoded (``+`` → ``%2B``, space → ``%20``)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params.items())


@dataclass(frozen=True)
class Origin:
    """The optional origin headers: store and staff ``externalid`` and the register id."""

    store_id: str | None = None
    staff_id: str | None = None
    register_id: str | None = None

    def headers(self) -> dict[str, str]:
        pairs = (
            (STORE_ID_HEADER, self.store_id),
            (STAFF_ID_HEADER, self.staff_id),
            (REGISTER_ID_HEADER, self.register_id),
        )
        return {name: encode_header_value(v) for name, v in pairs if v is not None}


# Per-call credential override: ``(user, password)``, ``False`` = none, ``None`` = the default.
AuthArg = tuple[str, str] | Literal[False] | None


def basic_auth(username: str, password: str) -> str:
    """The ``Authorization`` header value for HTTP Basic (UTF-8)."""
    return aiohttp.encode_basic_auth(username, password)


class PosClient:
    """An async POS talking to one integration's CRM SPI on the edge.

    ``base_url`` is the edge root (e.g. ``http://127.0.0.1:8080``); routes are
    ``/sitoo/{integration}/…`` from :mod:`sandbox.driver.sitoo_contract`. Use as an async
    context manager or call :meth:`close`. Every method accepts ``origin=`` to override the
    default origin headers and ``auth=`` (``False`` = send no credentials, a
    ``(user, password)`` pair = send those instead) to exercise the 401 path.
    """

    def __init__(
        self,
        base_url: str,
        integration: str,
        username: str,
        password: str,
        *,
        origin: Origin | None = None,
        timeout_s: float = POS_TIMEOUT_S,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.base_url = URL(base_url.rstrip("/"))
        self.integration = integration
        self.authorization = basic_auth(username, password)
        self.origin = origin or Origin()
        self.timeout_s = timeout_s
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> PosClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    # --- CRM SPI operations --------------------------------------------------------------

    async def search(
        self, key_type: str, key: str, *, origin: Origin | None = None, auth: AuthArg = None
    ) -> SpiResult:
        """``GET /customers?key_type=…&key=…``: ``200 []`` is a miss, never ``404``."""
        result = await self._call(
            SEARCH_CUSTOMERS,
            query={"key_type": key_type, "key": key},
            shape="list01",
            origin=origin,
            auth=auth,
        )
        if result.status == HTTPStatus.NOT_FOUND:
            return _with_problem(result, "search-miss-as-404: a miss must be 200 []")
        return result

    async def get(
        self, customer_id: str, *, origin: Origin | None = None, auth: AuthArg = None
    ) -> SpiResult:
        return await self._call(
            GET_CUSTOMER,
            params={"customer_id": customer_id},
            shape="customer",
            origin=origin,
            auth=auth,
        )

    async def create(
        self, customer: Mapping[str, Any], *, origin: Origin | None = None, auth: AuthArg = None
    ) -> SpiResult:
        return await self._call(
            ADD_CUSTOMER, json_body=dict(customer), shape="customer", origin=origin, auth=auth
        )

    async def update(
        self,
        customer_id: str,
        changes: Mapping[str, Any],
        *,
        patch: bool = False,
        origin: Origin | None = None,
        auth: AuthArg = None,
    ) -> SpiResult:
        """``PUT`` (or with ``patch=True`` the ``PATCH`` alias) ``/customers/{customer_id}``."""
        return await self._call(
            PATCH_CUSTOMER if patch else UPDATE_CUSTOMER,
            params={"customer_id": customer_id},
            json_body=dict(changes),
            shape="customer",
            origin=origin,
            auth=auth,
        )

    async def lookup(
        self,
        key: str,
        key_type: str | None = None,
        *,
        origin: Origin | None = None,
        auth: AuthArg = None,
    ) -> SpiResult:
        """``GET /lookup``: 0 or 1 prefill objects, which carry no ``customer_id``."""
        query = {"key": key} if key_type is None else {"key": key, "key_type": key_type}
        return await self._call(
            LOOKUP, query=query, shape="list01", origin=origin, auth=auth, needs_id=False
        )

    async def consents(self, *, origin: Origin | None = None, auth: AuthArg = None) -> SpiResult:
        return await self._call(CONSENTS, shape="list", origin=origin, auth=auth)

    async def transactions(
        self, customer_id: str, *, origin: Origin | None = None, auth: AuthArg = None
    ) -> SpiResult:
        return await self._call(
            CUSTOMER_TRANSACTIONS,
            params={"customer_id": customer_id},
            shape="list",
            origin=origin,
            auth=auth,
        )

    async def redeem(
        self,
        customer_id: str,
        items: list[tuple[str, str]],
        *,
        body: Any = None,
        origin: Origin | None = None,
        auth: AuthArg = None,
    ) -> SpiResult:
        """``POST /customers/{customer_id}/redeem`` with ``(key, id)`` items
        (``promotion_id`` / ``bonus_check_id``); ``body`` replaces the whole body as given.
        The answer is the customer card."""
        return await self._call(
            REDEEM,
            params={"customer_id": customer_id},
            json_body=redeem_body(items) if body is None else body,
            shape="customer",
            origin=origin,
            auth=auth,
        )

    async def undo_redeem(
        self,
        customer_id: str,
        items: list[tuple[str, str]],
        *,
        origin: Origin | None = None,
        auth: AuthArg = None,
    ) -> SpiResult:
        """``POST /customers/{customer_id}/undo-redeem``: the same body as :meth:`redeem`."""
        return await self._call(
            UNDO_REDEEM,
            params={"customer_id": customer_id},
            json_body=redeem_body(items),
            shape="customer",
            origin=origin,
            auth=auth,
        )

    # --- plumbing --------------------------------------------------------------------------

    def url_for(
        self, route: Route, params: Mapping[str, str] | None = None, query: str = ""
    ) -> URL:
        encoded = {k: quote(v, safe="") for k, v in (params or {}).items()}
        path = integration_path(quote(self.integration, safe=""), route, **encoded)
        raw = str(self.base_url) + path + (f"?{query}" if query else "")
        return URL(raw, encoded=True)

    # One SPI exchange and every contract check on its answer, in one place so that a check
    # cannot be skipped on some path; the complexity is that list of checks.
    async def _call(  # noqa: C901, PLR0912
        self,
        route: Route,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: Any = None,
        shape: BodyShape = "any",
        origin: Origin | None = None,
        auth: AuthArg = None,
        needs_id: bool = True,
    ) -> SpiResult:
        url = self.url_for(route, params, encode_query(query) if query else "")
        headers = {"Accept": "application/json", **(origin or self.origin).headers()}
        data: bytes | None = None
        if json_body is not None:
            data = json.dumps(json_body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth is None:
            headers["Authorization"] = self.authorization
        elif auth is not False:
            headers["Authorization"] = basic_auth(*auth)
        started = time.perf_counter()
        try:
            async with self.session.request(
                route.method,
                url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            ) as response:
                raw = await response.read()
                status = response.status
                answer_headers = dict(response.headers)
        except TimeoutError:
            return SpiResult(
                operation=route.name,
                method=route.method,
                url=str(url),
                status=0,
                body=None,
                text="",
                latency_s=time.perf_counter() - started,
                timed_out=True,
                problems=(f"timeout: no answer within {self.timeout_s:g} s",),
                request_headers=headers,
            )
        except aiohttp.ClientError as exc:
            raise SpiConnectionError(f"{route.method} {url}: {exc}") from exc
        latency = time.perf_counter() - started
        text = raw.decode("utf-8", errors="replace")
        body: Any = None
        problems: list[str] = []
        if text.strip():
            try:
                body = json.loads(text)
            except ValueError:
                problems.append("body-not-json")
        if status not in ALLOWED_STATUSES:
            problems.append(f"status-not-documented: {status}")
        if status == HTTPStatus.OK:
            if body is None and "body-not-json" not in problems:
                problems.append("body-invalid: empty 200 body")
            elif body is not None:
                problems += success_body_problems(shape, body, require_customer_id=needs_id)
        elif "body-not-json" not in problems:
            problems += error_body_problems(status, body)
        if latency > SLOW_THRESHOLD_S:
            problems.append(f"slow: {latency:.3f} s > {SLOW_THRESHOLD_S:g} s")
        return SpiResult(
            operation=route.name,
            method=route.method,
            url=str(url),
            status=status,
            body=body,
            text=text,
            latency_s=latency,
            problems=tuple(problems),
            request_headers=headers,
            headers=answer_headers,
        )


def _with_problem(result: SpiResult, problem: str) -> SpiResult:
    return replace(result, problems=(*result.problems, problem))


# Callers import the whole driver API of this part from here.
__all__ = [
    "POS_TIMEOUT_S",
    "SLOW_THRESHOLD_S",
    "AuthArg",
    "BodyShape",
    "Origin",
    "PosClient",
    "SpiConnectionError",
    "SpiResult",
    "basic_auth",
    "encode_header_value",
    "encode_query",
    "error_body_problems",
    "success_body_problems",
]
