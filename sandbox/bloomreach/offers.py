"""Giving a customer an offer the way a Bloomreach scenario does: a customer event (by default
``sitoo_promotion`` or ``sitoo_bonus_check``) tracked through the Tracking API
(``POST /track/v2/projects/{token}/customers/events``, private Basic auth), with the offer's
id, name, type, value, amount, currency and end of validity as event properties.

The event types and property names are the integration's loyalty settings (the console's
Loyalty page; admin.proto Integration fields 60-69); :class:`OfferNames` holds them, with the
middleware's defaults. The emulator stores and exports these events like any other: Bloomreach
events are immutable, so a redemption never changes them (the middleware tracks its own
redemption events).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import aiohttp

from sandbox.bloomreach.config import DEFAULT_KEY_ID, DEFAULT_PROJECT_TOKEN, DEFAULT_SECRET

OfferKind = Literal["promotion", "bonus_check"]


@dataclass(frozen=True)
class OfferNames:
    """Event types and property names (the middleware's defaults)."""

    promotion_event_type: str = "sitoo_promotion"
    bonus_check_event_type: str = "sitoo_bonus_check"
    id: str = "id"
    name: str = "name"
    type: str = "type"
    value: str = "value"
    amount: str = "amount"
    currency: str = "currency"
    valid_until: str = "valid_until"

    def event_type(self, kind: OfferKind) -> str:
        return self.promotion_event_type if kind == "promotion" else self.bonus_check_event_type


@dataclass(frozen=True)
class Offer:
    """One promotion or bonus check. ``valid_until`` is Unix seconds (``None``: no end);
    ``extra`` are further properties a scenario may add (the middleware ignores them)."""

    kind: OfferKind
    offer_id: str
    name: str
    valid_until: int | str | None = None
    type: str = ""  # promotions: cart_percent, cart_amount, ...
    value: int | float | str | None = None  # promotions: percent or amount off
    amount: str = ""  # bonus checks: money as a decimal string
    currency: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def properties(self, names: OfferNames | None = None) -> dict[str, Any]:
        names = names or OfferNames()
        props: dict[str, Any] = {names.id: self.offer_id, names.name: self.name}
        optional = (
            (names.type, self.type),
            (names.value, self.value),
            (names.amount, self.amount),
            (names.currency, self.currency),
            (names.valid_until, self.valid_until),
        )
        props.update({key: value for key, value in optional if value not in (None, "")})
        props.update(self.extra)
        return props


class OfferTracker:
    """Tracks offer events into one Bloomreach project (the emulator or a real one)."""

    def __init__(
        self,
        base_url: str,
        token: str = DEFAULT_PROJECT_TOKEN,
        key_id: str = DEFAULT_KEY_ID,
        secret: str = DEFAULT_SECRET,
        *,
        names: OfferNames | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.url = f"{base_url.rstrip('/')}/track/v2/projects/{token}/customers/events"
        self.authorization = aiohttp.encode_basic_auth(key_id, secret)
        self.names = names or OfferNames()
        self._session = session
        self._own_session = session is None

    async def __aenter__(self) -> OfferTracker:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def event(
        self, customer_ids: Mapping[str, str], offer: Offer, timestamp: float | None = None
    ) -> dict[str, Any]:
        """The tracking body for ``offer`` on the customer ``customer_ids``."""
        body: dict[str, Any] = {
            "customer_ids": dict(customer_ids),
            "event_type": self.names.event_type(offer.kind),
            "properties": offer.properties(self.names),
        }
        if timestamp is not None:
            body["timestamp"] = timestamp
        return body

    async def give(
        self,
        customer_ids: Mapping[str, str],
        offer: Offer,
        timestamp: float | None = None,
        *,
        attempts: int = 5,
    ) -> dict[str, Any]:
        """Track the offer event; returns the body sent. Retries 429 / 5xx (a scenario would
        too); raises :class:`OfferNotTracked` when Bloomreach refuses it."""
        body = self.event(customer_ids, offer, timestamp)
        last = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(0.05 * 2**attempt)
            try:
                async with self.session.post(
                    self.url, json=body, headers={"Authorization": self.authorization}
                ) as response:
                    text = await response.text()
                    status = response.status
            except aiohttp.ClientError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            if status == HTTPStatus.OK and '"success":true' in text.replace(" ", ""):
                return body
            last = f"{status} {text[:300]}"
            if status != HTTPStatus.TOO_MANY_REQUESTS and status < HTTPStatus.INTERNAL_SERVER_ERROR:
                break
        raise OfferNotTracked(f"offer {offer.offer_id!r} not tracked: {last}")


class OfferNotTracked(Exception):
    """Bloomreach did not take an offer event."""
