"""Moved to `harness/stack.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.stack`."""

from harness.stack import *  # noqa: F403
