"""The redemption ledger on both databases (issue 14): twenty tills redeeming one bonus check at
once make exactly one redemption and one queued Bloomreach event; undo and redeem again are
new versions; a refused call leaves no row and queues nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text

from cli import migrate
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.loyalty_repo import LoyaltyLedgerRepository
from core_service.adapters.db.sealed_commands import open_commands
from core_service.crypto import MasterKey, SecretBox
from core_service.domain.customer import Origin
from core_service.domain.errors import InvalidArgument
from core_service.domain.loyalty import (
    EventContext,
    Item,
    LedgerChange,
    Redemption,
    call_fingerprint,
    ledger_events,
)
from harness.databases import SEED_INTEGRATION_SQL, query_rows, seed_integration_params

BOX = SecretBox(MasterKey.parse(MasterKey.generate()))
CUSTOMER = "anna@example.se"
BONUS = Item("bonus_check", "b-50")


def _redemption(action: str, register: str, now: float, *items: Item) -> Redemption:
    chosen = items or (BONUS,)
    return Redemption(
        integration_id=1,
        customer_id=CUSTOMER,
        action=action,  # type: ignore[arg-type]
        items=chosen,
        fingerprint=call_fingerprint(action, chosen, Origin("s1", "", register)),  # type: ignore[arg-type]
        now=now,
    )


async def _apply(repo: LoyaltyLedgerRepository, redemption: Redemption) -> list[LedgerChange]:
    context = EventContext("registered", repo.customer_key(1, CUSTOMER), Origin("s1"))

    def commands(changes: Any) -> list[dict[str, Any]]:
        return ledger_events(context, CUSTOMER, changes, redemption.action)

    return await repo.apply(redemption, commands)


async def _queued(url: str) -> list[dict[str, Any]]:
    """Every command queued in the outbox, opened."""
    rows = await query_rows(
        url, "SELECT integration_id, order_key, payload FROM outbox_messages ORDER BY id"
    )
    commands: list[dict[str, Any]] = []
    for integration_id, key, raw in rows:
        stored = json.loads(raw) if isinstance(raw, str) else raw
        commands.extend(open_commands(BOX, stored, integration_id, key).get("commands", []))
    return commands


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
    finally:
        await engine.dispose()


def test_twenty_tills_redeem_one_bonus_check_exactly_once(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        # Four engines: as four core replicas would reach the database.
        engines = [create_engine(database_url) for _ in range(4)]
        repos = [LoyaltyLedgerRepository(session_factory(e), BOX) for e in engines]
        try:
            outcomes = await asyncio.gather(
                *(
                    _apply(repos[n % 4], _redemption("redeem", f"till-{n}", 100.0))
                    for n in range(20)
                ),
                return_exceptions=True,
            )
        finally:
            for engine in engines:
                await engine.dispose()
        successes = [o for o in outcomes if isinstance(o, list)]
        refusals = [o for o in outcomes if isinstance(o, InvalidArgument)]
        assert len(successes) == 1, outcomes
        assert len(refusals) == 19, outcomes
        assert all("bonus_check_id 'b-50' is already redeemed" in str(r) for r in refusals)
        queued = await _queued(database_url)
        assert [c["data"]["event_type"] for c in queued] == ["sitoo_bonus_check_redeemed"]
        rows = await query_rows(database_url, "SELECT state, version FROM loyalty_redemptions")
        assert rows == [("redeemed", 1)]

    asyncio.run(go())


def test_undo_and_redeem_again_are_new_versions_and_refusals_change_nothing(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url)
        engine = create_engine(database_url)
        repo = LoyaltyLedgerRepository(session_factory(engine), BOX)
        promotion = Item("promotion", "p-10")
        try:
            with pytest.raises(InvalidArgument, match="bonus_check_id 'b-50' is not redeemed"):
                await _apply(repo, _redemption("undo", "till-1", 1.0))
            assert await _apply(repo, _redemption("redeem", "till-1", 2.0))
            # The same call again from the same till within the window: nothing changes.
            assert await _apply(repo, _redemption("redeem", "till-1", 3.0)) == []
            # Two items, one refused: neither changes.
            with pytest.raises(InvalidArgument, match="already redeemed"):
                await _apply(repo, _redemption("redeem", "till-2", 4.0, promotion, BONUS))
            assert await repo.redeemed(1, CUSTOMER) == {("bonus_check", "b-50")}
            undone = await _apply(repo, _redemption("undo", "till-2", 5.0))
            assert [c.version for c in undone] == [2]
            assert await repo.redeemed(1, CUSTOMER) == frozenset()
            again = await _apply(repo, _redemption("redeem", "till-2", 6.0, promotion, BONUS))
            assert sorted((c.item.item_id, c.version) for c in again) == [("b-50", 3), ("p-10", 1)]
            assert await repo.redeemed(1, "someone@else.se") == frozenset()
        finally:
            await engine.dispose()
        queued = await _queued(database_url)
        assert [c["data"]["event_type"] for c in queued] == [
            "sitoo_bonus_check_redeemed",
            "sitoo_bonus_check_undone",
            "sitoo_bonus_check_redeemed",
            "sitoo_promotion_redeemed",
        ]
        assert len({c["command_id"] for c in queued}) == 4
        keys = await query_rows(database_url, "SELECT customer_key FROM loyalty_redemptions")
        assert all(CUSTOMER not in str(k) for k in keys)  # a digest, never the customer

    asyncio.run(go())
