"""Run-time state of one emulator app, stored under :data:`STATE`."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from sandbox.sitoo_api.config import SitooApiConfig
from sandbox.sitoo_api.store import OrderStore


@dataclass
class Settings:
    """What ``PUT /_sandbox/settings`` may change at run time."""

    max_num: int
    not_found_reads: int


@dataclass
class Stats:
    requests: dict[str, int] = field(default_factory=dict)  # by route name
    responses: dict[str, int] = field(default_factory=dict)  # by status code
    ignored_params: dict[str, int] = field(default_factory=dict)

    def count(self, table: dict[str, int], key: str) -> None:
        table[key] = table.get(key, 0) + 1


@dataclass
class SitooState:
    config: SitooApiConfig
    store: OrderStore
    settings: Settings
    stats: Stats = field(default_factory=Stats)

    @classmethod
    def from_config(cls, config: SitooApiConfig) -> SitooState:
        store = OrderStore(
            (account.account_id for account in config.accounts), config.first_orderid
        )
        return cls(config=config, store=store, settings=cls.initial_settings(config))

    @staticmethod
    def initial_settings(config: SitooApiConfig) -> Settings:
        return Settings(max_num=config.max_num, not_found_reads=config.not_found_reads)


STATE = web.AppKey("sitoo_api_state", SitooState)
