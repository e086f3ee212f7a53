"""What Bloomreach holds of a customer, rebuilt from the card the POS was last answered with.

A customer update queued while Bloomreach is unavailable (issue 15) is planned against this
instead of a live read: the card is what the till showed, so "what changed" is measured from
there and the queued commands are what a live update would have sent from the same state.
Pure, like the mapping it inverts (``CustomerMapping.customer``).
"""

from __future__ import annotations

from typing import Any

from core_service.domain.customer import Customer
from core_service.domain.customer_snapshot import Snapshot
from core_service.domain.mapping import LIST_FIELDS, CustomerMapping


def snapshot_of_card(mapping: CustomerMapping, card: Customer) -> Snapshot:
    """The snapshot ``mapping.customer`` would have turned into ``card``."""
    snap = Snapshot(hard_id=card.customer_id or None)
    for sitoo_field, targets in mapping.targets.items():
        value: Any
        if sitoo_field in LIST_FIELDS:
            value = [{"id": i, "enum_values": list(v)} for i, v in card.additional_options] or None
        else:
            value = card.fields.get(sitoo_field) or None
        for target in targets:
            if target.namespace == "ids":
                if target.name != mapping.hard_id_name:
                    snap.ids[target.name] = [value] if value else []
            else:
                snap.properties[target.name] = value
    integration = mapping.integration
    for consent in integration.consent_types:
        snap.consents[consent.category] = consent.consent_id in card.consents
    for channel, category in integration.channel_categories.items():
        accepted = channel in card.accepts_communication
        snap.consents[category] = snap.consents.get(category, False) or accepted
    return snap
