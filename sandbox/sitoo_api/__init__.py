"""A faithful emulator of the Sitoo REST API v2 order endpoints (spec §10.2).

Public API: :func:`create_app`, :class:`SitooApiConfig`, :class:`SitooAccount`; order body
builders live in :mod:`sandbox.sitoo_api.orders`; the CLI in :mod:`sandbox.sitoo_api.__main__`.
"""

from sandbox.sitoo_api.app import create_app
from sandbox.sitoo_api.config import SitooAccount, SitooApiConfig
from sandbox.sitoo_api.handlers import ROUTES

__all__ = ["ROUTES", "SitooAccount", "SitooApiConfig", "create_app"]
