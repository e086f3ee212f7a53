"""Bloomreach Engagement API client (spec: bloomreach-engagement-api.md).

It speaks HTTP and classifies failures; what a failure means for a POS call or an outbox
message is decided by the services. Request bodies are serialised deterministically (sorted
keys, no spaces), so that the same commands are the same bytes: a resend after a crash is an
exact duplicate, which Bloomreach stores once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import aiohttp

from core_service.adapters.http_client import HttpClients
from core_service.domain.bloomreach_api import (
    MAX_BATCH_COMMANDS,
    AttributeResult,
    BloomreachAuthFailed,
    BloomreachError,
    BloomreachProject,
    BloomreachRateLimited,
    BloomreachRejected,
    BloomreachTimeout,
    BloomreachUnavailable,
    CommandResult,
    JsonObject,
)

# The values and failures live in the domain (services catch them without importing this
# adapter); they stay importable from here.
__all__ = [
    "MAX_BATCH_COMMANDS",
    "AttributeResult",
    "BloomreachAuthFailed",
    "BloomreachClient",
    "BloomreachError",
    "BloomreachProject",
    "BloomreachRateLimited",
    "BloomreachRejected",
    "BloomreachTimeout",
    "BloomreachUnavailable",
    "CommandResult",
    "JsonObject",
    "attributes_body",
    "encode",
    "encode_value",
]

log = logging.getLogger(__name__)


def encode(body: Mapping[str, Any]) -> bytes:
    return encode_value(body)


def encode_value(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def attributes_body(customer_ids: Mapping[str, str], encoded_attributes: bytes) -> bytes:
    """``encode({"customer_ids": customer_ids, "attributes": attributes})`` given the
    attributes already encoded (``encode_value``): the same bytes."""
    # encode() sorts keys: "attributes" before "customer_ids".
    ids = encode_value(dict(customer_ids))
    return b'{"attributes":' + encoded_attributes + b',"customer_ids":' + ids + b"}"


def _log_call(url: str, request_id: str, started: float) -> None:
    if not log.isEnabledFor(logging.DEBUG):  # its fields cost more than the check
        return
    log.debug(
        "bloomreach call",
        extra={
            "url_path": url.split("/projects/", 1)[-1].split("/", 1)[-1],
            "bloomreach_request_id": request_id,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        },
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        for key in ("error", "message", "errors"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, list) and value:
                return "; ".join(str(v) for v in value)
            if isinstance(value, dict) and value:
                return "; ".join(str(v) for values in value.values() for v in values)
    return fallback


def _is_project_token_error(message: str) -> bool:
    # Bloomreach checks the project token before the key (documented messages).
    lowered = message.lower()
    return "could not authenticate" in lowered or "invalid project id" in lowered


class BloomreachClient:
    """Satisfies ``services.upstream_ports.BloomreachApi``."""

    def __init__(
        self, http: HttpClients, project: BloomreachProject, *, pool: str | None = None
    ) -> None:
        # ``pool`` names the connection pool to use (default: one per base URL).
        self._session = http.session(pool or project.base_url)
        self._project = project
        self._authorization = aiohttp.encode_basic_auth(project.key_id, project.secret)
        # Built once (the HTTP client copies them into each request, never changes them).
        self._read_headers = {"Accept": "application/json", "Authorization": self._authorization}
        self._write_headers = {**self._read_headers, "Content-Type": "application/json"}
        # The encoded attribute list of the last read plan: the same for every read of the
        # integration's mapping version (held, so its identity stays its own).
        self._attributes_json: tuple[Sequence[Mapping[str, Any]], bytes] | None = None
        base = project.base_url.rstrip("/")
        self._track = f"{base}/track/v2/projects/{project.project_token}"
        self._data = f"{base}/data/v2/projects/{project.project_token}"

    async def _call(
        self,
        method: str,
        url: str,
        body: Mapping[str, Any] | bytes | None,
        timeout: float,
        *,
        not_found_ok: bool = False,
    ) -> JsonObject | None:
        """``body``: a JSON object, or one already encoded (``encode``'s bytes)."""
        started = time.perf_counter()
        headers = self._read_headers
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else encode(body)
            headers = self._write_headers
        request_id = ""
        try:
            async with self._session.request(
                method,
                url,
                data=data,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                request_id = response.headers.get("x-request-id", "")
                try:
                    payload: Any = await response.json(content_type=None)
                except (json.JSONDecodeError, UnicodeDecodeError, aiohttp.ContentTypeError):
                    payload = None
                status = response.status
                retry_after = _retry_after(response.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise BloomreachTimeout(f"Bloomreach did not answer within {timeout:.1f} s") from exc
        except aiohttp.ClientError as exc:
            raise BloomreachUnavailable(f"cannot reach Bloomreach: {type(exc).__name__}") from exc
        finally:
            _log_call(url, request_id, started)
        if status == HTTPStatus.NOT_FOUND and not_found_ok:
            return None
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise BloomreachRateLimited(
                "Bloomreach rate limit reached", retry_after_s=retry_after, request_id=request_id
            )
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise BloomreachUnavailable(
                f"Bloomreach answered {status}", status=status, request_id=request_id
            )
        if status in (401, 403):
            raise BloomreachAuthFailed(
                f"Bloomreach refused the API key ({status}: "
                f"{_message(payload, 'authentication failed')})",
                status=status,
                request_id=request_id,
            )
        message = _message(payload, "no body")
        if _is_project_token_error(message):
            raise BloomreachAuthFailed(
                f"Bloomreach does not know the project token ({message})",
                status=status,
                request_id=request_id,
            )
        if status >= HTTPStatus.BAD_REQUEST or not isinstance(payload, dict):
            raise BloomreachRejected(
                f"Bloomreach rejected the request ({status}: {message})",
                status=status,
                request_id=request_id,
            )
        if payload.get("success") is False:
            raise BloomreachRejected(
                _message(payload, "success: false"), status=status, request_id=request_id
            )
        return payload

    async def system_time(self, timeout: float) -> float:
        payload = await self._call("GET", f"{self._track}/system/time", None, timeout)
        assert payload is not None
        return float(payload["time"])

    async def attributes(
        self,
        customer_ids: Mapping[str, str],
        attributes: Sequence[Mapping[str, Any]],
        timeout: float,
    ) -> list[AttributeResult] | None:
        """One call per customer. ``None`` when Bloomreach answers 404 for the customer."""
        payload = await self._call(
            "POST",
            f"{self._data}/customers/attributes",
            self._attributes_body(customer_ids, attributes),
            timeout,
            not_found_ok=True,
        )
        if payload is None:
            return None
        results = payload.get("results")
        if not isinstance(results, list) or len(results) != len(attributes):
            raise BloomreachRejected("Bloomreach returned a malformed attributes response")
        return [
            AttributeResult(
                success=bool(r.get("success")), value=r.get("value"), error=str(r.get("error", ""))
            )
            for r in results
        ]

    def _attributes_body(
        self, customer_ids: Mapping[str, str], attributes: Sequence[Mapping[str, Any]]
    ) -> bytes:
        """``encode({"customer_ids": ..., "attributes": ...})``, the same bytes, with the
        attribute list (the read plan's, the larger part) encoded once per plan."""
        cached = self._attributes_json
        if cached is None or cached[0] is not attributes:
            cached = self._attributes_json = (attributes, encode_value(list(attributes)))
        return attributes_body(customer_ids, cached[1])

    async def batch(
        self, commands: Sequence[Mapping[str, Any]], timeout: float
    ) -> list[CommandResult]:
        """Results in command order, matched by ``command_id`` (every command must have one)."""
        if not commands:
            return []
        if len(commands) > MAX_BATCH_COMMANDS:
            raise ValueError(f"at most {MAX_BATCH_COMMANDS} commands per batch")
        ids = [str(c["command_id"]) for c in commands]
        payload = await self._call(
            "POST", f"{self._track}/batch", {"commands": list(commands)}, timeout
        )
        assert payload is not None
        results = payload.get("results")
        if not isinstance(results, list) or len(results) != len(commands):
            raise BloomreachUnavailable("Bloomreach returned a malformed batch response")
        by_id = {str(r.get("command_id")): r for r in results if isinstance(r, dict)}
        matched = []
        for index, command_id in enumerate(ids):
            result = by_id.get(command_id, results[index])
            if not isinstance(result, dict):
                raise BloomreachUnavailable("Bloomreach returned a malformed batch result")
            errors = result.get("errors") or ()
            matched.append(
                CommandResult(
                    success=bool(result.get("success")),
                    command_id=command_id,
                    errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
                )
            )
        return matched

    async def track_customer(
        self,
        customer_ids: Mapping[str, str],
        properties: Mapping[str, Any],
        update_timestamp: float,
        timeout: float,
    ) -> None:
        await self._call(
            "POST",
            f"{self._track}/customers",
            {
                "customer_ids": dict(customer_ids),
                "properties": dict(properties),
                "update_timestamp": update_timestamp,
            },
            timeout,
        )

    async def export_events(
        self,
        customer_ids: Mapping[str, str],
        event_types: Sequence[str],
        timeout: float,
        *,
        order: str = "desc",
        limit: int = 20,
        skip: int = 0,
    ) -> list[JsonObject] | None:
        payload = await self._call(
            "POST",
            f"{self._data}/customers/events",
            {
                "customer_ids": dict(customer_ids),
                "event_types": list(event_types),
                "order": order,
                "limit": limit,
                "skip": skip,
            },
            timeout,
            not_found_ok=True,
        )
        if payload is None:
            return None
        data = payload.get("data")
        return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []

    async def export_one(
        self, customer_ids: Mapping[str, str], timeout: float
    ) -> JsonObject | None:
        return await self._call(
            "POST",
            f"{self._data}/customers/export-one",
            {"customer_ids": dict(customer_ids)},
            timeout,
            not_found_ok=True,
        )

    async def consent_categories(self, timeout: float) -> list[JsonObject]:
        payload = await self._call("GET", f"{self._data}/consent/categories", None, timeout)
        assert payload is not None
        categories = payload.get("results", payload.get("categories", []))
        return (
            [c for c in categories if isinstance(c, dict)] if isinstance(categories, list) else []
        )

    async def anonymize(self, customer_ids: Mapping[str, str], timeout: float) -> bool:
        """False when the customer does not exist."""
        payload = await self._call(
            "POST",
            f"{self._data}/customers/anonymize",
            {"customer_ids": dict(customer_ids)},
            timeout,
            not_found_ok=True,
        )
        return payload is not None
