"""The card cache's metrics (issue 15), on the core's registry (``CoreMetrics.registry``)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

WRITE_OUTCOMES = ("stored", "unchanged", "dropped", "failed")
# Card ages: minutes to the 30-day default TTL.
AGE_BUCKETS = (60.0, 600.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0, 30 * 86400.0)


@dataclass
class CardCacheMetrics:
    answers: Counter
    age: Histogram
    writes: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CardCacheMetrics:
        metrics = cls._create(registry)
        for outcome in WRITE_OUTCOMES:
            metrics.writes.labels(outcome)  # exported at 0 from the start
        return metrics

    @classmethod
    def _create(cls, registry: CollectorRegistry) -> CardCacheMetrics:
        return cls(
            answers=Counter(
                "core_card_cache_answers_total",
                "Customer reads Bloomreach failed and the card cache was asked for: outcome "
                "hit (answered from the cache), miss (no live card), off (cached reads turned "
                "off for the integration), unavailable (the database failed too); and hedged "
                "(answered from the cache: Bloomreach had not answered within the hedge delay)",
                ("integration", "operation", "outcome"),
                registry=registry,
            ),
            age=Histogram(
                "core_card_cache_answer_age_seconds",
                "Age of the cached cards the till was answered with",
                ("integration",),
                buckets=AGE_BUCKETS,
                registry=registry,
            ),
            writes=Counter(
                "core_card_cache_writes_total",
                "Fresh cards offered to the cache: stored, unchanged (identical to one stored "
                "moments ago, not written), dropped (too many writes pending), failed",
                ("outcome",),
                registry=registry,
            ),
        )
