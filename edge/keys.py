"""Typed application keys: what the edge app holds, opened and closed in cleanup_ctx."""

from __future__ import annotations

from aiohttp import web

from edge.admission import IntegrationAdmission
from edge.core_client import CoreClient
from edge.metrics import EdgeMetrics
from runtime.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CORE = web.AppKey("core", CoreClient)
METRICS = web.AppKey("metrics", EdgeMetrics)
ADMISSION = web.AppKey("admission", IntegrationAdmission)
