"""Moved to `harness/metrics.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.metrics`."""

from harness.metrics import *  # noqa: F403
