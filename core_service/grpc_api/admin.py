"""AdminService: integrations, outbox, quarantine and retention for operators."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from core_service.adapters.upstream import scratch_bloomreach
from core_service.domain import errors
from core_service.domain.validation import Report
from core_service.grpc_api.admin_card_cache import CardCacheAdminMixin
from core_service.grpc_api.admin_clients import ClientAdminMixin
from core_service.grpc_api.admin_convert import (
    credentials_to_proto,
    integration_to_proto,
    outbox_to_proto,
    quarantined_to_proto,
    settings_from_proto,
)
from core_service.grpc_api.calls import rpc, status_for
from core_service.services.api_clients import ApiClientService
from core_service.services.backfill import BackfillService, Progress
from core_service.services.bloomreach_access import AccessToTry, BloomreachAccessService
from core_service.services.card_cache import CardCacheAdmin
from core_service.services.circuit_breakers import CircuitBreakers
from core_service.services.integrations import IntegrationService
from core_service.services.ports import OutboxAdmin
from core_service.services.retention import RetentionProgress, RetentionService
from core_service.services.validation import ValidationService
from sitoo_bloomreach.v1 import admin_pb2 as pb
from sitoo_bloomreach.v1 import admin_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]
MAX_PAGE = 1000


class AdminServicer(ClientAdminMixin, CardCacheAdminMixin, admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        integrations: IntegrationService,
        outbox: OutboxAdmin,
        *,
        validation: ValidationService | None = None,
        backfill: BackfillService | None = None,
        bloomreach_access: BloomreachAccessService | None = None,
        retention: RetentionService | None = None,
        clients: ApiClientService | None = None,
        breakers: CircuitBreakers | None = None,
        card_cache: CardCacheAdmin | None = None,
    ) -> None:
        self._integrations = integrations
        self._outbox = outbox
        self._validation = validation
        self._backfill = backfill
        self._access = bloomreach_access or BloomreachAccessService(
            integrations, scratch_bloomreach
        )
        self._retention = retention
        self._clients = clients
        self._breakers = breakers
        self._card_cache = card_cache

    @rpc
    async def CreateIntegration(
        self, request: pb.CreateIntegrationRequest, context: Context
    ) -> pb.CreateIntegrationResponse:
        integration, credentials = await self._integrations.create(
            request.name, settings_from_proto(request.settings)
        )
        return pb.CreateIntegrationResponse(
            integration=integration_to_proto(integration),
            credentials=credentials_to_proto(credentials),
        )

    @rpc
    async def GetIntegration(
        self, request: pb.GetIntegrationRequest, context: Context
    ) -> pb.Integration:
        return integration_to_proto(await self._integrations.get(request.name))

    @rpc
    async def ListIntegrations(
        self, request: pb.ListIntegrationsRequest, context: Context
    ) -> pb.ListIntegrationsResponse:
        integrations = await self._integrations.list()
        return pb.ListIntegrationsResponse(
            integrations=[integration_to_proto(i) for i in integrations]
        )

    @rpc
    async def UpdateIntegration(
        self, request: pb.UpdateIntegrationRequest, context: Context
    ) -> pb.Integration:
        integration = await self._integrations.update(
            request.name, settings_from_proto(request.settings)
        )
        return integration_to_proto(integration)

    @rpc
    async def RotateCredentials(
        self, request: pb.RotateCredentialsRequest, context: Context
    ) -> pb.IssuedCredentials:
        which = request.which
        spi = which in (pb.RotateCredentialsRequest.SPI, pb.RotateCredentialsRequest.BOTH, 0)
        webhook = which in (
            pb.RotateCredentialsRequest.WEBHOOK,
            pb.RotateCredentialsRequest.BOTH,
            0,
        )
        credentials = await self._integrations.rotate_credentials(
            request.name, spi=spi, webhook=webhook
        )
        return credentials_to_proto(credentials)

    @rpc
    async def DeleteIntegration(
        self, request: pb.DeleteIntegrationRequest, context: Context
    ) -> pb.DeleteIntegrationResponse:
        await self._integrations.delete(request.name)
        return pb.DeleteIntegrationResponse()

    @rpc
    async def GetOutboxStats(
        self, request: pb.GetOutboxStatsRequest, context: Context
    ) -> pb.OutboxStats:
        stats = await self._outbox.stats(request.integration or None)
        return pb.OutboxStats(
            counts_by_state=stats.counts_by_state,
            oldest_pending_age_seconds=stats.oldest_pending_age_seconds,
        )

    @rpc
    async def ListOutboxMessages(
        self, request: pb.ListOutboxMessagesRequest, context: Context
    ) -> pb.ListOutboxMessagesResponse:
        limit = min(request.limit or 100, MAX_PAGE)
        rows = await self._outbox.list(
            request.integration or None, request.state or None, limit, request.after_id
        )
        return pb.ListOutboxMessagesResponse(messages=[outbox_to_proto(m) for m in rows])

    @rpc
    async def GetOutboxMessage(
        self, request: pb.GetOutboxMessageRequest, context: Context
    ) -> pb.OutboxMessage:
        return outbox_to_proto(await self._outbox.get(request.id))

    @rpc
    async def ReplayOutbox(
        self, request: pb.ReplayOutboxRequest, context: Context
    ) -> pb.ReplayOutboxResponse:
        target = request.WhichOneof("target")
        if target is None:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "give a message id or all_dead=true"
            )
        replayed = await self._outbox.replay_dead(
            message_id=request.id if target == "id" else None,
            integration=request.integration or None,
        )
        return pb.ReplayOutboxResponse(replayed=replayed)

    @rpc
    async def ListQuarantine(
        self, request: pb.ListQuarantineRequest, context: Context
    ) -> pb.ListQuarantineResponse:
        limit = min(request.limit or 100, MAX_PAGE)
        rows = await self._outbox.list_quarantine(request.integration or None, limit)
        return pb.ListQuarantineResponse(payloads=[quarantined_to_proto(row) for row in rows])

    @rpc
    async def GetQuarantined(
        self, request: pb.GetQuarantinedRequest, context: Context
    ) -> pb.QuarantinedPayload:
        return quarantined_to_proto(await self._outbox.get_quarantined(request.id))

    @rpc
    async def ValidateIntegration(
        self, request: pb.ValidateIntegrationRequest, context: Context
    ) -> pb.ValidationReport:
        if self._validation is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "validation is not wired")
        assert self._validation is not None
        integration = await self._integrations.get(request.name)
        report = await self._validation.validate(
            integration, skip_round_trip=request.skip_round_trip
        )
        return _report_to_proto(integration.name, report)

    @rpc
    async def GetLastValidation(
        self, request: pb.GetLastValidationRequest, context: Context
    ) -> pb.ValidationReport:
        if self._validation is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "validation is not wired")
        assert self._validation is not None
        integration = await self._integrations.get(request.name)
        report = await self._validation.last_report(integration)
        if report is None:
            raise errors.NotFound(f"integration {request.name!r} has not been validated yet")
        return _report_to_proto(integration.name, report)

    async def Backfill(
        self, request: pb.BackfillRequest, context: Context
    ) -> AsyncIterator[pb.BackfillProgress]:
        """Streams progress after every page. Cancelling the call stops the job after the
        page in hand; its cursor is kept, and the same window continues where it stopped."""
        if self._backfill is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "backfill is not wired")
        assert self._backfill is not None
        try:
            integration = await self._integrations.get(request.integration)
            async for progress in self._backfill.run(
                integration,
                request.from_date,
                request.to_date,
                dry_run=request.dry_run,
                reconcile=request.reconcile,
            ):
                yield _progress_to_proto(progress)
        except errors.DomainError as exc:
            await context.abort(status_for(exc), str(exc))

    async def RunRetention(
        self, request: pb.RunRetentionRequest, context: Context
    ) -> AsyncIterator[pb.RetentionProgress]:
        """Streams the counts after every chunk. Cancelling the call stops the purge; the
        chunks already committed stay deleted."""
        if self._retention is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "retention is not wired")
        assert self._retention is not None
        async for progress in self._retention.progress(dry_run=request.dry_run):
            yield _retention_to_proto(progress)

    @rpc
    async def CheckBloomreachAccess(
        self, request: pb.CheckBloomreachAccessRequest, context: Context
    ) -> pb.BloomreachAccessReport:
        report = await self._access.check(_access(request.access))
        return pb.BloomreachAccessReport(ok=report.ok, detail=report.detail, remedy=report.remedy)

    @rpc
    async def ListConsentCategories(
        self, request: pb.ListConsentCategoriesRequest, context: Context
    ) -> pb.ListConsentCategoriesResponse:
        categories = await self._access.consent_categories(_access(request.access))
        return pb.ListConsentCategoriesResponse(
            categories=[
                pb.ConsentCategory(id=c.id, name=c.name, legitimate_interest=c.legitimate_interest)
                for c in categories
            ]
        )

    @rpc
    async def GetCircuitBreaker(
        self, request: pb.GetCircuitBreakerRequest, context: Context
    ) -> pb.CircuitBreakerStatus:
        integration = await self._integrations.get(request.name)
        status = self._breakers.status(integration) if self._breakers is not None else None
        if status is None:
            return pb.CircuitBreakerStatus(integration=integration.name, enabled=False)
        opened = status.opened_seconds_ago
        return pb.CircuitBreakerStatus(
            integration=integration.name,
            enabled=True,
            state=status.state,
            project=status.project,
            integrations=list(status.integrations),
            consecutive_failures=status.consecutive_failures,
            retry_after_seconds=status.retry_after_s,
            cool_down_seconds=status.cool_down_s,
            trips=status.trips,
            opened_seconds_ago=-1.0 if opened is None else opened,
        )


def _report_to_proto(integration: str, report: Report) -> pb.ValidationReport:
    return pb.ValidationReport(
        integration=integration,
        passed=report.passed,
        ran_at=int(report.ran_at),
        checks=[
            pb.ValidationCheck(
                name=c.name, passed=c.passed, detail=c.detail, remedy=c.remedy, skipped=c.skipped
            )
            for c in report.checks
        ],
    )


def _progress_to_proto(progress: Progress) -> pb.BackfillProgress:
    return pb.BackfillProgress(
        total=progress.total,
        scanned=progress.scanned,
        enqueued=progress.enqueued,
        already_known=progress.already_known,
        done=progress.done,
        resumed=progress.resumed,
        cursor_order_id=progress.cursor_order_id,
        missed_order_ids=progress.missed_order_ids,
        elapsed_seconds=progress.elapsed_seconds,
        job_key=progress.job_key,
    )


def _retention_to_proto(progress: RetentionProgress) -> pb.RetentionProgress:
    return pb.RetentionProgress(
        tables=[
            pb.RetentionTable(
                table=t.table,
                keep_days=t.keep_days,
                cutoff=t.cutoff,
                deleted=t.deleted,
                done=t.done,
            )
            for t in progress.tables
        ],
        dry_run=progress.dry_run,
        done=progress.done,
        elapsed_seconds=progress.elapsed_seconds,
    )


def _access(message: pb.BloomreachAccessInput) -> AccessToTry:
    return AccessToTry(
        integration=message.integration,
        api_base_url=message.api_base_url,
        project_token=message.project_token,
        api_key_id=message.api_key_id,
        api_secret=message.api_secret,
    )
