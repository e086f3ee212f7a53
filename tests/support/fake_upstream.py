"""In-memory Bloomreach and Sitoo behind the services' ports (core_service/services/
upstream_ports.py), for fast service-level tests. The real clients are tested against the
emulators over HTTP (tests/adapters, tests/e2e); these fakes only keep the contract the
services rely on: what is found, what a write changes, which failure is raised."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from core_service.domain.bloomreach_api import (
    AttributeResult,
    BloomreachError,
    BloomreachProject,
    CommandResult,
    JsonObject,
)
from core_service.domain.sitoo_api import LIST_FIELDS, OrderPage, SitooAccount, SitooError
from core_service.domain.upstream import Unreachable
from core_service.services.upstream_ports import (
    BloomreachApi,
    SitooOrderListing,
    SitooOrderSource,
)

Profile = dict[str, dict[str, Any]]


class FakeBloomreach:
    """One Bloomreach project in memory: profiles by their ids, with properties and consents.

    ``attributes`` answers as Bloomreach does (``None`` for an unknown customer, one result per
    attribute; an attribute named in ``unreadable`` fails as a missing permission); ``batch``
    applies ``customers`` and consent commands. ``fail`` holds errors the next calls raise (one
    each); command ids in ``refuse`` are answered ``success: false``. ``events`` are every
    found customer's events; ``categories`` the project's consent categories. Bloomreach
    answers an unknown customer with 404 or with null values: ``unknown_is_404`` picks.
    ``aggregates`` maps an aggregate id to the event type it counts (among ``events``); any
    other aggregate id is unknown, answered ``success: false`` as Bloomreach does."""

    def __init__(self) -> None:
        self.profiles: list[Profile] = []
        self.calls: list[str] = []
        self.batches: list[list[dict[str, Any]]] = []
        self.fail: list[BloomreachError] = []
        self.refuse: set[str] = set()
        self.unreadable: set[str] = set()
        self.events: list[JsonObject] = []
        self.categories: list[JsonObject] = []
        self.anonymized: list[dict[str, str]] = []
        self.aggregates: dict[str, str] = {}
        self.unknown_is_404 = True

    def add(self, ids: dict[str, str], **properties: Any) -> None:
        self.profiles.append({"ids": dict(ids), "properties": properties, "consents": {}})

    def find(self, customer_ids: Mapping[str, str]) -> Profile | None:
        for profile in self.profiles:
            if any(profile["ids"].get(name) == value for name, value in customer_ids.items()):
                return profile
        return None

    def _enter(self, call: str) -> None:
        self.calls.append(call)
        if self.fail:
            raise self.fail.pop(0)

    async def attributes(
        self,
        customer_ids: Mapping[str, str],
        attributes: Sequence[Mapping[str, Any]],
        timeout: float,
    ) -> list[AttributeResult] | None:
        self._enter("attributes")
        assert timeout > 0
        profile = self.find(customer_ids)
        if profile is None:
            if self.unknown_is_404:
                return None
            profile = {"ids": {}, "properties": {}, "consents": {}}
        return [self._answer(profile, attribute) for attribute in attributes]

    def _answer(self, profile: Profile, attribute: Mapping[str, Any]) -> AttributeResult:
        kind = attribute["type"]
        name = attribute.get("id") or attribute.get("property") or attribute.get("category")
        if name in self.unreadable:
            return AttributeResult(False, error="Permission denied")
        if kind == "id":
            return AttributeResult(True, profile["ids"].get(attribute["id"]))
        if kind == "property":
            return AttributeResult(True, profile["properties"].get(attribute["property"]))
        if kind == "consent":
            return AttributeResult(True, profile["consents"].get(attribute["category"], False))
        if kind == "aggregate" and attribute["id"] in self.aggregates:
            counted = self.aggregates[attribute["id"]]
            return AttributeResult(True, sum(e.get("type") == counted for e in self.events))
        return AttributeResult(False, error="no such analysis")

    async def batch(
        self, commands: Sequence[Mapping[str, Any]], timeout: float
    ) -> list[CommandResult]:
        self._enter("batch")
        self.batches.append([dict(c) for c in commands])
        results = []
        for command in commands:
            refused = command["command_id"] in self.refuse
            if not refused:
                self._apply(command)
            errors = ("refused",) if refused else ()
            results.append(CommandResult(not refused, command["command_id"], errors))
        return results

    def _apply(self, command: Mapping[str, Any]) -> None:
        data = command["data"]
        profile = self.find(data["customer_ids"])
        if profile is None:
            profile = {"ids": {}, "properties": {}, "consents": {}}
            self.profiles.append(profile)
        if command["name"] == "customers":
            profile["ids"].update(data["customer_ids"])
            profile["properties"].update(data["properties"])
        elif data["event_type"] == "consent":
            props = data["properties"]
            profile["consents"][props["category"]] = props["action"] == "accept"

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
        self._enter("export_events")
        if self.find(customer_ids) is None:
            return None
        return [e for e in self.events if e.get("type") in event_types][skip : skip + limit]

    async def system_time(self, timeout: float) -> float:
        self._enter("system_time")
        return 1_700_000_000.0

    async def track_customer(
        self,
        customer_ids: Mapping[str, str],
        properties: Mapping[str, Any],
        update_timestamp: float,
        timeout: float,
    ) -> None:
        raise AssertionError("no service uses track_customer")

    async def export_one(
        self, customer_ids: Mapping[str, str], timeout: float
    ) -> JsonObject | None:
        raise AssertionError("no service uses export_one")

    async def consent_categories(self, timeout: float) -> list[JsonObject]:
        self._enter("consent_categories")
        return list(self.categories)

    async def anonymize(self, customer_ids: Mapping[str, str], timeout: float) -> bool:
        self._enter("anonymize")
        profile = self.find(customer_ids)
        if profile is None:
            return False
        self.profiles.remove(profile)
        self.anonymized.append(dict(customer_ids))
        return True


class FakeOrderList:
    """Sitoo's order list in memory: ``orders`` (each with ``orderid``, ``orderdate`` and maybe
    ``eshopid``), filtered and paged as the documented query does. ``fail`` holds errors the
    next calls raise (one each); ``calls`` records each call's ``(order_id_from, start,
    num)``."""

    def __init__(self, orders: Sequence[dict[str, Any]] = ()) -> None:
        self.orders = list(orders)
        self.fail: list[SitooError] = []
        self.calls: list[tuple[int, int, int]] = []

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
        self.calls.append((order_id_from, start, num))
        if self.fail:
            raise self.fail.pop(0)
        matching = sorted(
            (
                o
                for o in self.orders
                if date_from <= o["orderdate"] <= date_to and o["orderid"] >= order_id_from
            ),
            key=lambda o: int(o["orderid"]),
        )
        return OrderPage(len(matching), [dict(o) for o in matching[start : start + num]])


class FakeUpstream:
    """Hands out the one fake Bloomreach project and Sitoo order list; ``statuses`` answers
    probes by URL (an ``Unreachable`` there is raised). Records what was asked for."""

    def __init__(
        self, bloomreach: FakeBloomreach | None = None, orders: FakeOrderList | None = None
    ) -> None:
        self.project = bloomreach or FakeBloomreach()
        self.order_list = orders or FakeOrderList()
        self.statuses: dict[str, int | Unreachable] = {}
        self.pools: list[str | None] = []
        self.projects: list[BloomreachProject] = []
        self.accounts: list[SitooAccount] = []

    def bloomreach(self, project: BloomreachProject, *, pool: str | None = None) -> BloomreachApi:
        self.projects.append(project)
        self.pools.append(pool)
        return self.project

    def sitoo_orders(self, account: SitooAccount) -> SitooOrderSource:
        raise AssertionError("the relay builds its own Sitoo clients")

    def sitoo_order_lister(self, account: SitooAccount) -> SitooOrderListing:
        self.accounts.append(account)
        return self.order_list

    async def status(self, url: str, timeout: float) -> int:
        answer = self.statuses[url]
        if isinstance(answer, Unreachable):
            raise answer
        return answer
