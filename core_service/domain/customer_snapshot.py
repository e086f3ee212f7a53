"""What a customer read asks Bloomreach and what it answered: the attribute slots of one read,
the decoded :class:`Snapshot`, and the planned writes. Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SlotKind = Literal["hard", "id", "property", "consent", "segmentation", "aggregate"]


@dataclass(frozen=True)
class Slot:
    """What one item of the attributes request means."""

    kind: SlotKind
    name: str  # id name, property name, consent category or analysis id


@dataclass
class Snapshot:
    """One customer as Bloomreach answered: raw values by slot."""

    hard_id: str | None
    ids: dict[str, list[str]] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    consents: dict[str, bool] = field(default_factory=dict)
    analyses: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Bloomreach answers unknown customers with null values (or 404, handled by the
        caller); a customer exists when any id or property has a value."""
        return (
            self.hard_id is not None
            or any(self.ids.values())
            or any(v is not None for v in self.properties.values())
        )


@dataclass(frozen=True)
class AttributeAnswer:
    success: bool
    value: Any


@dataclass(frozen=True)
class WritePlan:
    customer_id: str
    commands: tuple[dict[str, Any], ...]
    after: Snapshot  # what Bloomreach will hold once the commands are applied


def slot_attribute(slot: Slot) -> dict[str, Any]:
    if slot.kind in ("hard", "id"):
        return {"type": "id", "id": slot.name}
    if slot.kind == "property":
        return {"type": "property", "property": slot.name}
    if slot.kind == "consent":
        return {"type": "consent", "category": slot.name, "mode": "valid"}
    return {"type": slot.kind, "id": slot.name}


def scalar_value(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def value_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)]
