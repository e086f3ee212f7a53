"""In-memory model of one Bloomreach project: customers, their IDs, properties and events.

Customers are indexed by ``(id_name, value)`` so every lookup is O(1) in the number of
customers. Rules reproduced (see the spec §2.2, §2.3, §2.5, §4):

- hard IDs: one value per ID name, case-sensitive; soft IDs: up to ``max_soft_id_values`` values
  per name, the least recently used value is evicted by the next new one;
- tracking with IDs that match nobody creates a customer; IDs resolving to several customers
  merge them into the oldest one;
- per-property ``update_timestamp``: an older update never overwrites a newer value;
- exact-duplicate events (same ids, type, timestamp, properties) are stored once, but counted;
- the project's customer-attribute cap: once full, new attribute names are dropped.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sandbox.bloomreach.config import Limits, ProjectConfig
from sandbox.bloomreach.consent import CONSENT_EVENT

STAT_NAMES = (
    "customers_created",
    "customers_merged",
    "customer_updates",
    "stale_property_updates_ignored",
    "customer_attributes_dropped",
    "soft_id_values_evicted",
    "soft_id_values_moved",
    "events_received",
    "events_stored",
    "events_duplicate_dropped",
    "customers_anonymized",
)


class IdConflictError(Exception):
    """The call's hard IDs contradict the hard IDs of the customer they resolve to."""


@dataclass(slots=True)
class StoredEvent:
    type: str
    timestamp: float
    properties: dict[str, Any]
    seq: int
    customer_ids: dict[str, str]  # as sent, for sandbox inspection

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "timestamp": self.timestamp, "properties": self.properties}

    def newer_than(self, other: StoredEvent) -> bool:
        return (self.timestamp, self.seq) > (other.timestamp, other.seq)


