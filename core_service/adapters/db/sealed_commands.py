"""Prepared Bloomreach commands are sealed at rest on their outbox message.

They carry the customer's identifiers (the e-mail hard ID, often), so the database holds them
encrypted with the master key, as it does the integrations' secrets. The associated data names
the integration and the order, so a sealed value cannot be moved onto another tenant's or
another order's message. Sealing the exact JSON text also keeps a resend byte-identical.
Payloads written before sealing existed (plain ``commands``) are still read as they are.
"""

from __future__ import annotations

import json
from typing import Any, Final

from core_service.crypto import SecretBox

PLAIN: Final = "commands"
SEALED: Final = "sealed_commands"


def commands_context(integration_id: int, order_key: str) -> str:
    return f"outbox-commands:{integration_id}:{order_key}"


def seal_commands(
    box: SecretBox, payload: dict[str, Any], integration_id: int, order_key: str
) -> dict[str, Any]:
    """The payload as stored: its ``commands`` (if any) sealed."""
    if PLAIN not in payload:
        return payload
    stored = {k: v for k, v in payload.items() if k != PLAIN}
    text = json.dumps(payload[PLAIN], ensure_ascii=False, separators=(",", ":"))
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
    payload[PLAIN] = json.loads(text)
    return payload
