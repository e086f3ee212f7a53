"""The last validation result of each integration, as this console process saw it.

The core keeps no validation history (ValidateIntegration only answers), so the console
remembers the last answer per integration until it restarts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    remedy: str


@dataclass(frozen=True)
class ValidationResult:
    at: float
    passed: bool
    checks: tuple[Check, ...] = ()
    unavailable: str = ""  # set when the core could not validate at all


@dataclass
class ValidationLog:
    last: dict[str, ValidationResult] = field(default_factory=dict)

    def record(self, integration: str, result: ValidationResult) -> None:
        self.last[integration] = result

    def get(self, integration: str) -> ValidationResult | None:
        return self.last.get(integration)


def now() -> float:
    return time.time()
