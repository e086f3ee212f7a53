"""Moved to `harness/processes.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.processes`."""

from harness.processes import *  # noqa: F403
