"""The relay's writes on both databases: grouped statements keep every per-message guarantee
(claim token guard, byte-identical stored commands, tracked_orders with the delivery)."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text

from cli import migrate
from core_service.adapters.db.engine import create_engine, session_factory
from core_service.adapters.db.relay_repo import UNREADABLE, Claimed, Completion, RelayRepository
from core_service.adapters.db.sealed_commands import open_commands
from core_service.crypto import MasterKey, SecretBox
from harness.databases import SEED_INTEGRATION_SQL, query_rows, seed_integration_params

BOX = SecretBox(MasterKey.parse(MasterKey.generate()))


async def _seed(url: str, count: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(SEED_INTEGRATION_SQL), seed_integration_params(1, "acme"))
            await connection.execute(
                text(
                    "INSERT INTO outbox_messages (integration_id, order_key, kind, payload, state,"
                    " attempts, available_at, created_at, updated_at, generation)"
                    " VALUES (1, :key, 'order', '{}', 'pending', 0, 0, 0, 0, 0)"
                ),
                [{"key": f"1:1:{n}"} for n in range(count)],
            )
    finally:
        await engine.dispose()


def test_grouped_prepare_and_complete_keep_the_claim_guard(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url, 6)
        engine = create_engine(database_url)
        repo = RelayRepository(session_factory(engine), BOX)
        try:
            first = await repo.claim(3, 60, 1.0)
            second = await repo.claim(3, 60, 1.0)
            assert len(first) == len(second) == 3
            # A message whose claim was lost (another worker holds it under a new token).
            stale = Claimed(**{**vars(first[0]), "claim_token": "not-the-token"})
            claims = [stale, *first[1:], *second]
            payloads = {m.id: {"commands": [{"n": m.id, "ü": "é"}], "order": {}} for m in claims}
            held = await repo.prepare([(m, payloads[m.id]) for m in claims], 2.0)
            assert held == {m.id for m in claims[1:]}

            done = [Completion(m, "delivered", tracked={"purchase_id": f"p{m.id}"}) for m in claims]
            retry = Completion(second[2], "retry", error="x", available_at=9.0)
            applied = await repo.complete([*done[:-1], retry], 3.0)
            assert applied == [False, True, True, True, True, True]
        finally:
            await engine.dispose()
        states = dict(await query_rows(database_url, "SELECT id, state FROM outbox_messages"))
        assert states[first[0].id] == "in_flight"
        assert [states[m.id] for m in claims[1:-1]] == ["delivered"] * 4
        assert states[second[2].id] == "pending"
        tracked = await query_rows(
            database_url, "SELECT message_id, purchase_id FROM tracked_orders ORDER BY message_id"
        )
        assert tracked == [(m.id, f"p{m.id}") for m in claims[1:-1]]
        stored = dict(await query_rows(database_url, "SELECT id, payload FROM outbox_messages"))
        raw = stored[second[0].id]
        sealed = json.loads(raw) if isinstance(raw, str) else raw
        # At rest the commands are sealed; opened, they are exactly what was prepared.
        assert "commands" not in sealed
        assert "é" not in json.dumps(sealed, ensure_ascii=False)
        assert open_commands(BOX, sealed, 1, second[0].order_key) == payloads[second[0].id]

    asyncio.run(go())


def test_sealed_commands_come_back_intact_and_a_moved_one_is_refused(database_url: str) -> None:
    migrate.upgrade(database_url)

    async def go() -> None:
        await _seed(database_url, 2)
        engine = create_engine(database_url)
        repo = RelayRepository(session_factory(engine), BOX)
        try:
            claimed = await repo.claim(2, 60, 1.0)
            prepared = {
                m.id: {
                    "order": {"order_id": m.id},
                    "commands": [{"customer_ids": {"registered": f"anna{m.id}@example.se"}}],
                }
                for m in claimed
            }
            assert await repo.prepare([(m, prepared[m.id]) for m in claimed], 2.0) == {
                m.id for m in claimed
            }
            # A Bloomreach timeout: back to pending, due at once, payload kept.
            retries = [
                Completion(m, "retry", error="timeout", available_at=0.0, payload=prepared[m.id])
                for m in claimed
            ]
            assert await repo.complete(retries, 3.0) == [True, True]
            dump = await query_rows(database_url, "SELECT payload FROM outbox_messages")
            assert "example.se" not in json.dumps([str(row) for row in dump])

            again = await repo.claim(2, 60, 4.0)
            assert {m.id: m.payload for m in again} == prepared

            # Someone copies one order's sealed commands onto the other's message.
            first, second = sorted(again, key=lambda m: m.id)
            await repo.complete([Completion(m, "retry", available_at=0.0) for m in again], 5.0)
            async with engine.begin() as connection:
                source = (
                    await connection.execute(
                        text("SELECT payload FROM outbox_messages WHERE id = :id"), {"id": first.id}
                    )
                ).scalar_one()
                await connection.execute(
                    text("UPDATE outbox_messages SET payload = :p WHERE id = :id"),
                    {
                        "p": source if isinstance(source, str) else json.dumps(source),
                        "id": second.id,
                    },
                )
            moved = {m.id: m.payload for m in await repo.claim(2, 60, 6.0)}
        finally:
            await engine.dispose()
        assert moved[first.id] == prepared[first.id]
        assert UNREADABLE in moved[second.id]
        assert "commands" not in moved[second.id]

    asyncio.run(go())
