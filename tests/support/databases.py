"""Moved to `harness/databases.py`, which `bench/` shares; this re-export keeps tests written
against the old path importing. New code imports `harness.databases`."""

from harness.databases import *  # noqa: F403
