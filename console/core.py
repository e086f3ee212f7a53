"""The console's one channel to the core: AdminService calls with the admin token."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from runtime.grpc_channel import open_channel
from runtime.settings import Settings, read_secret
from sitoo_bloomreach.v1 import admin_pb2 as pb
from sitoo_bloomreach.v1 import admin_pb2_grpc

if TYPE_CHECKING:
    from sitoo_bloomreach.v1.admin_pb2_grpc import AdminServiceAsyncStub


class AdminGateway:
    """One method per AdminService call the console makes; errors are grpc.aio.AioRpcError."""

    def __init__(self, channel: grpc.aio.Channel, admin_token: str, deadline: float) -> None:
        self._channel = channel
        self._stub: AdminServiceAsyncStub = admin_pb2_grpc.AdminServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {admin_token}"),)
        self._deadline = deadline
        self.admin_token = admin_token

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminGateway:
        token = read_secret(settings.admin_token, settings.admin_token_file, "ADMIN_TOKEN")
        return cls(open_channel(settings), token, settings.console_core_deadline_seconds)

    async def close(self) -> None:
        await self._channel.close(None)

    async def list_integrations(self) -> list[pb.Integration]:
        response = await self._stub.ListIntegrations(
            pb.ListIntegrationsRequest(), metadata=self._metadata, timeout=self._deadline
        )
        return list(response.integrations)

    async def get_integration(self, name: str) -> pb.Integration:
        return await self._stub.GetIntegration(
            pb.GetIntegrationRequest(name=name), metadata=self._metadata, timeout=self._deadline
        )

    async def create_integration(
        self, name: str, settings: pb.IntegrationInput
    ) -> pb.CreateIntegrationResponse:
        return await self._stub.CreateIntegration(
            pb.CreateIntegrationRequest(name=name, settings=settings),
            metadata=self._metadata,
            timeout=self._deadline,
        )

    async def update_integration(self, name: str, settings: pb.IntegrationInput) -> pb.Integration:
        return await self._stub.UpdateIntegration(
            pb.UpdateIntegrationRequest(name=name, settings=settings),
            metadata=self._metadata,
            timeout=self._deadline,
        )

    async def rotate_credentials(
        self, name: str, which: pb.RotateCredentialsRequest.Which.ValueType
    ) -> pb.IssuedCredentials:
        return await self._stub.RotateCredentials(
            pb.RotateCredentialsRequest(name=name, which=which),
            metadata=self._metadata,
            timeout=self._deadline,
        )

    async def check_bloomreach(self, access: pb.BloomreachAccessInput) -> pb.BloomreachAccessReport:
        return await self._stub.CheckBloomreachAccess(
            pb.CheckBloomreachAccessRequest(access=access),
            metadata=self._metadata,
            timeout=self._deadline,
        )

    async def consent_categories(self, integration: str) -> list[pb.ConsentCategory]:
        response = await self._stub.ListConsentCategories(
            pb.ListConsentCategoriesRequest(
                access=pb.BloomreachAccessInput(integration=integration)
            ),
            metadata=self._metadata,
            timeout=self._deadline,
        )
        return list(response.categories)

    async def validate(self, name: str) -> pb.ValidationReport:
        return await self._stub.ValidateIntegration(
            pb.ValidateIntegrationRequest(name=name), metadata=self._metadata, timeout=120.0
        )

    async def circuit_breaker(self, name: str) -> pb.CircuitBreakerStatus | None:
        """The circuit breaker of the integration's Bloomreach project; None if the core
        predates it."""
        try:
            return await self._stub.GetCircuitBreaker(
                pb.GetCircuitBreakerRequest(name=name),
                metadata=self._metadata,
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            raise

    async def last_validation(self, name: str) -> pb.ValidationReport | None:
        """The core's record of the last validation; None if there is none (or the core
        predates validation)."""
        try:
            return await self._stub.GetLastValidation(
                pb.GetLastValidationRequest(name=name),
                metadata=self._metadata,
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED):
                return None
            raise

    async def outbox_stats(self, integration: str) -> pb.OutboxStats:
        return await self._stub.GetOutboxStats(
            pb.GetOutboxStatsRequest(integration=integration),
            metadata=self._metadata,
            timeout=self._deadline,
        )

    async def outbox_messages(
        self, integration: str, state: str, limit: int
    ) -> list[pb.OutboxMessage]:
        response = await self._stub.ListOutboxMessages(
            pb.ListOutboxMessagesRequest(integration=integration, state=state, limit=limit),
            metadata=self._metadata,
            timeout=self._deadline,
        )
        return list(response.messages)

    async def replay(self, integration: str, message_id: int | None) -> int:
        request = (
            pb.ReplayOutboxRequest(id=message_id, integration=integration)
            if message_id is not None
            else pb.ReplayOutboxRequest(all_dead=True, integration=integration)
        )
        response = await self._stub.ReplayOutbox(
            request, metadata=self._metadata, timeout=self._deadline
        )
        return response.replayed

    async def quarantine(self, integration: str, limit: int) -> list[pb.QuarantinedPayload]:
        response = await self._stub.ListQuarantine(
            pb.ListQuarantineRequest(integration=integration, limit=limit),
            metadata=self._metadata,
            timeout=self._deadline,
        )
        return list(response.payloads)
