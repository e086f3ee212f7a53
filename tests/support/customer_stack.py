"""Moved to `harness/customer_stack.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.customer_stack`."""

from harness.customer_stack import *  # noqa: F403
