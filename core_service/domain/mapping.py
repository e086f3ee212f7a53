"""The mapping engine: Sitoo customer fields <-> Bloomreach ids, properties and consents,
driven by one integration's configuration.

Everything here is pure: it builds the attributes request of a read, decodes its answer into
a :class:`Snapshot`, and turns POS input into Bloomreach batch commands. The service does the
I/O; the tests can check every rule without a network.

The read's slots, snapshot and write plan are in :mod:`core_service.domain.customer_snapshot`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Final

from core_service.domain.customer import (
    Customer,
    CustomerInput,
    CustomerStatus,
    Enrichment,
    Origin,
    Section,
    decimal_text,
    normalise_field,
)
from core_service.domain.customer_snapshot import (
    AttributeAnswer,
    Slot,
    SlotKind,
    Snapshot,
    WritePlan,
    scalar_value,
    slot_attribute,
    value_list,
)
from core_service.domain.errors import InvalidArgument
from core_service.domain.integration import FieldMapping, Integration

# The key type that always means "the hard-ID value" (our customer_id, spec §6.1).
CUSTOMER_ID_KEY: Final = "customer_id"
# Fields whose value is a list of objects, stored as one Bloomreach property.
LIST_FIELDS: Final = frozenset({"additional_options"})
CONSENT_SOURCE: Final = "sitoo_pos"


class CustomerMapping:
    """The compiled mapping of one integration."""

    def __init__(self, integration: Integration) -> None:
        self.integration = integration
        self.hard_id_name = integration.hard_id_name
        self.hard_source = integration.hard_id_source_field
        self.region = integration.market
        self.targets: dict[str, list[FieldMapping]] = {}
        for mapping in integration.field_mappings:
            if mapping.sitoo_field in LIST_FIELDS and mapping.namespace != "properties":
                continue  # a list of objects cannot be an ID value
            self.targets.setdefault(mapping.sitoo_field, []).append(mapping)
        self.consent_by_id = {c.consent_id: c for c in integration.consent_types}
        self.offer_gate = integration.loyalty.gate_aggregates  # ride on every read (loyalty)
        self.slots, self.attributes = self._read_plan()

    # ---- keys -------------------------------------------------------------------------

    def resolve_key(self, key_type: str, key: str, *, prefer_soft: bool = False) -> dict[str, str]:
        """The ``customer_ids`` a search key becomes: the hard ID or a mapped soft ID.

        ``prefer_soft`` (lookup) reads the hard-ID field through its soft ID when one is
        mapped, which also finds profiles Bloomreach knows without the hard ID."""
        is_hard = key_type in (CUSTOMER_ID_KEY, self.hard_source)
        if is_hard and not prefer_soft:
            return {self.hard_id_name: self.normalise(self.hard_source, key, "key")}
        field_name = self.hard_source if key_type == CUSTOMER_ID_KEY else key_type
        for mapping in self.targets.get(field_name, ()):
            if mapping.namespace == "ids" and mapping.name != self.hard_id_name:
                return {mapping.name: self.normalise(field_name, key, "key")}
        if is_hard:
            return {self.hard_id_name: self.normalise(self.hard_source, key, "key")}
        raise InvalidArgument(
            f"key_type {key_type!r} is not mapped to a Bloomreach ID in this integration",
            field="key_type",
        )

    def customer_ids(self, customer_id: str) -> dict[str, str]:
        return {self.hard_id_name: self.normalise(self.hard_source, customer_id, "customer_id")}

    def normalise(self, sitoo_field: str, value: str, as_field: str | None = None) -> str:
        try:
            return normalise_field(sitoo_field, value, self.region)
        except InvalidArgument as exc:
            if as_field is None:
                raise
            raise InvalidArgument(f"{as_field}: {exc}", field=as_field) from exc

    # ---- reads ------------------------------------------------------------------------

    def _read_plan(self) -> tuple[tuple[Slot, ...], tuple[dict[str, Any], ...]]:
        slots: list[Slot] = [Slot("hard", self.hard_id_name)]
        for mappings in self.targets.values():
            for m in mappings:
                kind: SlotKind = "id" if m.namespace == "ids" else "property"
                if m.namespace == "ids" and m.name == self.hard_id_name:
                    continue
                slots.append(Slot(kind, m.name))
        for category in self._categories():
            slots.append(Slot("consent", category))
        for rule in self.integration.enrichment_rules:
            if rule.aggregate_id:
                slots.append(Slot("aggregate", rule.aggregate_id))
            elif rule.segmentation_id:
                slots.append(Slot("segmentation", rule.segmentation_id))
        slots += [Slot("aggregate", aggregate_id) for aggregate_id in self.offer_gate]
        unique = tuple(dict.fromkeys(slots))
        return unique, tuple(slot_attribute(slot) for slot in unique)

    def _categories(self) -> list[str]:
        categories = [c.category for c in self.integration.consent_types]
        categories += list(self.integration.channel_categories.values())
        return list(dict.fromkeys(categories))

    def snapshot(self, answers: Sequence[AttributeAnswer]) -> Snapshot:
        """Decode the attributes answer; a failed item (no permission, unknown segmentation)
        reads as "no value" rather than failing the POS call."""
        snap = Snapshot(hard_id=None)
        for slot, answer in zip(self.slots, answers, strict=True):
            value = answer.value if answer.success else None
            if slot.kind == "hard":
                snap.hard_id = scalar_value(value)
            elif slot.kind == "id":
                snap.ids[slot.name] = value_list(value)
            elif slot.kind == "property":
                snap.properties[slot.name] = value
            elif slot.kind == "consent":
                snap.consents[slot.name] = value is True
            else:
                snap.analyses[(slot.kind, slot.name)] = value
        return snap

    def field_value(self, snap: Snapshot, sitoo_field: str) -> str:
        """The value the POS sees: the first mapped target holding one. For a soft ID that
        is the first value Bloomreach returns (the guide's phone rule)."""
        if sitoo_field == self.hard_source and snap.hard_id:
            return snap.hard_id
        for m in self.targets.get(sitoo_field, ()):
            if m.namespace == "ids":
                values = [snap.hard_id] if m.name == self.hard_id_name else snap.ids.get(m.name)
                if values and values[0]:
                    return str(values[0])
            else:
                value = snap.properties.get(m.name)
                if value is not None and not isinstance(value, dict | list):
                    return str(value)
        return ""

    def customer(self, snap: Snapshot, *, with_id: bool = True) -> Customer:
        fields = {
            name: self.field_value(snap, name) for name in self.targets if name not in LIST_FIELDS
        }
        if self.hard_source not in fields and snap.hard_id:
            fields[self.hard_source] = snap.hard_id
        consents = tuple(
            c.consent_id
            for c in self.integration.consent_types
            if snap.consents.get(c.category, False)
        )
        channels = tuple(
            channel
            for channel, category in sorted(self.integration.channel_categories.items())
            if snap.consents.get(category, False)
        )
        return Customer(
            customer_id=(snap.hard_id or "") if with_id else "",
            fields={k: v for k, v in fields.items() if v},
            accepts_communication=channels,
            consents=consents,
            additional_options=self._options(snap),
            enrichment=self.enrichment(snap),
        )

    def _options(self, snap: Snapshot) -> tuple[tuple[str, tuple[str, ...]], ...]:
        for m in self.targets.get("additional_options", ()):
            value = snap.properties.get(m.name)
            if isinstance(value, list):
                return tuple(
                    (str(o["id"]), tuple(str(v) for v in o.get("enum_values", ())))
                    for o in value
                    if isinstance(o, dict) and "id" in o
                )
        return ()

    def enrichment(self, snap: Snapshot) -> Enrichment:
        status = CustomerStatus()
        vouchers: list[str] = []
        sections: dict[str, list[tuple[str, str]]] = {}
        for rule in self.integration.enrichment_rules:
            if rule.aggregate_id:
                value = snap.analyses.get(("aggregate", rule.aggregate_id))
                if value is None:
                    continue
                title = rule.section_title or "Customer Info"
                label = rule.value_title or rule.aggregate_id
                sections.setdefault(title, []).append((label, decimal_text(value)))
                continue
            value = snap.analyses.get(("segmentation", rule.segmentation_id))
            if value is None or str(value) != rule.segment:
                continue
            if (rule.status_color or rule.status_text) and not (status.color or status.text):
                status = CustomerStatus(rule.status_color, rule.status_text)
            vouchers += [v for v in rule.voucher_passwords if v not in vouchers]
            if rule.section_title:
                label = rule.value_title or rule.segmentation_id
                sections.setdefault(rule.section_title, []).append((label, rule.segment))
        return Enrichment(
            status=status,
            voucher_passwords=tuple(vouchers),
            sections=tuple(Section(t, tuple(v)) for t, v in sections.items()),
        )

    # ---- writes -----------------------------------------------------------------------

    def _normalised(self, data: CustomerInput) -> dict[str, str]:
        return {name: self.normalise(name, value) for name, value in data.fields.items()}

    def _consent_decisions(self, data: CustomerInput, snap: Snapshot | None) -> dict[str, bool]:
        """Category -> accepted, for what the POS changed (or, on create, the defaults)."""
        wanted: dict[str, bool] = {}
        if data.consents is not None:
            unknown = [c for c in data.consents if c not in self.consent_by_id]
            if unknown:
                raise InvalidArgument(
                    f"consents: unknown consent id {unknown[0]!r}; configured: "
                    f"{', '.join(sorted(self.consent_by_id)) or 'none'}",
                    field="consents",
                )
            for consent in self.integration.consent_types:
                wanted[consent.category] = consent.consent_id in data.consents
        elif snap is None:
            for consent in self.integration.consent_types:
                wanted[consent.category] = consent.default_value
        if data.accepts_communication is not None:
            channels = self.integration.channel_categories
            unknown = [c for c in data.accepts_communication if c not in channels]
            if unknown:
                raise InvalidArgument(
                    f"accepts_communication: channel {unknown[0]!r} is not mapped to a "
                    f"consent category; configured: {', '.join(sorted(channels)) or 'none'}",
                    field="accepts_communication",
                )
            for channel, category in channels.items():
                accepted = channel in data.accepts_communication
                # Two sources for one category: an acceptance wins.
                wanted[category] = wanted.get(category, False) or accepted
        if snap is None:
            return wanted
        return {c: v for c, v in wanted.items() if snap.consents.get(c, False) != v}

    def plan_create(self, data: CustomerInput, origin: Origin, now: float) -> WritePlan:
        values = self._normalised(data)
        hard_value = values.get(self.hard_source, "")
        if not hard_value:
            raise InvalidArgument(
                f"{self.hard_source} is required: it is the customer's identity "
                f"(Bloomreach hard ID {self.hard_id_name!r})",
                field=self.hard_source,
            )
        after = Snapshot(hard_id=hard_value)
        ids: dict[str, str] = {self.hard_id_name: hard_value}
        properties: dict[str, Any] = {}
        for name, value in values.items():
            for m in self.targets.get(name, ()):
                if m.namespace == "ids":
                    if value and m.name != self.hard_id_name:
                        ids[m.name] = value
                        after.ids[m.name] = [value]
                elif value:
                    properties[m.name] = value
                    after.properties[m.name] = value
        self._options_into(data, properties, after)
        decisions = self._consent_decisions(data, None)
        after.consents.update(decisions)
        commands = [self._customer_command(ids, properties, values, now)]
        commands += self._consent_commands(hard_value, decisions, origin, now)
        return WritePlan(hard_value, tuple(commands), after)

    def plan_update(
        self, snap: Snapshot, data: CustomerInput, origin: Origin, now: float
    ) -> WritePlan:
        """Only what changed; a new phone (any soft ID) is appended, never replaces one."""
        assert snap.hard_id is not None
        values = self._normalised(data)
        if self.hard_source in values and values[self.hard_source] != snap.hard_id:
            raise InvalidArgument(
                f"{self.hard_source} cannot be changed: it is the customer's identity "
                f"(Bloomreach hard ID {self.hard_id_name!r})",
                field=self.hard_source,
            )
        after = copy.deepcopy(snap)
        ids: dict[str, str] = {}
        properties: dict[str, Any] = {}
        for name, value in values.items():
            for m in self.targets.get(name, ()):
                if m.namespace == "ids":
                    current = after.ids.setdefault(m.name, [])
                    if value and m.name != self.hard_id_name and value not in current:
                        ids[m.name] = value
                        current.append(value)
                elif snap.properties.get(m.name) != value:
                    properties[m.name] = value
                    after.properties[m.name] = value
        self._options_into(data, properties, after, snap)
        decisions = self._consent_decisions(data, snap)
        after.consents.update(decisions)
        commands: list[dict[str, Any]] = []
        if ids or properties:
            customer_ids = {self.hard_id_name: snap.hard_id, **ids}
            commands.append(self._customer_command(customer_ids, properties, values, now, snap))
        commands += self._consent_commands(snap.hard_id, decisions, origin, now)
        return WritePlan(snap.hard_id, tuple(commands), after)

    def _options_into(
        self,
        data: CustomerInput,
        properties: dict[str, Any],
        after: Snapshot,
        snap: Snapshot | None = None,
    ) -> None:
        if data.additional_options is None:
            return
        value = [{"id": i, "enum_values": list(v)} for i, v in data.additional_options]
        for m in self.targets.get("additional_options", ()):
            if snap is None or snap.properties.get(m.name) != value:
                properties[m.name] = value
                after.properties[m.name] = value

    def _customer_command(
        self,
        customer_ids: Mapping[str, str],
        properties: dict[str, Any],
        values: Mapping[str, str],
        now: float,
        snap: Snapshot | None = None,
    ) -> dict[str, Any]:
        if not properties:
            # Bloomreach needs at least one property per customer update; an ids-only change
            # (e.g. a phone mapped only to ids.phone_id) re-sends the identity's properties.
            identity = customer_ids[self.hard_id_name]
            for m in self.targets.get(self.hard_source, ()):
                if m.namespace == "properties":
                    properties[m.name] = identity
            if not properties:
                properties[self.hard_id_name] = identity
        return {
            "name": "customers",
            "command_id": "customer",
            "data": {
                "customer_ids": dict(customer_ids),
                "properties": properties,
                "update_timestamp": now,
            },
        }

    def _consent_commands(
        self, hard_value: str, decisions: Mapping[str, bool], origin: Origin, now: float
    ) -> list[dict[str, Any]]:
        commands = []
        for category, accepted in sorted(decisions.items()):
            properties: dict[str, Any] = {
                "action": "accept" if accepted else "reject",
                "category": category,
                "source": f"{CONSENT_SOURCE}: {origin.describe()}",
                "message": f"Sitoo POS, {origin.describe()}",
                "timestamp": now,
            }
            if accepted:
                properties["valid_until"] = "unlimited"
            for key, value in (
                ("store_id", origin.store_id),
                ("staff_id", origin.staff_id),
                ("register_id", origin.register_id),
            ):
                if value:
                    properties[key] = value
            commands.append(
                {
                    "name": "customers/events",
                    "command_id": f"consent-{category}",
                    "data": {
                        "customer_ids": {self.hard_id_name: hard_value},
                        "event_type": "consent",
                        "timestamp": now,
                        "properties": properties,
                    },
                }
            )
        return commands


# The read's data types live in customer_snapshot; callers still import them from here.
__all__ = ["AttributeAnswer", "CustomerMapping", "Snapshot"]
