"""The core's gRPC server: servicers, health, reflection, TLS, graceful shutdown."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

import grpc
from aiohttp import web
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer as AsyncHealthServicer
from grpc_reflection.v1alpha import reflection

from core_service.bootstrap import Core
from core_service.grpc_api.admin import AdminServicer
from core_service.grpc_api.auth import ClientAuth
from core_service.grpc_api.customers import CustomerServicer
from core_service.grpc_api.order_events import OrderEventServicer
from core_service.grpc_api.pipeline import LayeredInterceptor
from core_service.grpc_api.request_context import RequestContextLayer
from core_service.metrics import CallMetrics, serve_metrics
from core_service.services.card_cache import CardCacheAdmin
from core_service.services.outbox_gauges import refresh_forever
from runtime.settings import ConfigurationError, Settings, read_secret
from sitoo_bloomreach.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    customers_pb2,
    customers_pb2_grpc,
    order_events_pb2,
    order_events_pb2_grpc,
)

log = logging.getLogger(__name__)

SERVICE_NAMES = (
    customers_pb2.DESCRIPTOR.services_by_name["CustomerService"].full_name,
    order_events_pb2.DESCRIPTOR.services_by_name["OrderEventService"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name,
)


def _is_loopback(listen: str) -> bool:
    host = listen.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if settings.core_tls_cert_file is None:
        return None
    if settings.core_tls_key_file is None:
        raise ConfigurationError("SITOO_BR_CORE_TLS_KEY_FILE is required with a certificate")
    key = settings.core_tls_key_file.read_bytes()
    cert = settings.core_tls_cert_file.read_bytes()
    client_ca = settings.core_tls_client_ca_file
    return grpc.ssl_server_credentials(
        [(key, cert)],
        root_certificates=client_ca.read_bytes() if client_ca else None,
        require_client_auth=client_ca is not None,
    )


class CoreServer:
    def __init__(self, core: Core) -> None:
        settings = core.settings
        service_token = read_secret(
            settings.service_token, settings.service_token_file, "SERVICE_TOKEN"
        )
        admin_token = read_secret(settings.admin_token, settings.admin_token_file, "ADMIN_TOKEN")
        credentials = _server_credentials(settings)
        if credentials is None and not _is_loopback(settings.core_listen):
            raise ConfigurationError(
                f"refusing to serve gRPC in plaintext on {settings.core_listen}: configure "
                "SITOO_BR_CORE_TLS_CERT_FILE/KEY_FILE or listen on a loopback address"
            )
        self.core = core
        self._watcher: asyncio.Task[None] | None = None
        self._gauges: asyncio.Task[None] | None = None
        self._metrics_runner: web.AppRunner | None = None
        self.health = AsyncHealthServicer()
        self.server = grpc.aio.server(
            # Outermost first: the request id is set before authentication (so refusals are
            # logged with it), and the client is known before metrics are taken.
            interceptors=[
                LayeredInterceptor(
                    [
                        RequestContextLayer(),
                        ClientAuth(service_token, admin_token, core.api_clients, core.metrics),
                        CallMetrics(core.metrics),
                    ]
                )
            ],
            options=[
                ("grpc.max_receive_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
            ],
        )
        customers_pb2_grpc.add_CustomerServiceServicer_to_server(
            CustomerServicer(core.integrations, core.customers, core.metrics), self.server
        )
        order_events_pb2_grpc.add_OrderEventServiceServicer_to_server(
            OrderEventServicer(core.integrations, core.ingest, core.metrics), self.server
        )
        admin_pb2_grpc.add_AdminServiceServicer_to_server(
            AdminServicer(
                core.integrations,
                core.outbox_admin,
                validation=core.validation,
                backfill=core.backfill,
                retention=core.retention,
                clients=core.api_clients,
                breakers=core.customers.breakers,
                card_cache=CardCacheAdmin(core.integrations, core.card_cache),
            ),
            self.server,
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        if credentials is None:
            self.port = self.server.add_insecure_port(settings.core_listen)
        else:
            self.port = self.server.add_secure_port(settings.core_listen, credentials)
        if self.port == 0:
            raise ConfigurationError(f"cannot listen on {settings.core_listen}")

    async def _set_all(
        self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType
    ) -> None:
        for name in ("", *SERVICE_NAMES):
            await self.health.set(name, status)

    async def _watch_database(self, interval: float = 2.0) -> None:
        """Serving only while the database answers: readiness means "can take work"."""
        serving: bool | None = None
        while True:
            ok = await self.core.database_ok()
            if ok != serving:
                serving = ok
                status = (
                    health_pb2.HealthCheckResponse.SERVING
                    if ok
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                await self._set_all(status)
                log.log(logging.INFO if ok else logging.ERROR, "database reachable: %s", ok)
            await asyncio.sleep(interval)

    async def start(self) -> None:
        await self.server.start()
        await self._set_all(health_pb2.HealthCheckResponse.SERVING)
        self._watcher = asyncio.create_task(self._watch_database())
        listen = self.core.settings.core_metrics_listen
        if listen:
            host, port = listen.rsplit(":", 1)
            self._metrics_runner = await serve_metrics(self.core.metrics.registry, host, int(port))
            self._gauges = asyncio.create_task(
                refresh_forever(self.core.outbox_admin, self.core.metrics)
            )
        log.info(
            "core serving", extra={"listen": self.core.settings.core_listen, "port": self.port}
        )

    async def stop(self, grace: float) -> None:
        """Stop accepting calls, report NOT_SERVING, and let in-flight calls finish."""
        for task in (self._watcher, self._gauges):
            if task is not None:
                task.cancel()
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
        log.info("core stopped")
