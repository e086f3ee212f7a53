"""The card cache on both databases, through the real composition root (issue 15): cards are
found by every search key, never by another integration, never stored in clear; the TTL and
the count bound hold; purge and the retention purge empty it; `rekey` reseals it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import text

from cli import migrate
from core_service.adapters.db.card_cache_repo import CardCacheRepository
from core_service.adapters.db.engine import create_engine
from core_service.adapters.db.rekey_repo import RekeyRepository
from core_service.adapters.db.retention_repo import RetentionRepository
from core_service.bootstrap import Core, build_core
from core_service.crypto import MasterKey
from core_service.domain.customer import Customer, CustomerStatus, Enrichment, Section
from core_service.domain.integration import Integration
from core_service.services.integrations import IntegrationSettings
from core_service.services.rekey import KINDS, rekey
from harness.databases import query_rows
from runtime.settings import Settings

KEY = MasterKey.generate()
NOW = 1_800_000_000.0

ANNA = Customer(
    customer_id="anna@example.se",
    fields={
        "email": "anna@example.se",
        "mobile": "+46701234567",
        "member_number": "M-1001",
        "name_first": "Anna",
        "invoice_address.city": "Malmö",
    },
    accepts_communication=("email",),
    consents=("newsletter",),
    additional_options=(("size", ("M", "L")),),
    enrichment=Enrichment(
        status=CustomerStatus("gold", "Gold member"),
        voucher_passwords=("V-1",),
        sections=(Section("Loyalty", (("Points", "1200"),)),),
    ),
)


def _settings(url: str, tmp: Path, key: str = KEY, previous: str | None = None) -> Settings:
    return Settings(
        database_url=url,
        data_dir=tmp,
        master_key=SecretStr(key),
        master_key_previous=SecretStr(previous) if previous else None,
    )


async def _core(url: str, tmp: Path) -> Core:
    await asyncio.to_thread(migrate.upgrade, url)
    return await build_core(_settings(url, tmp))


async def _integration(core: Core, name: str, **settings: object) -> Integration:
    integration, _ = await core.integrations.create(
        name,
        IntegrationSettings(market="SE", **settings),  # type: ignore[arg-type]
    )
    return integration


def _card(n: int) -> Customer:
    return Customer(customer_id=f"c{n}@example.se", fields={"email": f"c{n}@example.se"})


async def test_a_card_is_found_by_each_key_and_only_in_its_integration(
    database_url: str, tmp_path: Path
) -> None:
    core = await _core(database_url, tmp_path)
    try:
        acme = await _integration(core, "acme")
        other = await _integration(core, "other")
        cache = core.card_cache
        await cache.remember(acme, ANNA, now=NOW)
        # Every search key, in any spelling that normalises to the same value.
        assert await cache.recall_by_id(acme, "Anna@Example.se ", now=NOW + 1) == ANNA
        for key_type, key in (
            ("email", "ANNA@example.se"),
            ("mobile", "070-123 45 67"),
            ("member_number", " M-1001"),
            ("customer_id", "anna@example.se"),
        ):
            found = await cache.find(acme, key_type, key, now=NOW + 1)
            assert found is not None and found.card == ANNA, key_type
            assert found.age(NOW + 5) == 5
        assert await cache.recall_by_key(acme, "email", "someone@example.se", now=NOW) is None
        # Another integration never sees it, by any key.
        for key_type, key in (("email", "anna@example.se"), ("customer_id", "anna@example.se")):
            assert await cache.recall_by_key(other, key_type, key, now=NOW + 1) is None

        # At rest: no identifier in clear, in either table.
        rows = await query_rows(database_url, "SELECT * FROM card_cache")
        rows += await query_rows(database_url, "SELECT * FROM card_cache_keys")
        dump = repr(rows).lower()
        for secret in ("anna", "example.se", "4670", "m-1001", "malm", "gold"):
            assert secret not in dump, secret
        assert len(await query_rows(database_url, "SELECT * FROM card_cache_keys")) == 4
    finally:
        await core.close()


async def test_a_sealed_card_moved_onto_another_integration_does_not_open(
    database_url: str, tmp_path: Path
) -> None:
    core = await _core(database_url, tmp_path)
    try:
        acme = await _integration(core, "acme")
        other = await _integration(core, "other")
        cache = core.card_cache
        await cache.remember(acme, ANNA, now=NOW)
        await cache.remember(other, replace(ANNA, fields={"email": "anna@example.se"}), now=NOW)
        # An attacker with the database swaps the sealed cards between the tenants' rows.
        rows = dict(
            await query_rows(database_url, "SELECT integration_id, sealed_card FROM card_cache")
        )
        await _execute(
            database_url,
            "UPDATE card_cache SET sealed_card = :sealed WHERE integration_id = :other",
            sealed=rows[acme.id],
            other=other.id,
        )
        assert await cache.recall_by_id(other, "anna@example.se", now=NOW) is None
        assert await cache.recall_by_id(acme, "anna@example.se", now=NOW) == ANNA
    finally:
        await core.close()


async def _execute(url: str, statement: str, **params: object) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement), params)
    finally:
        await engine.dispose()


async def test_a_refresh_replaces_the_card_and_moves_its_keys(
    database_url: str, tmp_path: Path
) -> None:
    core = await _core(database_url, tmp_path)
    try:
        acme = await _integration(core, "acme")
        cache = core.card_cache
        await cache.remember(acme, ANNA, now=NOW)
        newer = replace(ANNA, fields={**ANNA.fields, "mobile": "+46709999999"})
        await cache.remember(acme, newer, now=NOW + 10)
        assert await cache.recall_by_key(acme, "mobile", "+46709999999", now=NOW + 11) == newer
        assert await cache.recall_by_key(acme, "mobile", "+46701234567", now=NOW + 11) is None
        # The mobile number moves to another customer: it now finds that one.
        bert = Customer("bert@example.se", {"email": "bert@example.se", "mobile": "+46709999999"})
        await cache.remember(acme, bert, now=NOW + 20)
        assert await cache.recall_by_key(acme, "mobile", "0709999999", now=NOW + 21) == bert
        assert await cache.recall_by_id(acme, "anna@example.se", now=NOW + 21) == newer
        # A prefill without a customer_id is not a card to keep.
        await cache.remember(acme, Customer("", {"email": "x@example.se"}), now=NOW)
        assert (await cache.stats(acme, now=NOW + 21)).cards == 2
    finally:
        await core.close()


async def test_ttl_count_bound_purge_and_retention(database_url: str, tmp_path: Path) -> None:
    core = await _core(database_url, tmp_path)
    try:
        acme = await _integration(core, "acme", card_cache_max_cards=3, card_cache_ttl_seconds=600)
        other = await _integration(core, "other")
        cache: CardCacheRepository = core.card_cache
        await cache.remember_many([(acme, _card(n)) for n in range(2)], now=NOW)
        await cache.remember_many([(acme, _card(n)) for n in range(2, 5)], now=NOW + 1)
        await cache.remember(other, _card(0), now=NOW)
        # Count bound: the oldest two went; the other integration's card is untouched.
        assert await cache.recall_by_id(acme, "c0@example.se", now=NOW + 2) is None
        assert await cache.recall_by_id(acme, "c1@example.se", now=NOW + 2) is None
        assert await cache.recall_by_id(acme, "c4@example.se", now=NOW + 2) == _card(4)
        assert await cache.recall_by_id(other, "c0@example.se", now=NOW + 2) == _card(0)
        keys = await query_rows(
            database_url, "SELECT integration_id, count(*) FROM card_cache_keys GROUP BY 1"
        )
        # customer_id + e-mail of acme's three kept cards, and of other's one.
        assert sorted(keys) == sorted([(acme.id, 6), (other.id, 2)])
        stats = await cache.stats(acme, now=NOW + 2)
        assert (stats.cards, stats.expired, stats.max_cards) == (3, 0, 3)
        assert (stats.oldest_stored_at, stats.newest_stored_at) == (NOW + 1, NOW + 1)

        # TTL: a card older than the TTL is not served, and counts as expired until purged.
        assert await cache.recall_by_id(acme, "c4@example.se", now=NOW + 601) is None
        assert (await cache.stats(acme, now=NOW + 601)).expired == 3
        # Lowering the TTL takes effect for cards stored under the longer one.
        assert await cache.recall_by_id(other, "c0@example.se", now=NOW + 700) == _card(0)
        shorter = await core.integrations.update(
            "other", IntegrationSettings(card_cache_ttl_seconds=600)
        )
        assert await cache.recall_by_id(shorter, "c0@example.se", now=NOW + 700) is None

        # The retention purge deletes expired cards (and their keys), nothing live.
        await cache.remember(other, _card(9), now=NOW + 10_000)
        plan = {t.table: t.cutoff for t in core.retention.plan(NOW + 10_000)}
        assert plan["card_cache"] == NOW + 10_000
        repo = RetentionRepository(core.sessions)
        # acme's three; other's c0 was stored under the 30-day TTL and waits for that expiry
        # (reads already ignore it).
        assert await repo.count("card_cache", NOW + 10_000) == 3
        assert await repo.delete_chunk("card_cache", NOW + 10_000, 100) == 3
        left = await query_rows(database_url, "SELECT count(*) FROM card_cache_keys")
        assert left == [(4,)]
        assert await cache.recall_by_id(other, "c9@example.se", now=NOW + 10_001) == _card(9)

        # Purge: one integration's cards, all of them.
        await cache.remember(acme, _card(7), now=NOW + 10_000)
        assert await cache.purge(acme) == 1
        assert await cache.recall_by_id(acme, "c7@example.se", now=NOW + 10_001) is None
        assert await cache.recall_by_id(other, "c9@example.se", now=NOW + 10_001) == _card(9)
    finally:
        await core.close()


async def test_rekey_reseals_the_cache_and_the_index_key(database_url: str, tmp_path: Path) -> None:
    new = MasterKey.generate()
    core = await _core(database_url, tmp_path)
    try:
        acme = await _integration(core, "acme")
        await core.card_cache.remember(acme, ANNA, now=NOW)
    finally:
        await core.close()
    # The new key with the old one as previous: rekey reseals cards and the index key.
    core = await build_core(_settings(database_url, tmp_path, new, KEY))
    try:
        report = await rekey(RekeyRepository(core.sessions, core.box), core.box.key_id)
        assert report.tallies[KINDS[3]]["resealed"] == 1
        assert report.tallies[KINDS[0]]["resealed"] == 3  # canary, verifier key, index key
        assert report.left == 0
    finally:
        await core.close()
    # The new key alone opens the cache, and the digests still find the card.
    core = await build_core(_settings(database_url, tmp_path, new))
    try:
        acme = await core.integrations.get("acme")
        assert (
            await core.card_cache.recall_by_key(acme, "email", "anna@example.se", now=NOW) == ANNA
        )
    finally:
        await core.close()
