"""Failures of calls to other systems that are not one vendor's API."""

from __future__ import annotations


class Unreachable(Exception):
    """An HTTP probe got no answer; ``cause`` names the failure (e.g. ``TimeoutError``)."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause
