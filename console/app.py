"""The console's app factory: pages over the core's AdminService, for operators only."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from console import security
from console.core import AdminGateway
from console.keys import ADMIN, SESSIONS, SETTINGS, SIGN_IN_THROTTLE, TEMPLATES
from console.sessions import SessionCodec, fernet_key
from console.templating import create_environment
from console.throttle import SignInThrottle
from console.views import (
    auth,
    authenticate,
    consents,
    integrations,
    loyalty,
    matching,
    operations,
    sitoo,
    validate,
)
from runtime.settings import ConfigurationError, Settings

STATIC = Path(__file__).parent / "static"

MIN_SESSION_KEY_CHARS = 32


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def session_codec(settings: Settings) -> SessionCodec:
    if settings.console_session_key is not None and settings.console_session_key_file is not None:
        raise ConfigurationError(
            "set either SITOO_BR_CONSOLE_SESSION_KEY or SITOO_BR_CONSOLE_SESSION_KEY_FILE"
        )
    key_text = None
    if settings.console_session_key is not None:
        key_text = settings.console_session_key.get_secret_value()
    elif settings.console_session_key_file is not None:
        try:
            key_text = settings.console_session_key_file.read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"SITOO_BR_CONSOLE_SESSION_KEY_FILE cannot be read: {exc.strerror}"
            ) from exc
    max_age = settings.console_session_max_age_seconds
    if key_text is None:
        return SessionCodec.per_process(max_age)
    if len(key_text) < MIN_SESSION_KEY_CHARS:
        raise ConfigurationError(
            f"the console session key must be at least {MIN_SESSION_KEY_CHARS} characters"
        )
    return SessionCodec(fernet_key(key_text), max_age)


def check_exposure(settings: Settings) -> None:
    if not is_loopback(settings.console_host) and not settings.console_secure_cookies:
        raise ConfigurationError(
            f"refusing to serve the console on {settings.console_host} over plain HTTP: keep "
            "SITOO_BR_CONSOLE_HOST on loopback, or serve it over HTTPS and set "
            "SITOO_BR_CONSOLE_SECURE_COOKIES=true"
        )


async def _core_channel(app: web.Application) -> AsyncIterator[None]:
    app[ADMIN] = AdminGateway.from_settings(app[SETTINGS])
    yield
    await app[ADMIN].close()


def add_routes(app: web.Application) -> None:
    router = app.router
    one = "/integrations/{name}"
    router.add_view("/signin", auth.SignInView, name="signin")
    router.add_view("/signout", auth.SignOutView, name="signout")
    router.add_get("/healthz", auth.healthz, name="healthz")
    router.add_view("/", integrations.IntegrationsView, name="integrations")
    router.add_view("/integrations/new", integrations.NewIntegrationView, name="new")
    router.add_view(f"{one}/details", integrations.DetailsView, name="details")
    router.add_view(f"{one}/authenticate", authenticate.AuthenticateView, name="authenticate")
    router.add_view(f"{one}/bloomreach/check", authenticate.BloomreachCheckView, name="check")
    router.add_view(f"{one}/matching", matching.MatchingView, name="matching")
    router.add_view(f"{one}/mapping", matching.MappingView, name="mapping")
    router.add_view(f"{one}/consents", consents.ConsentsView, name="consents")
    router.add_view(f"{one}/sitoo", sitoo.SitooView, name="sitoo")
    router.add_view(f"{one}/credentials/rotate", sitoo.RotateView, name="rotate")
    router.add_view(f"{one}/validate", validate.ValidateView, name="validate")
    router.add_view(f"{one}/loyalty", loyalty.LoyaltyView, name="loyalty")
    router.add_view(f"{one}/operations", operations.OperationsView, name="operations")
    router.add_view(f"{one}/operations/stats", operations.StatsView, name="stats")
    router.add_view(f"{one}/operations/replay", operations.ReplayView, name="replay")
    router.add_static("/static/", STATIC, name="static")


def init_app(settings: Settings) -> web.Application:
    check_exposure(settings)
    app = web.Application(
        middlewares=[
            security.security_headers,
            security.sessions,
            security.core_errors,
            security.sign_in_required,
            security.csrf,
        ],
        client_max_size=256 * 1024,
    )
    app[SETTINGS] = settings
    app[SESSIONS] = session_codec(settings)
    app[SIGN_IN_THROTTLE] = SignInThrottle()
    app[TEMPLATES] = create_environment()
    app.cleanup_ctx.append(_core_channel)
    add_routes(app)
    return app
