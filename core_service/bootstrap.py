"""Composition root: settings in, a wired core out. The only place that knows every part."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from core_service.adapters.db.api_clients_repo import ApiClientRepository
from core_service.adapters.db.backfill_repo import BackfillRepository
from core_service.adapters.db.card_cache_repo import CardCacheRepository
from core_service.adapters.db.credential_verifiers_repo import CredentialVerifiersRepository
from core_service.adapters.db.customer_commands import CustomerCommandRepository
from core_service.adapters.db.engine import create_engine, is_sqlite, session_factory
from core_service.adapters.db.inbox_repo import InboxRepository, QuarantineCaps
from core_service.adapters.db.integrations_repo import IntegrationRepository
from core_service.adapters.db.key_material import open_secret_box
from core_service.adapters.db.loyalty_repo import LoyaltyLedgerRepository
from core_service.adapters.db.outbox_repo import OutboxAdminRepository
from core_service.adapters.db.relay_repo import RelayRepository
from core_service.adapters.db.retention_repo import RetentionRepository
from core_service.adapters.db.schema_version import check_schema_current
from core_service.adapters.db.startup import wait_until_reachable
from core_service.adapters.db.validation_repo import ValidationRepository
from core_service.adapters.http_client import HttpClients
from core_service.adapters.upstream import HttpUpstream
from core_service.card_cache_metrics import CardCacheMetrics
from core_service.crypto import MasterKey, SecretBox
from core_service.metrics import CoreMetrics
from core_service.services.api_clients import ApiClientService
from core_service.services.backfill import BackfillService
from core_service.services.bloomreach_clients import BloomreachClients
from core_service.services.call_gate import CallGates
from core_service.services.card_cache import CardCachedCustomers, CardWriter
from core_service.services.card_hedge import Hedge
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.customers import CustomerService
from core_service.services.ingest import IngestService
from core_service.services.integrations import IntegrationService
from core_service.services.loyalty import LoyaltyService
from core_service.services.quarantine_limit import MalformedBatchLimiter
from core_service.services.queued_writes import QueuedWrites
from core_service.services.relay import Relay
from core_service.services.retention import RetentionService
from core_service.services.validation import ValidationService
from runtime.settings import Settings, read_secret


@dataclass
class Core:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    box: SecretBox
    integrations: IntegrationService
    ingest: IngestService
    outbox_admin: OutboxAdminRepository
    http: HttpClients
    metrics: CoreMetrics
    customers: CustomerService
    backfill: BackfillService
    validation: ValidationService
    retention: RetentionService
    api_clients: ApiClientService
    # Issue 15: the sealed card cache (services use it through ports.CardCache).
    card_cache: CardCacheRepository
    card_writer: CardWriter
    customer_http: HttpClients | None = None
    # Hedged reads' detached Bloomreach calls (services/card_hedge.py).
    hedge: Hedge | None = None

    async def database_ok(self, timeout: float = 2.0) -> bool:
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (OSError, TimeoutError, SQLAlchemyError):
            return False
        return True

    async def close(self) -> None:
        await self.ingest.close()
        if self.hedge is not None:
            # Before the writer (a detached call's answer offers a card) and the HTTP pools.
            await self.hedge.close()
        await self.card_writer.close()
        await self.http.close()
        if self.customer_http is not None:
            await self.customer_http.close()
        await self.engine.dispose()


def load_master_key(settings: Settings) -> MasterKey:
    return MasterKey.parse(read_secret(settings.master_key, settings.master_key_file, "MASTER_KEY"))


def load_secret_box(settings: Settings) -> SecretBox:
    """The current master key and any previous ones (during a rotation)."""
    previous: list[MasterKey] = []
    if settings.master_key_previous is not None or settings.master_key_previous_file is not None:
        text_ = read_secret(
            settings.master_key_previous, settings.master_key_previous_file, "MASTER_KEY_PREVIOUS"
        )
        previous = [MasterKey.parse(part) for part in text_.split(",") if part.strip()]
    return SecretBox(load_master_key(settings), previous)


async def open_database(
    settings: Settings,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession], SecretBox]:
    """The database at the code's revision, and the secret box its keys open; the caller
    disposes of the engine."""
    engine = create_engine(settings.resolved_database_url)
    try:
        box = load_secret_box(settings)
        await wait_until_reachable(engine, settings.database_startup_timeout_seconds)
        await check_schema_current(engine)
        sessions = session_factory(engine)
        return engine, sessions, await open_secret_box(sessions, box)
    except BaseException:
        await engine.dispose()
        raise


async def build_core(settings: Settings) -> Core:
    engine, sessions, box = await open_database(settings)
    metrics = CoreMetrics.create()
    card_cache = await CardCacheRepository.open(sessions, box)
    integrations = IntegrationService(
        IntegrationRepository(sessions, box),
        box,
        verifiers=CredentialVerifiersRepository(sessions),
        cache_seconds=settings.sitoo_credential_cache_seconds,
        metrics=metrics,
    )
    http = HttpClients()
    # The POS path's own pools, one per integration and as large as its call slots, apart
    # from the relay's and backfill's (issue 11: no waiting for a connection unseen).
    customer_http = HttpClients(connections_per_host=settings.bloomreach_call_slots)
    cache_metrics = CardCacheMetrics.create(metrics.registry)
    card_writer = CardWriter(card_cache, cache_metrics)
    hedge = Hedge(settings.card_cache_hedge_seconds, card_cache)
    customers: CustomerService = CardCachedCustomers(
        BloomreachClients(HttpUpstream(customer_http)),
        metrics,
        bloomreach_timeout_s=settings.bloomreach_timeout_seconds,
        history_limit=settings.purchase_history_limit,
        gates=CallGates(settings.bloomreach_call_slots, settings.bloomreach_max_queued, metrics),
        # One breaker per Bloomreach project, fed by the relay too (issue 15 §3).
        breakers=CircuitBreakers(
            settings.bloomreach_circuit_failures,
            settings.bloomreach_circuit_cool_down_seconds,
            settings.bloomreach_circuit_max_cool_down_seconds,
            metrics,
        ),
        cards=card_cache,
        writer=card_writer,
        cache_metrics=cache_metrics,
        hedge=hedge,
        loyalty=LoyaltyService(LoyaltyLedgerRepository(sessions, box)),
        # Issue 15: writes answered while Bloomreach is unavailable, queued for the relay.
        queued=QueuedWrites(
            CustomerCommandRepository(sessions, box), card_cache, metrics, time.time
        ),
    )
    return Core(
        settings=settings,
        engine=engine,
        sessions=sessions,
        box=box,
        integrations=integrations,
        ingest=IngestService(
            InboxRepository(sessions),
            metrics,
            max_group_events=settings.ingest_max_group_events,
            writers=1 if is_sqlite(settings.resolved_database_url) else settings.ingest_writers,
            quarantine_caps=QuarantineCaps(
                settings.quarantine_max_bodies, settings.quarantine_max_bytes
            ),
            quarantine_limiter=MalformedBatchLimiter(
                settings.quarantine_batches_per_minute, settings.quarantine_burst
            ),
        ),
        outbox_admin=OutboxAdminRepository(sessions, box),
        http=http,
        metrics=metrics,
        customers=customers,
        backfill=BackfillService(
            BackfillRepository(sessions), HttpUpstream(http), settings, metrics
        ),
        validation=ValidationService(
            customers, ValidationRepository(sessions, box), HttpUpstream(http), settings, metrics
        ),
        retention=RetentionService(RetentionRepository(sessions), settings, metrics),
        api_clients=ApiClientService(
            ApiClientRepository(sessions),
            box,
            rotation_grace_s=settings.api_client_rotation_grace_seconds,
            refresh_s=settings.api_client_refresh_seconds,
        ),
        customer_http=customer_http,
        card_cache=card_cache,
        card_writer=card_writer,
        hedge=hedge,
    )


def build_relay(core: Core) -> Relay:
    """The outbox relay over the core's database, HTTP pools and metrics."""
    return Relay(
        repository=RelayRepository(core.sessions, core.box),
        integrations=IntegrationRepository(core.sessions, core.box),
        outbox_admin=core.outbox_admin,
        http=core.http,
        settings=core.settings,
        metrics=core.metrics,
        # SQLite has one writer: one relay, one committing flush at a time.
        single_writer=is_sqlite(core.settings.resolved_database_url),
        breakers=core.customers.breakers,
    )
