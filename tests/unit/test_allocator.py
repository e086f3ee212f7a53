"""The malloc arena cap every serving process sets at start (runtime/allocator.py)."""

from __future__ import annotations

import platform

import pytest

from runtime.allocator import limit_arenas
from runtime.settings import Settings


def test_zero_leaves_glibc_as_it_is() -> None:
    assert limit_arenas(0) is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the cap is glibc's")
def test_glibc_takes_the_cap() -> None:
    # The default itself, so the test process keeps what every serving process gets.
    assert limit_arenas(Settings().malloc_arena_max) is True
