"""Consent semantics: a consent is a ``consent`` event; the last one per category decides.

[documented] A consent event needs ``action`` (``accept``/``reject``), ``category`` and, for
``accept``, ``valid_until`` (``"unlimited"`` or a Unix timestamp). A missing required attribute
or an unknown action revokes the consent, and so does an expired ``valid_until``.
"""

from __future__ import annotations

from typing import Any, TypeGuard

CONSENT_EVENT = "consent"
MODES = ("valid", "until", "timestamp", "source", "message")


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_valid(properties: dict[str, Any], now: float) -> bool:
    """Whether the last consent event (its properties) grants the consent at ``now``."""
    if properties.get("action") != "accept":
        return False  # reject, unknown or missing action -> revoked
    until = properties.get("valid_until")
    if until == "unlimited":
        return True
    if is_number(until):
        return bool(until > now)
    return False  # missing or malformed valid_until -> revoked


def attribute_value(
    properties: dict[str, Any] | None, timestamp: float | None, mode: str, now: float
) -> Any:
    """The value of a ``consent`` attribute in ``mode``; no consent -> ``False``/``None``."""
    if properties is None:
        return False if mode == "valid" else None
    if mode == "valid":
        return is_valid(properties, now)
    if mode == "until":
        return properties.get("valid_until")
    if mode == "timestamp":
        return timestamp
    return properties.get(mode)  # source / message