@dataclass(slots=True, eq=False)
class Customer:
    cid: int
    hard_ids: dict[str, str] = field(default_factory=dict)
    # soft-ID name -> {value: last-use sequence}; dict order = least recently used first
    soft_ids: dict[str, dict[str, int]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    property_ts: dict[str, float] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    consents: dict[str, StoredEvent] = field(default_factory=dict)  # category -> last event
    segments: dict[str, Any] = field(default_factory=dict)  # seeded segmentation values

    def ids_json(self) -> dict[str, Any]:
        """Hard IDs as scalars, soft IDs as arrays (least recently used first)."""
        ids: dict[str, Any] = dict(self.hard_ids)
        for name, values in self.soft_ids.items():
            if values:
                ids[name] = list(values)
        return ids

    def sorted_events(self) -> list[StoredEvent]:
        return sorted(self.events, key=lambda e: (e.timestamp, e.seq))


def event_fingerprint(
    ids: dict[str, str], event_type: str, timestamp: float, properties: dict[str, Any]
) -> str:
    raw = json.dumps(
        [ids, event_type, timestamp, properties], sort_keys=True, separators=(",", ":")
    )
    return hashlib.blake2b(raw.encode(), digest_size=16).hexdigest()


class ProjectStore:
    def __init__(self, config: ProjectConfig, limits: Limits) -> None:
        self.config = config
        self.limits = limits
        self.hard_names = frozenset(config.hard_ids)
        self.soft_names = frozenset(config.soft_ids)
        self.version = 0  # bumped by every write; persistence saves when it moves
        self.reset()

    def reset(self) -> None:
        self.customers: dict[int, Customer] = {}
        self.index: dict[tuple[str, str], Customer] = {}
        self.fingerprints: set[str] = set()
        self.known_properties: set[str] = set()
        self.segmentations: dict[str, Any] = {}  # segmentation id -> default value
        self.aggregates: dict[str, dict[str, Any]] = {}  # aggregate id -> definition
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        # API requests received, by route name (app.ROUTE_NAMES), faulted ones included: what a
        # test counts to know how many calls a use case cost.
        self.requests: dict[str, int] = {}
        self.next_cid = 1
        self.seq = 0
        self.version += 1

    # -- lookups -----------------------------------------------------------------------

    def find(self, ids: dict[str, str]) -> Customer | None:
        """The customer the IDs point at, hard IDs first; never creates or merges."""
        for hard in (True, False):
            for name, value in ids.items():
                if (name in self.hard_names) is hard:
                    customer = self.index.get((name, value))
                    if customer is not None:
                        return customer
        return None

    # -- writes ------------------------------------------------------------------------

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def _create(self) -> Customer:
        customer = Customer(cid=self.next_cid)
        self.next_cid += 1
        self.customers[customer.cid] = customer
        self.stats["customers_created"] += 1
        return customer

    def resolve(self, ids: dict[str, str]) -> Customer:
        """Upsert: find, create or merge the customer(s) the IDs point at; record the IDs.

        [inferred] A soft-ID value that points at a customer whose hard ID contradicts the
        call's hard IDs is *moved* to the call's customer instead of merging two customers with
        different hard IDs; a call whose hard IDs contradict each other raises
        :class:`IdConflictError`.
        """
        self.version += 1
        hard: dict[str, str] = {n: v for n, v in ids.items() if n in self.hard_names}
        group: list[Customer] = []
        moved: list[tuple[str, str, Customer]] = []
        ordered = sorted(ids.items(), key=lambda item: item[0] not in self.hard_names)
        for name, value in ordered:
            candidate = self.index.get((name, value))
            if candidate is None or any(candidate is g for g in group):
                continue
            if any(hard.get(n, v) != v for n, v in candidate.hard_ids.items()):
                if name in self.hard_names:
                    raise IdConflictError("Customer ids conflict with the existing hard ids")
                moved.append((name, value, candidate))
                continue
            group.append(candidate)
            hard.update(candidate.hard_ids)
        if group:
            primary = min(group, key=lambda c: c.cid)
            for other in group:
                if other is not primary:
                    self._merge(primary, other)
        else:
            primary = self._create()
        for name, value, owner in moved:
            owner.soft_ids[name].pop(value, None)
            self.stats["soft_id_values_moved"] += 1
        for name, value in ids.items():
            if name in self.hard_names:
                primary.hard_ids[name] = value
                self.index[(name, value)] = primary
            else:
                self._touch_soft(primary, name, value)
        return primary

    def _touch_soft(self, customer: Customer, name: str, value: str) -> None:
        values = customer.soft_ids.setdefault(name, {})
        if value in values:
            del values[value]  # re-inserted below as the most recently used
        elif len(values) >= self.limits.max_soft_id_values:
            oldest = next(iter(values))
            del values[oldest]
            self.index.pop((name, oldest), None)
            self.stats["soft_id_values_evicted"] += 1
        values[value] = self._next_seq()
        self.index[(name, value)] = customer

    def _merge(self, primary: Customer, other: Customer) -> None:
        for name, value in other.hard_ids.items():
            primary.hard_ids.setdefault(name, value)
            self.index[(name, value)] = primary
        cap = self.limits.max_soft_id_values
        for name, values in other.soft_ids.items():
            combined = {**primary.soft_ids.get(name, {}), **values}
            ordered = sorted(combined.items(), key=lambda item: item[1])
            for value, _ in ordered[:-cap]:
                self.index.pop((name, value), None)
                self.stats["soft_id_values_evicted"] += 1
            kept = dict(ordered[-cap:])
            primary.soft_ids[name] = kept
            for value in kept:
                self.index[(name, value)] = primary
        for prop, value in other.properties.items():
            ts = other.property_ts.get(prop, 0.0)
            if prop not in primary.properties or ts > primary.property_ts.get(prop, 0.0):
                primary.properties[prop] = value
                primary.property_ts[prop] = ts
        primary.events.extend(other.events)
        for category, event in other.consents.items():
            mine = primary.consents.get(category)
            if mine is None or event.newer_than(mine):
                primary.consents[category] = event
        for seg_id, value in other.segments.items():
            primary.segments.setdefault(seg_id, value)
        del self.customers[other.cid]
        self.stats["customers_merged"] += 1

    def update_properties(
        self, customer: Customer, properties: dict[str, Any], timestamp: float
    ) -> None:
        self.version += 1
        self.stats["customer_updates"] += 1
        cap = self.limits.max_customer_attributes
        for name, value in properties.items():
            if name not in self.known_properties:
                if len(self.known_properties) >= cap:
                    self.stats["customer_attributes_dropped"] += 1
                    continue
                self.known_properties.add(name)
            stored_ts = customer.property_ts.get(name)
            if stored_ts is not None and stored_ts > timestamp:
                self.stats["stale_property_updates_ignored"] += 1
                continue
            customer.properties[name] = value
            customer.property_ts[name] = timestamp

    def add_event(
        self,
        customer: Customer,
        ids: dict[str, str],
        event_type: str,
        timestamp: float,
        properties: dict[str, Any],
    ) -> bool:
        """Store the event unless it is an exact duplicate; return whether it was stored."""
        self.version += 1
        self.stats["events_received"] += 1
        fingerprint = event_fingerprint(ids, event_type, timestamp, properties)
        if fingerprint in self.fingerprints:
            self.stats["events_duplicate_dropped"] += 1
            return False
        self.fingerprints.add(fingerprint)
        event = StoredEvent(event_type, timestamp, properties, self._next_seq(), dict(ids))
        customer.events.append(event)
        self.stats["events_stored"] += 1
        if event_type == CONSENT_EVENT:
            category = properties.get("category")
            if isinstance(category, str):
                last = customer.consents.get(category)
                if last is None or event.newer_than(last):
                    customer.consents[category] = event
        return True

    def anonymize(self, customer: Customer) -> str:
        """Remove every external ID and the PII properties; assign a fresh cookie."""
        self.version += 1
        for name, value in customer.hard_ids.items():
            self.index.pop((name, value), None)
        for name, values in customer.soft_ids.items():
            for value in values:
                self.index.pop((name, value), None)
        customer.hard_ids.clear()
        customer.soft_ids.clear()
        for prop in self.config.private_properties:
            customer.properties.pop(prop, None)
            customer.property_ts.pop(prop, None)
        cookie = str(uuid.uuid4())
        cookie_name = "cookie" if "cookie" in self.soft_names else next(iter(self.soft_names), "")
        if cookie_name:
            self._touch_soft(customer, cookie_name, cookie)
        self.stats["customers_anonymized"] += 1
        return cookie
