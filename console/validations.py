"""An integration's validation result as the console shows it. The core keeps the last one
(GetLastValidation), so every console and the CLI see the same."""

from __future__ import annotations

from dataclasses import dataclass

from sitoo_bloomreach.v1 import admin_pb2 as pb


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    remedy: str
    skipped: bool = False


@dataclass(frozen=True)
class ValidationResult:
    at: float
    passed: bool
    checks: tuple[Check, ...] = ()
    unavailable: str = ""  # set when the core could not validate at all


def from_report(report: pb.ValidationReport) -> ValidationResult:
    return ValidationResult(
        at=float(report.ran_at),
        passed=report.passed,
        checks=tuple(Check(c.name, c.passed, c.detail, c.remedy, c.skipped) for c in report.checks),
    )
