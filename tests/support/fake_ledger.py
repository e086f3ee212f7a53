"""The redemption ledger's contract in memory, for the fast loyalty and card-cache tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from core_service.domain.loyalty import LedgerChange, Redemption, refused


class FakeLedger:
    """The ledger's contract in memory: rows by (customer, kind, item)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.queued: list[dict[str, Any]] = []

    def customer_key(self, integration_id: int, customer_id: str) -> str:
        return f"k{integration_id}-{len(customer_id)}"

    async def redeemed(self, integration_id: int, customer_id: str) -> frozenset[tuple[str, str]]:
        return frozenset(
            (kind, item)
            for (customer, kind, item), row in self.rows.items()
            if customer == customer_id and row["state"] == "redeemed"
        )

    async def apply(
        self,
        redemption: Redemption,
        commands: Callable[[Sequence[LedgerChange]], list[dict[str, Any]]],
    ) -> list[LedgerChange]:
        want, need = (
            ("redeemed", "undone") if redemption.action == "redeem" else ("undone", "redeemed")
        )
        staged = {k: dict(v) for k, v in self.rows.items()}
        changes = []
        for item in redemption.items:
            key = (redemption.customer_id, item.kind, item.item_id)
            row = staged.get(key)
            current = row["state"] if row else "undone"
            if current == need:
                version = (row["version"] if row else 0) + 1
                staged[key] = {
                    "state": want,
                    "version": version,
                    "call": redemption.fingerprint,
                    "at": redemption.now,
                }
                changes.append(LedgerChange(item, version, redemption.now))
            elif not (
                row
                and redemption.fingerprint
                and row["call"] == redemption.fingerprint
                and redemption.now - row["at"] <= redemption.retry_window_s
            ):
                raise refused(item, redemption.action)
        self.rows = staged
        if changes:
            self.queued.extend(commands(changes))
        return changes
