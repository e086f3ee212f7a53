"""Customer messages on both databases: enqueued inside the caller's transaction, one open
message per customer (appends keep the order), a pseudonymous key and a sealed payload, and the
relay's completion that keeps commands appended while it was sending."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cli import migrate
from core_service.adapters.db.customer_commands import (
    CustomerCommandRepository,
    customer_key,
    enqueue_customer_commands,
)
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.outbox_repo import OutboxAdminRepository
from core_service.adapters.db.relay_repo import RelayRepository
from core_service.adapters.db.sealed_commands import open_commands
from core_service.crypto import MasterKey, SecretBox
from core_service.domain.errors import NotFound
from core_service.domain.outbox import Completion
from harness.databases import SEED_INTEGRATION_SQL, query_rows, seed_integration_params

BOX = SecretBox(MasterKey.parse(MasterKey.generate()))
CUSTOMER = "anna.k@example.com"


def command(command_id: str, value: str = "x") -> dict[str, Any]:
    return {
        "name": "customers",
        "command_id": command_id,
        "data": {"customer_ids": {"registered": CUSTOMER}, "properties": {"v": value}},
    }


async def enqueue(
    sessions: async_sessionmaker[AsyncSession], commands: list[dict[str, Any]], now: float = 1.0
) -> int:
    async with sessions.begin() as session:
        return await enqueue_customer_commands(
            session,
            integration_id=1,
            customer_id=CUSTOMER,
            commands=commands,
            now=now,
            sealer=BOX,
        )


async def stored(url: str) -> list[tuple[Any, ...]]:
    rows = await query_rows(
        url,
        "SELECT id, kind, order_key, state, generation, payload FROM outbox_messages ORDER BY id",
    )
    return [(*row[:5], json.loads(row[5]) if isinstance(row[5], str) else row[5]) for row in rows]


def opened(row: tuple[Any, ...]) -> dict[str, Any]:
    return open_commands(BOX, row[5], 1, row[2])


def ids(row: tuple[Any, ...]) -> list[str]:
    return [c["command_id"] for c in opened(row)["commands"]]


def test_enqueue_appends_in_order_with_a_pseudonymous_key_and_sealed_payload(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(SEED_INTEGRATION_SQL), seed_integration_params(1, "a")
                )
            first = await enqueue(sessions, [command("c1"), command("c2")])
            # Appended to the open message; a command id it holds already is not added twice.
            again = await enqueue(sessions, [command("c2"), command("c3", "é")], now=2.0)
            assert again == first
            # Rolled back with the caller's transaction: nothing queued.
            try:
                async with sessions.begin() as session:
                    await enqueue_customer_commands(
                        session,
                        integration_id=1,
                        customer_id=CUSTOMER,
                        commands=[command("c4")],
                        now=3.0,
                        sealer=BOX,
                    )
                    raise RuntimeError("the caller's transaction fails")
            except RuntimeError:
                pass
        finally:
            await engine.dispose()
        [row] = await stored(database_url)
        assert row[1] == "customer"
        assert row[2] == customer_key(BOX, 1, CUSTOMER)
        assert row[2].startswith("c:") and len(row[2]) == 66
        assert row[3:5] == ("pending", 1)
        raw = json.dumps(row[5], ensure_ascii=False)
        assert CUSTOMER not in raw and "é" not in raw
        assert ids(row) == ["c1", "c2", "c3"]
        assert opened(row)["customer_id"] == CUSTOMER
        # The key is stable for the customer and differs per integration and customer.
        assert customer_key(BOX, 2, CUSTOMER) != row[2]
        assert customer_key(BOX, 1, "other@example.com") != row[2]

    asyncio.run(go())


def test_commands_appended_while_in_flight_stay_pending_after_delivery(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        repo = RelayRepository(sessions, BOX)
        queue = CustomerCommandRepository(sessions, BOX)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(SEED_INTEGRATION_SQL), seed_integration_params(1, "a")
                )
            assert not await queue.pending(1, CUSTOMER)
            assert not await queue.any_pending(1)
            message_id = await queue.enqueue(
                integration_id=1,
                customer_id=CUSTOMER,
                commands=[command("c1"), command("c2")],
                now=1.0,
            )
            assert await queue.pending(1, CUSTOMER)
            assert await queue.any_pending(1) and not await queue.any_pending(2)
            assert not await queue.pending(1, "other@example.com")
            [claimed] = await repo.claim(10, 60, 5.0)
            assert claimed.kind == "customer"
            assert [c["command_id"] for c in claimed.payload["commands"]] == ["c1", "c2"]
            # A write arrives while the relay sends c1, c2: appended, generation bumped.
            assert await enqueue(sessions, [command("c3")], now=6.0) == message_id
            assert await repo.complete([Completion(claimed, "delivered")], 7.0) == [True]
            [row] = await stored(database_url)
            assert row[3] == "pending"
            assert ids(row) == ["c3"]
            # The rest is delivered on the next claim; no order is tracked for a customer.
            [again] = await repo.claim(10, 60, 8.0)
            assert [c["command_id"] for c in again.payload["commands"]] == ["c3"]
            assert await repo.complete([Completion(again, "delivered")], 9.0) == [True]
            [row] = await stored(database_url)
            assert row[3] == "delivered"
            assert not await queue.pending(1, CUSTOMER)
            # A new write after delivery opens a new message.
            assert await enqueue(sessions, [command("c5")], now=10.0) != message_id
            # A refused one goes dead with its reason, payload kept for the operator.
            [third] = await repo.claim(10, 60, 11.0)
            dead = Completion(third, "dead", error="Bloomreach refused queued commands: c5: no")
            assert await repo.complete([dead], 12.0) == [True]
            # A newer write opens a message: the dead one waits for it before a replay.
            newer = await enqueue(sessions, [command("c6")], now=13.0)
            admin = OutboxAdminRepository(sessions, BOX)
            shown = await admin.get(third.id)
            assert shown.last_error == "Bloomreach refused queued commands: c5: no"
            assert shown.payload["customer_id"] == CUSTOMER  # opened for the operator
            with pytest.raises(NotFound, match="waits"):
                await admin.replay_dead(message_id=third.id, integration=None, now=14.0)
            assert await admin.replay_dead(message_id=None, integration=None, now=14.0) == 0
            assert (await admin.get(newer)).kind == "customer"
            [fourth] = await repo.claim(10, 60, 15.0)
            assert await repo.complete([Completion(fourth, "delivered")], 16.0) == [True]
            assert await admin.replay_dead(message_id=None, integration=None, now=17.0) == 1
            [fifth] = await repo.claim(10, 60, 18.0)
            assert fifth.id == third.id
            assert await repo.complete([Completion(fifth, "delivered")], 19.0) == [True]
        finally:
            await engine.dispose()
        rows = await stored(database_url)
        assert [r[3] for r in rows] == ["delivered", "delivered", "delivered"]
        assert ids(rows[1]) == ["c5"]
        assert await query_rows(database_url, "SELECT count(*) FROM tracked_orders") == [(0,)]

    asyncio.run(go())


def test_concurrent_writes_and_deliveries_lose_and_repeat_nothing(database_url: str) -> None:
    """Writers append while a relay claims and completes: every command is delivered once,
    each writer's commands in its order."""
    migrate.upgrade(database_url)

    async def go() -> list[str]:
        engine = create_engine(database_url)
        sessions = session_factory(engine)
        repo = RelayRepository(sessions, BOX)
        delivered: list[str] = []
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(SEED_INTEGRATION_SQL), seed_integration_params(1, "a")
                )

            async def writer(w: int) -> None:
                for n in range(5):
                    await enqueue(sessions, [command(f"w{w}-{n}")], now=float(n))

            async def relay(stop: asyncio.Event) -> None:
                while True:
                    # Writers done before this claim: an empty claim means nothing is left.
                    last = stop.is_set()
                    claimed = await repo.claim(10, 60, 100.0)
                    await asyncio.sleep(0.01)  # sending: the writers append meanwhile
                    for message in claimed:
                        sent = [c["command_id"] for c in message.payload["commands"]]
                        [applied] = await repo.complete([Completion(message, "delivered")], 100.0)
                        assert applied
                        delivered.extend(sent)
                    if not claimed:
                        if last:
                            return
                        await asyncio.sleep(0.001)

            stop = asyncio.Event()
            relaying = asyncio.create_task(relay(stop))
            await asyncio.gather(*(writer(w) for w in range(4)))
            stop.set()
            await relaying
            claims = await query_rows(database_url, "SELECT count(*) FROM outbox_messages")
        finally:
            await engine.dispose()
        # Fewer messages than writes: writes were appended to open (and in-flight) messages.
        assert claims[0][0] < 20
        return delivered

    delivered = asyncio.run(go())
    assert sorted(delivered) == sorted(f"w{w}-{n}" for w in range(4) for n in range(5))
    for w in range(4):
        assert [d for d in delivered if d.startswith(f"w{w}-")] == [f"w{w}-{n}" for n in range(5)]
