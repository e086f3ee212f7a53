"""Configuration of the Sitoo REST API (orders) emulator."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.faults import Fault

_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class SitooAccount:
    """One Sitoo account and its REST API user.

    Sitoo API ids look like ``{accountid}-{n}`` (docs example ``10020-140``); the account id
    is the part before the first dash, and a request for another account in the URL is refused
    with ``401``.
    """

    account_id: int = 1500
    api_id: str = "1500-1"
    password: str = "sandbox-password"  # noqa: S105 - a sandbox default, not a secret
    site_ids: tuple[int, ...] = (1,)
    currency_code: str = "SEK"

    def __post_init__(self) -> None:
        prefix, sep, suffix = self.api_id.partition("-")
        if not sep or prefix != str(self.account_id) or not suffix.isdigit():
            raise ValueError(f"api_id must look like '{self.account_id}-<n>', got {self.api_id!r}")
        if not self.password:
            raise ValueError("password must not be empty")
        if not self.site_ids or any(site <= 0 for site in self.site_ids):
            raise ValueError("site_ids must be positive integers")
        if not _CURRENCY.match(self.currency_code):
            raise ValueError("currency_code must be an ISO 4217 code")


@dataclass(frozen=True)
class SitooApiConfig:
    """Everything :func:`sandbox.sitoo_api.create_app` needs.

    ``not_found_reads`` emulates eventual consistency: each new order answers ``404`` to that
    many ``GET …/orders/{id}.json`` requests before it becomes visible there (counted, not
    timed, so tests stay deterministic).
    """

    accounts: tuple[SitooAccount, ...] = (SitooAccount(),)
    max_num: int = 1000
    requests_per_second: float | None = None
    faults: Mapping[str, Fault] = field(default_factory=dict)
    state_file: Path | None = None
    seed: int | None = None
    first_orderid: int = 1
    not_found_reads: int = 0

    def __post_init__(self) -> None:
        ids = [account.account_id for account in self.accounts]
        if not ids:
            raise ValueError("at least one account is needed")
        if len(set(ids)) != len(ids):
            raise ValueError("account ids must be unique")
        if self.max_num < 1:
            raise ValueError("max_num must be positive")
        if self.requests_per_second is not None and self.requests_per_second <= 0:
            raise ValueError("requests_per_second must be positive")
        if self.first_orderid < 1:
            raise ValueError("first_orderid must be positive")
        if self.not_found_reads < 0:
            raise ValueError("not_found_reads must not be negative")

    def account(self, account_id: int) -> SitooAccount | None:
        for account in self.accounts:
            if account.account_id == account_id:
                return account
        return None
