"""The relay's verdict on a customer message's ``batch`` results (kind ``customer``).

Bloomreach answers every command of a batch on its own; a customer's queued commands were
already answered 200 at the till, so a refusal now cannot reach the cashier: the message goes
dead with every refused command's reason in ``last_error`` (and the relay counts it on
``core_customer_commands_dead_total``, which an alert rule watches). The stored payload is
kept whole, so an operator can read and replay it.
"""

from __future__ import annotations

from collections.abc import Sequence

from core_service.domain.bloomreach_api import CommandResult
from core_service.domain.outbox import Claimed, Completion
from core_service.metrics import CoreMetrics


def customer_outcome(
    message: Claimed, results: Sequence[CommandResult], integration: str, metrics: CoreMetrics
) -> Completion:
    failed = [r for r in results if not r.success]
    if not failed:
        return Completion(message, "delivered")
    metrics.upstream_errors.labels("bloomreach", integration, "CommandRejected").inc()
    errors = "; ".join(f"{r.command_id}: {', '.join(r.errors) or 'failed'}" for r in failed)
    return Completion(message, "dead", error=f"Bloomreach refused queued commands: {errors}")
