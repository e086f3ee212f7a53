"""Server-side rendering: Jinja2 templates shipped with the package, autoescaped."""

from __future__ import annotations

import datetime
from typing import Any

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from console.keys import SESSION, SETTINGS, TEMPLATES

MINUTE_S = 60
HOUR_S = 3600


def _when(timestamp: float | int) -> str:
    if not timestamp:
        return "—"
    moment = datetime.datetime.fromtimestamp(float(timestamp), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    # Seconds up to a minute and a half, minutes up to an hour and a half, then hours.
    if seconds < 1.5 * MINUTE_S:
        return f"{seconds:.0f} s"
    if seconds < 1.5 * HOUR_S:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def create_environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _when
    environment.filters["duration"] = _duration
    return environment


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    session = request[SESSION]
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            csrf_token=session.csrf_token,
            signed_in=session.signed_in,
            flash=session.pop_flash(),
            edge_public_url=request.app[SETTINGS].resolved_edge_public_url,
            path=request.path,
            **context,
        )
    )
    return web.Response(text=page, content_type="text/html", status=status)
