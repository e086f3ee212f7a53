"""The emulator's runtime state, shared by all handlers through the application."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aiohttp import web

from sandbox.bloomreach.config import ApiKey, BloomreachConfig
from sandbox.bloomreach.store import ProjectStore


@dataclass
class EmulatorState:
    config: BloomreachConfig
    projects: dict[str, ProjectStore] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def build(cls, config: BloomreachConfig) -> EmulatorState:
        return cls(
            config=config,
            projects={t: ProjectStore(p, config.limits) for t, p in config.projects.items()},
            keys={k.key_id: k for k in config.api_keys},
            rng=random.Random(config.seed),  # noqa: S311 - batch shuffling, not crypto
        )

    def reset(self) -> None:
        for store in self.projects.values():
            store.reset()


STATE = web.AppKey("bloomreach_state", EmulatorState)
