"""The rekey use case on an in-memory store (services/ports.py's RekeyStore): what it tallies
and when it looks at the outbox again. tests/db/test_rekey.py runs it on both databases."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from core_service.services.rekey import KINDS, rekey


class FakeRekeyStore:
    """Tallies to hand out; ``outbox_passes`` are returned one per outbox pass."""

    def __init__(self, outbox_passes: list[Counter[str]]) -> None:
        self.outbox_passes = outbox_passes
        self.outbox_calls = 0

    async def meta(self) -> Counter[str]:
        return Counter(resealed=1)

    async def integrations(self) -> Counter[str]:
        return Counter(resealed=2, unreadable=1)

    async def outbox(
        self, *, chunk: int = 500, progress: Callable[[Counter[str]], None] | None = None
    ) -> Counter[str]:
        self.outbox_calls += 1
        return self.outbox_passes.pop(0)

    async def card_cache(self, *, chunk: int = 500) -> Counter[str]:
        return Counter(resealed=2, dropped=1)


def test_a_message_changed_meanwhile_is_looked_at_once_more() -> None:
    store = FakeRekeyStore(
        [Counter(resealed=5, changed_meanwhile=2), Counter(resealed=2, changed_meanwhile=0)]
    )
    report = asyncio.run(rekey(store, "k2"))
    assert store.outbox_calls == 2
    assert report.tallies[KINDS[2]] == Counter(resealed=7, changed_meanwhile=0)
    # Only the integration secret no key opens is left for the previous keys.
    assert report.left == 1


def test_a_quiet_outbox_is_read_once() -> None:
    store = FakeRekeyStore([Counter(resealed=3)])
    report = asyncio.run(rekey(store, "k2"))
    assert store.outbox_calls == 1
    assert report.key_id == "k2"
    assert report.tallies[KINDS[0]] == Counter(resealed=1)
