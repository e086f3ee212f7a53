"""The AdminService's API-client RPCs (a part of AdminServicer, kept apart: one job)."""

from __future__ import annotations

from typing import Any

import grpc

from core_service.domain.api_clients import BUILTIN_SCOPES, StoredClient
from core_service.domain.errors import FailedPrecondition, InvalidArgument
from core_service.grpc_api.calls import rpc
from core_service.services.api_clients import ApiClientService
from sitoo_bloomreach.v1 import admin_pb2 as pb

Context = grpc.aio.ServicerContext[Any, Any]


def client_to_proto(client: StoredClient) -> pb.ApiClient:
    return pb.ApiClient(
        name=client.name,
        scopes=sorted(client.scopes),
        tls_subject=client.tls_subject or "",
        created_at=int(client.created_at),
        tokens=[
            pb.ApiClientToken(
                key_id=t.key_id,
                created_at=int(t.created_at),
                expires_at=int(t.expires_at) if t.expires_at is not None else 0,
            )
            for t in client.tokens
        ],
    )


def _builtins() -> list[pb.ApiClient]:
    return [
        pb.ApiClient(name=name, scopes=sorted(scopes), builtin=True)
        for name, scopes in sorted(BUILTIN_SCOPES.items())
    ]


def _managed(name: str) -> str:
    if name in BUILTIN_SCOPES:
        raise FailedPrecondition(
            f"{name!r} is a built-in client: its token is a process setting "
            "(SITOO_BR_SERVICE_TOKEN / SITOO_BR_ADMIN_TOKEN), rotated by redeploying"
        )
    return name


class ClientAdminMixin:
    _clients: ApiClientService | None

    def _client_service(self) -> ApiClientService:
        if self._clients is None:
            raise FailedPrecondition("this core does not manage API clients")
        return self._clients

    @rpc
    async def CreateClient(
        self, request: pb.CreateClientRequest, context: Context
    ) -> pb.IssuedClientToken:
        client, token = await self._client_service().create(
            request.name, list(request.scopes), request.tls_subject
        )
        return pb.IssuedClientToken(client=client_to_proto(client), token=token)

    @rpc
    async def ListClients(
        self, request: pb.ListClientsRequest, context: Context
    ) -> pb.ListClientsResponse:
        stored = await self._client_service().list_clients()
        return pb.ListClientsResponse(clients=[*_builtins(), *(client_to_proto(c) for c in stored)])

    @rpc
    async def RotateClientToken(
        self, request: pb.RotateClientTokenRequest, context: Context
    ) -> pb.IssuedClientToken:
        if request.grace_seconds < 0:
            raise InvalidArgument("grace_seconds cannot be negative", field="grace_seconds")
        client, token = await self._client_service().rotate(
            _managed(request.name), float(request.grace_seconds) if request.grace_seconds else None
        )
        return pb.IssuedClientToken(client=client_to_proto(client), token=token)

    @rpc
    async def RevokeOldClientTokens(
        self, request: pb.RevokeOldClientTokensRequest, context: Context
    ) -> pb.ApiClient:
        return client_to_proto(await self._client_service().revoke_old(_managed(request.name)))

    @rpc
    async def DeleteClient(
        self, request: pb.DeleteClientRequest, context: Context
    ) -> pb.DeleteClientResponse:
        await self._client_service().delete(_managed(request.name))
        return pb.DeleteClientResponse()
