"""The core's Prometheus metrics (base units, `_total` counters), on a registry of its own,
served by a small HTTP listener beside the gRPC port."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from runtime.logs import client_var

LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class CoreMetrics:
    registry: CollectorRegistry
    grpc_duration: Histogram
    grpc_auth_refusals: Counter
    sitoo_auth_failures: Counter
    upstream_errors: Counter
    upstream_duration: Histogram
    webhook_events: Counter
    webhook_group_batches: Histogram
    relay_outcomes: Counter
    customer_commands_dead: Counter
    customer_writes_queued: Counter
    upstream_auth_alerts: Counter
    relay_batch_commands: Histogram
    outbox_messages: Gauge
    outbox_oldest_pending_age: Gauge
    relay_delivery_attempts: Histogram
    backfill_orders: Counter
    reconcile_missed: Counter
    validation_checks: Counter
    retention_deleted_rows: Counter
    retention_runs: Counter
    grpc_in_flight: Gauge
    quarantine_dropped: Counter
    quarantine_dropped_bytes: Counter
    quarantine_rate_limited: Counter
    # Issue 11: the tenant-name oracle and congestion collapse.
    sitoo_credential_lookups: Counter
    sitoo_credential_checks: Counter
    bloomreach_shed: Counter
    bloomreach_latency_estimate: Gauge
    # Issue 15 §3 (outage-breaker): the circuit breaker per Bloomreach project.
    bloomreach_circuit_state: Gauge
    bloomreach_short_circuited: Counter
    _bloomreach_series: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def bloomreach_duration(self, operation: str) -> Any:
        """``upstream_duration``'s Bloomreach series of ``operation``, kept: labels() takes a
        lock and builds its key, and the customer path asks twice per card."""
        series = self._bloomreach_series.get(operation)
        if series is None:
            series = self._bloomreach_series[operation] = self.upstream_duration.labels(
                "bloomreach", operation
            )
        return series

    @classmethod
    def create(cls) -> CoreMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            grpc_duration=Histogram(
                "core_grpc_server_handling_seconds",
                "Time to handle a gRPC call, per method, status and API client",
                ("method", "code", "client"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            grpc_auth_refusals=Counter(
                "core_grpc_auth_refusals_total",
                "gRPC calls refused before reaching a handler: no valid client (UNAUTHENTICATED,"
                " client _unknown_) or a client without the method's scope (PERMISSION_DENIED)",
                ("method", "code", "client"),
                registry=registry,
            ),
            sitoo_auth_failures=Counter(
                "core_sitoo_auth_failures_total",
                "Sitoo calls refused for wrong credentials, per integration and credential",
                ("integration", "credential"),
                registry=registry,
            ),
            upstream_errors=Counter(
                "core_upstream_errors_total",
                "Failed calls to Bloomreach or Sitoo, by class",
                ("upstream", "integration", "error_class"),
                registry=registry,
            ),
            upstream_duration=Histogram(
                "core_upstream_request_duration_seconds",
                "Calls to Bloomreach and Sitoo",
                ("upstream", "operation"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            webhook_events=Counter(
                "core_webhook_events_total",
                "Sitoo events received, by outcome (accepted, duplicate, ignored)",
                ("outcome",),
                registry=registry,
            ),
            webhook_group_batches=Histogram(
                "core_webhook_group_batches",
                "Webhook batches committed together in one inbox transaction (group commit)",
                buckets=(1, 2, 5, 10, 20, 50),
                registry=registry,
            ),
            relay_outcomes=Counter(
                "core_relay_outcomes_total",
                "Outbox delivery attempts by outcome (delivered, skipped, retry, dead, lost_lease)",
                ("outcome",),
                registry=registry,
            ),
            customer_commands_dead=Counter(
                "core_customer_commands_dead_total",
                "Customer messages (queued writes, loyalty events) given up: dead, alert",
                ("integration",),
                registry=registry,
            ),
            customer_writes_queued=Counter(
                "core_customer_writes_queued_total",
                "Customer creates/updates answered while Bloomreach was unavailable, queued "
                "for the relay (or queued behind such a write of the same customer)",
                ("integration", "operation"),
                registry=registry,
            ),
            upstream_auth_alerts=Counter(
                "core_upstream_credentials_rejected_total",
                "Bloomreach or Sitoo refused the integration's credentials (401/403): alert",
                ("upstream", "integration"),
                registry=registry,
            ),
            relay_batch_commands=Histogram(
                "core_relay_bloomreach_batch_commands",
                "Commands per Bloomreach batch call",
                buckets=(1, 5, 10, 20, 30, 40, 50),
                registry=registry,
            ),
            outbox_messages=Gauge(
                "core_outbox_messages",
                "Outbox messages by state",
                ("state",),
                registry=registry,
            ),
            outbox_oldest_pending_age=Gauge(
                "core_outbox_oldest_pending_age_seconds",
                "Age of the oldest open (pending or in-flight) outbox message",
                registry=registry,
            ),
            relay_delivery_attempts=Histogram(
                "core_relay_delivery_attempts",
                "Attempts a message took when it was finished (delivered, skipped or dead)",
                ("outcome",),
                buckets=(1, 2, 3, 4, 5, 6, 8, 10),
                registry=registry,
            ),
            backfill_orders=Counter(
                "core_backfill_orders_total",
                "Orders scanned by backfill and reconcile, by outcome (enqueued, known)",
                ("integration", "kind", "outcome"),
                registry=registry,
            ),
            reconcile_missed=Counter(
                "core_reconcile_missed_orders_total",
                "Orders reconcile found in Sitoo that no webhook had announced",
                ("integration",),
                registry=registry,
            ),
            validation_checks=Counter(
                "core_validation_checks_total",
                "Integration validation checks run, by check and result (pass, fail, skipped)",
                ("check", "result"),
                registry=registry,
            ),
            retention_deleted_rows=Counter(
                "core_retention_deleted_rows_total",
                "Rows deleted by the retention purge, by table",
                ("table",),
                registry=registry,
            ),
            retention_runs=Counter(
                "core_retention_runs_total",
                "Retention purges (not dry runs) by outcome: done, stopped (shutdown), failed",
                ("outcome",),
                registry=registry,
            ),
            grpc_in_flight=Gauge(
                "core_grpc_server_in_flight",
                "gRPC calls being handled now, by method (what a shutdown drains)",
                ("method",),
                registry=registry,
            ),
            # Unlabelled, so that they are exported at 0 from the start (an alert can tell
            # "none yet" from "not scraped"); the log line names the integration.
            quarantine_dropped=Counter(
                "core_quarantine_dropped_total",
                "Quarantined webhook bodies deleted to keep an integration within "
                "quarantine_max_bodies / quarantine_max_bytes (oldest first)",
                registry=registry,
            ),
            quarantine_dropped_bytes=Counter(
                "core_quarantine_dropped_bytes_total",
                "Bytes of the quarantined webhook bodies deleted to keep the caps",
                registry=registry,
            ),
            quarantine_rate_limited=Counter(
                "core_webhook_malformed_rate_limited_total",
                "Malformed webhook batches answered 429 (not stored): an integration was over "
                "quarantine_batches_per_minute",
                registry=registry,
            ),
            sitoo_credential_lookups=Counter(
                "core_sitoo_credential_directory_loads_total",
                "Database reads of the Sitoo credential verifiers of all integrations (at most "
                "one per SITOO_BR_SITOO_CREDENTIAL_CACHE_SECONDS, whatever names are asked for)",
                registry=registry,
            ),
            sitoo_credential_checks=Counter(
                "core_sitoo_credential_checks_total",
                "Sitoo Basic credentials verified; an unknown integration is checked against a "
                "dummy verifier, so this counts every authentication attempt",
                registry=registry,
            ),
            bloomreach_shed=Counter(
                "core_bloomreach_shed_total",
                "Customer-path Bloomreach calls not started because they could not finish "
                "within the caller's deadline (reason: no_time) or the queue was full (queue_full)",
                ("integration", "reason"),
                registry=registry,
            ),
            bloomreach_latency_estimate=Gauge(
                "core_bloomreach_latency_estimate_seconds",
                "The core's running estimate of one customer-path Bloomreach call, per "
                "integration (what admission plans with)",
                ("integration",),
                registry=registry,
            ),
            bloomreach_circuit_state=Gauge(
                "core_bloomreach_circuit_state",
                "Circuit breaker of the integration's Bloomreach project (project: a digest of "
                "URL and token): 0 closed, 1 half-open (the next call probes), 2 open (calls "
                "fall back at once)",
                ("integration", "project"),
                registry=registry,
            ),
            bloomreach_short_circuited=Counter(
                "core_bloomreach_short_circuited_total",
                "Customer-path Bloomreach calls refused at once because the project's circuit "
                "was open (or half-open with its probe in flight)",
                ("integration",),
                registry=registry,
            ),
        )


class CallMetrics:
    """A ``grpc_api.pipeline.MethodLayer``: the innermost, so that only admitted calls are
    measured, with the client the authentication named."""

    def __init__(self, metrics: CoreMetrics) -> None:
        self._metrics = metrics

    def wrap(
        self, method: str, handler: grpc.RpcMethodHandler[Any, Any]
    ) -> grpc.RpcMethodHandler[Any, Any]:
        if handler.unary_unary is None:
            return handler
        behaviour = handler.unary_unary
        method = method.rsplit("/", 1)[-1]
        histogram = self._metrics.grpc_duration
        in_flight = self._metrics.grpc_in_flight.labels(method)
        # The method's series by (code, client): labels() takes a lock and builds its key on
        # every call, this a dict lookup.
        series: dict[tuple[str, str], Any] = {}

        async def measured(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = time.perf_counter()
            in_flight.inc()
            try:
                return await behaviour(request, context)  # type: ignore[arg-type]
            finally:
                in_flight.dec()
                code = context.code() or grpc.StatusCode.OK
                name = code.name if isinstance(code, grpc.StatusCode) else str(code)
                key = (name, client_var.get())
                child = series.get(key)
                if child is None:
                    child = series[key] = histogram.labels(method, *key)
                child.observe(time.perf_counter() - started)

        return grpc.unary_unary_rpc_method_handler(
            measured, handler.request_deserializer, handler.response_serializer
        )


def metrics_app(registry: CollectorRegistry) -> web.Application:
    async def serve(_request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app = web.Application()
    app.router.add_get("/metrics", serve)
    return app


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(metrics_app(registry), access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


__all__ = ["CallMetrics", "CoreMetrics", "serve_metrics"]
