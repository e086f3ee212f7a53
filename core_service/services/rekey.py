"""Master-key rotation, the use case: reseal everything under the current key and say what, if
anything, still needs a previous key."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from core_service.services.ports import RekeyStore

KINDS = ("installation keys", "integration secrets", "outbox commands", "cached cards")


@dataclass
class RekeyReport:
    key_id: str
    tallies: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def left(self) -> int:
        """Values still sealed under another key: the previous keys are still needed."""
        return sum(t["changed_meanwhile"] + t["unreadable"] for t in self.tallies.values())


async def rekey(repo: RekeyStore, key_id: str) -> RekeyReport:
    report = RekeyReport(key_id)
    report.tallies[KINDS[0]] = await repo.meta()
    report.tallies[KINDS[1]] = await repo.integrations()
    outbox = report.tallies[KINDS[2]] = await repo.outbox()
    # A message the relay rewrote meanwhile may still be under an old key: look once more.
    if outbox["changed_meanwhile"]:
        again = await repo.outbox()
        outbox["changed_meanwhile"] = again["changed_meanwhile"]
        outbox["resealed"] += again["resealed"]
    cards = report.tallies[KINDS[3]] = await repo.card_cache()
    # A card refreshed meanwhile was sealed under the current key by the core that wrote it.
    cards["current"] += cards.pop("changed_meanwhile", 0)
    return report
