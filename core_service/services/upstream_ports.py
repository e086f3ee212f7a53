"""The ports the services call the vendors through: Bloomreach's API, Sitoo's REST API, and
an HTTP probe, as Protocols.

The HTTP clients in ``core_service/adapters`` (``bloomreach.py``, ``sitoo_api.py``) satisfy
them structurally, ``adapters/upstream.py``'s ``HttpUpstream`` builds them (one pooled session
per upstream, ``adapters/http_client.py``), and ``core_service/bootstrap.py`` wires it. Every
call may raise the failures of ``domain/bloomreach_api.py`` or ``domain/sitoo_api.py``, never
an HTTP library's exceptions; tests hand the services in-memory fakes
(tests/unit/test_customer_service.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from core_service.domain.bloomreach_api import (
    AttributeResult,
    BloomreachProject,
    CommandResult,
    JsonObject,
)
from core_service.domain.sitoo_api import LIST_FIELDS, OrderPage, SitooAccount


class BloomreachApi(Protocol):
    """One Bloomreach project's API (adapters/bloomreach.py's ``BloomreachClient``)."""

    async def system_time(self, timeout: float) -> float: ...

    async def attributes(
        self,
        customer_ids: Mapping[str, str],
        attributes: Sequence[Mapping[str, Any]],
        timeout: float,
    ) -> list[AttributeResult] | None:
        """One result per attribute, in order; ``None`` when the customer does not exist."""
        ...

    async def batch(
        self, commands: Sequence[Mapping[str, Any]], timeout: float
    ) -> list[CommandResult]:
        """At most ``MAX_BATCH_COMMANDS``; results in command order."""
        ...

    async def track_customer(
        self,
        customer_ids: Mapping[str, str],
        properties: Mapping[str, Any],
        update_timestamp: float,
        timeout: float,
    ) -> None: ...

    async def export_events(
        self,
        customer_ids: Mapping[str, str],
        event_types: Sequence[str],
        timeout: float,
        *,
        order: str = "desc",
        limit: int = 20,
        skip: int = 0,
    ) -> list[JsonObject] | None: ...

    async def export_one(
        self, customer_ids: Mapping[str, str], timeout: float
    ) -> JsonObject | None: ...

    async def consent_categories(self, timeout: float) -> list[JsonObject]: ...

    async def anonymize(self, customer_ids: Mapping[str, str], timeout: float) -> bool:
        """False when the customer does not exist."""
        ...


class SitooOrderSource(Protocol):
    """One order from Sitoo's REST API (adapters/sitoo_api.py's ``SitooClient``)."""

    async def get_order(self, site_id: int, order_id: int, timeout: float) -> dict[str, Any]: ...


class SitooOrderListing(Protocol):
    """Sitoo's order list, paged (adapters/sitoo_api.py's ``SitooOrderLister``)."""

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
    ) -> OrderPage: ...


class Upstream(Protocol):
    """Builds the vendor clients over shared connection pools (adapters/upstream.py)."""

    def bloomreach(self, project: BloomreachProject, *, pool: str | None = None) -> BloomreachApi:
        """A client for ``project``; ``pool`` names its connection pool (default: one per
        base URL)."""
        ...

    def sitoo_orders(self, account: SitooAccount) -> SitooOrderSource: ...

    def sitoo_order_lister(self, account: SitooAccount) -> SitooOrderListing: ...

    async def status(self, url: str, timeout: float) -> int:
        """``GET url``'s status; raises ``domain.upstream.Unreachable`` when there is no
        answer."""
        ...


# A Bloomreach client on a connection pool of its own, closed when the block ends: the
# console's access checks, so nothing of a half-entered access outlives the check.
BloomreachScratch = Callable[[BloomreachProject], AbstractAsyncContextManager[BloomreachApi]]
