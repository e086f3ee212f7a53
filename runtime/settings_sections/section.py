"""The base of every settings section."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class Section(BaseModel):
    """A group of settings ``Settings`` inherits; ``SECTION_TITLE`` heads its README table."""

    SECTION_TITLE: ClassVar[str]
