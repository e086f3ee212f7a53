"""What a Sitoo REST call is made with, answers and fails with, as the services see it.

The HTTP clients (``adapters/sitoo_api.py``) raise these; the relay, backfill and validation
decide what a failure means (``transient``: trying again later can succeed) without importing
the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Order fields a backfill needs to enqueue an order (the relay fetches the full order).
LIST_FIELDS = "orderid,eshopid,orderdate"


@dataclass(frozen=True)
class SitooAccount:
    base_url: str  # e.g. https://api.mysitoo.com (the /v2/accounts/{id} part is added here)
    account_id: int
    api_id: str
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"SitooAccount({self.base_url!r}, {self.account_id}, {self.api_id!r})"


class SitooError(Exception):
    transient = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class SitooRateLimited(SitooError):
    transient = True

    def __init__(self, message: str, *, retry_after_s: float | None) -> None:
        super().__init__(message, status=429)
        self.retry_after_s = retry_after_s


class SitooUnavailable(SitooError):
    transient = True


class SitooTimeout(SitooError):
    transient = True


class SitooNotFound(SitooError):
    """404: the order may not be visible yet (eventual consistency); worth a few retries."""

    transient = True


class SitooAuthFailed(SitooError):
    """401/403: the integration's Sitoo API id or password is wrong."""


class SitooRejected(SitooError):
    """400 or an answer that is not an order object."""


@dataclass(frozen=True)
class OrderPage:
    """One page of ``GET /orders.json``: ``totalcount`` = all matches before paging."""

    totalcount: int
    orders: list[dict[str, Any]]
