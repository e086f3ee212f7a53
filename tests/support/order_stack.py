"""Moved to `harness/order_stack.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.order_stack`."""

from harness.order_stack import *  # noqa: F403
