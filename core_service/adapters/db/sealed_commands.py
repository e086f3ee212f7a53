"""Prepared Bloomreach commands are sealed at rest on their outbox message.

They carry the customer's identifiers (the e-mail hard ID, often), so the database holds them
encrypted with the master key, as it does the integrations' secrets. The associated data names
the integration and the order, so a sealed value cannot be moved onto another tenant's or
another order's message. Sealing the exact JSON text also keeps a resend byte-identical.
Payloads written before sealing existed (plain ``commands``) are still read as they are.

A customer message (kind ``customer``, adapters/db/customer_commands.py) also names its
customer: ``customer_id`` is sealed with the commands, in the same token (one JSON object
instead of the commands' list), so rekeying reseals both.
"""

from __future__ import annotations

import json
from typing import Any, Final

from core_service.crypto import SecretBox

PLAIN: Final = "commands"
SEALED: Final = "sealed_commands"
CUSTOMER_ID: Final = "customer_id"


def commands_context(integration_id: int, order_key: str) -> str:
    return f"outbox-commands:{integration_id}:{order_key}"


def seal_commands(
    box: SecretBox, payload: dict[str, Any], integration_id: int, order_key: str
) -> dict[str, Any]:
    """The payload as stored: its ``commands`` (if any) sealed."""
    if PLAIN not in payload:
        return payload
    stored = {k: v for k, v in payload.items() if k not in (PLAIN, CUSTOMER_ID)}
    sealed: Any = payload[PLAIN]
    if CUSTOMER_ID in payload:
        sealed = {CUSTOMER_ID: payload[CUSTOMER_ID], PLAIN: payload[PLAIN]}
    text = json.dumps(sealed, ensure_ascii=False, separators=(",", ":"))
    stored[SEALED] = box.seal(text, context=commands_context(integration_id, order_key))
    return stored


def open_commands(
    box: SecretBox, stored: dict[str, Any], integration_id: int, order_key: str
) -> dict[str, Any]:
    """The payload as the relay and operators use it: ``commands`` in the clear."""
    if SEALED not in stored:
        return stored
    payload = {k: v for k, v in stored.items() if k != SEALED}
    text = box.open(stored[SEALED], context=commands_context(integration_id, order_key))
    opened = json.loads(text)
    if isinstance(opened, dict):
        payload.update(opened)
    else:
        payload[PLAIN] = opened
    return payload
