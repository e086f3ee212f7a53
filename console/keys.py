"""Typed application and request keys: what the console app holds."""

from __future__ import annotations

from aiohttp import web
from jinja2 import Environment

from console.core import AdminGateway
from console.sessions import Session, SessionCodec
from console.throttle import SignInThrottle
from runtime.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
ADMIN = web.AppKey("admin", AdminGateway)
TEMPLATES = web.AppKey("templates", Environment)
SESSIONS = web.AppKey("sessions", SessionCodec)
SIGN_IN_THROTTLE = web.AppKey("sign_in_throttle", SignInThrottle)
SESSION = web.RequestKey("session", Session)
