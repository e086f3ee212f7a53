"""The edge's Prometheus metrics, on a registry of its own (one per app, so tests can run
several edges in one process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class EdgeMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_duration: Histogram
    core_call_duration: Histogram
    auth_failures: Counter
    core_ready: Gauge
    shed: Counter
    card_cache_answers: Counter

    @classmethod
    def create(cls) -> EdgeMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "edge_http_requests_total",
                "HTTP requests answered by the edge",
                ("route", "method", "status"),
                registry=registry,
            ),
            request_duration=Histogram(
                "edge_http_request_duration_seconds",
                "Time to answer an HTTP request",
                ("route", "method", "status"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            core_call_duration=Histogram(
                "edge_core_call_duration_seconds",
                "gRPC calls from the edge to the core",
                ("method", "code"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            auth_failures=Counter(
                "edge_auth_failures_total",
                # No integration label: the name comes from the URL, and a scan of made-up
                # names must not grow the label set. The core counts per known integration.
                "Requests refused for wrong or missing Sitoo credentials",
                ("route",),
                registry=registry,
            ),
            core_ready=Gauge(
                "edge_core_ready",
                "1 when the edge's last readiness check (on /readyz and on every scrape) found "
                "the core serving, else 0",
                registry=registry,
            ),
            shed=Counter(
                "edge_shed_total",
                # No integration label, as above; the core counts its sheds per integration.
                "Customer requests answered 503 at once: their integration had "
                "SITOO_BR_EDGE_INTEGRATION_MAX_IN_FLIGHT requests in flight",
                ("route",),
                registry=registry,
            ),
            card_cache_answers=Counter(
                "edge_card_cache_answers_total",
                # Issue 15: Bloomreach failed and the core answered from its card cache.
                "Customer answers given from the core's card cache (X-Sitoo-Bloomreach-Cache): "
                "reason fallback (Bloomreach failed) or hedged (it had not answered in time)",
                ("route", "reason"),
                registry=registry,
            ),
        )
